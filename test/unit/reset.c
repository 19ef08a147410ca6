/*
 * reset.c
 *	  The reset on release, in the protocol layer alone: when it is sent
 *	  (never after a unit that leaves nothing; pipelined behind the unit's
 *	  end or an autocommit statement when the words say state may be left;
 *	  after the fact when the server reports changed settings), what it
 *	  sends, that the connection takes no work until it is answered, and
 *	  what a failure does: behind a failed unit it goes again after the
 *	  cleanup, otherwise the connection is closed, never handed on dirty.
 */
#include "fake.h"

#define SETTINGS_RESET \
	"query - SET SESSION AUTHORIZATION DEFAULT (0)\nquery - RESET ROLE (0)\nquery - RESET ALL (0)\n"

/* a unit of these statements and a COMMIT (returned), all sent */
static Request *
send_unit(Fixture *fx, const char *const *sqls, int n, Request **reqs)
{
	Request    *commit = req_new(fx, REQ_COMMIT, NULL, true);
	int			i;

	proto_begin_unit(&fx->p);
	proto_send_begin(&fx->p, "BEGIN");
	for (i = 0; i < n; i++)
	{
		reqs[i] = req_new(fx, REQ_EXEC, sqls[i], true);
		proto_send_unit(&fx->p, reqs[i]);
	}
	proto_send_unit(&fx->p, commit);
	return commit;
}

/* n queries answered without error; the last one's event */
static ProtoEvent
answer_ok(Fixture *fx, int n)
{
	ProtoEvent	ev = {0};

	while (n-- > 0)
		ev = answer(fx, ans(PGRES_COMMAND_OK));
	return ev;
}

/* the answer to a Sync, with or without changed settings reported */
static ProtoEvent
answer_sync_settings(Fixture *fx, bool changed)
{
	Answer		a = ans(PGRES_PIPELINE_SYNC);

	a.settings_changed = changed;
	return feed(fx, a);
}

/* the requests go */
static void
free_reqs(Fixture *fx, Request **reqs, int n, Request *commit)
{
	while (n-- > 0)
		req_free(fx, reqs[n]);
	req_free(fx, commit);
}

/* the benchmark's unit leaves nothing: no reset, the Sync ends it */
static void
test_clean_unit(void)
{
	const char *sqls[] = {"INSERT INTO t (v) VALUES ($1) RETURNING basemodel.to_dict(t)"};
	Request    *reqs[1],
			   *commit;
	ProtoEvent	ev;
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 1, reqs);
	TAP_STR_EQ(fx_sent(&fx), "query - BEGIN (0)\nprepare bm_1 INSERT INTO t (v) VALUES ($1) RETURNING basemodel.to_dict(t)\n"
			   "query bm_1 (0)\nquery - COMMIT (0)\nsync\n", "clean unit: nothing after the COMMIT's Sync");
	answer_ok(&fx, 4);
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.unit_over && !ev.cleanup_due && ev.lost == BM_OK,
		   "clean unit: the Sync answers the commit and frees the connection",
		   "got done %p over %d cleanup %d lost %d", (void *) ev.done, ev.unit_over, ev.cleanup_due, ev.lost);
	TAP_INT_EQ(fx.p.stats.resets, 0, "clean unit: no reset counted");
	free_reqs(&fx, reqs, 1, commit);
	fx_free(&fx);
}

/* SET ROLE: the reset follows the COMMIT's Sync in the same batch; the unit is over once it is answered */
static void
test_dirty_unit(void)
{
	const char *sqls[] = {"SET ROLE low"};
	Request    *reqs[1],
			   *commit;
	ProtoEvent	ev;
	bool		write;
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 1, reqs);
	proto_end_batch(&fx.p, &write);
	TAP_STR_EQ(fx_sent(&fx), "query - BEGIN (0)\nprepare bm_1 SET ROLE low\nquery bm_1 (0)\nquery - COMMIT (0)\nsync\n"
			   SETTINGS_RESET "sync\n", "dirty unit: the reset of settings follows the COMMIT's Sync");
	TAP_INT_EQ(fx.p.stats.round_trips, 1, "dirty unit: in the same round trip");
	tap_ok(!proto_takes_work(&fx.p), "dirty unit: the connection takes no work while the reset is out",
		   "it takes work");
	answer_ok(&fx, 4);
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && !ev.unit_over && !ev.cleanup_due,
		   "dirty unit: the commit is answered at its Sync, the unit waits for the reset",
		   "got done %p over %d cleanup %d", (void *) ev.done, ev.unit_over, ev.cleanup_due);
	TAP_INT_EQ(request_code(commit), BM_OK, "dirty unit: the commit succeeded");
	answer_ok(&fx, 3);
	ev = answer_sync(&fx);
	tap_ok(ev.unit_over && ev.lost == BM_OK, "dirty unit: the reset's Sync frees the connection",
		   "got over %d lost %d", ev.unit_over, ev.lost);
	tap_ok(proto_takes_work(&fx.p), "dirty unit: the connection takes work again", "it does not");
	TAP_INT_EQ(fx.p.stats.resets, 1, "dirty unit: one reset counted");
	free_reqs(&fx, reqs, 1, commit);
	fx_free(&fx);
}

