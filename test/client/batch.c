/*
 * batch.c
 *	  Autocommit statements queued at once share a Sync, framed as BEGIN /
 *	  statement / COMMIT, without changing what a statement means: each
 *	  commits on its own and fails on its own, the statements the server
 *	  skipped after a failure run again (in their order), a statement that
 *	  refuses a transaction block (VACUUM, a procedure that commits) runs the
 *	  old way, and statement_timeout_ms bounds each statement, not the batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NSTMT 300
#define FAIL_AT 150

/*
 * NSTMT inserts queued at once on one connection, the one at FAIL_AT a
 * duplicate key: that one fails, every other commits, once, in queue order
 * (serial ids rise with the queue), with a few Syncs instead of one each.
 */
static void
test_failure_in_batch(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine_stats stats;
	bm_engine  *e = bmt_engine(&opts);
	static bmt_rec recs[NSTMT];
	char		sql[160],
				want[32];
	int			i,
				ok = 0,
				in_order = 1;
	long		last_id = 0;

	bmt_exec(check, "DROP TABLE IF EXISTS batch_rows; "
			 "CREATE TABLE batch_rows (id bigserial PRIMARY KEY, k int UNIQUE)");
	bmt_exec(check, "INSERT INTO batch_rows (k) VALUES (-1)");
	for (i = 0; i < NSTMT; i++)
	{
		snprintf(sql, sizeof(sql), "INSERT INTO batch_rows (k) VALUES (%d) RETURNING id", i == FAIL_AT ? -1 : i);
		bm_engine_execute(e, sql, 0, NULL, bmt_result_cb, &recs[i]);
	}
	TAP_INT_EQ(bm_engine_run(e), 0, "failure in a batch: bm_engine_run returns 0");
	bm_engine_get_stats(e, &stats);
	for (i = 0; i < NSTMT; i++)
	{
		if (i == FAIL_AT)
			continue;
		ok += recs[i].calls == 1 && recs[i].code == BM_OK;
		if (atol(recs[i].value) <= last_id)
			in_order = 0;
		last_id = atol(recs[i].value);
	}
	TAP_INT_EQ(ok, NSTMT - 1, "failure in a batch: every other statement succeeds, called back once");
	tap_ok(recs[FAIL_AT].calls == 1 && recs[FAIL_AT].code == BM_ERR_SQL &&
		   strcmp(recs[FAIL_AT].sqlstate, "23505") == 0,
		   "failure in a batch: the duplicate fails alone with 23505",
		   "got %d callback(s), %s %s: %s", recs[FAIL_AT].calls, bmt_code(recs[FAIL_AT].code),
		   recs[FAIL_AT].sqlstate, recs[FAIL_AT].message);
	tap_ok(in_order, "failure in a batch: the statements ran in queue order, those sent again too",
		   "an id did not rise with the queue");
	snprintf(want, sizeof(want), "%d", NSTMT);
	TAP_STR_EQ(bmt_long(check, "SELECT count(*) FROM batch_rows") == NSTMT ? want : "a wrong count", want,
			   "failure in a batch: the table holds the first row and every committed one, once");
	tap_ok(stats.syncs <= 10, "failure in a batch: the statements shared Syncs",
		   "%ld Syncs for %d statements", stats.syncs, NSTMT);
	bm_engine_free(e);
}

/*
 * Under statement_timeout_ms = 300, twenty statements of 50 ms each in one
 * batch (a second in all) succeed: the timeout bounds each statement, not the
 * batch; one of 2 s among them times out alone.
 */
static void
test_timeout_per_statement(void)
{
	bm_engine_options opts = {.pool_size = 1, .statement_timeout_ms = 300};
	bm_engine  *e = bmt_engine(&opts);
	bmt_rec		recs[21] = {{0}};
	int			i,
				ok = 0;

	for (i = 0; i < 21; i++)
		bm_engine_execute(e, i == 10 ? "SELECT pg_sleep(2)" : "SELECT pg_sleep(0.05)", 0, NULL,
						  bmt_result_cb, &recs[i]);
	TAP_INT_EQ(bm_engine_run(e), 0, "timeout: bm_engine_run returns 0");
	for (i = 0; i < 21; i++)
		ok += i != 10 && recs[i].calls == 1 && recs[i].code == BM_OK;
	TAP_INT_EQ(ok, 20, "timeout: twenty short statements of one batch, longer than the timeout together, succeed");
	BMT_REC_IS(recs[10], BM_ERR_TIMEOUT, "timeout: the long one times out alone");
	bm_engine_free(e);
}

