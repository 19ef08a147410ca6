/*
 * deferred.c
 *	  Errors raised at the end of a transaction, not by a statement: a
 *	  deferred unique constraint violated by an autocommit statement fails
 *	  at its implicit commit (the server's error comes between the
 *	  statement's result and the Sync's), and in a session it fails the
 *	  COMMIT.  Each gets one callback with the error, and the connection
 *	  goes on serving what is queued after it.  The error may reach the
 *	  client with the statement's result or in a later read: a deferred
 *	  constraint trigger that sends a NOTICE (the server flushes its output
 *	  with every notice) and then waits makes the later case certain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/*
 * An autocommit INSERT whose violation is found at its implicit commit gets
 * BM_ERR_SQL 23505, and the count queued after it runs and finds `want`.
 */
static void
check_violation_at_commit(bm_engine *e, const char *insert, const char *count,
						  const char *want, const char *label)
{
	bmt_rec		failed = {0},
				after = {0};
	char		name[160];

	bm_engine_execute(e, insert, 0, NULL, bmt_result_cb, &failed);
	bm_engine_execute(e, count, 0, NULL, bmt_result_cb, &after);
	snprintf(name, sizeof(name), "%s: bm_engine_run returns 0", label);
	TAP_INT_EQ(bm_engine_run(e), 0, name);
	snprintf(name, sizeof(name), "%s: the violation found at the implicit commit is BM_ERR_SQL 23505", label);
	tap_ok(failed.calls == 1 && failed.code == BM_ERR_SQL && strcmp(failed.sqlstate, "23505") == 0, name,
		   "got %d callback(s), %s %s: %s", failed.calls, bmt_code(failed.code), failed.sqlstate, failed.message);
	snprintf(name, sizeof(name), "%s: the next statement runs", label);
	BMT_REC_IS(after, BM_OK, name);
	snprintf(name, sizeof(name), "%s: and the failed insert left nothing", label);
	TAP_STR_EQ(after.value, want, name);
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine_stats before,
				stats;
	bm_engine  *e;
	bm_sessionmaker *m;
	bm_session *s;
	PGconn	   *check;
	bmt_rec		ins = {0},
				commit = {0},
				later = {0};

	bmt_guard(60);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS deferred; CREATE TABLE deferred (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
	bmt_exec(check, "INSERT INTO deferred VALUES (1)");
	e = bmt_engine(&opts);
	m = bm_sessionmaker_create(e, NULL);
	s = bm_session_open(m);

	check_violation_at_commit(e, "INSERT INTO deferred VALUES (1)", "SELECT count(*) FROM deferred", "1",
							  "autocommit");

	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "INSERT INTO deferred VALUES (1)", 0, NULL, bmt_result_cb, &ins);
	bm_session_commit(s, bmt_done_cb, &commit);
	bm_engine_execute(e, "SELECT count(*) FROM deferred", 0, NULL, bmt_result_cb, &later);
	TAP_INT_EQ(bm_engine_run(e), 0, "session: bm_engine_run returns 0");
	bm_engine_get_stats(e, &stats);
	/* the failed COMMIT ended the transaction: no ROLLBACK and Sync after it */
	TAP_INT_EQ(stats.syncs - before.syncs, 2, "session: two Syncs, the unit's and the autocommit statement's");
	BMT_REC_IS(ins, BM_OK, "session: the insert itself succeeds (the check is deferred)");
	tap_ok(commit.calls == 1 && commit.code == BM_ERR_SQL && strcmp(commit.sqlstate, "23505") == 0,
		   "session: the commit reports the violation, BM_ERR_SQL 23505",
		   "got %d callback(s), %s %s: %s", commit.calls, bmt_code(commit.code), commit.sqlstate, commit.message);
	BMT_REC_IS(later, BM_OK, "session: the connection serves the next statement");
	TAP_STR_EQ(later.value, "1", "session: nothing was committed");

	bmt_exec(check, "DROP TABLE IF EXISTS deferred_slow; CREATE TABLE deferred_slow (id int)");
	bmt_exec(check, "CREATE OR REPLACE FUNCTION deferred_slow_check() RETURNS trigger LANGUAGE plpgsql AS $$ "
			 "BEGIN RAISE NOTICE 'checking'; PERFORM pg_sleep(0.3); "
			 "RAISE EXCEPTION 'checked late' USING ERRCODE = 'unique_violation'; END $$");
	bmt_exec(check, "CREATE CONSTRAINT TRIGGER deferred_slow AFTER INSERT ON deferred_slow "
			 "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION deferred_slow_check()");
	check_violation_at_commit(e, "INSERT INTO deferred_slow VALUES (1)", "SELECT count(*) FROM deferred_slow", "0",
							  "late error, read after the statement's result");

	bm_session_close(s);
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE deferred, deferred_slow; DROP FUNCTION deferred_slow_check()");
	PQfinish(check);
	return tap_done();
}
