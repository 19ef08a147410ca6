/*
 * reset.c
 *	  A connection goes back to the pool as a fresh one would be.  On a pool
 *	  of one connection (so the next session surely gets the same one), each
 *	  kind of session state a unit of work or an autocommit statement leaves
 *	  is gone for the next user: role, session authorization, search_path,
 *	  set_config(..., false), default_transaction_read_only, temporary
 *	  tables, advisory locks (also after a failed unit), LISTEN, cursors WITH
 *	  HOLD, the user's PREPAREd statements, dblink connections.  Our own
 *	  prepared statements stay, and a unit that leaves nothing costs no reset.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define MAX_STMTS 4

static bm_engine *engine;
static bm_sessionmaker *maker;
static PGconn *check;
static char engine_user[64];
static char fresh_search_path[256];

/* what one session saw: a callback per statement and the commit's */
typedef struct Unit
{
	bmt_rec		stmt[MAX_STMTS];
	bmt_rec		commit;
} Unit;

/* run one session of these statements and a commit on the pool; u gets the callbacks */
static void
run_unit(Unit *u, const char *const *sqls, int n)
{
	bm_session *s = bm_session_open(maker);
	int			i;

	memset(u, 0, sizeof(*u));
	if (s == NULL)
		tap_bail("bm_session_open failed");
	for (i = 0; i < n; i++)
		bm_session_execute(s, sqls[i], 0, NULL, bmt_result_cb, &u->stmt[i]);
	bm_session_commit(s, bmt_done_cb, &u->commit);
	bm_session_close(s);
	if (bm_engine_run(engine) != 0)
		tap_bail("bm_engine_run failed");
}

/* a session of these statements that must all succeed: name says what it sets up */
static void
unit_ok(const char *const *sqls, int n, const char *name)
{
	Unit		u;
	int			i,
				ok = 1;

	run_unit(&u, sqls, n);
	for (i = 0; i < n; i++)
		if (u.stmt[i].calls != 1 || u.stmt[i].code != BM_OK)
		{
			ok = 0;
			printf("# %s: %s\n", sqls[i], u.stmt[i].message);
		}
	tap_ok(ok && u.commit.calls == 1 && u.commit.code == BM_OK, name,
		   "expected every statement and the commit to succeed, the commit got %s: %s",
		   bmt_code(u.commit.calls ? u.commit.code : -1), u.commit.message);
}

/* the first value of sql in the next session on the pool's one connection */
static const char *
next_value(const char *sql)
{
	static Unit u;

	run_unit(&u, &sql, 1);
	if (u.stmt[0].code != BM_OK)
		printf("# %s: %s\n", sql, u.stmt[0].message);
	return u.stmt[0].code == BM_OK ? u.stmt[0].value : u.stmt[0].message;
}

/* one autocommit statement, run to its callback */
static bmt_rec
auto_run(const char *sql)
{
	bmt_rec		r = {0};

	bm_engine_execute(engine, sql, 0, NULL, bmt_result_cb, &r);
	if (bm_engine_run(engine) != 0)
		tap_bail("bm_engine_run failed");
	return r;
}

/* the engine's counters now */
static bm_engine_stats
stats(void)
{
	bm_engine_stats st;

	bm_engine_get_stats(engine, &st);
	return st;
}

/* SET ROLE, SET SESSION AUTHORIZATION: current_user and session_user come back */
static void
test_role(void)
{
	const char *set_role[] = {"SET ROLE bm_reset_low", "SELECT current_user"};
	const char *set_auth[] = {"SET SESSION AUTHORIZATION bm_reset_low"};
	char		both[160];
	Unit		u;

	run_unit(&u, set_role, 2);
	TAP_STR_EQ(u.stmt[1].value, "bm_reset_low", "role: SET ROLE holds for the rest of its own unit");
	TAP_STR_EQ(next_value("SELECT current_user"), engine_user,
			   "role: the next session's current_user is the engine's user again");
	unit_ok(set_auth, 1, "role: SET SESSION AUTHORIZATION to a low-privilege role commits");
	snprintf(both, sizeof(both), "%s %s", engine_user, engine_user);
	TAP_STR_EQ(next_value("SELECT session_user || ' ' || current_user"), both,
			   "role: after SET SESSION AUTHORIZATION the next session is the engine's user again");
}

