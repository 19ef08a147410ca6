/*
 * stmtcache.c
 *	  The statement cache and the interned SQL texts alone: least recently
 *	  used first out, only names the server confirmed are evicted, names
 *	  are never reused, and every reference to a text is given back.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

/* one copy of each text, however often it is asked for */
static void
test_interning(void)
{
	SqlTable	t = {0};
	SqlText    *a = sqltext_get(&t, "SELECT 1"),
			   *b = sqltext_get(&t, "SELECT 2"),
			   *a2 = sqltext_get(&t, "SELECT 1"),
			   *many[1000];
	char		sql[32];
	int			i,
				found = 0;

	tap_ok(a == a2 && a != b && a->refs == 2, "interning: the same text is one copy with two references",
		   "got a %p a2 %p b %p refs %u", (void *) a, (void *) a2, (void *) b, a->refs);
	for (i = 0; i < 1000; i++)
	{
		snprintf(sql, sizeof(sql), "SELECT %d + 1", i);
		many[i] = sqltext_get(&t, sql);
	}
	for (i = 0; i < 1000; i++)
	{
		snprintf(sql, sizeof(sql), "SELECT %d + 1", i);
		found += sqltext_get(&t, sql) == many[i];
		sqltext_release(&t, many[i]);
	}
	TAP_INT_EQ(found, 1000, "interning: a thousand texts are found again after the table grew");
	for (i = 0; i < 1000; i++)
		sqltext_release(&t, many[i]);
	sqltext_release(&t, a);
	sqltext_release(&t, a2);
	sqltext_release(&t, b);
	TAP_INT_EQ(t.count, 0, "interning: every text goes with its last reference");
	sqltable_free(&t);
}

/* least recently used first; unconfirmed names stay */
static void
test_lru(void)
{
	SqlTable	t = {0};
	StmtCache	sc;
	SqlText    *x = sqltext_get(&t, "x"),
			   *y = sqltext_get(&t, "y"),
			   *z = sqltext_get(&t, "z"),
			   *w = sqltext_get(&t, "w");
	StmtEntry  *ex,
			   *ey,
			   *ez,
			   *ew;

	if (stmtcache_init(&sc, 3, &t) != 0)
		tap_bail("out of memory");
	ex = stmtcache_add(&sc, x, 0);
	ey = stmtcache_add(&sc, y, 0);
	ez = stmtcache_add(&sc, z, 0);
	tap_ok(strcmp(ex->name, "bm_1") == 0 && strcmp(ez->name, "bm_3") == 0, "LRU: names are numbered in order",
		   "got %s %s", ex->name, ez->name);
	tap_ok(stmtcache_victim(&sc) == NULL, "LRU: an unconfirmed name is never the victim", "got a victim");
	ey->confirmed = true;
	tap_ok(stmtcache_victim(&sc) == ey, "LRU: the oldest confirmed name is the victim",
		   "expected y, got %s", stmtcache_victim(&sc) ? stmtcache_victim(&sc)->name : "none");
	ex->confirmed = ez->confirmed = true;
	tap_ok(stmtcache_victim(&sc) == ex, "LRU: once confirmed, the oldest of all", "expected x");
	stmtcache_touch(&sc, ex);
	tap_ok(stmtcache_victim(&sc) == ey, "LRU: a used name moves to the back", "expected y");
	stmtcache_touch(&sc, ey);
	tap_ok(stmtcache_victim(&sc) == ez, "LRU: and the next oldest comes first", "expected z");
	stmtcache_remove(&sc, ez);
	tap_ok(sc.count == 2 && stmtcache_lookup(&sc, z) == NULL && stmtcache_victim(&sc) == ex,
		   "LRU: an evicted name is gone and the order holds", "count %d", sc.count);
	ew = stmtcache_add(&sc, w, 1);
	TAP_STR_EQ(ew->name, "bm_4", "LRU: names are never reused");
	tap_ok(stmtcache_lookup(&sc, x) == ex && stmtcache_lookup(&sc, w) == ew, "LRU: lookups find by text",
		   "a lookup failed");
	stmtcache_reset(&sc);
	tap_ok(sc.count == 0 && stmtcache_lookup(&sc, x) == NULL && x->refs == 1,
		   "LRU: a reset forgets every name and gives the texts back", "count %d refs %u", sc.count, x->refs);
	stmtcache_free(&sc);
	sqltext_release(&t, x);
	sqltext_release(&t, y);
	sqltext_release(&t, z);
	sqltext_release(&t, w);
	TAP_INT_EQ(t.count, 0, "LRU: no text is left behind");
	sqltable_free(&t);
}

int
main(void)
{
	test_interning();
	test_lru();
	return tap_done();
}
