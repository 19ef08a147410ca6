/*
 * proto.c
 *	  The protocol layer alone, on a fake wire: what it sends for a unit of
 *	  work and for autocommit statements, and what answers mean, including
 *	  the cases a real server makes hard to produce on purpose: a failure in
 *	  the middle of a unit, a stale cached plan, a deferred error that comes
 *	  before the Sync's answer, a COMMIT that fails, a cancel by
 *	  statement_timeout, and answers out of step with the queue; when a
 *	  streamed statement asks for single-row mode, a COPY's way out of
 *	  pipeline mode and back, and a failure after a SAVEPOINT that ROLLBACK
 *	  TO recovers from.
 */
#include "fake.h"

/* a unit whose second statement fails after its COMMIT was sent */
static void
test_failure_mid_unit(void)
{
	Fixture		fx;
	Request    *r1,
			   *r2,
			   *r3,
			   *commit;
	ProtoEvent	ev;

	fx_init(&fx, 8);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	r2 = req_new(&fx, REQ_EXEC, "INSERT 2", true);
	r3 = req_new(&fx, REQ_EXEC, "INSERT 3", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, r2);
	proto_send_unit(&fx.p, r3);
	proto_send_unit(&fx.p, commit);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\n"
			   "prepare bm_1 INSERT 1\nquery bm_1 (0)\n"
			   "prepare bm_2 INSERT 2\nquery bm_2 (0)\n"
			   "prepare bm_3 INSERT 3\nquery bm_3 (0)\n"
			   "query - COMMIT (0)\nsync\n",
			   "mid-unit failure: BEGIN, each statement prepared in the same batch, COMMIT, one Sync");

	ev = answer(&fx, ans(PGRES_COMMAND_OK));	/* BEGIN */
	tap_ok(proto_event_empty(&ev), "mid-unit failure: BEGIN's answer is no event", "got an event");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == r1 && request_code(r1) == BM_OK, "mid-unit failure: the first statement is answered",
		   "expected r1 done with BM_OK, got done=%p code %d", (void *) ev.done, request_code(r1));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	tap_ok(ev.unit_failed && ev.done == r2, "mid-unit failure: the failing statement fails the unit and is answered",
		   "expected unit_failed and r2 done, got unit_failed %d done %p", ev.unit_failed, (void *) ev.done);
	TAP_INT_EQ(request_code(r2), BM_ERR_SQL, "mid-unit failure: the failing statement has BM_ERR_SQL");
	TAP_STR_EQ(request_failure(r2) ? request_failure(r2)->sqlstate : NULL, "23505", "mid-unit failure: with the server's SQLSTATE");
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));	/* r3's Parse */
	tap_ok(proto_event_empty(&ev) && stmtcache_lookup(&fx.p.cache, r3->sql) == NULL,
		   "mid-unit failure: an aborted Parse leaves no name in the cache",
		   "expected no event and no entry for INSERT 3");
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	tap_ok(ev.done == r3 && !ev.unit_failed, "mid-unit failure: a later statement is answered, the unit fails once",
		   "expected r3 done without a second unit_failed, got done %p unit_failed %d",
		   (void *) ev.done, ev.unit_failed);
	TAP_INT_EQ(request_code(r3), BM_ERR_ABORTED, "mid-unit failure: a later statement has BM_ERR_ABORTED");
	tap_ok(strcmp(req_message(r3), NOT_RUN_MESSAGE " (duplicate key value)") == 0,
		   "mid-unit failure: its message names the failure", "got \"%s\"", req_message(r3));
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));	/* COMMIT */
	tap_ok(proto_event_empty(&ev), "mid-unit failure: the aborted COMMIT waits for its Sync", "got an event");
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.cleanup_due && !ev.unit_over,
		   "mid-unit failure: the Sync answers the commit and asks for the cleanup",
		   "expected commit done, cleanup_due, not unit_over; got done %p cleanup %d over %d",
		   (void *) ev.done, ev.cleanup_due, ev.unit_over);
	TAP_INT_EQ(request_code(commit), BM_ERR_SQL, "mid-unit failure: the commit reports the failure's code");
	TAP_STR_EQ(req_message(commit), "duplicate key value", "mid-unit failure: and its message");
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "mid-unit failure: one ROLLBACK and its Sync");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.unit_over && !ev.cleanup_due, "mid-unit failure: the cleanup's Sync ends the unit",
		   "expected unit_over, got over %d cleanup %d", ev.unit_over, ev.cleanup_due);
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "", "mid-unit failure: nothing more is sent (one cleanup)");
	TAP_INT_EQ(fx.p.nops, 0, "mid-unit failure: nothing is expected any more");
	req_free(&fx, r1);
	req_free(&fx, r2);
	req_free(&fx, r3);
	req_free(&fx, commit);
	fx_free(&fx);
}

/* a statement fails before its unit's end was sent: a Sync of its own, then the cleanup */
static void
test_failure_before_end(void)
{
	Fixture		fx;
	Request    *r1;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	r1 = req_new(&fx, REQ_EXEC, "UPDATE t SET x = 1", true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_end_batch(&fx.p, &(bool) {false});
	TAP_STR_EQ(fx_sent(&fx), "query - BEGIN (0)\nquery - UPDATE t SET x = 1 (0)\nflush\n",
			   "failure before the end: without a cache the statement runs unnamed, the batch ends with a Flush");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("40P01", "deadlock detected", "DeadLockReport"));
	tap_ok(ev.unit_failed && ev.done == r1 && fx.p.unit_end_sent,
		   "failure before the end: the unit fails and takes no more statements",
		   "expected unit_failed, r1 done, unit_end_sent; got %d %p %d",
		   ev.unit_failed, (void *) ev.done, fx.p.unit_end_sent);
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "sync\n", "failure before the end: a Sync ends the aborted pipeline");
	ev = answer_sync(&fx);
	tap_ok(ev.cleanup_due && !ev.unit_over && ev.done == NULL, "failure before the end: its answer asks for the cleanup",
		   "expected cleanup_due only");
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "failure before the end: one ROLLBACK and its Sync");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	TAP_INT_EQ(ev.unit_over, 1, "failure before the end: the cleanup's Sync ends the unit");
	req_free(&fx, r1);
	fx_free(&fx);
}