/* SET search_path, set_config(..., false) inside a SELECT */
static void
test_settings(void)
{
	const char *set_path[] = {"SET search_path = bm_reset_schema"};
	const char *set_config[] = {"SELECT set_config('search_path', 'bm_reset_schema', false)",
	"SELECT set_config('work_mem', '1234kB', false)"};
	char		want[300];

	unit_ok(set_path, 1, "settings: SET search_path commits");
	TAP_STR_EQ(next_value("SHOW search_path"), fresh_search_path,
			   "settings: the next session has a fresh connection's search_path");
	unit_ok(set_config, 2, "settings: set_config(..., false) in a SELECT commits");
	snprintf(want, sizeof(want), "%s true", fresh_search_path);
	TAP_STR_EQ(next_value("SELECT current_setting('search_path') || ' ' || "
						  "(current_setting('work_mem') <> '1234kB')::text"),
			   want, "settings: set_config's changes are gone in the next session");
}

/* SET default_transaction_read_only from autocommit, and SET ROLE from autocommit */
static void
test_autocommit(void)
{
	bmt_rec		set = auto_run("SET default_transaction_read_only = on");
	bmt_rec		role = {0},
				who = {0};
	const char *insert[] = {"INSERT INTO bm_reset_t VALUES (1)"};

	BMT_REC_IS(set, BM_OK, "autocommit: SET default_transaction_read_only = on succeeds");
	TAP_STR_EQ(next_value("SHOW default_transaction_read_only"), "off",
			   "autocommit: the next session is not read-only");
	unit_ok(insert, 1, "autocommit: the next session can write");
	/* the next statement is queued behind the SET in the same turn */
	bm_engine_execute(engine, "SET ROLE bm_reset_low", 0, NULL, bmt_result_cb, &role);
	bm_engine_execute(engine, "SELECT current_user", 0, NULL, bmt_result_cb, &who);
	bm_engine_run(engine);
	BMT_REC_IS(role, BM_OK, "autocommit: SET ROLE succeeds");
	TAP_STR_EQ(who.value, engine_user,
			   "autocommit: a statement queued right behind SET ROLE runs as the engine's user");
}

/* a temporary table, an advisory lock, LISTEN, a cursor WITH HOLD, a user PREPARE */
static void
test_objects(void)
{
	const char *temp[] = {"CREATE TEMP TABLE bm_reset_tmp (x int)"};
	const char *lock[] = {"SELECT pg_advisory_lock(4242)"};
	const char *listen[] = {"DO $$BEGIN LISTEN bm_reset_channel; END$$"};
	const char *cursor[] = {"DECLARE bm_reset_cursor CURSOR WITH HOLD FOR SELECT 1"};
	const char *prepare[] = {"PREPARE bm_reset_user AS SELECT 1"};

	unit_ok(temp, 1, "temp table: CREATE TEMP TABLE commits");
	TAP_STR_EQ(next_value("SELECT to_regclass('pg_temp.bm_reset_tmp') IS NULL"), "t",
			   "temp table: the next session does not see it");
	unit_ok(lock, 1, "advisory lock: pg_advisory_lock commits");
	/* the reset runs behind the commit's answer: the next session on the connection waits for it */
	TAP_STR_EQ(next_value("SELECT 'next'"), "next", "advisory lock: the next session runs");
	TAP_INT_EQ(bmt_long(check, "SELECT pg_try_advisory_lock(4242)::int"), 1,
			   "advisory lock: another connection takes it once the session is over");
	bmt_exec(check, "SELECT pg_advisory_unlock(4242)");
	unit_ok(listen, 1, "LISTEN: a LISTEN (inside DO) commits");
	TAP_STR_EQ(next_value("SELECT count(*) FROM pg_listening_channels()"), "0",
			   "LISTEN: the next session listens to nothing");
	unit_ok(cursor, 1, "cursor: DECLARE ... WITH HOLD commits");
	TAP_STR_EQ(next_value("SELECT count(*) FROM pg_cursors WHERE name = 'bm_reset_cursor'"), "0",
			   "cursor: the next session has no open cursor");
	unit_ok(prepare, 1, "PREPARE: the user's PREPARE commits");
	TAP_STR_EQ(next_value("SELECT count(*) FROM pg_prepared_statements WHERE from_sql"), "0",
			   "PREPARE: the user's prepared statement is gone in the next session");
}

/* a unit that takes a lock and then fails: the lock goes all the same */
static void
test_failed_unit(void)
{
	const char *sqls[] = {"SELECT pg_advisory_lock(4343)", "SELECT 1/0"};
	Unit		u;

	run_unit(&u, sqls, 2);
	tap_ok(u.stmt[1].code == BM_ERR_SQL && u.commit.code != BM_OK, "failed unit: the division by zero fails the unit",
		   "expected BM_ERR_SQL and a failed commit, got %s and %s",
		   bmt_code(u.stmt[1].code), bmt_code(u.commit.code));
	TAP_STR_EQ(next_value("SELECT 'next'"), "next", "failed unit: the next session runs");
	TAP_INT_EQ(bmt_long(check, "SELECT pg_try_advisory_lock(4343)::int"), 1,
			   "failed unit: its session-level advisory lock is released all the same");
	bmt_exec(check, "SELECT pg_advisory_unlock(4343)");
}

