/*
 * sqlwords.c
 *	  What leading keywords say, every case: the statements the library
 *	  refuses (COPY, transaction control, LISTEN) and those it lets through,
 *	  the statements that drop every prepared statement, and what session
 *	  state a statement may leave for the reset on release.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

/* a statement and what sql_refused says: NULL, "COPY", "LISTEN", "savepoint" or "transaction" */
static const struct
{
	const char *sql;
	const char *refused;
}			refused_cases[] = {
	{"COPY t FROM STDIN", "COPY"},
	{"copy t to stdout", "COPY"},
	{"  \n\tCoPy (SELECT 1) TO STDOUT", "COPY"},
	{"-- load\nCOPY t FROM STDIN", "COPY"},
	{"/* a /* nested */ comment */ COPY t FROM STDIN", "COPY"},
	{"BEGIN", "transaction"},
	{"begin;", "transaction"},
	{"BEGIN ISOLATION LEVEL SERIALIZABLE", "transaction"},
	{"START TRANSACTION", "transaction"},
	{"COMMIT", "transaction"},
	{"commit work", "transaction"},
	{"END", "transaction"},
	{"ROLLBACK", "transaction"},
	{"ROLLBACK TO SAVEPOINT a", "savepoint"},
	{"ABORT", "transaction"},
	{"SAVEPOINT a", "savepoint"},
	{"RELEASE SAVEPOINT a", "savepoint"},
	{"release a", "savepoint"},
	{"rollback to a", "savepoint"},
	{"ROLLBACK WORK TO SAVEPOINT a", "savepoint"},
	{"Rollback Transaction To a", "savepoint"},
	{"ROLLBACK WORK", "transaction"},
	{"PREPARE TRANSACTION 'x'", "transaction"},
	{"/* c */ -- d\n  prepare   transaction 'x'", "transaction"},
	{"COMMIT PREPARED 'x'", NULL},
	{"rollback prepared 'x'", NULL},
	{"PREPARE q AS SELECT 1", NULL},
	{"SELECT 1", NULL},
	{"select 'BEGIN'", NULL},
	{"INSERT INTO t VALUES (1); COMMIT", NULL},
	{"copy_of_t", NULL},
	{"COPYRIGHT", NULL},
	{"beginning", NULL},
	{"BEGIN_x", NULL},
	{"ENDS", NULL},
	{"abortive", NULL},
	{"STARTLE", NULL},
	{"savepoints", NULL},
	{"released", NULL},
	{"committed", NULL},
	{"-- COPY t FROM STDIN\nSELECT 1", NULL},
	{"/* BEGIN */ SELECT 1", NULL},
	{"", NULL},
	{"   ", NULL},
	{"/* unterminated", NULL},
	{"CREATE TABLE t (x int)", NULL},
	{"PREPARE", NULL},
	{"LISTEN ch", "LISTEN"},
	{"  listen \"Ch\";", "LISTEN"},
	{"UNLISTEN *", "LISTEN"},
	{"/* x */ unlisten ch", "LISTEN"},
	{"NOTIFY ch", NULL},
	{"listener", NULL},
	{"SELECT pg_listening_channels()", NULL},
};

/* a statement and whether it drops every prepared statement */
static const struct
{
	const char *sql;
	bool		resets;
}			reset_cases[] = {
	{"DISCARD ALL", true},
	{"discard all;", true},
	{"  Discard  All ; ", true},
	{"-- x\nDISCARD /* y */ ALL", true},
	{"DEALLOCATE ALL", true},
	{"deallocate prepare all", true},
	{"DISCARD PLANS", false},
	{"DISCARD ALL; SELECT 1", false},
	{"DEALLOCATE bm_1", false},
	{"DEALLOCATE PREPARE bm_1", false},
	{"DEALLOCATE ALLx", false},
	{"SELECT 'DISCARD ALL'", false},
	{"DISCARDALL", false},
	{"", false},
};

#define ALL_BUT_PREPARED (LEAVES_RESET_ALL & ~LEAVES_PREPARED)