/* run one autocommit statement that the server answers with `exec` */
static ProtoEvent
run_auto(Fixture *fx, bool prepared_now, Answer exec)
{
	if (prepared_now)
		answer(fx, ans(PGRES_COMMAND_OK));
	answer(fx, exec);
	return answer_sync(fx);
}

/* the server refuses a cached plan: an autocommit statement is prepared afresh and sent again */
static void
test_stale_plan(void)
{
	Fixture		fx;
	Request    *first,
			   *again,
			   *third;
	ProtoEvent	ev;
	Answer		stale = ans_error("0A000", "cached plan must not change result type", "RevalidateCachedQuery");

	fx_init(&fx, 8);
	fx.p.max_replays = 1;
	first = req_new(&fx, REQ_EXEC, "SELECT * FROM t", false);
	proto_send_auto(&fx.p, first, false);
	TAP_STR_EQ(fx_sent(&fx), "prepare bm_1 SELECT * FROM t\nquery bm_1 (0)\nsync\n",
			   "stale plan: the first run prepares the statement");
	ev = run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == first && request_code(first) == BM_OK, "stale plan: the first run is answered",
		   "expected done with BM_OK, got %p code %d", (void *) ev.done, request_code(first));

	again = req_new(&fx, REQ_EXEC, "SELECT * FROM t", false);
	proto_send_auto(&fx.p, again, false);
	TAP_STR_EQ(fx_sent(&fx), "query bm_1 (0)\nsync\n", "stale plan: the second run uses the cached name");
	ev = run_auto(&fx, false, stale);
	tap_ok(ev.replay == again && ev.done == NULL && again->replays == 1,
		   "stale plan: the statement is handed back to be sent again, not answered",
		   "expected replay, got replay %p done %p replays %d", (void *) ev.replay, (void *) ev.done, again->replays);
	tap_ok(stmtcache_lookup(&fx.p.cache, again->sql) == NULL, "stale plan: the stale name is forgotten",
		   "the cache still has an entry");
	/* what the engine does with a replay */
	again->replay = false;
	again->state = REQ_QUEUED;
	request_clear_error(again);
	proto_send_auto(&fx.p, again, false);
	TAP_STR_EQ(fx_sent(&fx), "prepare bm_2 SELECT * FROM t\nquery bm_2 (0)\nsync\n",
			   "stale plan: the replay is prepared afresh under a new name");
	ev = run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == again && request_code(again) == BM_OK, "stale plan: the replay is answered with success",
		   "expected done with BM_OK, got %p code %d", (void *) ev.done, request_code(again));

	/* a statement that was replayed as often as allowed fails instead */
	third = req_new(&fx, REQ_EXEC, "SELECT * FROM t", false);
	third->replays = 1;
	proto_send_auto(&fx.p, third, false);
	fx_sent(&fx);
	ev = run_auto(&fx, false, stale);
	tap_ok(ev.done == third && ev.replay == NULL && request_code(third) == BM_ERR_SQL,
		   "stale plan: past max_replays the error is the answer",
		   "expected done with BM_ERR_SQL, got done %p replay %p code %d",
		   (void *) ev.done, (void *) ev.replay, request_code(third));
	req_free(&fx, first);
	req_free(&fx, again);
	req_free(&fx, third);
	fx_free(&fx);
}

/* in a unit a stale plan fails the transaction: nothing can be sent again */
static void
test_stale_plan_in_unit(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	ProtoEvent	ev;

	fx_init(&fx, 8);
	a = req_new(&fx, REQ_EXEC, "SELECT * FROM t", false);
	proto_send_auto(&fx.p, a, false);
	run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	b = req_new(&fx, REQ_EXEC, "SELECT * FROM t", true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, b);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("0A000", "cached plan must not change result type", "RevalidateCachedQuery"));
	tap_ok(ev.done == b && ev.unit_failed && ev.replay == NULL && request_code(b) == BM_ERR_SQL,
		   "stale plan in a unit: the statement fails with the unit, no replay",
		   "expected done, unit_failed, no replay; got %p %d %p code %d",
		   (void *) ev.done, ev.unit_failed, (void *) ev.replay, request_code(b));
	tap_ok(stmtcache_lookup(&fx.p.cache, b->sql) == NULL, "stale plan in a unit: the next run prepares afresh",
		   "the cache still has an entry");
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/* a deferred constraint fails at the implicit commit: the error comes after the statement's success */
static void
test_deferred_error(void)
{
	Fixture		fx;
	Request    *req;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	req = req_new(&fx, REQ_EXEC, "INSERT INTO child VALUES (1)", false);
	proto_send_auto(&fx.p, req, false);
	TAP_STR_EQ(fx_sent(&fx), "query - INSERT INTO child VALUES (1) (0)\nsync\n",
			   "deferred error: an unnamed statement and its Sync");
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(proto_event_empty(&ev) && request_code(req) == BM_OK,
		   "deferred error: the statement's own success waits for the Sync", "got an event or an error");
	ev = feed(&fx, ans_error("23503", "insert or update violates foreign key constraint", NULL));
	tap_ok(proto_event_empty(&ev), "deferred error: the commit's error is taken before the Sync", "got an event");
	ev = feed_end(&fx);
	tap_ok(proto_event_empty(&ev), "deferred error: the NULL after it ends it, no event", "got an event");
	tap_ok(!proto_feed(&fx.p, NULL, &ev), "deferred error: another NULL means wait for more (not taken)",
		   "the NULL was taken");
	ev = answer_sync(&fx);
	tap_ok(ev.done == req && request_code(req) == BM_ERR_SQL,
		   "deferred error: the Sync answers the statement with the error",
		   "expected done with BM_ERR_SQL, got %p code %d", (void *) ev.done, request_code(req));
	TAP_STR_EQ(request_failure(req) ? request_failure(req)->sqlstate : NULL, "23503", "deferred error: with its SQLSTATE");
	req_free(&fx, req);
	fx_free(&fx);
}

