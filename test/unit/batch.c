/*
 * batch.c
 *	  The protocol layer alone, sending autocommit statements in batches:
 *	  statements that more follow are framed as BEGIN / statement / COMMIT
 *	  and share one Sync, each answered at its own COMMIT; after a failure the
 *	  statements the server skipped are handed back to be sent again; those
 *	  that refuse a transaction block, that may leave state, or that go alone
 *	  keep a Sync of their own; a unit never shares a Sync with them.
 */
#include "fake.h"

/* a framed statement's answers: BEGIN, the statement (prepared_now: its Parse first), COMMIT */
static ProtoEvent
answer_framed(Fixture *fx, bool prepared_now, Answer exec, Answer commit)
{
	answer(fx, ans(PGRES_COMMAND_OK));
	if (prepared_now)
		answer(fx, ans(PGRES_COMMAND_OK));
	answer(fx, exec);
	return answer(fx, commit);
}

/* the answers of a framed statement the server skipped after a failure */
static ProtoEvent
answer_skipped(Fixture *fx)
{
	answer(fx, ans(PGRES_PIPELINE_ABORTED));
	answer(fx, ans(PGRES_PIPELINE_ABORTED));
	return answer(fx, ans(PGRES_PIPELINE_ABORTED));
}

/* a test's end with requests still on the wire: they count as answered, then everything goes */
static void
drop_on_wire(Fixture *fx, Request **reqs, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		reqs[i]->state = REQ_DONE;
	proto_reset(&fx->p);
	for (i = 0; i < n; i++)
		req_free(fx, reqs[i]);
	fx_free(fx);
}

/* three statements with more behind them: one Sync for all, each answered at its COMMIT */
static void
test_one_sync(void)
{
	Fixture		fx;
	Request    *r[3];
	ProtoEvent	ev;
	bool		write;
	int			i;

	fx_init(&fx, 0);
	for (i = 0; i < 3; i++)
	{
		r[i] = req_new(&fx, REQ_EXEC, i == 1 ? "SELECT 2" : "SELECT 1", false);
		proto_send_auto(&fx.p, r[i], i < 2);
	}
	proto_end_batch(&fx.p, &write);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nquery - SELECT 1 (0)\nquery - COMMIT (0)\n"
			   "query - BEGIN (0)\nquery - SELECT 2 (0)\nquery - COMMIT (0)\n"
			   "query - BEGIN (0)\nquery - SELECT 1 (0)\nquery - COMMIT (0)\nsync\n",
			   "one sync: each statement framed, one Sync at the end of the batch");
	tap_ok(write && fx.p.stats.syncs == 1 && fx.p.nauto == 3, "one sync: one Sync for three statements",
		   "write %d, syncs %ld, nauto %d", write, fx.p.stats.syncs, fx.p.nauto);
	for (i = 0; i < 3; i++)
	{
		ev = answer_framed(&fx, false, ans(PGRES_TUPLES_OK), ans(PGRES_COMMAND_OK));
		tap_ok(ev.done == r[i] && request_code(r[i]) == BM_OK,
			   "one sync: a statement is answered at its COMMIT, with success",
			   "statement %d: done %p code %d", i, (void *) ev.done, request_code(r[i]));
	}
	ev = answer_sync(&fx);
	tap_ok(ev.done == NULL && ev.replay == NULL && fx.p.nops == 0 && fx.p.nauto == 0,
		   "one sync: the Sync answers nothing more", "done %p, nops %d, nauto %d",
		   (void *) ev.done, fx.p.nops, fx.p.nauto);
	for (i = 0; i < 3; i++)
		req_free(&fx, r[i]);
	fx_free(&fx);
}

