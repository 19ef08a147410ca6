/*
 * free.c
 *	  Freeing the engine with work pending (before the loop ran, and from
 *	  inside a callback with statements in flight): every callback still runs
 *	  exactly once, with BM_ERR_CLOSED, in order.  Re-entrancy: queueing work,
 *	  closing the session and freeing the engine from callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define N 50

static bmt_rec autos[N];
static bmt_rec sess[3];
static bm_session *the_session;
static int	session_arg_ok = 1;

static void
check_session_arg(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (s != the_session)
		session_arg_ok = 0;
	bmt_result_cb(s, res, err, arg);
}

static void
check_session_done(bm_session *s, const bm_error *err, void *arg)
{
	if (s != the_session)
		session_arg_ok = 0;
	bmt_done_cb(s, err, arg);
}

static bm_engine *closing_engine;
static int	closed_execute_refused = 0;

static void
during_close(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	closed_execute_refused +=
		bm_engine_execute(closing_engine, "SELECT 1", 0, NULL, NULL, NULL) == -1 &&
		bm_last_error()->code == BM_ERR_CLOSED;
	bm_engine_free(closing_engine);	/* a second free is ignored */
}

static void
test_free_before_run(void)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	int			i,
				ok = 0,
				ordered = 1;

	the_session = bm_session_open(m);
	closing_engine = e;
	for (i = 0; i < N; i++)
		bm_engine_execute(e, "SELECT 1", 0, NULL, i == 0 ? during_close : bmt_result_cb, &autos[i]);
	bm_session_execute(the_session, "SELECT 1", 0, NULL, check_session_arg, &sess[0]);
	bm_session_execute(the_session, "SELECT 2", 0, NULL, check_session_arg, &sess[1]);
	bm_session_commit(the_session, check_session_done, &sess[2]);
	bm_engine_free(e);
	for (i = 0; i < N; i++)
	{
		ok += autos[i].calls == 1 && autos[i].code == BM_ERR_CLOSED;
		if (i > 0 && autos[i].order < autos[i - 1].order)
			ordered = 0;
	}
	TAP_INT_EQ(ok, N, "free before run: every autocommit statement gets one BM_ERR_CLOSED callback");
	tap_ok(ordered, "free before run: in the order queued", "out of order");
	BMT_REC_IS(sess[0], BM_ERR_CLOSED, "free before run: the session's first statement gets BM_ERR_CLOSED");
	BMT_REC_IS(sess[1], BM_ERR_CLOSED, "free before run: its second too");
	BMT_REC_IS(sess[2], BM_ERR_CLOSED, "free before run: its commit too");
	tap_ok(sess[0].order < sess[1].order && sess[1].order < sess[2].order && session_arg_ok,
		   "free before run: the session's callbacks come in order, with the session", "they did not");
	TAP_INT_EQ(closed_execute_refused, 1, "free before run: execute from a closing callback returns -1 with BM_ERR_CLOSED");
}

static bmt_rec inflight[N];
static bmt_rec tx[4];

static void
free_from_callback(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_engine_free(closing_engine);
}

