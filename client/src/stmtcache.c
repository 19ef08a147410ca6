/*
 * stmtcache.c
 *	  The engine's table of interned SQL texts, and the per-connection cache
 *	  of prepared statements: SQL text -> statement name, bounded, least
 *	  recently used first out.  Pure bookkeeping: what goes on the wire for a
 *	  hit, a miss or an eviction is proto.c's job.
 *
 *	  Interning hashes and copies a text once when a statement is queued; the
 *	  thousands of requests a program queues with the same SQL then share one
 *	  copy, and the cache finds a statement by that copy's address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* FNV-1a; *len gets the text's length */
static uint32_t
hash_text(const char *sql, size_t *len)
{
	uint32_t	h = 2166136261u;
	const char *p;

	for (p = sql; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	*len = p - sql;
	return h;
}

/* double the buckets (64 at first); false: out of memory */
static bool
sqltable_grow(SqlTable *st)
{
	uint32_t	n = st->nbuckets ? st->nbuckets * 2 : 64;
	SqlText   **b = calloc(n, sizeof(SqlText *));
	uint32_t	i;

	if (b == NULL)
		return false;
	for (i = 0; i < st->nbuckets; i++)
	{
		SqlText    *t = st->buckets[i];

		while (t)
		{
			SqlText    *next = t->hnext;

			t->hnext = b[t->hash & (n - 1)];
			b[t->hash & (n - 1)] = t;
			t = next;
		}
	}
	free(st->buckets);
	st->buckets = b;
	st->nbuckets = n;
	return true;
}

/* the interned copy of sql, with one more reference; NULL: out of memory */
SqlText *
sqltext_get(SqlTable *st, const char *sql)
{
	size_t		len;
	uint32_t	hash;
	SqlText    *t;

	/* a program mostly repeats its last statement: one strcmp, no hashing */
	if (st->last && strcmp(st->last->text, sql) == 0)
	{
		st->last->refs++;
		return st->last;
	}
	hash = hash_text(sql, &len);
	if (st->nbuckets)
		for (t = st->buckets[hash & (st->nbuckets - 1)]; t; t = t->hnext)
			if (t->hash == hash && strcmp(t->text, sql) == 0)
			{
				t->refs++;
				st->last = t;
				return t;
			}
	if (st->count >= st->nbuckets && !sqltable_grow(st) && st->nbuckets == 0)
		return NULL;
	t = malloc(sizeof(SqlText) + len + 1);
	if (t == NULL)
		return NULL;
	memcpy(t->text, sql, len + 1);
	t->leaves = sql_leaves(t->text);
	t->refuses_block = sql_refuses_block(t->text);
	t->hash = hash;
	t->refs = 1;
	t->hnext = st->buckets[hash & (st->nbuckets - 1)];
	st->buckets[hash & (st->nbuckets - 1)] = t;
	st->count++;
	st->last = t;
	return t;
}

/* one reference less; the text goes with its last */
void
sqltext_release(SqlTable *st, SqlText *t)
{
	SqlText   **p;

	if (t == NULL || --t->refs > 0)
		return;
	for (p = &st->buckets[t->hash & (st->nbuckets - 1)]; *p != t; p = &(*p)->hnext)
		;
	*p = t->hnext;
	st->count--;
	if (st->last == t)
		st->last = NULL;
	free(t);
}

/* the engine is going: every request and cache has released its texts */
void
sqltable_free(SqlTable *st)
{
	free(st->buckets);
	memset(st, 0, sizeof(*st));
}

/* an empty cache of capacity names; -1: out of memory */
int
stmtcache_init(StmtCache *sc, int capacity, SqlTable *texts)
{
	memset(sc, 0, sizeof(*sc));
	sc->texts = texts;
	sc->capacity = capacity;
	sc->nbuckets = 16;
	while (sc->nbuckets < capacity * 2)
		sc->nbuckets *= 2;
	sc->buckets = calloc(sc->nbuckets, sizeof(StmtEntry *));
	return sc->buckets ? 0 : -1;
}

/* the cache goes with its connection: entries and buckets */
void
stmtcache_free(StmtCache *sc)
{
	stmtcache_reset(sc);
	free(sc->buckets);
	sc->buckets = NULL;
}

/* forget every entry: the connection they were prepared on is gone */
void
stmtcache_reset(StmtCache *sc)
{
	StmtEntry  *se;

	while ((se = DLIST_FIRST(&sc->lru, StmtEntry, lru)) != NULL)
	{
		dlist_remove(&sc->lru, &se->lru);
		sqltext_release(sc->texts, se->sql);
		free(se);
	}
	if (sc->buckets)
		memset(sc->buckets, 0, sc->nbuckets * sizeof(StmtEntry *));
	sc->count = 0;
}

/* texts are interned, so the same SQL is the same SqlText */
StmtEntry *
stmtcache_lookup(StmtCache *sc, const SqlText *sql)
{
	StmtEntry  *se;

	for (se = sc->buckets[sql->hash & (sc->nbuckets - 1)]; se; se = se->hnext)
		if (se->sql == sql)
			return se;
	return NULL;
}

/* the caller has made room (count < capacity); names are never reused */
StmtEntry *
stmtcache_add(StmtCache *sc, SqlText *sql, long seg)
{
	StmtEntry  *se = calloc(1, sizeof(*se));
	StmtEntry **bucket = &sc->buckets[sql->hash & (sc->nbuckets - 1)];

	if (se == NULL)
		return NULL;
	se->sql = sql;
	sql->refs++;
	se->seg = seg;
	snprintf(se->name, sizeof(se->name), "bm_%ld", ++sc->next_id);
	se->hnext = *bucket;
	*bucket = se;
	dlist_push(&sc->lru, &se->lru);
	sc->count++;
	return se;
}

/* the least recently used entry the server has confirmed, NULL if none */
StmtEntry *
stmtcache_victim(StmtCache *sc)
{
	StmtEntry  *se;

	for (se = DLIST_LAST(&sc->lru, StmtEntry, lru); se; se = DLIST_PREV(se, StmtEntry, lru))
		if (se->confirmed)
			return se;
	return NULL;
}

/* the entry was used: it is the most recent */
void
stmtcache_touch(StmtCache *sc, StmtEntry *se)
{
	if (sc->lru.first == &se->lru)
		return;
	dlist_remove(&sc->lru, &se->lru);
	dlist_push(&sc->lru, &se->lru);
}

/* the entry goes (evicted, or the server lost the name) */
void
stmtcache_remove(StmtCache *sc, StmtEntry *se)
{
	StmtEntry **p = &sc->buckets[se->sql->hash & (sc->nbuckets - 1)];

	while (*p && *p != se)
		p = &(*p)->hnext;
	if (*p)
		*p = se->hnext;
	dlist_remove(&sc->lru, &se->lru);
	sc->count--;
	sqltext_release(sc->texts, se->sql);
	free(se);
}
