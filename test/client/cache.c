/*
 * cache.c
 *	  The per-connection cache of prepared statements against what can drop
 *	  or invalidate server-side statements: DISCARD ALL and DEALLOCATE ALL
 *	  (queued alone or in one batch with statements already prepared), a
 *	  DEALLOCATE of one of our names, and a schema change under a prepared
 *	  SELECT * (an autocommit statement runs again instead of failing; in a
 *	  session the transaction fails once and the next one works).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/* run what is queued on a pool of one connection and check one callback */
static void
run_and_check(bm_engine *e, bmt_rec *r, const char *want_value, const char *name)
{
	TAP_INT_EQ(bm_engine_run(e), 0, "bm_engine_run returns 0");
	tap_ok(r->calls == 1 && r->code == BM_OK && strcmp(r->value, want_value) == 0, name,
		   "expected one callback with BM_OK and %s, got %d callback(s), %s %s: %s (value \"%s\")",
		   want_value, r->calls, bmt_code(r->calls ? r->code : -1), r->sqlstate, r->message, r->value);
}

/* a statement prepared before `reset` runs again after it, on the same connection */
static void
test_reset(const char *reset, bool same_batch)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bmt_rec		first = {0},
				discard = {0},
				again = {0};
	char		name[160];

	bm_engine_execute(e, "SELECT 7", 0, NULL, bmt_result_cb, &first);
	snprintf(name, sizeof(name), "%s: a prepared statement answers before it", reset);
	run_and_check(e, &first, "7", name);
	bm_engine_execute(e, reset, 0, NULL, bmt_result_cb, &discard);
	if (!same_batch)
		bm_engine_run(e);
	bm_engine_execute(e, "SELECT 7", 0, NULL, bmt_result_cb, &again);
	snprintf(name, sizeof(name), "%s%s: the statement is prepared again and answers",
			 reset, same_batch ? " in the same batch" : "");
	run_and_check(e, &again, "7", name);
	snprintf(name, sizeof(name), "%s%s: the reset itself succeeds", reset, same_batch ? " in the same batch" : "");
	BMT_REC_IS(discard, BM_OK, name);
	bm_engine_free(e);
}

/* someone deallocates one of our statements by name: an autocommit statement prepares it again */
static void
test_dealloc_one(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bmt_rec		first = {0},
				drop = {0},
				second = {0};

	bm_engine_execute(e, "SELECT 8", 0, NULL, bmt_result_cb, &first);
	run_and_check(e, &first, "8", "DEALLOCATE one: the statement answers first");
	bm_engine_execute(e, "DEALLOCATE bm_1", 0, NULL, bmt_result_cb, &drop);
	bm_engine_run(e);
	BMT_REC_IS(drop, BM_OK, "DEALLOCATE one: the server drops our statement bm_1");
	bm_engine_execute(e, "SELECT 8", 0, NULL, bmt_result_cb, &second);
	run_and_check(e, &second, "8", "DEALLOCATE one: the next execution is prepared afresh and works");
	bm_engine_free(e);
}

/*
 * ALTER TABLE under a prepared SELECT *: an autocommit statement has nothing
 * to roll back, so it is prepared again and run instead of failing with
 * "cached plan must not change result type".
 */
static void
test_schema_change(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bmt_rec		before = {0},
				after = {0},
				later = {0};

	bmt_exec(check, "DROP TABLE IF EXISTS cache_alter; CREATE TABLE cache_alter (id int)");
	bmt_exec(check, "INSERT INTO cache_alter VALUES (1)");
	bm_engine_execute(e, "SELECT * FROM cache_alter", 0, NULL, bmt_result_cb, &before);
	run_and_check(e, &before, "1", "schema change: SELECT * answers before");
	bmt_exec(check, "ALTER TABLE cache_alter ADD COLUMN extra int DEFAULT 5");
	bm_engine_execute(e, "SELECT * FROM cache_alter", 0, NULL, bmt_result_cb, &after);
	bm_engine_execute(e, "SELECT 2", 0, NULL, bmt_result_cb, &later);
	run_and_check(e, &after, "1", "schema change: an autocommit SELECT * after ALTER TABLE answers (no 0A000)");
	tap_ok(later.calls == 1 && later.order == after.order + 1, "schema change: the statement queued after it is called back after it",
		   "expected order %d, got %d (%d calls)", after.order + 1, later.order, later.calls);

	/* in a session the failed statement took the transaction with it */
	{
		bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
		bm_session *s = bm_session_open(m);
		bmt_rec		a = {0},
					ac = {0},
					b = {0},
					bc = {0};

		bmt_exec(check, "ALTER TABLE cache_alter ADD COLUMN more int");
		bm_session_execute(s, "SELECT * FROM cache_alter", 0, NULL, bmt_result_cb, &a);
		bm_session_commit(s, bmt_done_cb, &ac);
		bm_engine_run(e);
		tap_ok(a.calls == 1 && ac.calls == 1 && (a.code == BM_OK || (strcmp(a.sqlstate, "0A000") == 0 && ac.code == BM_ERR_SQL)),
			   "schema change: in a session SELECT * answers, or fails with 0A000 and its commit reports it",
			   "got %s %s: %s; commit %s", bmt_code(a.code), a.sqlstate, a.message, bmt_code(ac.code));
		bm_session_execute(s, "SELECT * FROM cache_alter", 0, NULL, bmt_result_cb, &b);
		bm_session_commit(s, bmt_done_cb, &bc);
		run_and_check(e, &b, "1", "schema change: the session's next transaction prepares it afresh and answers");
		BMT_REC_IS(bc, BM_OK, "schema change: and commits");
		bm_session_close(s);
		bm_sessionmaker_free(m);
	}
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE cache_alter");
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(60);
	check = bmt_check_conn();
	test_reset("DISCARD ALL", false);
	test_reset("discard  all;", true);
	test_reset("DEALLOCATE ALL", false);
	test_reset("DEALLOCATE PREPARE ALL", true);
	test_dealloc_one();
	test_schema_change(check);
	PQfinish(check);
	return tap_done();
}