/*
 * Our own prepared statements survive a reset (no Parse again), and a unit
 * that leaves nothing (the benchmark's INSERT ... RETURNING, a SELECT) is
 * followed by no reset at all.
 */
static void
test_cost(void)
{
	const char *clean[] = {"INSERT INTO bm_reset_t VALUES (2) RETURNING x", "SELECT 41 + 1"};
	const char *dirty[] = {"SET ROLE bm_reset_low", "SELECT 41 + 1"};
	bm_engine_stats before,
				after;

	unit_ok(clean, 2, "cost: a clean unit commits");
	before = stats();
	unit_ok(clean, 2, "cost: a clean unit commits again");
	after = stats();
	TAP_INT_EQ(after.resets - before.resets, 0, "cost: a unit that changes nothing is followed by no reset");
	TAP_INT_EQ(after.round_trips - before.round_trips, 1, "cost: and takes one round trip");
	before = stats();
	unit_ok(dirty, 2, "cost: a unit with SET ROLE commits");
	after = stats();
	TAP_INT_EQ(after.resets - before.resets, 1, "cost: it is followed by one reset");
	TAP_INT_EQ(after.round_trips - before.round_trips, 1, "cost: pipelined with its commit: still one round trip");
	before = stats();
	unit_ok(clean, 2, "cost: the clean unit runs after the reset");
	after = stats();
	TAP_INT_EQ(after.prepares - before.prepares, 0, "cost: our statements are still prepared after a reset");
	TAP_INT_EQ(after.connects, 1, "cost: every session so far ran on the same connection");
	TAP_STR_EQ(next_value("SELECT (count(*) > 0)::text FROM pg_prepared_statements WHERE NOT from_sql"), "true",
			   "cost: the server still holds our prepared statements");
}

/* a dblink connection outlives any reset: the connection is closed instead */
static void
test_dblink(void)
{
	char		sql[1024];
	const char *connect[] = {sql};
	bm_engine_stats before;

	if (bmt_long(check, "SELECT count(*) FROM pg_available_extensions WHERE name = 'dblink'") != 1)
	{
		printf("ok %d - dblink # SKIP dblink is not available\n", ++tap_count);
		return;
	}
	bmt_exec(check, "CREATE EXTENSION IF NOT EXISTS dblink");
	snprintf(sql, sizeof(sql), "SELECT dblink_connect('bm_reset_link', '%s')", bmt_url());
	before = stats();
	unit_ok(connect, 1, "dblink: dblink_connect commits");
	TAP_INT_EQ(stats().disconnects - before.disconnects, 1, "dblink: the connection that held it is closed");
	TAP_STR_EQ(next_value("SELECT coalesce(array_length(dblink_get_connections(), 1), 0)"), "0",
			   "dblink: the next session has no dblink connection");
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 1, .application_name = "bm_reset_test"};
	PGresult   *res;

	bmt_guard(120);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS bm_reset_t; CREATE TABLE bm_reset_t (x int)");
	bmt_exec(check, "DROP SCHEMA IF EXISTS bm_reset_schema; CREATE SCHEMA bm_reset_schema");
	bmt_exec(check, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bm_reset_low') "
			 "THEN CREATE ROLE bm_reset_low; END IF; END$$");
	bmt_exec(check, "GRANT USAGE ON SCHEMA bm_reset_schema TO bm_reset_low");
	res = PQexec(check, "SELECT current_user, current_setting('search_path')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		tap_bail("cannot read the engine's user");
	snprintf(engine_user, sizeof(engine_user), "%s", PQgetvalue(res, 0, 0));
	snprintf(fresh_search_path, sizeof(fresh_search_path), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (bmt_long(check, "SELECT rolsuper::int FROM pg_roles WHERE rolname = current_user") != 1)
		tap_bail("the tests need a superuser (SET SESSION AUTHORIZATION)");

	engine = bmt_engine(&opts);
	maker = bm_sessionmaker_create(engine, NULL);
	test_cost();
	test_role();
	test_settings();
	test_autocommit();
	test_objects();
	test_failed_unit();
	test_dblink();
	bm_engine_free(engine);
	/* the role is the cluster's: it goes with the test (another run may hold it: then it stays) */
	PQclear(PQexec(check, "DROP OWNED BY bm_reset_low; DROP ROLE bm_reset_low"));
	PQfinish(check);
	return tap_done();
}