/*
 * An answer the queue does not expect: the connection must go, and every
 * request on it is handed back exactly once to be failed.
 */
static void
test_out_of_step(void)
{
	Fixture		fx;
	Request    *reqs[5];
	int			seen[5] = {0};
	Request    *req;
	ProtoEvent	ev;
	int			i,
				once = 0;

	fx_init(&fx, 4);
	reqs[0] = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	reqs[1] = req_new(&fx, REQ_EXEC, "SELECT 2", false);
	reqs[2] = req_new(&fx, REQ_EXEC, "SELECT 3", true);
	reqs[3] = req_new(&fx, REQ_EXEC, "SELECT 4", true);
	reqs[4] = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_send_auto(&fx.p, reqs[0], false);
	proto_send_auto(&fx.p, reqs[1], false);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	for (i = 2; i < 5; i++)
		proto_send_unit(&fx.p, reqs[i]);
	ev = run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == reqs[0], "out of step: the first statement is answered", "got %p", (void *) ev.done);
	reqs[0]->state = REQ_DONE;
	/* a Sync's answer where SELECT 2's Parse is expected */
	ev = feed(&fx, ans(PGRES_PIPELINE_SYNC));
	tap_ok(ev.lost == BM_ERR_CONNECTION && ev.lost_message && strstr(ev.lost_message, "out of step"),
		   "out of step: the connection is to be dropped", "expected lost BM_ERR_CONNECTION, got %d (%s)",
		   ev.lost, ev.lost_message ? ev.lost_message : "");
	/* what the engine does: fail each request handed back */
	while ((req = proto_take_unanswered(&fx.p)) != NULL)
	{
		for (i = 0; i < 5; i++)
			if (req == reqs[i])
				seen[i]++;
		req->state = REQ_DONE;
	}
	for (i = 1; i < 5; i++)
		once += seen[i] == 1;
	tap_ok(seen[0] == 0 && once == 4, "out of step: every unanswered request is handed back exactly once",
		   "expected 0 1 1 1 1, got %d %d %d %d %d", seen[0], seen[1], seen[2], seen[3], seen[4]);
	TAP_INT_EQ(fx.p.nops, 0, "out of step: nothing is expected any more");
	proto_reset(&fx.p);
	TAP_INT_EQ(fx.p.cache.count, 0, "out of step: the reset connection has no statements");
	for (i = 0; i < 5; i++)
		req_free(&fx, reqs[i]);
	fx_free(&fx);
}

/*
 * Two autocommit statements of the same text sent before any answer: the
 * second goes after the first's Sync while the Parse is unconfirmed (an error
 * before it would have skipped the Parse), so it runs unnamed.  The count of
 * autocommit statements on the wire that picks the least busy connection goes
 * up with each and back to 0 once both are answered.
 */
static void
test_unconfirmed_parse(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	ProtoEvent	ev;

	fx_init(&fx, 8);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	b = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	proto_send_auto(&fx.p, b, false);
	TAP_STR_EQ(fx_sent(&fx), "prepare bm_1 SELECT 1\nquery bm_1 (0)\nsync\nquery - SELECT 1 (0)\nsync\n",
			   "unconfirmed Parse: a statement sent after an earlier Sync does not use the unconfirmed name");
	TAP_INT_EQ(fx.p.nauto, 2, "autocommit count: two statements on the wire");
	ev = run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == a, "unconfirmed Parse: the first statement is answered", "got %p", (void *) ev.done);
	TAP_INT_EQ(fx.p.nauto, 1, "autocommit count: one left after the first Sync's answer");
	ev = run_auto(&fx, false, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == b && request_code(b) == BM_OK, "unconfirmed Parse: the unnamed one is answered",
		   "expected done with BM_OK, got %p code %d", (void *) ev.done, request_code(b));
	TAP_INT_EQ(fx.p.nauto, 0, "autocommit count: back to 0 once both are answered");
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/* a COMMIT that fails (a deferred check) has ended the transaction: no ROLLBACK after it */
static void
test_commit_fails(void)
{
	Fixture		fx;
	Request    *r1,
			   *commit;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	r1 = req_new(&fx, REQ_EXEC, "INSERT INTO child VALUES (1)", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, commit);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == r1 && request_code(r1) == BM_OK, "failed COMMIT: the statement succeeds",
		   "expected r1 done with BM_OK, got %p code %d", (void *) ev.done, request_code(r1));
	ev = answer(&fx, ans_error("23503", "insert or update violates foreign key constraint", NULL));
	tap_ok(ev.unit_failed && ev.done == NULL, "failed COMMIT: the unit fails, the commit waits for its Sync",
		   "expected unit_failed only, got unit_failed %d done %p", ev.unit_failed, (void *) ev.done);
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.unit_over && !ev.cleanup_due,
		   "failed COMMIT: its Sync ends the unit without asking for a cleanup",
		   "expected commit done, unit_over, no cleanup_due; got done %p over %d cleanup %d",
		   (void *) ev.done, ev.unit_over, ev.cleanup_due);
	TAP_STR_EQ(request_failure(commit) ? request_failure(commit)->sqlstate : NULL, "23503", "failed COMMIT: the commit has the error");
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "", "failed COMMIT: no cleanup ROLLBACK is sent");
	TAP_INT_EQ(fx.p.nops, 0, "failed COMMIT: nothing is expected any more");
	req_free(&fx, r1);
	req_free(&fx, commit);
	fx_free(&fx);
}

