/*
 * outcomes.c
 *	  What each callback's code says about a commit: slow statements within
 *	  their own timeout succeed, a lost answer after COMMIT was sent is
 *	  BM_ERR_OUTCOME_UNKNOWN, a rollback is BM_OK, bm_engine_free reports
 *	  what the server has answered already, an idle connection the server
 *	  closed is replaced without failing the next statement, and connection
 *	  failures keep the server's SQLSTATE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/* n sleeping statements, each within statement_timeout_ms, never time out as a batch */
static void
test_slow_statements(PGconn *check, int n)
{
	bm_engine_options opts = {.pool_size = 1, .statement_timeout_ms = 1000};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		r[8],
				c = {0};
	char		name[128];
	int			i,
				ok = 0;

	memset(r, 0, sizeof(r));
	bmt_exec(check, "DROP TABLE IF EXISTS outc; CREATE TABLE outc (id int)");
	for (i = 0; i < n; i++)
		bm_session_execute(s, "INSERT INTO outc SELECT 1 FROM pg_sleep(0.7)", 0, NULL, bmt_result_cb, &r[i]);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_engine_run(e);
	for (i = 0; i < n; i++)
		ok += r[i].calls == 1 && r[i].code == BM_OK;
	snprintf(name, sizeof(name), "slow statements: %d statements of 0.7 s under a 1 s statement timeout succeed", n);
	tap_ok(ok == n, name, "%d of %d succeeded; last: %s %s", ok, n, bmt_code(r[n - 1].code), r[n - 1].message);
	BMT_REC_IS(c, BM_OK, "slow statements: and their commit");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM outc"), n, "slow statements: every row committed");
	bm_engine_free(e);
}

static bm_engine *kill_engine;
static bmt_rec kpid = {0},
			kin = {0},
			ksleep = {0},
			kend = {0},
			killer = {0};
static int	kill_commits;

/* the session knows its backend: queue the rest of the unit and have another connection kill it */
static void
on_kpid(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	char		p[32];
	const char *params[1] = {p};

	bmt_result_cb(s, res, err, arg);
	if (err->code != BM_OK)
		return;
	snprintf(p, sizeof(p), "%s", bm_result_value(res, 0, 0));
	bm_session_execute(s, "INSERT INTO outc VALUES (2)", 0, NULL, bmt_result_cb, &kin);
	bm_session_execute(s, "SELECT pg_sleep(5)", 0, NULL, bmt_result_cb, &ksleep);
	if (kill_commits)
		bm_session_commit(s, bmt_done_cb, &kend);
	else
		bm_session_rollback(s, bmt_done_cb, &kend);
	bm_engine_execute(kill_engine, "SELECT pg_terminate_backend($1) FROM pg_sleep(0.3)", 1, params,
					  bmt_result_cb, &killer);
}

/* the backend of a unit killed while its end is on the wire */
static void
run_killed_unit(PGconn *check, int commits)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_sessionmaker *m;
	bm_session *s;

	memset(&kpid, 0, sizeof(kpid));
	memset(&kin, 0, sizeof(kin));
	memset(&ksleep, 0, sizeof(ksleep));
	memset(&kend, 0, sizeof(kend));
	memset(&killer, 0, sizeof(killer));
	kill_commits = commits;
	bmt_exec(check, "TRUNCATE outc");
	kill_engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(kill_engine, NULL);
	s = bm_session_open(m);
	/* two connections up, so that the killer runs on the other one */
	bm_engine_execute(kill_engine, "SELECT 1", 0, NULL, NULL, NULL);
	bm_engine_execute(kill_engine, "SELECT 1", 0, NULL, NULL, NULL);
	bm_engine_run(kill_engine);
	bm_session_execute(s, "SELECT pg_backend_pid()", 0, NULL, on_kpid, &kpid);
	bm_engine_run(kill_engine);
	bm_engine_free(kill_engine);
}

