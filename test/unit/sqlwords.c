/*
 * sqlwords.c
 *	  What leading keywords say, every case: the statements the library
 *	  refuses (COPY, transaction control) and those it lets through, and
 *	  the statements that drop every prepared statement.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

/* a statement and what sql_refused says: NULL, "COPY", "savepoint" or "transaction" */
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
	return tap_done();
}