/* 57014 from our statement_timeout is BM_ERR_TIMEOUT; a cancel for another reason stays an SQL error */
static void
test_statement_timeout(void)
{
	Fixture		fx;
	Request    *timed_out,
			   *cancelled;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	fx.p.statement_timeout_ms = 100;
	timed_out = req_new(&fx, REQ_EXEC, "SELECT pg_sleep(1)", false);
	proto_send_auto(&fx.p, timed_out, false);
	ev = run_auto(&fx, false, ans_error("57014", "canceling statement due to statement timeout", "ProcessInterrupts"));
	tap_ok(ev.done == timed_out, "statement timeout: the statement is answered", "got %p", (void *) ev.done);
	TAP_INT_EQ(request_code(timed_out), BM_ERR_TIMEOUT, "statement timeout: 57014 from statement_timeout is BM_ERR_TIMEOUT");
	cancelled = req_new(&fx, REQ_EXEC, "SELECT pg_sleep(1)", false);
	proto_send_auto(&fx.p, cancelled, false);
	run_auto(&fx, false, ans_error("57014", "canceling statement due to user request", "ProcessInterrupts"));
	TAP_INT_EQ(request_code(cancelled), BM_ERR_SQL, "statement timeout: 57014 for a user's cancel stays BM_ERR_SQL");
	req_free(&fx, timed_out);
	req_free(&fx, cancelled);
	fx_free(&fx);
}

/* a connection's counters: what it sent, kept across a reset (a reconnect) for the engine to sum */
static void
test_counters(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	bool		write;

	fx_init(&fx, 8);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	b = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	proto_send_auto(&fx.p, b, false);
	proto_end_batch(&fx.p, &write);
	run_auto(&fx, false, ans(PGRES_TUPLES_OK));
	proto_reset(&fx.p);
	tap_ok(fx.p.stats.prepares == 1 && fx.p.stats.syncs == 2 && fx.p.stats.round_trips == 1,
		   "counters: one prepare, two Syncs, one round trip, kept across a reset",
		   "expected 1 2 1, got %ld %ld %ld", fx.p.stats.prepares, fx.p.stats.syncs, fx.p.stats.round_trips);
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/* a full cache makes room: DEALLOCATE of the least recently used confirmed name */
static void
test_eviction_on_wire(void)
{
	Fixture		fx;
	Request    *reqs[4];
	const char *sql[] = {"SELECT 1", "SELECT 2", "SELECT 1", "SELECT 3"};
	int			i;

	fx_init(&fx, 2);
	for (i = 0; i < 3; i++)
	{
		reqs[i] = req_new(&fx, REQ_EXEC, sql[i], false);
		proto_send_auto(&fx.p, reqs[i], false);
		run_auto(&fx, i < 2, ans(PGRES_TUPLES_OK));
	}
	fx_sent(&fx);
	reqs[3] = req_new(&fx, REQ_EXEC, sql[3], false);
	proto_send_auto(&fx.p, reqs[3], false);
	TAP_STR_EQ(fx_sent(&fx), "query - DEALLOCATE bm_2 (0)\nprepare bm_3 SELECT 3\nquery bm_3 (0)\nsync\n",
			   "eviction: the least recently used name (SELECT 2; SELECT 1 ran since) is deallocated first");
	TAP_INT_EQ(fx.p.cache.count, 2, "eviction: the cache stays at its capacity");
	for (i = 0; i < 4; i++)
		req_free(&fx, reqs[i]);
	fx_free(&fx);
}

/* DISCARD ALL drops every prepared statement: the cache forgets its names */
static void
test_discard_all(void)
{
	Fixture		fx;
	Request    *a,
			   *discard,
			   *b;

	fx_init(&fx, 8);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	run_auto(&fx, true, ans(PGRES_TUPLES_OK));
	discard = req_new(&fx, REQ_EXEC, "discard all;", false);
	b = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, discard, false);
	proto_send_auto(&fx.p, b, false);
	TAP_STR_EQ(strstr(fx_sent(&fx), "query - discard"),
			   "query - discard all; (0)\nsync\nprepare bm_2 SELECT 1\nquery bm_2 (0)\nsync\n",
			   "DISCARD ALL: runs unnamed, and the statement after it is prepared again");
	req_free(&fx, a);
	req_free(&fx, discard);
	req_free(&fx, b);
	fx_free(&fx);
}

/* a failing wire: the send reports it, so that the connection can go */
static void
test_wire_failure(void)
{
	Fixture		fx;
	Request    *req;
	bool		write;

	fx_init(&fx, 8);
	fx.wire.fail_at = 2;		/* the Bind/Execute after the Parse */
	req = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	TAP_INT_EQ(proto_send_auto(&fx.p, req, false), PROTO_WIRE_FAILED, "wire failure: the send says so");
	tap_ok(proto_take_unanswered(&fx.p) == req, "wire failure: the request on the wire is handed back",
		   "expected the request");
	req->state = REQ_DONE;
	tap_ok(proto_take_unanswered(&fx.p) == NULL, "wire failure: once (its Parse and Execute are one request)",
		   "it came back again");
	fx.wire.fail_at = 0;
	TAP_INT_EQ(proto_end_batch(&fx.p, &write), PROTO_OK, "wire failure: a batch ends without error after");
	req_free(&fx, req);
	fx_free(&fx);
}