static void
test_lost_after_end(PGconn *check)
{
	run_killed_unit(check, 1);
	TAP_STR_EQ(killer.value, "t", "lost commit: the backend was killed");
	/* the server may have sent the INSERT's answer before it was killed */
	tap_ok(kin.calls == 1 && (kin.code == BM_OK || kin.code == BM_ERR_OUTCOME_UNKNOWN),
		   "lost commit: the statement before is BM_OK (answered) or BM_ERR_OUTCOME_UNKNOWN (answer lost)",
		   "got %d callback(s), last %s: %s", kin.calls, bmt_code(kin.code), kin.message);
	BMT_REC_IS(ksleep, BM_ERR_OUTCOME_UNKNOWN, "lost commit: so is the statement that was running");
	BMT_REC_IS(kend, BM_ERR_OUTCOME_UNKNOWN, "lost commit: and the commit");
	tap_ok(strstr(kend.message, "outcome unknown") != NULL, "lost commit: the message says the outcome is unknown",
		   "got \"%s\"", kend.message);

	run_killed_unit(check, 0);
	TAP_STR_EQ(killer.value, "t", "lost rollback: the backend was killed");
	BMT_REC_IS(ksleep, BM_ERR_CONNECTION, "lost rollback: the running statement gets BM_ERR_CONNECTION");
	BMT_REC_IS(kend, BM_OK, "lost rollback: a rollback on the wire when the connection is lost is BM_OK");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM outc"), 0, "lost rollback: nothing was committed");
}

static bm_engine *free_engine;
static bmt_rec fa = {0},
			fb[3],
			fc[3],
			fd[2];

/* the engine goes from a callback, once the other sessions' answers have arrived unread */
static void
free_after_answers(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	const char *slow = getenv("BMT_SLOW");

	bmt_result_cb(s, res, err, arg);
	usleep(600 * 1000 * (slow && atoi(slow) > 1 ? atoi(slow) : 1));
	bm_engine_free(free_engine);
}

static void
test_free_reads_answers(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 4, .application_name = "bm_outcomes_free"};
	bm_sessionmaker *m;
	bm_session *a,
			   *b,
			   *c,
			   *d;
	int			i;

	memset(fb, 0, sizeof(fb));
	memset(fc, 0, sizeof(fc));
	memset(fd, 0, sizeof(fd));
	bmt_exec(check, "TRUNCATE outc");
	free_engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(free_engine, NULL);
	a = bm_session_open(m);
	b = bm_session_open(m);
	c = bm_session_open(m);
	d = bm_session_open(m);
	/* four connections up, one per session: four transactions open at once */
	for (i = 0; i < 4; i++)
	{
		bm_session *w = i == 0 ? a : i == 1 ? b : i == 2 ? c : d;

		bm_session_execute(w, "SELECT pg_sleep(0.2)", 0, NULL, NULL, NULL);
		bm_session_commit(w, NULL, NULL);
	}
	bm_engine_run(free_engine);
	bm_session_execute(a, "SELECT pg_sleep(0.05)", 0, NULL, free_after_answers, &fa);
	/* answered, unread, when the engine goes */
	bm_session_execute(b, "INSERT INTO outc SELECT 10 FROM pg_sleep(0.2)", 0, NULL, bmt_result_cb, &fb[0]);
	bm_session_execute(b, "INSERT INTO outc VALUES (11)", 0, NULL, bmt_result_cb, &fb[1]);
	bm_session_commit(b, bmt_done_cb, &fb[2]);
	/* still running, COMMIT sent */
	bm_session_execute(c, "INSERT INTO outc VALUES (20)", 0, NULL, bmt_result_cb, &fc[0]);
	bm_session_execute(c, "SELECT pg_sleep(10)", 0, NULL, bmt_result_cb, &fc[1]);
	bm_session_commit(c, bmt_done_cb, &fc[2]);
	/* still running, no COMMIT */
	bm_session_execute(d, "INSERT INTO outc VALUES (30)", 0, NULL, bmt_result_cb, &fd[0]);
	bm_session_execute(d, "SELECT pg_sleep(10)", 0, NULL, bmt_result_cb, &fd[1]);
	bm_engine_run(free_engine);
	BMT_REC_IS(fa, BM_OK, "free: the callback that frees the engine ran");
	BMT_REC_IS(fb[0], BM_OK, "free: a statement answered before the free (unread) succeeds");
	BMT_REC_IS(fb[1], BM_OK, "free: the next one too");
	BMT_REC_IS(fb[2], BM_OK, "free: a commit that committed before the free says so");
	BMT_REC_IS(fc[1], BM_ERR_OUTCOME_UNKNOWN, "free: a statement still running after COMMIT was sent is BM_ERR_OUTCOME_UNKNOWN");
	BMT_REC_IS(fc[2], BM_ERR_OUTCOME_UNKNOWN, "free: and its commit");
	BMT_REC_IS(fd[1], BM_ERR_CLOSED, "free: a statement still running with no COMMIT sent is BM_ERR_CLOSED");
	/* the sleeping backends would not notice the closed connections before they wake */
	bmt_exec(check, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bm_outcomes_free'");
	while (bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bm_outcomes_free'") > 0)
		usleep(10000);
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM outc WHERE id IN (10, 11)"), 2,
			   "free: the committed session's rows are there");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM outc WHERE id = 30"), 0,
			   "free: the BM_ERR_CLOSED session's row is not");
}

