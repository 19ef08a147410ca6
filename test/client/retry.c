/*
 * retry.c
 *	  bm_sessionmaker_run, the retrying unit of work: two units that deadlock
 *	  on purpose and SERIALIZABLE write skew both end committed, the loser
 *	  after a second attempt (the first attempts meet on an advisory lock, so
 *	  that they overlap however slowly they start); a unit failing with another error (23505) runs
 *	  once; max_attempts exhausted reports the last attempt's error; work
 *	  giving up rolls back; an engine freed before the first attempt reports
 *	  BM_ERR_CLOSED; misuse is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/* what one run saw: its work's calls, the attempts its callbacks belonged to, its done */
typedef struct Unit
{
	const char *first,
			   *second;			/* the rows it locks, in this order */
	const char *doctor;			/* write skew: who asks to go off call */
	int			works;			/* calls of work */
	int			last_attempt;	/* bm_session_attempt in the last work */
	int			stmt_ok[4];		/* statement callbacks with BM_OK, by attempt */
	int			stmt_failed[4]; /* and failed ones */
	bmt_rec		done;
	int			done_attempt;
} Unit;

/* a statement's callback: counted under the attempt its session serves */
static void
stmt_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	Unit	   *u = arg;
	int			a = bm_session_attempt(s);

	(void) res;
	if (a >= 0 && a < 4)
	{
		if (err->code == BM_OK)
			u->stmt_ok[a]++;
		else
			u->stmt_failed[a]++;
	}
}

/* done: recorded, with the attempt of the session it came with */
static void
unit_done(bm_session *s, const bm_error *err, void *arg)
{
	Unit	   *u = arg;

	bmt_record_err(&u->done, err);
	u->done_attempt = s ? bm_session_attempt(s) : -1;
}

/* lock two rows in opposite orders from two units: one of them is a deadlock victim */
static int
deadlock_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;
	const char *p1[] = {u->first},
			   *p2[] = {u->second};

	u->works++;
	u->last_attempt = bm_session_attempt(s);
	bm_session_execute(s, "UPDATE acct SET v = v + 1 WHERE id = $1", 1, p1, stmt_cb, u);
	/* the first attempts of both wait for each other: the deadlock is certain, however slow */
	if (bm_session_attempt(s) == 1)
		bm_session_execute(s, "SELECT meet(1)", 0, NULL, stmt_cb, u);
	bm_session_execute(s, "UPDATE acct SET v = v + 1 WHERE id = $1", 1, p2, stmt_cb, u);
	return 0;
}

static void
test_deadlock(PGconn *check, bm_engine *e)
{
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	Unit		a = {.first = "1", .second = "2"},
				b = {.first = "2", .second = "1"};
	Unit	   *retried;

	bmt_exec(check, "DROP TABLE IF EXISTS acct; CREATE TABLE acct (id int PRIMARY KEY, v int)");
	/* a rendezvous: returns once two transactions hold advisory lock `k` (at most 60 s) */
	bmt_exec(check, "CREATE OR REPLACE FUNCTION meet(k int) RETURNS void LANGUAGE plpgsql AS $$ "
			 "BEGIN PERFORM pg_advisory_xact_lock_shared(k); "
			 "FOR i IN 1..6000 LOOP "
			 "EXIT WHEN (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = k "
			 "AND classid = 0 AND granted) >= 2; "
			 "PERFORM pg_sleep(0.01); END LOOP; END $$");
	bmt_exec(check, "INSERT INTO acct VALUES (1, 0), (2, 0)");
	bm_sessionmaker_run(m, deadlock_work, unit_done, &a, 3);
	bm_sessionmaker_run(m, deadlock_work, unit_done, &b, 3);
	bm_sessionmaker_free(m);		/* the runs keep what they need */
	TAP_INT_EQ(bm_engine_run(e), 0, "deadlock: bm_engine_run returns 0");
	BMT_REC_IS(a.done, BM_OK, "deadlock: the first unit ends committed, done called once");
	BMT_REC_IS(b.done, BM_OK, "deadlock: the second unit ends committed, done called once");
	tap_ok(a.works + b.works == 3 && (a.works == 2 || b.works == 2),
		   "deadlock: the victim's work ran twice, the other's once",
		   "expected 2 and 1 calls of work, got %d and %d", a.works, b.works);
	retried = a.works == 2 ? &a : &b;
	TAP_INT_EQ(retried->last_attempt, 2, "deadlock: bm_session_attempt is 2 in the retried work");
	TAP_INT_EQ(retried->done_attempt, 2, "deadlock: and in its done callback");
	tap_ok(retried->stmt_ok[1] == 2 && retried->stmt_failed[1] == 1,
		   "deadlock: the first attempt's statement callbacks got its answers: two results, then the deadlock",
		   "expected 2 ok and 1 failed callbacks of attempt 1, got %d failed, %d ok",
		   retried->stmt_failed[1], retried->stmt_ok[1]);
	tap_ok(retried->stmt_ok[2] == 2 && retried->stmt_failed[2] == 0,
		   "deadlock: the second attempt's statement callbacks got their own results",
		   "expected 2 ok callbacks of attempt 2, got %d ok, %d failed",
		   retried->stmt_ok[2], retried->stmt_failed[2]);
	TAP_INT_EQ(bmt_long(check, "SELECT sum(v) FROM acct WHERE v = 2"), 4,
			   "deadlock: both units' updates are committed once (each row is 2)");
}