/* a statement and what sql_leaves says it may leave on its connection */
static const struct
{
	const char *sql;
	uint8_t		leaves;
}			leaves_cases[] = {
	/* what the benchmark and most programs run: nothing to reset */
	{"INSERT INTO bench_ins AS t (v) VALUES ($1) RETURNING basemodel.to_dict(t)", 0},
	{"SELECT id, v FROM bench_point WHERE id = $1", 0},
	{"UPDATE t SET v = v + 1", 0},
	{"INSERT INTO readings (temp) VALUES ($1)", 0},
	{"SELECT temp FROM weather", 0},
	{"SET LOCAL ROLE app", 0},
	{"set local search_path = x", 0},
	{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", 0},
	{"SET CONSTRAINTS ALL DEFERRED", 0},
	{"RESET ROLE", 0},
	{"SELECT pg_advisory_xact_lock(1)", 0},
	{"DECLARE c CURSOR FOR SELECT 1", 0},
	{"SELECT 'settings'", 0},
	{"SELECT my_set_config_wrapper()", 0},
	{"DEALLOCATE bm_1", 0},
	/* settings, role, session authorization */
	{"SET ROLE lowpriv", LEAVES_SETTINGS},
	{"  -- who\n  set role lowpriv", LEAVES_SETTINGS},
	{"SET SESSION AUTHORIZATION lowpriv", LEAVES_SETTINGS},
	{"SET search_path = app", LEAVES_SETTINGS},
	{"SET SESSION search_path = app", LEAVES_SETTINGS},
	{"SET default_transaction_read_only = on", LEAVES_SETTINGS},
	{"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", LEAVES_SETTINGS},
	{"SELECT set_config('search_path', 'app', false)", LEAVES_SETTINGS},
	{"SELECT pg_catalog.SET_CONFIG('role', 'x', true)", LEAVES_SETTINGS},
	/* temporary objects */
	{"CREATE TEMP TABLE t (x int)", LEAVES_TEMP},
	{"create global temporary table t (x int)", LEAVES_TEMP},
	{"CREATE OR REPLACE TEMP VIEW v AS SELECT 1", LEAVES_TEMP},
	{"CREATE TABLE pg_temp.t (x int)", LEAVES_TEMP},
	{"SELECT 1 AS x INTO TEMP t", LEAVES_TEMP},
	{"(SELECT 1 AS x INTO TEMPORARY t)", LEAVES_TEMP},
	{"CREATE TABLE t (temp int)", LEAVES_TEMP},
	/* advisory locks, LISTEN, cursors, prepared statements */
	{"SELECT pg_advisory_lock(42)", LEAVES_LOCKS},
	{"SELECT pg_try_advisory_lock_shared(1, 2)", LEAVES_LOCKS},
	{"SELECT pg_advisory_lock_shared(1)", LEAVES_LOCKS},
	{"LISTEN chan", LEAVES_LISTEN},
	{"DECLARE c CURSOR WITH HOLD FOR SELECT 1", LEAVES_CURSORS},
	{"PREPARE q AS SELECT 1", LEAVES_PREPARED},
	/* code the text may not show */
	{"DO $$BEGIN PERFORM 1; END$$", ALL_BUT_PREPARED},
	{"DO $$BEGIN EXECUTE 'PREPARE q AS SELECT 1'; END$$", LEAVES_RESET_ALL},
	{"CALL do_things()", ALL_BUT_PREPARED},
	/* what no reset undoes */
	{"SELECT dblink_connect('c', 'dbname=x')", LEAVES_CLOSE},
	{"LOAD 'auto_explain'", LEAVES_CLOSE},
	{"SELECT set_config('x.y', '1', false), pg_advisory_lock(1)", LEAVES_SETTINGS | LEAVES_LOCKS},
	{"", 0},
};

/* sql on one line of TAP: newlines and tabs written as \\n and \\t */
static const char *
shown(const char *sql)
{
	static char buf[200];
	size_t		n = 0;

	for (; *sql && n < sizeof(buf) - 3; sql++)
	{
		if (*sql == '\n' || *sql == '\t')
		{
			buf[n++] = '\\';
			buf[n++] = *sql == '\n' ? 'n' : 't';
		}
		else
			buf[n++] = *sql;
	}
	buf[n] = '\0';
	return buf;
}

int
main(void)
{
	size_t		i;
	char		name[200];

	for (i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]); i++)
	{
		const char *why = sql_refused(refused_cases[i].sql);
		const char *want = refused_cases[i].refused;

		snprintf(name, sizeof(name), "sql_refused(\"%s\") %s", shown(refused_cases[i].sql),
				 want ? (strcmp(want, "COPY") == 0 ? "refuses COPY" :
						 strcmp(want, "LISTEN") == 0 ? "refuses LISTEN" :
						 strcmp(want, "savepoint") == 0 ? "refuses savepoints, naming their calls" :
						 "refuses transaction control")
				 : "lets it through");
		tap_ok(want ? (why && strncmp(why, want, strlen(want)) == 0) : why == NULL, name,
			   "expected %s, got %s", want ? want : "NULL", why ? why : "NULL");
	}
	/* bm_session_copy_in and bm_session_copy_out take exactly what sql_refused calls a COPY */
	for (i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]); i++)
	{
		bool		copy = refused_cases[i].refused && strcmp(refused_cases[i].refused, "COPY") == 0;

		snprintf(name, sizeof(name), "sql_is_copy(\"%s\") is %s", shown(refused_cases[i].sql),
				 copy ? "true" : "false");
		TAP_INT_EQ(sql_is_copy(refused_cases[i].sql), copy, name);
	}
	for (i = 0; i < sizeof(reset_cases) / sizeof(reset_cases[0]); i++)
	{
		snprintf(name, sizeof(name), "sql_resets_statements(\"%s\") is %s", shown(reset_cases[i].sql),
				 reset_cases[i].resets ? "true" : "false");
		TAP_INT_EQ(sql_resets_statements(reset_cases[i].sql), reset_cases[i].resets, name);
	}
	for (i = 0; i < sizeof(leaves_cases) / sizeof(leaves_cases[0]); i++)
	{
		snprintf(name, sizeof(name), "sql_leaves(\"%s\") is 0x%02x", shown(leaves_cases[i].sql),
				 leaves_cases[i].leaves);
		TAP_INT_EQ(sql_leaves(leaves_cases[i].sql), leaves_cases[i].leaves, name);
	}
	return tap_done();
}