/* one statement alone (nothing more follows) keeps the old way: no BEGIN, its own Sync */
static void
test_alone_unframed(void)
{
	Fixture		fx;
	Request    *r;
	ProtoEvent	ev;
	bool		write;

	fx_init(&fx, 0);
	r = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, r, false);
	proto_end_batch(&fx.p, &write);
	TAP_STR_EQ(fx_sent(&fx), "query - SELECT 1 (0)\nsync\n", "alone: the statement and its Sync, no framing");
	answer(&fx, ans(PGRES_TUPLES_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.done == r && request_code(r) == BM_OK, "alone: answered at its Sync", "done %p", (void *) ev.done);
	req_free(&fx, r);
	fx_free(&fx);
}

/*
 * The second of four fails: the first committed, the second has its error,
 * the third and fourth were skipped and go again, in their order; nothing
 * says "not run".
 */
static void
test_failure_replays_the_rest(void)
{
	Fixture		fx;
	Request    *r[4];
	ProtoEvent	ev;
	bool		write;
	int			i;

	fx_init(&fx, 0);
	for (i = 0; i < 4; i++)
	{
		r[i] = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (1)", false);
		proto_send_auto(&fx.p, r[i], i < 3);
	}
	proto_end_batch(&fx.p, &write);
	fx_sent(&fx);
	ev = answer_framed(&fx, false, ans(PGRES_COMMAND_OK), ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == r[0] && request_code(r[0]) == BM_OK, "failure: the first committed", "done %p code %d",
		   (void *) ev.done, request_code(r[0]));
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans_error("23505", "duplicate key value violates unique constraint", NULL));
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	tap_ok(ev.done == r[1] && request_code(r[1]) == BM_ERR_SQL && request_result(r[1]) == NULL,
		   "failure: the failed statement has its error, at its skipped COMMIT",
		   "done %p code %d", (void *) ev.done, request_code(r[1]));
	TAP_STR_EQ(request_failure(r[1]) ? request_failure(r[1])->sqlstate : NULL, "23505", "failure: with its SQLSTATE");
	TAP_STR_EQ(req_message(r[1]), "duplicate key value violates unique constraint", "failure: and its message");
	for (i = 2; i < 4; i++)
	{
		ev = answer_skipped(&fx);
		tap_ok(ev.replay == r[i] && ev.done == NULL && request_code(r[i]) == BM_OK && r[i]->replays == 0,
			   "failure: a statement the server skipped is handed back to be sent again, with no error",
			   "statement %d: replay %p done %p code %d replays %d", i, (void *) ev.replay,
			   (void *) ev.done, request_code(r[i]), r[i]->replays);
		r[i]->replay = false;
		r[i]->state = REQ_QUEUED;
	}
	tap_ok(!proto_takes_work(&fx.p), "failure: the connection takes no work while its block is aborted",
		   "it takes work");
	ev = answer_sync(&fx);
	tap_ok(ev.cleanup_due && fx.p.reset_due && fx.p.nops == 0 && fx.p.nauto == 0,
		   "failure: at the Sync the ROLLBACK is due", "cleanup_due %d, nops %d nauto %d", ev.cleanup_due,
		   fx.p.nops, fx.p.nauto);
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "failure: the reset rolls the aborted block back");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.unit_over && proto_takes_work(&fx.p), "failure: then the connection takes work again",
		   "unit_over %d", ev.unit_over);
	for (i = 0; i < 4; i++)
		req_free(&fx, r[i]);
	fx_free(&fx);
}

