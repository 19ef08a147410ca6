/*
 * pooler.c
 *	  The protocol layer alone, as it runs behind a pooler (PgBouncer): with
 *	  no statement cache (statement_cache_size -1) every statement goes
 *	  unnamed, Parse with its Bind, in the batch of its transaction; the
 *	  statement timeout is set inside each transaction, never for the
 *	  connection; and a wrong number of parameters is reported without the
 *	  name of a statement the caller never named.
 */
#include "fake.h"

/* the rest of an autocommit statement: its statement's answer, then its Sync's */
static ProtoEvent
finish_auto(Fixture *fx, Answer exec)
{
	answer(fx, exec);
	return answer_sync(fx);
}

/* a unit and autocommit statements with no cache: nothing named, nothing prepared on its own */
static void
test_unnamed(void)
{
	Fixture		fx;
	Request    *r1,
			   *r2,
			   *commit,
			   *a;
	ProtoEvent	ev;
	bool		write;

	fx_init(&fx, 0);
	r1 = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES ($1)", true);
	r2 = req_new(&fx, REQ_EXEC, "INSERT INTO t VALUES ($1)", true);
	r1->nparams = r2->nparams = 1;
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, r2);
	proto_send_unit(&fx.p, commit);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\n"
			   "query - INSERT INTO t VALUES ($1) (1)\n"
			   "query - INSERT INTO t VALUES ($1) (1)\n"
			   "query - COMMIT (0)\nsync\n",
			   "no cache: a unit's statements go unnamed, each with its text, the same one twice too");
	proto_end_batch(&fx.p, &write);
	TAP_INT_EQ(fx.p.stats.round_trips, 1, "no cache: the unit is one round trip");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == r1, "no cache: the first statement is answered", "got %p", (void *) ev.done);
	ev = answer(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == r2, "no cache: the second statement is answered", "got %p", (void *) ev.done);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.unit_over && request_code(commit) == BM_OK,
		   "no cache: the commit ends the unit", "got done %p over %d code %d",
		   (void *) ev.done, ev.unit_over, request_code(commit));

	a = req_new(&fx, REQ_EXEC, "SELECT * FROM t", false);
	proto_send_auto(&fx.p, a, false);
	TAP_STR_EQ(fx_sent(&fx), "query - SELECT * FROM t (0)\nsync\n",
			   "no cache: an autocommit statement goes unnamed with its Sync");
	/* an unnamed statement is parsed afresh each time: a plan error is the caller's */
	ev = finish_auto(&fx, ans_error("0A000", "cached plan must not change result type", "RevalidateCachedQuery"));
	tap_ok(ev.done == a && ev.replay == NULL && request_code(a) == BM_ERR_SQL,
		   "no cache: no statement is replayed for a stale plan (there is none to forget)",
		   "expected done with BM_ERR_SQL, got done %p replay %p code %d",
		   (void *) ev.done, (void *) ev.replay, request_code(a));
	TAP_INT_EQ(fx.p.stats.prepares, 0, "no cache: nothing was prepared");
	TAP_INT_EQ(fx.p.cache.count, 0, "no cache: no name is kept");
	req_free(&fx, r1);
	req_free(&fx, r2);
	req_free(&fx, commit);
	req_free(&fx, a);
	fx_free(&fx);
}

/*
 * The statement timeout is local to each transaction: right after a unit's
 * BEGIN, and before an autocommit statement in its own Sync, except a
 * statement that must run alone (VACUUM); no startup parameter, no SET.
 */