/*
 * A unit that failed inside a savepoint, with its ROLLBACK TO and COMMIT on
 * the wire when the connection is lost: the server runs the ROLLBACK TO and
 * the COMMIT behind their own Sync, so the outcome is unknown.
 */
static void
test_lost_code_rollback_to(void)
{
	Fixture		fx;
	Request    *sp,
			   *r1,
			   *back,
			   *commit;

	fx_init(&fx, 0);
	sp = req_new(&fx, REQ_SAVEPOINT, "SAVEPOINT \"a\"", true);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	back = req_new(&fx, REQ_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT \"a\"", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, sp);
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, back);
	proto_send_unit(&fx.p, commit);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	TAP_INT_EQ(proto_lost_code(&fx.p, commit, BM_ERR_CONNECTION), BM_ERR_OUTCOME_UNKNOWN,
			   "lost code: a COMMIT behind a ROLLBACK TO on the wire may have committed");
	tap_ok(!proto_answer_lost_in_failed_unit(&fx.p, commit) && request_code(commit) == BM_OK,
		   "lost code: it is not answered with the failure the ROLLBACK TO may recover",
		   "got code %d", request_code(commit));
	req_free(&fx, sp);
	req_free(&fx, r1);
	req_free(&fx, back);
	req_free(&fx, commit);
	fx_free(&fx);
}

/* what a lost connection makes of a request still unanswered: only what may have committed is unknown */
static void
test_lost_code(void)
{
	Fixture		fx;
	Request    *autoreq,
			   *r1,
			   *end;

	fx_init(&fx, 0);
	autoreq = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (1)", false);
	proto_send_auto(&fx.p, autoreq, false);
	TAP_INT_EQ(proto_lost_code(&fx.p, autoreq, BM_ERR_CONNECTION), BM_ERR_OUTCOME_UNKNOWN,
			   "lost code: an autocommit statement on the wire may have committed");
	r1 = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (2)", true);
	end = req_new(&fx, REQ_COMMIT, NULL, true);
	TAP_INT_EQ(proto_lost_code(&fx.p, r1, BM_ERR_CLOSED), BM_ERR_CLOSED,
			   "lost code: a request never sent keeps the code it is failed with");
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	TAP_INT_EQ(proto_lost_code(&fx.p, r1, BM_ERR_TIMEOUT), BM_ERR_TIMEOUT,
			   "lost code: a statement of a unit whose COMMIT was not sent surely did not commit");
	proto_send_unit(&fx.p, end);
	TAP_INT_EQ(proto_lost_code(&fx.p, r1, BM_ERR_TIMEOUT), BM_ERR_OUTCOME_UNKNOWN,
			   "lost code: once the COMMIT is sent, the unit's statements may have committed");
	TAP_INT_EQ(proto_lost_code(&fx.p, end, BM_ERR_CONNECTION), BM_ERR_OUTCOME_UNKNOWN,
			   "lost code: and so may the COMMIT");
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer_sync(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	TAP_INT_EQ(proto_lost_code(&fx.p, end, BM_ERR_CONNECTION), BM_ERR_CONNECTION,
			   "lost code: a unit that failed before its COMMIT cannot have committed");
	tap_ok(proto_answer_lost_in_failed_unit(&fx.p, end) && request_code(end) == BM_ERR_SQL &&
		   strcmp(request_failure(end)->sqlstate, "23505") == 0,
		   "lost code: that COMMIT reports the unit's failure, not the lost connection (nothing to retry)",
		   "expected BM_ERR_SQL 23505, got %d", request_code(end));
	req_free(&fx, autoreq);
	req_free(&fx, r1);
	req_free(&fx, end);
	fx_free(&fx);

	fx_init(&fx, 0);
	r1 = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (2)", true);
	end = req_new(&fx, REQ_ROLLBACK, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, end);
	TAP_INT_EQ(proto_lost_code(&fx.p, r1, BM_ERR_CONNECTION), BM_ERR_CONNECTION,
			   "lost code: a statement of a unit ending in ROLLBACK did not commit");
	TAP_INT_EQ(proto_lost_code(&fx.p, end, BM_ERR_CONNECTION), BM_OK,
			   "lost code: a ROLLBACK on the wire succeeds: the transaction cannot commit");
	req_free(&fx, r1);
	req_free(&fx, end);
	fx_free(&fx);
}

/*
 * A streamed statement asks for single-row mode when it becomes libpq's
 * current query: at once when sent to an idle connection, else when the
 * answers before it are all taken; each row is an event of its own, the
 * end result answers the request.
 */
static void
test_stream(void)
{
	Fixture		fx;
	Request    *plain,
			   *st,
			   *first,
			   *bad,
			   *after,
			   *again;
	ProtoEvent	ev;
	PGresult   *row;

	fx_init(&fx, 8);
	plain = req_new(&fx, REQ_EXEC, "SELECT 1", true);
	st = req_new(&fx, REQ_STREAM, "SELECT g", true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, plain);
	proto_send_unit(&fx.p, st);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nprepare bm_1 SELECT 1\nquery bm_1 (0)\nprepare bm_2 SELECT g\nquery bm_2 (0)\n",
			   "stream: queued behind other queries, no single-row mode yet");
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == plain, "stream: the statement before is answered", "got done %p", (void *) ev.done);
	TAP_STR_EQ(fx_sent(&fx), "", "stream: not before its own Parse is answered");
	answer(&fx, ans(PGRES_COMMAND_OK));
	TAP_STR_EQ(fx_sent(&fx), "single-row\n", "stream: single-row mode once it is the current query");
	row = PQmakeEmptyPGresult(NULL, PGRES_SINGLE_TUPLE);
	ev = feed(&fx, (Answer) {.status = PGRES_SINGLE_TUPLE, .res = row});
	tap_ok(ev.row_of == st && ev.row == row && ev.done == NULL, "stream: a row is an event, the result handed over",
		   "expected row_of the stream with its result, got row_of %p row %p done %p",
		   (void *) ev.row_of, (void *) ev.row, (void *) ev.done);
	PQclear(ev.row);
	ev = answer(&fx, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == st && request_code(st) == BM_OK && ev.row_of == NULL,
		   "stream: the end result answers the request", "got done %p code %d", (void *) ev.done,
		   request_code(st));
	TAP_INT_EQ(fx.p.nops, 0, "stream: nothing left on the wire");

	/* sent to an idle connection: the current query at once */
	first = req_new(&fx, REQ_STREAM, "SELECT g", true);
	proto_send_unit(&fx.p, first);
	TAP_STR_EQ(fx_sent(&fx), "query bm_2 (0)\nsingle-row\n",
			   "stream: sent to an idle connection, single-row mode right after it");
	answer(&fx, ans(PGRES_TUPLES_OK));

	/* after a failure libpq refuses (the query is aborted): no rows will come, nothing is wrong */
	bad = req_new(&fx, REQ_EXEC, "SELECT 1/0", true);
	after = req_new(&fx, REQ_STREAM, "SELECT g", true);
	proto_send_unit(&fx.p, bad);
	proto_send_unit(&fx.p, after);
	fx_sent(&fx);
	fx.wire.refuse_single_row = true;
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("22012", "division by zero", "int4div"));
	tap_ok(ev.unit_failed && ev.lost == BM_OK, "stream: refused after a failure, the connection stays",
		   "got unit_failed %d lost %d", ev.unit_failed, ev.lost);
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	tap_ok(ev.done == after && request_code(after) == BM_ERR_ABORTED, "stream: and the stream is not run",
		   "got done %p code %d", (void *) ev.done, request_code(after));

	/* refused otherwise: libpq and the queue disagree, the connection goes */
	proto_reset(&fx.p);
	proto_begin_unit(&fx.p);
	again = req_new(&fx, REQ_STREAM, "SELECT g", true);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, again);
	answer(&fx, ans(PGRES_COMMAND_OK));	/* BEGIN */
	ev = answer(&fx, ans(PGRES_COMMAND_OK));	/* the Parse */
	tap_ok(ev.lost == BM_ERR_CONNECTION, "stream: refused with nothing failed, the connection goes",
		   "got lost %d", ev.lost);
	req_free(&fx, plain);
	req_free(&fx, st);
	req_free(&fx, first);
	req_free(&fx, bad);
	req_free(&fx, after);
	req_free(&fx, again);
	fx_free(&fx);
}