/* an error at COMMIT (a deferred constraint) is the statement's; its result goes */
static void
test_error_at_commit(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	ProtoEvent	ev;
	bool		write;

	fx_init(&fx, 0);
	a = req_new(&fx, REQ_EXEC, "INSERT INTO child VALUES (1)", false);
	b = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, true);
	proto_send_auto(&fx.p, b, false);
	proto_end_batch(&fx.p, &write);
	fx_sent(&fx);
	ev = answer_framed(&fx, false, ans(PGRES_COMMAND_OK),
					   ans_error("23503", "insert or update violates foreign key constraint", NULL));
	tap_ok(ev.done == a && request_code(a) == BM_ERR_SQL && request_result(a) == NULL,
		   "error at commit: the statement fails with the COMMIT's error, without a result",
		   "done %p code %d res %p", (void *) ev.done, request_code(a), (void *) request_result(a));
	TAP_STR_EQ(request_failure(a) ? request_failure(a)->sqlstate : NULL, "23503", "error at commit: with its SQLSTATE");
	ev = answer_skipped(&fx);
	tap_ok(ev.replay == b, "error at commit: the next statement goes again", "replay %p", (void *) ev.replay);
	ev = answer_sync(&fx);
	tap_ok(!ev.cleanup_due && proto_takes_work(&fx.p), "error at commit: the failed COMMIT ended the block, no ROLLBACK",
		   "cleanup_due %d", ev.cleanup_due);
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/*
 * A statement that refuses a transaction block (VACUUM, CALL, DO), or may
 * leave state (SET), goes the old way even among others: the open batch
 * gets its Sync first, and the statement a Sync of its own (then the reset
 * of what it may leave).
 */
static void
test_unframed_kinds(void)
{
	static const char *const cases[] = {
		"VACUUM t", "CALL p()", "do $$ begin commit; end $$", "SET work_mem = '8MB'"
	};
	Fixture		fx;
	Request    *a,
			   *b;
	const char *sent;
	char		want[256],
				name[128];
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		fx_init(&fx, 0);
		a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
		b = req_new(&fx, REQ_EXEC, cases[i], false);
		proto_send_auto(&fx.p, a, true);
		proto_send_auto(&fx.p, b, true);
		snprintf(want, sizeof(want), "query - BEGIN (0)\nquery - SELECT 1 (0)\nquery - COMMIT (0)\nsync\n"
				 "query - %s (0)\nsync\n", cases[i]);
		snprintf(name, sizeof(name), "unframed: %s goes alone, after the batch's Sync", cases[i]);
		sent = fx_sent(&fx);
		tap_ok(strncmp(sent, want, strlen(want)) == 0, name, "expected \"%s\" first, got \"%s\"", want, sent);
		drop_on_wire(&fx, (Request *[]) {a, b}, 2);
	}
}

/* a unit that starts behind an open batch: the batch gets its Sync before the unit's BEGIN */
static void
test_unit_after_batch(void)
{
	Fixture		fx;
	Request    *a,
			   *s;

	fx_init(&fx, 0);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	s = req_new(&fx, REQ_EXEC, "SELECT 2", true);
	proto_send_auto(&fx.p, a, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, s);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nquery - SELECT 1 (0)\nquery - COMMIT (0)\nsync\n"
			   "query - BEGIN (0)\nquery - SELECT 2 (0)\n",
			   "unit after batch: the batch's Sync comes before the unit's BEGIN");
	drop_on_wire(&fx, (Request *[]) {a, s}, 2);
}

/* a batch holds AUTO_BATCH_MAX statements at most; the next starts another behind a Sync */
static void
test_bounded(void)
{
	Fixture		fx;
	Request    *r[AUTO_BATCH_MAX + 1];
	bool		write;
	int			i;

	fx_init(&fx, 0);
	for (i = 0; i <= AUTO_BATCH_MAX; i++)
	{
		r[i] = req_new(&fx, REQ_EXEC, "SELECT 1", false);
		proto_send_auto(&fx.p, r[i], i < AUTO_BATCH_MAX);
	}
	TAP_INT_EQ(fx.p.stats.syncs, 1, "bounded: a full batch gets its Sync before the next statement");
	proto_end_batch(&fx.p, &write);
	TAP_INT_EQ(fx.p.stats.syncs, 2, "bounded: and the next batch its own at the end");
	drop_on_wire(&fx, r, AUTO_BATCH_MAX + 1);
}