static void
test_free_in_flight(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	int			i,
				ok = 0,
				closed = 0;
	long		rows;

	bmt_exec(check, "DROP TABLE IF EXISTS freed; CREATE TABLE freed (id int)");
	closing_engine = e;
	/* the session holds a connection in an open transaction, waiting on a sleep */
	bm_session_execute(s, "INSERT INTO freed VALUES (1)", 0, NULL, bmt_result_cb, &tx[0]);
	bm_session_execute(s, "SELECT pg_sleep(0.3)", 0, NULL, bmt_result_cb, &tx[1]);
	bm_session_execute(s, "INSERT INTO freed VALUES (2)", 0, NULL, bmt_result_cb, &tx[2]);
	bm_session_commit(s, bmt_done_cb, &tx[3]);
	/*
	 * The statements share a Sync, and the server sends a batch's answers
	 * when it reaches the Sync; the NOTICE of the second makes it send the
	 * first's at once (it flushes with every notice), so the free comes
	 * while the sleeps run.
	 */
	bm_engine_execute(e, "SELECT 1", 0, NULL, free_from_callback, &inflight[0]);
	bm_engine_execute(e, "DROP TABLE IF EXISTS freed_never_made", 0, NULL, bmt_result_cb, &inflight[1]);
	for (i = 2; i < N; i++)
		bm_engine_execute(e, "SELECT pg_sleep(0.01)", 0, NULL, bmt_result_cb, &inflight[i]);
	TAP_INT_EQ(bm_engine_run(e), 0, "free in flight: bm_engine_run returns 0 after a callback freed the engine");
	BMT_REC_IS(inflight[0], BM_OK, "free in flight: the callback that frees got its result");
	for (i = 1; i < N; i++)
	{
		ok += inflight[i].calls == 1;
		closed += inflight[i].code == BM_ERR_CLOSED || inflight[i].code == BM_ERR_OUTCOME_UNKNOWN;
	}
	TAP_INT_EQ(ok, N - 1, "free in flight: every other statement gets exactly one callback");
	tap_ok(closed > 0, "free in flight: those not answered yet get BM_ERR_OUTCOME_UNKNOWN (sent) or BM_ERR_CLOSED (not sent)",
		   "none did");
	tap_ok(tx[0].calls == 1 && tx[1].calls == 1 && tx[2].calls == 1 && tx[3].calls == 1 &&
		   tx[3].code == BM_ERR_OUTCOME_UNKNOWN,
		   "free in flight: the session's statements get one callback each, its commit (sent, unanswered) BM_ERR_OUTCOME_UNKNOWN",
		   "calls %d %d %d %d, commit %s", tx[0].calls, tx[1].calls, tx[2].calls, tx[3].calls, bmt_code(tx[3].code));
	/* the server may still run what it read, COMMIT included: wait for it */
	while (bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'basemodel'") > 0)
		usleep(10000);
	rows = bmt_long(check, "SELECT count(*) FROM freed");
	tap_ok(rows == 0 || rows == 2, "free in flight: the transaction whose outcome is unknown committed whole or not at all",
		   "%ld rows", rows);
}

/* re-entrancy: a chain of statements, each queued from the previous callback */
static int	chain = 0;
static bm_engine *chain_engine;

static void
on_chain(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) res;
	(void) arg;
	if (err->code != BM_OK)
		return;
	if (++chain < 100)
	{
		if (s)
			bm_session_execute(s, "SELECT 1", 0, NULL, on_chain, NULL);
		else
			bm_engine_execute(chain_engine, "SELECT 1", 0, NULL, on_chain, NULL);
	}
}

static bmt_rec after_close[3];

static void
close_self(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_close(s);
	/* still caught as misuse: the session is closed, its memory not yet freed */
	after_close[2].calls = bm_session_execute(s, "SELECT 1", 0, NULL, NULL, NULL) == -1 ? 1 : 0;
}

static void
test_reentrancy(PGconn *check)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);

	chain_engine = e;
	bm_engine_execute(e, "SELECT 1", 0, NULL, on_chain, NULL);
	bm_engine_run(e);
	TAP_INT_EQ(chain, 100, "re-entrancy: 100 autocommit statements, each queued from the previous callback");
	chain = 0;
	bm_session_execute(s, "SELECT 1", 0, NULL, on_chain, NULL);
	bm_engine_run(e);
	TAP_INT_EQ(chain, 100, "re-entrancy: 100 session statements, each queued from the previous callback");

	bmt_exec(check, "DROP TABLE IF EXISTS reent; CREATE TABLE reent (id int)");
	bm_session_commit(s, NULL, NULL);
	bm_session_execute(s, "INSERT INTO reent VALUES (1)", 0, NULL, close_self, &after_close[0]);
	bm_session_execute(s, "INSERT INTO reent VALUES (2)", 0, NULL, bmt_result_cb, &after_close[1]);
	bm_engine_run(e);
	BMT_REC_IS(after_close[1], BM_OK, "re-entrancy: work queued before closing from a callback still gets its callback");
	TAP_INT_EQ(after_close[2].calls, 1, "re-entrancy: execute right after close from a callback is refused");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM reent"), 0, "re-entrancy: closing rolled the open transaction back");
	bm_engine_free(e);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(60);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS freed, reent");
	test_free_before_run();
	test_free_in_flight(check);
	test_reentrancy(check);
	bmt_exec(check, "DROP TABLE IF EXISTS freed, reent");
	PQfinish(check);
	return tap_done();
}