/* a step of the reset fails: the connection is closed, the commit still succeeded */
static void
test_reset_fails(void)
{
	const char *sqls[] = {"SET search_path = x"};
	Request    *reqs[1],
			   *commit;
	ProtoEvent	ev;
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 1, reqs);
	fx_sent(&fx);
	answer_ok(&fx, 4);
	answer_sync(&fx);
	answer_ok(&fx, 1);
	answer(&fx, ans_error("XX000", "something broke", NULL));
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer_sync(&fx);
	tap_ok(ev.lost == BM_ERR_CONNECTION && ev.unit_over, "reset fails: the connection is closed",
		   "got lost %d over %d", ev.lost, ev.unit_over);
	TAP_STR_EQ(ev.lost_message,
			   "connection closed instead of going back to the pool: its reset failed: something broke",
			   "reset fails: the message says why");
	TAP_INT_EQ(request_code(commit), BM_OK, "reset fails: the commit that committed says so");
	free_reqs(&fx, reqs, 1, commit);
	fx_free(&fx);
}

/*
 * A unit that takes a lock, then fails: the reset behind its COMMIT meets
 * the aborted transaction block, so it goes again behind the cleanup
 * ROLLBACK, in the same round trip.
 */
static void
test_failed_unit(void)
{
	const char *sqls[] = {"SELECT pg_advisory_lock(1)", "SELECT 1/0"};
	Request    *reqs[2],
			   *commit;
	ProtoEvent	ev;
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 2, reqs);
	fx_sent(&fx);
	answer_ok(&fx, 4);
	ev = answer(&fx, ans_error("22012", "division by zero", NULL));
	tap_ok(ev.unit_failed, "failed unit: the division fails the unit", "it did not");
	TAP_STR_EQ(req_message(reqs[1]), "division by zero", "failed unit: with its own message");
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.cleanup_due, "failed unit: the Sync answers the commit and asks for the cleanup",
		   "got done %p cleanup %d", (void *) ev.done, ev.cleanup_due);
	answer(&fx, ans_error("25P02", "current transaction is aborted", NULL));
	ev = answer_sync(&fx);
	tap_ok(ev.lost == BM_OK && !ev.unit_over, "failed unit: a reset that met the aborted block closes nothing",
		   "got lost %d over %d", ev.lost, ev.unit_over);
	proto_send_cleanup(&fx.p);
	TAP_STR_EQ(fx_sent(&fx), "query - ROLLBACK (0)\nsync\nquery - SELECT pg_catalog.pg_advisory_unlock_all() (0)\nsync\n",
			   "failed unit: the reset goes again behind the cleanup ROLLBACK");
	answer_ok(&fx, 1);
	ev = answer_sync(&fx);
	tap_ok(!ev.unit_over, "failed unit: the cleanup's Sync waits for the reset", "the unit ended");
	answer_ok(&fx, 1);
	ev = answer_sync(&fx);
	tap_ok(ev.unit_over && ev.lost == BM_OK, "failed unit: the second reset's Sync frees the connection",
		   "got over %d lost %d", ev.unit_over, ev.lost);
	free_reqs(&fx, reqs, 2, commit);
	fx_free(&fx);
}

/* an autocommit SET: the reset follows its Sync; the connection takes no work until it is answered */
static void
test_autocommit(void)
{
	Request    *req;
	ProtoEvent	ev;
	Fixture		fx;

	fx_init(&fx, 8);
	req = req_new(&fx, REQ_EXEC, "SET default_transaction_read_only = on", false);
	proto_send_auto(&fx.p, req, false);
	TAP_STR_EQ(fx_sent(&fx), "prepare bm_1 SET default_transaction_read_only = on\nquery bm_1 (0)\nsync\n"
			   SETTINGS_RESET "sync\n", "autocommit: the reset follows the statement's Sync");
	tap_ok(!proto_takes_work(&fx.p), "autocommit: the connection takes no work meanwhile", "it takes work");
	answer_ok(&fx, 2);
	ev = answer_sync(&fx);
	tap_ok(ev.done == req && !ev.unit_over, "autocommit: the statement is answered at its Sync",
		   "got done %p over %d", (void *) ev.done, ev.unit_over);
	answer_ok(&fx, 3);
	ev = answer_sync(&fx);
	tap_ok(ev.unit_over && proto_takes_work(&fx.p), "autocommit: the reset's Sync gives the connection back",
		   "got over %d, takes work %d", ev.unit_over, proto_takes_work(&fx.p));
	req_free(&fx, req);
	fx_free(&fx);
}