/* under a statement timeout each framed statement sets it inside its own transaction */
static void
test_timeout_framed(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	bool		write;

	fx_init(&fx, 0);
	proto_set_statement_timeout(&fx.p, 250);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	b = req_new(&fx, REQ_EXEC, "SELECT 2", false);
	proto_send_auto(&fx.p, a, true);
	proto_send_auto(&fx.p, b, false);
	proto_end_batch(&fx.p, &write);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nquery - SELECT pg_catalog.set_config('statement_timeout', '250', true) (0)\n"
			   "query - SELECT 1 (0)\nquery - COMMIT (0)\n"
			   "query - BEGIN (0)\nquery - SELECT pg_catalog.set_config('statement_timeout', '250', true) (0)\n"
			   "query - SELECT 2 (0)\nquery - COMMIT (0)\nsync\n",
			   "timeout: set in each statement's transaction");
	drop_on_wire(&fx, (Request *[]) {a, b}, 2);
}

/* the connection is lost mid-batch: a statement answered is done, the others' outcome is unknown */
static void
test_lost_mid_batch(void)
{
	Fixture		fx;
	Request    *a,
			   *b,
			   *req;
	bool		write;
	int			handed = 0;

	fx_init(&fx, 0);
	a = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (1)", false);
	b = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (2)", false);
	proto_send_auto(&fx.p, a, true);
	proto_send_auto(&fx.p, b, false);
	proto_end_batch(&fx.p, &write);
	answer_framed(&fx, false, ans(PGRES_COMMAND_OK), ans(PGRES_COMMAND_OK));
	a->state = REQ_DONE;
	while ((req = proto_take_unanswered(&fx.p)) != NULL)
	{
		handed++;
		tap_ok(req == b && proto_lost_code(&fx.p, req, BM_ERR_CONNECTION) == BM_ERR_OUTCOME_UNKNOWN,
			   "lost: the unanswered statement of the batch may have committed",
			   "handed %p, code %d", (void *) req, proto_lost_code(&fx.p, req, BM_ERR_CONNECTION));
		req->state = REQ_DONE;
	}
	TAP_INT_EQ(handed, 1, "lost: only the unanswered statement is handed back");
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/*
 * A statement sent alone that the server skips because the DEALLOCATE of an
 * evicted name before it failed (the name's Parse had been skipped or had
 * failed) did nothing: it goes again, never reported as a success without a
 * result.
 */
static void
test_skipped_behind_deallocate(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	ProtoEvent	ev;

	fx_init(&fx, 1);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	fx_sent(&fx);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_TUPLES_OK));
	answer_sync(&fx);
	b = req_new(&fx, REQ_EXEC, "SELECT 2", false);
	proto_send_auto(&fx.p, b, false);
	TAP_STR_EQ(fx_sent(&fx), "query - DEALLOCATE bm_1 (0)\nprepare bm_2 SELECT 2\nquery bm_2 (0)\nsync\n",
			   "skipped behind DEALLOCATE: the evicted name is deallocated before the statement");
	answer(&fx, ans_error("26000", "prepared statement \"bm_1\" does not exist", NULL));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer_sync(&fx);
	tap_ok(ev.replay == b && ev.done == NULL,
		   "skipped behind DEALLOCATE: the statement alone the server skipped goes again",
		   "replay %p done %p code %d res %p", (void *) ev.replay, (void *) ev.done,
		   request_code(b), (void *) request_result(b));
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

/*
 * A framed statement whose BEGIN ran and whose DEALLOCATE (of an evicted
 * name, ours) failed leaves the transaction block aborted although the
 * statement itself has no error: the reset's ROLLBACK must end it before the
 * connection takes work, or every statement after it fails with 25P02.
 */