/*
 * A COPY starts as a Sync; its answer says the COPY is due (the connection
 * leaves pipeline mode), then the COPY alone (no Flush), whose answer ends
 * it.  After a failure it is not run; a connection lost between its Sync's
 * answer and its own op still hands it back.
 */
static void
test_copy(void)
{
	Fixture		fx;
	Request    *cp,
			   *bad,
			   *cp2,
			   *cp3;
	ProtoEvent	ev;
	bool		write;

	fx_init(&fx, 8);
	cp = req_new(&fx, REQ_COPY_IN, "COPY t FROM STDIN", true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, cp);
	TAP_STR_EQ(fx_sent(&fx), "query - BEGIN (0)\nsync\n", "copy: BEGIN, then a Sync instead of the COPY");
	tap_ok(fx.p.copy == cp, "copy: the Proto holds the COPY", "copy is %p", (void *) fx.p.copy);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.copy_due == cp && ev.done == NULL, "copy: the Sync's answer makes the COPY due",
		   "got copy_due %p done %p", (void *) ev.copy_due, (void *) ev.done);
	proto_send_copy(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - COPY t FROM STDIN (0)\n", "copy: the COPY goes alone");
	proto_end_batch(&fx.p, &write);
	tap_ok(write && strcmp(fx_sent(&fx), "") == 0, "copy: with no Flush after it, but written",
		   "write %d", write);
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == cp && ev.copy_over && request_code(cp) == BM_OK && fx.p.copy == NULL,
		   "copy: its answer answers it and ends the COPY",
		   "got done %p copy_over %d code %d", (void *) ev.done, ev.copy_over, request_code(cp));

	/* after a failure in the unit: answered at its Sync, never sent */
	bad = req_new(&fx, REQ_EXEC, "SELECT 1/0", true);
	cp2 = req_new(&fx, REQ_COPY_OUT, "COPY t TO STDOUT", true);
	proto_send_unit(&fx.p, bad);
	proto_send_unit(&fx.p, cp2);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("22012", "division by zero", "int4div"));
	tap_ok(ev.unit_failed && ev.done == bad, "copy: a failure before the COPY fails the unit", "got unit_failed %d",
		   ev.unit_failed);
	ev = answer_sync(&fx);
	tap_ok(ev.done == cp2 && ev.copy_due == NULL && request_code(cp2) == BM_ERR_ABORTED && fx.p.copy == NULL,
		   "copy: its Sync answers the COPY as not run", "got done %p copy_due %p code %d",
		   (void *) ev.done, (void *) ev.copy_due, request_code(cp2));

	/* lost between its Sync's answer and its own op */
	proto_reset(&fx.p);
	cp3 = req_new(&fx, REQ_COPY_IN, "COPY t FROM STDIN", true);
	proto_begin_unit(&fx.p);
	proto_send_unit(&fx.p, cp3);
	answer_sync(&fx);
	tap_ok(proto_take_unanswered(&fx.p) == cp3 && proto_take_unanswered(&fx.p) == NULL,
		   "copy: a lost connection hands back a COPY that has no op yet, once", "it did not");
	req_free(&fx, cp);
	req_free(&fx, bad);
	req_free(&fx, cp2);
	req_free(&fx, cp3);
	fx_free(&fx);
}

