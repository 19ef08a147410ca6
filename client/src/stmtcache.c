/*
 * stmtcache.c
 *	  The per-connection cache of prepared statements: SQL text -> statement
 *	  name, bounded, least recently used first out.  Pure bookkeeping: what
 *	  goes on the wire for a hit, a miss or an eviction is pipeline.c's job.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int
stmtcache_init(StmtCache *sc, int capacity)
{
	memset(sc, 0, sizeof(*sc));
	sc->capacity = capacity;
	sc->nbuckets = 16;
	while (sc->nbuckets < capacity * 2)
		sc->nbuckets *= 2;
	sc->buckets = calloc(sc->nbuckets, sizeof(StmtEntry *));
	return sc->buckets ? 0 : -1;
}

/* forget every entry: the connection they were prepared on is gone */
void
stmtcache_reset(StmtCache *sc)
{
	StmtEntry  *se = sc->newest;

	while (se)
	{
		StmtEntry  *older = se->older;

		free(se->sql);
		free(se);
		se = older;
	}
	if (sc->buckets)
		memset(sc->buckets, 0, sc->nbuckets * sizeof(StmtEntry *));
	sc->count = 0;
	sc->newest = sc->oldest = NULL;
}

/* FNV-1a */
uint32_t
stmtcache_hash(const char *sql)
{
	uint32_t	h = 2166136261u;

	for (; *sql; sql++)
		h = (h ^ (unsigned char) *sql) * 16777619u;
	return h;
}

StmtEntry *
stmtcache_lookup(StmtCache *sc, const char *sql, uint32_t hash)
{
	StmtEntry  *se;

	for (se = sc->buckets[hash & (sc->nbuckets - 1)]; se; se = se->hnext)
		if (se->hash == hash && strcmp(se->sql, sql) == 0)
			return se;
	return NULL;
}

static void
lru_unlink(StmtCache *sc, StmtEntry *se)
{
	if (se->newer)
		se->newer->older = se->older;
	else
		sc->newest = se->older;
	if (se->older)
		se->older->newer = se->newer;
	else
		sc->oldest = se->newer;
	se->newer = se->older = NULL;
}

static void
lru_push(StmtCache *sc, StmtEntry *se)
{
	se->older = sc->newest;
	se->newer = NULL;
	if (sc->newest)
		sc->newest->newer = se;
	sc->newest = se;
	if (sc->oldest == NULL)
		sc->oldest = se;
}

/* the caller has made room (count < capacity); names are never reused */
StmtEntry *
stmtcache_add(StmtCache *sc, const char *sql, uint32_t hash, long seg)
{
	StmtEntry  *se = calloc(1, sizeof(*se));
	StmtEntry **bucket = &sc->buckets[hash & (sc->nbuckets - 1)];

	if (se == NULL || (se->sql = strdup(sql)) == NULL)
	{
		free(se);
		return NULL;
	}
	se->hash = hash;
	se->seg = seg;
	snprintf(se->name, sizeof(se->name), "bm_%ld", ++sc->next_id);
	se->hnext = *bucket;
	*bucket = se;
	lru_push(sc, se);
	sc->count++;
	return se;
}

/* the least recently used entry the server has confirmed, NULL if none */
StmtEntry *
stmtcache_victim(StmtCache *sc)
{
	StmtEntry  *se;

	for (se = sc->oldest; se; se = se->newer)
		if (se->confirmed)
			return se;
	return NULL;
}

void
stmtcache_touch(StmtCache *sc, StmtEntry *se)
{
	if (sc->newest == se)
		return;
	lru_unlink(sc, se);
	lru_push(sc, se);
}

void
stmtcache_remove(StmtCache *sc, StmtEntry *se)
{
	StmtEntry **p = &sc->buckets[se->hash & (sc->nbuckets - 1)];

	while (*p && *p != se)
		p = &(*p)->hnext;
	if (*p)
		*p = se->hnext;
	lru_unlink(sc, se);
	sc->count--;
	free(se->sql);
	free(se);
}

/*
 * Does this statement drop every prepared statement of the session (DISCARD
 * ALL, DEALLOCATE [PREPARE] ALL)?  Then the cache must forget its names
 * before anything after it is sent, or they fail with 26000.
 */
bool
stmtcache_resets(const char *sql)
{
	static const char *const words[][4] = {
		{"DISCARD", "ALL", NULL}, {"DEALLOCATE", "ALL", NULL}, {"DEALLOCATE", "PREPARE", "ALL", NULL}
	};
	size_t		i;

	while (isspace((unsigned char) *sql))
		sql++;
	if (*sql != 'd' && *sql != 'D')
		return false;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
	{
		const char *p = sql;
		int			w;

		for (w = 0; words[i][w]; w++)
		{
			size_t		len = strlen(words[i][w]);

			while (isspace((unsigned char) *p))
				p++;
			if (strncasecmp(p, words[i][w], len) != 0 || isalnum((unsigned char) p[len]) || p[len] == '_')
				break;
			p += len;
		}
		if (words[i][w] != NULL)
			continue;
		while (isspace((unsigned char) *p) || *p == ';')
			p++;
		if (*p == '\0')
			return true;
	}
	return false;
}