/* SERIALIZABLE write skew: go off call only if someone else stays on call */
static int
skew_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;
	const char *p[] = {u->doctor};

	u->works++;
	u->last_attempt = bm_session_attempt(s);
	bm_session_execute(s, "SELECT count(*) FROM doctors WHERE on_call", 0, NULL, stmt_cb, u);
	if (bm_session_attempt(s) == 1)
		bm_session_execute(s, "SELECT meet(2)", 0, NULL, stmt_cb, u);
	bm_session_execute(s, "UPDATE doctors SET on_call = false WHERE name = $1 "
					   "AND (SELECT count(*) FROM doctors WHERE on_call) >= 2", 1, p, stmt_cb, u);
	return 0;
}

static void
test_write_skew(PGconn *check, bm_engine *e)
{
	bm_session_options so = {.isolation = BM_ISOLATION_SERIALIZABLE};
	bm_sessionmaker *m = bm_sessionmaker_create(e, &so);
	Unit		a = {.doctor = "alice"},
				b = {.doctor = "bob"};
	Unit	   *retried;

	bmt_exec(check, "DROP TABLE IF EXISTS doctors; CREATE TABLE doctors (name text PRIMARY KEY, on_call bool)");
	bmt_exec(check, "INSERT INTO doctors VALUES ('alice', true), ('bob', true)");
	bm_sessionmaker_run(m, skew_work, unit_done, &a, 3);
	bm_sessionmaker_run(m, skew_work, unit_done, &b, 3);
	TAP_INT_EQ(bm_engine_run(e), 0, "write skew: bm_engine_run returns 0");
	BMT_REC_IS(a.done, BM_OK, "write skew: the first unit ends committed");
	BMT_REC_IS(b.done, BM_OK, "write skew: the second unit ends committed");
	tap_ok(a.works + b.works == 3 && (a.works == 2 || b.works == 2),
		   "write skew: one unit failed with 40001 and ran again, the other ran once",
		   "expected 2 and 1 calls of work, got %d and %d", a.works, b.works);
	retried = a.works == 2 ? &a : &b;
	TAP_INT_EQ(retried->done_attempt, 2, "write skew: the retried unit's done comes with attempt 2");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM doctors WHERE on_call"), 1,
			   "write skew: exactly one doctor stays on call (the retry saw the other's commit)");
	bm_sessionmaker_free(m);
}

/* a unit that always fails the same way: an INSERT of a key that exists */
static int
duplicate_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;

	u->works++;
	bm_session_execute(s, "INSERT INTO once VALUES (1)", 0, NULL, stmt_cb, u);
	return 0;
}

/* a unit that fails with 40001, naming its attempt, every time */
static int
serial_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;
	bm_params	p;

	u->works++;
	bm_params_init(&p);
	bm_params_int64(&p, bm_session_attempt(s));
	bm_session_execute(s, "SELECT fail_serially($1)", p.n, p.values, stmt_cb, u);
	return 0;
}

/* work that queues a statement, then gives up */
static int
giving_up_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;

	u->works++;
	bm_session_execute(s, "INSERT INTO once VALUES (2)", 0, NULL, stmt_cb, u);
	return bm_usage_error("no point going on");
}

/* work that commits by itself, which is the run's job */
static int
committing_work(bm_session *s, void *arg)
{
	Unit	   *u = arg;

	u->works++;
	bm_session_execute(s, "INSERT INTO once VALUES (3)", 0, NULL, stmt_cb, u);
	bm_session_commit(s, NULL, NULL);
	return 0;
}