/*
 * Settings changed where no word shows it (inside a function): the server's
 * report at the last Sync asks for a reset after the fact; if the server
 * still reports them changed after it, the connection is closed.
 */
static void
test_reported_settings(bool still_changed)
{
	const char *sqls[] = {"SELECT my_function()"};
	const char *name = still_changed ? "settings still changed" : "settings reported";
	Request    *reqs[1],
			   *commit;
	ProtoEvent	ev;
	char		what[160];
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 1, reqs);
	fx_sent(&fx);
	answer_ok(&fx, 4);
	ev = answer_sync_settings(&fx, true);
	snprintf(what, sizeof(what), "%s: the commit is answered, a reset is due, the unit waits", name);
	tap_ok(ev.done == commit && ev.cleanup_due && !ev.unit_over && !proto_takes_work(&fx.p), what,
		   "got done %p cleanup %d over %d takes work %d", (void *) ev.done, ev.cleanup_due, ev.unit_over,
		   proto_takes_work(&fx.p));
	proto_send_cleanup(&fx.p);
	snprintf(what, sizeof(what), "%s: the reset of settings is sent", name);
	TAP_STR_EQ(fx_sent(&fx), SETTINGS_RESET "sync\n", what);
	answer_ok(&fx, 3);
	ev = answer_sync_settings(&fx, still_changed);
	snprintf(what, sizeof(what), "%s: %s", name,
			 still_changed ? "the connection is closed" : "the reset's Sync frees the connection");
	tap_ok(ev.unit_over && ev.lost == (still_changed ? BM_ERR_CONNECTION : BM_OK), what,
		   "got over %d lost %d", ev.unit_over, ev.lost);
	free_reqs(&fx, reqs, 1, commit);
	fx_free(&fx);
}

/* a dblink connection: no reset undoes it, the connection is closed once the statement is answered */
static void
test_close(void)
{
	Request    *req;
	ProtoEvent	ev;
	Fixture		fx;

	fx_init(&fx, 8);
	req = req_new(&fx, REQ_EXEC, "SELECT dblink_connect('c', 'dbname=x')", false);
	proto_send_auto(&fx.p, req, false);
	TAP_STR_EQ(fx_sent(&fx), "prepare bm_1 SELECT dblink_connect('c', 'dbname=x')\nquery bm_1 (0)\nsync\n",
			   "close: no reset is sent");
	tap_ok(!proto_takes_work(&fx.p), "close: the connection takes no more work", "it takes work");
	answer_ok(&fx, 2);
	ev = answer_sync(&fx);
	tap_ok(ev.done == req && ev.lost == BM_ERR_CONNECTION, "close: the statement is answered, the connection closed",
		   "got done %p lost %d", (void *) ev.done, ev.lost);
	TAP_INT_EQ(request_code(req), BM_OK, "close: the statement itself succeeded");
	req_free(&fx, req);
	fx_free(&fx);
}

/* the user's PREPARE: DEALLOCATE ALL in the reset, and the cache forgets our names with it */
static void
test_prepare(void)
{
	const char *sqls[] = {"SELECT 1", "PREPARE q AS SELECT 2"};
	Request    *reqs[2],
			   *commit;
	Fixture		fx;

	fx_init(&fx, 8);
	commit = send_unit(&fx, sqls, 2, reqs);
	TAP_STR_EQ(fx_sent(&fx), "query - BEGIN (0)\nprepare bm_1 SELECT 1\nquery bm_1 (0)\n"
			   "prepare bm_2 PREPARE q AS SELECT 2\nquery bm_2 (0)\nquery - COMMIT (0)\nsync\n"
			   "query - DEALLOCATE ALL (0)\nsync\n", "prepare: the reset deallocates every statement");
	TAP_INT_EQ(fx.p.cache.count, 0, "prepare: the statement cache forgets its names");
	free_reqs(&fx, reqs, 2, commit);
	fx_free(&fx);
}

int
main(void)
{
	test_clean_unit();
	test_dirty_unit();
	test_reset_fails();
	test_failed_unit();
	test_autocommit();
	test_reported_settings(false);
	test_reported_settings(true);
	test_close();
	test_prepare();
	return tap_done();
}