static void
test_timeout_per_transaction(void)
{
	Fixture		fx;
	Request    *r1,
			   *commit,
			   *a,
			   *vacuum;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	proto_set_statement_timeout(&fx.p, 1500);
	r1 = req_new(&fx, REQ_EXEC, "SELECT 1", true);
	commit = req_new(&fx, REQ_COMMIT, NULL, true);
	proto_begin_unit(&fx.p);
	proto_send_begin(&fx.p, "BEGIN");
	proto_send_unit(&fx.p, r1);
	proto_send_unit(&fx.p, commit);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - BEGIN (0)\n"
			   "query - SELECT pg_catalog.set_config('statement_timeout', '1500', true) (0)\n"
			   "query - SELECT 1 (0)\nquery - COMMIT (0)\nsync\n",
			   "timeout: a unit sets it inside its transaction, after BEGIN");
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer(&fx, ans(PGRES_TUPLES_OK));
	tap_ok(proto_event_empty(&ev), "timeout: its answer is no event", "got an event");
	ev = answer(&fx, ans(PGRES_TUPLES_OK));
	tap_ok(ev.done == r1 && request_code(r1) == BM_OK, "timeout: the unit's statement is answered after it",
		   "got done %p code %d", (void *) ev.done, request_code(r1));
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = answer_sync(&fx);
	tap_ok(ev.done == commit && ev.unit_over, "timeout: the unit ends as usual", "got done %p over %d",
		   (void *) ev.done, ev.unit_over);

	a = req_new(&fx, REQ_EXEC, "SELECT pg_sleep(2)", false);
	proto_send_auto(&fx.p, a, false);
	TAP_STR_EQ(fx_sent(&fx),
			   "query - SELECT pg_catalog.set_config('statement_timeout', '1500', true) (0)\n"
			   "query - SELECT pg_sleep(2) (0)\nsync\n",
			   "timeout: an autocommit statement sets it in its own implicit transaction");
	answer(&fx, ans(PGRES_TUPLES_OK));
	ev = finish_auto(&fx, ans_error("57014", "canceling statement due to statement timeout", "ProcessInterrupts"));
	tap_ok(ev.done == a && request_code(a) == BM_ERR_TIMEOUT, "timeout: its cancel is BM_ERR_TIMEOUT",
		   "got done %p code %d", (void *) ev.done, request_code(a));

	vacuum = req_new(&fx, REQ_EXEC, "VACUUM t", false);
	proto_send_auto(&fx.p, vacuum, false);
	TAP_STR_EQ(fx_sent(&fx), "query - VACUUM t (0)\nsync\n",
			   "timeout: a statement that must run alone in its transaction goes alone");
	ev = finish_auto(&fx, ans(PGRES_COMMAND_OK));
	tap_ok(ev.done == vacuum && request_code(vacuum) == BM_OK, "timeout: and is answered",
		   "got done %p code %d", (void *) ev.done, request_code(vacuum));
	req_free(&fx, r1);
	req_free(&fx, commit);
	req_free(&fx, a);
	req_free(&fx, vacuum);
	fx_free(&fx);
}

/* the setting itself fails: the autocommit statement it goes with reports why, once */
static void
test_timeout_setting_fails(void)
{
	Fixture		fx;
	Request    *a;
	ProtoEvent	ev;

	fx_init(&fx, 0);
	proto_set_statement_timeout(&fx.p, 1000);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	proto_send_auto(&fx.p, a, false);
	fx_sent(&fx);
	ev = answer(&fx, ans_error("25P02", "current transaction is aborted", NULL));
	tap_ok(proto_event_empty(&ev), "failed setting: no event before the Sync", "got an event");
	answer(&fx, ans(PGRES_PIPELINE_ABORTED));
	ev = answer_sync(&fx);
	tap_ok(ev.done == a && request_code(a) == BM_ERR_SQL && strcmp(req_message(a), "current transaction is aborted") == 0,
		   "failed setting: the statement reports the setting's error",
		   "got done %p code %d message \"%s\"", (void *) ev.done, request_code(a), req_message(a));
	req_free(&fx, a);
	fx_free(&fx);
}

/* the server's wrong-parameter-count error names our statement: the caller's is about nparams */
static void
test_parameter_count(void)
{
	Fixture		fx;
	Request    *a,
			   *b;
	ProtoEvent	ev;

	fx_init(&fx, 8);
	a = req_new(&fx, REQ_EXEC, "SELECT 1", false);
	a->nparams = 1;
	proto_send_auto(&fx.p, a, false);
	answer(&fx, ans(PGRES_COMMAND_OK));
	ev = finish_auto(&fx, ans_error("08P01", "bind message supplies 1 parameters, but prepared statement \"bm_1\" requires 0",
								  "exec_bind_message"));
	tap_ok(ev.done == a && request_code(a) == BM_ERR_SQL, "parameter count: the statement fails",
		   "got done %p code %d", (void *) ev.done, request_code(a));
	TAP_STR_EQ(req_message(a), "the statement takes 0 parameters, but 1 were given (nparams)",
			   "parameter count: the message counts in the caller's terms, without our statement's name");
	TAP_STR_EQ(request_failure(a) ? request_failure(a)->sqlstate : NULL, "08P01", "parameter count: the SQLSTATE stays");

	b = req_new(&fx, REQ_EXEC, "SELECT $1", false);
	b->nparams = 2;
	proto_send_auto(&fx.p, b, false);
	answer(&fx, ans(PGRES_COMMAND_OK));
	finish_auto(&fx, ans_error("08P01", "Bind-Nachricht enthält 2 Parameter, aber vorbereitete Anweisung \"bm_2\" erfordert 1",
							 "exec_bind_message"));
	TAP_STR_EQ(req_message(b), "the statement takes another number of parameters than the 2 given (nparams)",
			   "parameter count: in another language, the message still leaves our name out");
	req_free(&fx, a);
	req_free(&fx, b);
	fx_free(&fx);
}

int
main(void)
{
	test_unnamed();
	test_timeout_per_transaction();
	test_timeout_setting_fails();
	test_parameter_count();
	return tap_done();
}