static void
test_not_retried(PGconn *check, bm_engine *e)
{
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	Unit		dup = {0},
				serial = {0},
				gave_up = {0},
				committing = {0},
				closed = {0};
	bm_engine  *doomed;

	bmt_exec(check, "DROP TABLE IF EXISTS once; CREATE TABLE once (id int PRIMARY KEY)");
	bmt_exec(check, "INSERT INTO once VALUES (1)");
	bmt_exec(check, "CREATE OR REPLACE FUNCTION fail_serially(n int) RETURNS void LANGUAGE plpgsql AS $$ "
			 "BEGIN RAISE EXCEPTION 'could not serialize, attempt %', n USING ERRCODE = 'serialization_failure'; END $$");

	bm_sessionmaker_run(m, duplicate_work, unit_done, &dup, 5);
	bm_engine_run(e);
	tap_ok(dup.done.calls == 1 && dup.done.code == BM_ERR_SQL && strcmp(dup.done.sqlstate, "23505") == 0,
		   "another error: done once with BM_ERR_SQL 23505",
		   "got %d callback(s), %s %s: %s", dup.done.calls, bmt_code(dup.done.code), dup.done.sqlstate,
		   dup.done.message);
	TAP_INT_EQ(dup.works, 1, "another error: the work ran once (not retried)");
	TAP_INT_EQ(dup.done_attempt, 1, "another error: done comes with attempt 1");

	bm_sessionmaker_run(m, serial_work, unit_done, &serial, 3);
	bm_engine_run(e);
	tap_ok(serial.done.calls == 1 && serial.done.code == BM_ERR_SQL && strcmp(serial.done.sqlstate, "40001") == 0,
		   "max_attempts exhausted: done once with the 40001", "got %d callback(s), %s %s: %s",
		   serial.done.calls, bmt_code(serial.done.code), serial.done.sqlstate, serial.done.message);
	TAP_INT_EQ(serial.works, 3, "max_attempts exhausted: the work ran max_attempts (3) times");
	TAP_STR_EQ(serial.done.message, "could not serialize, attempt 3",
			   "max_attempts exhausted: done reports the last attempt's error");

	bm_sessionmaker_run(m, giving_up_work, unit_done, &gave_up, 3);
	bm_engine_run(e);
	tap_ok(gave_up.done.calls == 1 && gave_up.done.code == BM_ERR_USAGE &&
		   strcmp(gave_up.done.message, "no point going on") == 0,
		   "work returning -1: done once with the error it left in bm_last_error",
		   "got %d callback(s), %s: %s", gave_up.done.calls, bmt_code(gave_up.done.code), gave_up.done.message);
	TAP_INT_EQ(gave_up.works, 1, "work returning -1: not retried");
	TAP_INT_EQ(gave_up.stmt_ok[1], 1, "work returning -1: its statement's callback still runs");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM once WHERE id = 2"), 0,
			   "work returning -1: its statement is rolled back");

	bm_sessionmaker_run(m, committing_work, unit_done, &committing, 3);
	bm_engine_run(e);
	tap_ok(committing.done.calls == 1 && committing.done.code == BM_ERR_USAGE &&
		   strstr(committing.done.message, "must not commit"),
		   "work committing by itself: done once with BM_ERR_USAGE saying so",
		   "got %d callback(s), %s: %s", committing.done.calls, bmt_code(committing.done.code),
		   committing.done.message);

	TAP_INT_EQ(bm_sessionmaker_run(m, duplicate_work, unit_done, &dup, 0), -1,
			   "misuse: max_attempts 0 is refused");
	TAP_INT_EQ(bm_last_error()->code, BM_ERR_USAGE, "misuse: with BM_ERR_USAGE");
	TAP_INT_EQ(bm_sessionmaker_run(m, NULL, unit_done, &dup, 1), -1, "misuse: a NULL work is refused");

	doomed = bmt_engine(NULL);
	bm_sessionmaker_run(bm_sessionmaker_create(doomed, NULL), duplicate_work, unit_done, &closed, 3);
	bm_engine_free(doomed);
	BMT_REC_IS(closed.done, BM_ERR_CLOSED, "engine freed before the first attempt: done once with BM_ERR_CLOSED");
	TAP_INT_EQ(closed.works, 0, "engine freed before the first attempt: the work never ran");
	bm_sessionmaker_free(m);
	bmt_exec(check, "DROP FUNCTION fail_serially(int)");
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 2};
	PGconn	   *check;
	bm_engine  *e;

	bmt_guard(120);
	check = bmt_check_conn();
	e = bmt_engine(&opts);
	test_deadlock(check, e);
	test_write_skew(check, e);
	test_not_retried(check, e);
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE acct, doctors, once; DROP FUNCTION meet(int)");
	PQfinish(check);
	return tap_done();
}