/* an idle pooled connection killed by the server: the next work runs on a new one */
static void
test_idle_killed(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1, .application_name = "bm_outcomes_idle"};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		first = {0},
				x = {0},
				a = {0},
				c = {0};

	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &first);
	bm_engine_run(e);
	BMT_REC_IS(first, BM_OK, "idle killed: the connection is up");
	bmt_exec(check, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bm_outcomes_idle'");
	while (bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bm_outcomes_idle'") > 0)
		usleep(10000);
	bm_engine_execute(e, "SELECT 42", 0, NULL, bmt_result_cb, &x);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &a);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_engine_run(e);
	BMT_REC_IS(x, BM_OK, "idle killed: the next autocommit statement succeeds on a new connection");
	TAP_STR_EQ(x.value, "42", "idle killed: and answers");
	BMT_REC_IS(a, BM_OK, "idle killed: a session's statement succeeds");
	BMT_REC_IS(c, BM_OK, "idle killed: and commits");
	bm_engine_free(e);
}

/* a connection the server refuses: the callback carries its SQLSTATE */
static void
expect_connect_sqlstate(const char *url, const char *want, const char *name)
{
	bm_error	err;
	bm_engine  *e = bm_engine_create(url, NULL, &err);
	bmt_rec		x = {0};

	if (e == NULL)
		tap_bail(err.message);
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &x);
	bm_engine_run(e);
	tap_ok(x.calls == 1 && x.code == BM_ERR_CONNECTION && strcmp(x.sqlstate, want) == 0, name,
		   "expected BM_ERR_CONNECTION with SQLSTATE %s, got %s \"%s\": %s", want, bmt_code(x.code),
		   x.sqlstate, x.message);
	bm_engine_free(e);
}

static void
test_connect_sqlstate(PGconn *check)
{
	char		url[1024];
	PGconn	   *probe;

	snprintf(url, sizeof(url), "%s%sdbname=bm_no_such_database", bmt_url(), strchr(bmt_url(), '?') ? "&" : "?");
	expect_connect_sqlstate(url, "3D000", "connect sqlstate: a missing database is 3D000");

	/* a wrong password is refused only where the server asks for one */
	bmt_exec(check, "DROP ROLE IF EXISTS bm_outcomes_pw; CREATE ROLE bm_outcomes_pw LOGIN PASSWORD 'right'");
	snprintf(url, sizeof(url), "%s%suser=bm_outcomes_pw&password=wrong", bmt_url(), strchr(bmt_url(), '?') ? "&" : "?");
	probe = PQconnectdb(url);
	if (PQstatus(probe) == CONNECTION_OK)
		tap_ok(1, "connect sqlstate: a wrong password is 28P01 # SKIP the server does not ask for passwords", "");
	else
		expect_connect_sqlstate(url, "28P01", "connect sqlstate: a wrong password is 28P01");
	PQfinish(probe);
	bmt_exec(check, "DROP ROLE bm_outcomes_pw");
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(120);
	check = bmt_check_conn();
	test_slow_statements(check, 4);
	test_slow_statements(check, 5);
	test_lost_after_end(check);
	test_free_reads_answers(check);
	test_idle_killed(check);
	test_connect_sqlstate(check);
	bmt_exec(check, "DROP TABLE IF EXISTS outc");
	PQfinish(check);
	return tap_done();
}