static void
test_block_aborted_by_deallocate(void)
{
	Fixture		fx;
	Request    *a,
			   *b,
			   *c;
	ProtoEvent	ev;
	bool		write;

	fx_init(&fx, 1);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_TUPLES_OK));
	answer_sync(&fx);
	fx_sent(&fx);
	b = req_new(&fx, REQ_EXEC, "SELECT 2", false);
	c = req_new(&fx, REQ_EXEC, "SELECT 3", false);
	proto_send_auto(&fx.p, b, true);
	proto_send_auto(&fx.p, c, false);
	proto_end_batch(&fx.p, &write);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\nquery - DEALLOCATE bm_1 (0)\nprepare bm_2 SELECT 2\nquery bm_2 (0)\n"
			   "query - COMMIT (0)\nquery - BEGIN (0)\nquery - SELECT 3 (0)\nquery - COMMIT (0)\nsync\n",
			   "block aborted by DEALLOCATE: the evicted name is deallocated inside the frame");
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans_error("26000", "prepared statement \"bm_1\" does not exist", NULL));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	tap_ok(ev.replay == b && request_code(b) == BM_OK, "block aborted by DEALLOCATE: the statement goes again",
		   "replay %p code %d", (void *) ev.replay, request_code(b));
	ev = answer_skipped(&fx);
	tap_ok(ev.replay == c, "block aborted by DEALLOCATE: so does the one behind it", "replay %p", (void *) ev.replay);
	tap_ok(!proto_takes_work(&fx.p), "block aborted by DEALLOCATE: the connection takes no work while its block is aborted",
		   "it takes work");
	ev = answer_sync(&fx);
	tap_ok(ev.cleanup_due && fx.p.reset_due, "block aborted by DEALLOCATE: at the Sync the ROLLBACK is due",
		   "cleanup_due %d", ev.cleanup_due);
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\n", "block aborted by DEALLOCATE: the reset rolls it back");
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer_sync(&fx);
	req_free(&fx, a);
	req_free(&fx, b);
	req_free(&fx, c);
	fx_free(&fx);
}

/*
 * The connection is lost after a framed statement failed before its COMMIT,
 * with a batch behind it unanswered: that batch did not run (the server
 * skipped it), so each of its statements is handed back once, to go again.
 */
static void
test_lost_behind_failure(void)
{
	Fixture		fx;
	Request    *r[4],
			   *req;
	bool		write;
	int			i,
				handed = 0;

	fx_init(&fx, 0);
	for (i = 0; i < 4; i++)
	{
		r[i] = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES (1)", false);
		proto_send_auto(&fx.p, r[i], true);
		if (i == 1)
			proto_end_batch(&fx.p, &write);
	}
	proto_end_batch(&fx.p, &write);
	answer_framed(&fx, false, ans(PGRES_COMMAND_OK), ans(PGRES_COMMAND_OK));
	answer(&fx, ans(PGRES_COMMAND_OK));
	answer(&fx, ans_error("23505", "duplicate key value violates unique constraint", NULL));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	answer_sync(&fx);
	r[0]->state = r[1]->state = REQ_DONE;
	while ((req = proto_take_unanswered(&fx.p)) != NULL)
	{
		tap_ok(req == r[2 + handed] && proto_lost_skipped(&fx.p, req),
			   "lost behind a failure: each statement of the batch behind it is handed back once, as not run",
			   "handed %p (want %p), skipped %d", (void *) req, (void *) r[2 + handed], proto_lost_skipped(&fx.p, req));
		req->state = REQ_DONE;
		handed++;
	}
	TAP_INT_EQ(handed, 2, "lost behind a failure: two statements handed back");
	for (i = 0; i < 4; i++)
		req_free(&fx, r[i]);
	fx_free(&fx);
}

int
main(void)
{
	test_one_sync();
	test_alone_unframed();
	test_failure_replays_the_rest();
	test_error_at_commit();
	test_unframed_kinds();
	test_unit_after_batch();
	test_bounded();
	test_timeout_framed();
	test_lost_mid_batch();
	test_skipped_behind_deallocate();
	test_block_aborted_by_deallocate();
	test_lost_behind_failure();
	return tap_done();
}