/* SAVEPOINT, a failing statement, ROLLBACK TO, more, COMMIT, all in one batch: the commit commits */
static void
test_savepoint_pipelined(void)
{
	Fixture		fx;
	Request    *sp,
			   *r1,
			   *back,
			   *r2,
			   *commit;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	sp = req_new(&fx, REQ_SAVEPOINT, "SAVEPOINT \"a\"", true);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	back = req_new(&fx, REQ_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT \"a\"", true);
	r2 = req_new(&fx, REQ_EXEC, "INSERT 2", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, sp);
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, back);
	proto_send_unit(&fx.p, r2);
	proto_send_unit(&fx.p, commit);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nquery - SAVEPOINT \"a\" (0)\nquery - INSERT 1 (0)\n"
			   "sync\nquery - ROLLBACK TO SAVEPOINT \"a\" (0)\nquery - INSERT 2 (0)\n"
			   "query - COMMIT (0)\nsync\n",
			   "savepoint pipelined: a Sync goes before ROLLBACK TO, all in one batch");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == sp && request_code(sp) == BM_OK, "savepoint pipelined: SAVEPOINT is answered",
		   "expected sp done with BM_OK, got done %p code %d", (void *) ev.done, request_code(sp));
	ev = answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	TAP_INT_EQ(request_code(r1), BM_ERR_SQL, "savepoint pipelined: the failing statement has its error");
	ev = answer_sync(&fx);
	tap_ok(!ev.done && !ev.cleanup_due && !ev.unit_over, "savepoint pipelined: the Sync before ROLLBACK TO is no event",
		   "got done %p cleanup %d over %d", (void *) ev.done, ev.cleanup_due, ev.unit_over);
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == back && request_code(back) == BM_OK && !fx.p.unit_failed,
		   "savepoint pipelined: ROLLBACK TO makes the unit usable again",
		   "expected back done with BM_OK and the unit not failed, got code %d failed %d",
		   request_code(back), fx.p.unit_failed);
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	TAP_INT_EQ(request_code(r2), BM_OK, "savepoint pipelined: the statement after ROLLBACK TO succeeds");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && request_code(commit) == BM_OK && ev.unit_over && !ev.cleanup_due,
		   "savepoint pipelined: the commit commits and ends the unit without a cleanup",
		   "expected commit done with BM_OK and unit_over, got code %d over %d cleanup %d",
		   request_code(commit), ev.unit_over, ev.cleanup_due);
	req_free(&fx, sp);
	req_free(&fx, r1);
	req_free(&fx, back);
	req_free(&fx, r2);
	req_free(&fx, commit);
	fx_free(&fx);
}

/*
 * A statement after a SAVEPOINT fails before the rest is queued: the unit
 * waits; a statement queued then is not run, ROLLBACK TO and what follows
 * are sent and the commit commits.
 */
static void
test_savepoint_after_failure(void)
{
	Fixture		fx;
	Request    *sp,
			   *r1,
			   *skipped,
			   *back,
			   *r2,
			   *commit;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	sp = req_new(&fx, REQ_SAVEPOINT, "SAVEPOINT \"a\"", true);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	skipped = req_new(&fx, REQ_EXEC, "INSERT 3", true);
	back = req_new(&fx, REQ_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT \"a\"", true);
	r2 = req_new(&fx, REQ_EXEC, "INSERT 2", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, sp);
	proto_send_unit(&fx.p, r1);
	proto_end_batch(&fx.p, &(bool) {false});
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	tap_ok(ev.done == r1 && !ev.unit_failed && !fx.p.unit_end_sent && !ev.cleanup_due,
		   "savepoint after a failure: the unit waits for the session's next request",
		   "expected r1 done, no unit_failed, unit end not sent; got done %p failed %d end %d",
		   (void *) ev.done, ev.unit_failed, fx.p.unit_end_sent);
	proto_send_unit(&fx.p, skipped);
	tap_ok(skipped->state == REQ_DONE && request_code(skipped) == BM_ERR_ABORTED,
		   "savepoint after a failure: a statement before ROLLBACK TO is answered as not run",
		   "expected done with BM_ERR_ABORTED, got state %d code %d", skipped->state, request_code(skipped));
	proto_send_unit(&fx.p, back);
	proto_send_unit(&fx.p, r2);
	proto_send_unit(&fx.p, commit);
	TAP_STR_EQ(fx_sent(&fx),
			   "sync\nquery - ROLLBACK TO SAVEPOINT \"a\" (0)\nquery - INSERT 2 (0)\n"
			   "query - COMMIT (0)\nsync\n",
			   "savepoint after a failure: only ROLLBACK TO and what follows go, after a Sync");
	answer_sync(&fx);
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == back && !fx.p.unit_failed, "savepoint after a failure: ROLLBACK TO recovers the unit",
		   "expected back done and the unit usable, got failed %d", fx.p.unit_failed);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && request_code(commit) == BM_OK && ev.unit_over,
		   "savepoint after a failure: the commit commits", "expected BM_OK and unit_over, got code %d over %d",
		   request_code(commit), ev.unit_over);
	req_free(&fx, sp);
	req_free(&fx, r1);
	req_free(&fx, skipped);
	req_free(&fx, back);
	req_free(&fx, r2);
	req_free(&fx, commit);
	fx_free(&fx);
}