/*
 * A procedure that commits and a VACUUM, queued among other statements, run
 * outside any transaction block (inside one the server refuses both).
 */
static void
test_refuses_block(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bmt_rec		before = {0},
				call = {0},
				vacuum = {0},
				after = {0};

	bmt_exec(check, "DROP TABLE IF EXISTS batch_proc; CREATE TABLE batch_proc (v int)");
	bmt_exec(check, "CREATE OR REPLACE PROCEDURE batch_commits() LANGUAGE plpgsql AS $$ "
			 "BEGIN INSERT INTO batch_proc VALUES (1); COMMIT; INSERT INTO batch_proc VALUES (2); END $$");
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &before);
	bm_engine_execute(e, "CALL batch_commits()", 0, NULL, bmt_result_cb, &call);
	bm_engine_execute(e, "VACUUM batch_proc", 0, NULL, bmt_result_cb, &vacuum);
	bm_engine_execute(e, "SELECT count(*) FROM batch_proc", 0, NULL, bmt_result_cb, &after);
	TAP_INT_EQ(bm_engine_run(e), 0, "refuses a block: bm_engine_run returns 0");
	BMT_REC_IS(before, BM_OK, "refuses a block: the statement before runs");
	BMT_REC_IS(call, BM_OK, "refuses a block: a procedure that commits runs among batched statements");
	BMT_REC_IS(vacuum, BM_OK, "refuses a block: so does VACUUM");
	TAP_STR_EQ(after.value, "2", "refuses a block: the procedure's two transactions committed");
	bm_engine_free(e);
	bmt_exec(check, "DROP PROCEDURE batch_commits(); DROP TABLE batch_proc");
}

#define FLOOD 2000

static bm_engine *flood_engine;
static int	flood_queued,
			flood_answered,
			flood_at_commit = -1;

/* a statement of the flood is answered: one more is queued, up to FLOOD */
static void
flood_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) err;
	(void) arg;
	flood_answered++;
	if (flood_queued < FLOOD)
	{
		flood_queued++;
		bm_engine_execute(flood_engine, "SELECT repeat('x', 10000)", 0, NULL, flood_cb, NULL);
	}
}

/* the session commits: how far the flood was then */
static void
flood_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	bmt_done_cb(s, err, arg);
	flood_at_commit = flood_answered;
}

/*
 * On the one connection of the pool, autocommit statements keep coming (each
 * answer queues another, so several are queued at every turn and go framed):
 * a session queued at the start gets the connection while they run, not
 * only once the flood is over.
 */
static void
test_session_in_flood(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		stmt = {0},
				commit = {0};

	flood_engine = e;
	for (flood_queued = 0; flood_queued < 10; flood_queued++)
		bm_engine_execute(e, "SELECT repeat('x', 10000)", 0, NULL, flood_cb, NULL);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &stmt);
	bm_session_commit(s, flood_commit_cb, &commit);
	TAP_INT_EQ(bm_engine_run(e), 0, "flood: bm_engine_run returns 0");
	TAP_INT_EQ(flood_answered, FLOOD, "flood: every autocommit statement is answered");
	BMT_REC_IS(commit, BM_OK, "flood: the session commits");
	tap_ok(flood_at_commit >= 0 && flood_at_commit < FLOOD / 2,
		   "flood: the session got the connection while the statements kept coming",
		   "it committed after %d of %d statements", flood_at_commit, FLOOD);
	bm_session_close(s);
	bm_engine_free(e);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(120);
	check = bmt_check_conn();
	test_failure_in_batch(check);
	test_timeout_per_statement();
	test_refuses_block(check);
	test_session_in_flood();
	bmt_exec(check, "DROP TABLE batch_rows");
	PQfinish(check);
	return tap_done();
}