/* a unit that failed after a SAVEPOINT and is committed without ROLLBACK TO: the failure, then the cleanup */
static void
test_savepoint_commit_after_failure(void)
{
	Fixture		fx;
	Request    *sp,
			   *r1,
			   *commit;
	ProtoEvent	ev;
	Answer		dup = ans_error("23505", "duplicate key value", "_bt_check_unique");

	fx_init(&fx, 0);
	sp = req_new(&fx, REQ_SAVEPOINT, "SAVEPOINT \"a\"", true);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, sp);
	proto_send_unit(&fx.p, r1);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	dup.schema_name = "public";
	dup.table_name = "t";
	dup.constraint_name = "t_pkey";
	dup.position = "8";
	answer(&fx, dup);
	tap_ok(request_failure(r1) && strcmp(request_failure(r1)->constraint_name, "t_pkey") == 0 &&
		   strcmp(request_failure(r1)->table_name, "t") == 0 && strcmp(request_failure(r1)->schema_name, "public") == 0 &&
		   request_failure(r1)->column_name == NULL && request_failure(r1)->position == 8,
		   "error fields: the statement's error keeps the server's schema, table, constraint and position",
		   "got constraint %s table %s column %s position %d", request_failure(r1) ? request_failure(r1)->constraint_name : "-",
		   request_failure(r1) ? request_failure(r1)->table_name : "-", request_failure(r1) && request_failure(r1)->column_name ? request_failure(r1)->column_name : "NULL",
		   request_failure(r1) ? request_failure(r1)->position : -1);
	proto_send_unit(&fx.p, commit);
	tap_ok(request_failure(commit) && request_failure(commit)->constraint_name && strcmp(request_failure(commit)->constraint_name, "t_pkey") == 0 &&
		   request_failure(commit)->position == 8,
		   "error fields: the commit that reports the failure has them too",
		   "got constraint %s position %d",
		   request_failure(commit) && request_failure(commit)->constraint_name ? request_failure(commit)->constraint_name : "NULL",
		   request_failure(commit) ? request_failure(commit)->position : -1);
	tap_ok(commit->state == REQ_DONE && request_code(commit) == BM_ERR_SQL &&
		   strcmp(req_message(commit), "duplicate key value") == 0,
		   "savepoint, commit after a failure: the commit reports the failure without being sent",
		   "expected done with BM_ERR_SQL \"duplicate key value\", got state %d code %d \"%s\"",
		   commit->state, request_code(commit), req_message(commit));
	TAP_STR_EQ(fx_sent(&fx), "sync\n", "savepoint, commit after a failure: a Sync ends the aborted pipeline");
	ev = answer_sync(&fx);
	TAP_INT_EQ(ev.cleanup_due, 1, "savepoint, commit after a failure: its answer asks for the cleanup");
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "savepoint, commit after a failure: one ROLLBACK");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	TAP_INT_EQ(ev.unit_over, 1, "savepoint, commit after a failure: the cleanup's Sync ends the unit");
	req_free(&fx, sp);
	req_free(&fx, r1);
	req_free(&fx, commit);
	fx_free(&fx);
}

/* a ROLLBACK TO that fails after the unit failed (unknown name), with the COMMIT sent: the cleanup follows */
static void
test_savepoint_rollback_to_fails(void)
{
	Fixture		fx;
	Request    *sp,
			   *r1,
			   *back,
			   *commit;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	sp = req_new(&fx, REQ_SAVEPOINT, "SAVEPOINT \"a\"", true);
	r1 = req_new(&fx, REQ_EXEC, "INSERT 1", true);
	back = req_new(&fx, REQ_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT \"b\"", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, sp);
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, back);
	proto_send_unit(&fx.p, commit);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans_error("23505", "duplicate key value", "_bt_check_unique"));
	tap_ok(!ev.unit_failed, "failed ROLLBACK TO: the failure waits for the ROLLBACK TO on the wire",
		   "got unit_failed");
	answer_sync(&fx);
	ev = answer(&fx, ans_error("3B001", "savepoint \"b\" does not exist", "RollbackToSavepoint"));
	tap_ok(ev.done == back && ev.unit_failed && request_code(back) == BM_ERR_SQL,
		   "failed ROLLBACK TO: it has its error, and the unit fails for good",
		   "got done %p unit_failed %d code %d", (void *) ev.done, ev.unit_failed, request_code(back));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && request_code(commit) == BM_ERR_SQL && ev.cleanup_due,
		   "failed ROLLBACK TO: the commit reports the first failure and the cleanup is due",
		   "got code %d cleanup %d", request_code(commit), ev.cleanup_due);
	TAP_STR_EQ(req_message(commit), "duplicate key value", "failed ROLLBACK TO: the commit's message is the first failure's");
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "failed ROLLBACK TO: one ROLLBACK and its Sync");
	req_free(&fx, sp);
	req_free(&fx, r1);
	req_free(&fx, back);
	req_free(&fx, commit);
	fx_free(&fx);
}

int
main(void)
{
	test_failure_mid_unit();
	test_failure_before_end();
	test_stale_plan();
	test_stale_plan_in_unit();
	test_deferred_error();
	test_out_of_step();
	test_eviction_on_wire();
	test_discard_all();
	test_wire_failure();
	test_unconfirmed_parse();
	test_commit_fails();
	test_statement_timeout();
	test_counters();
	test_lost_code();
	test_lost_code_rollback_to();
	test_stream();
	test_copy();
	test_savepoint_pipelined();
	test_savepoint_after_failure();
	test_savepoint_commit_after_failure();
	test_savepoint_rollback_to_fails();
	return tap_done();
}
