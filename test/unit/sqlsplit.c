/*
 * sqlsplit.c
 *	  Where a statement ends: texts that hold one statement (with semicolons
 *	  inside literals, quoted identifiers, dollar quotes, comments,
 *	  parentheses and function bodies, or a trailing one) and texts that hold
 *	  several; and the statements that must run alone in their transaction.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

/* a text and whether it holds more than one statement */
static const struct
{
	const char *sql;
	bool		several;
}			split_cases[] = {
	{"SELECT 1", false},
	{"SELECT 1;", false},
	{"SELECT 1 ; ;  \n", false},
	{"SELECT 1; -- done", false},
	{"SELECT 1; /* done; really */", false},
	{"SELECT 1; SELECT 2", true},
	{"SELECT 1;SELECT 2;", true},
	{"INSERT INTO t VALUES (1); COMMIT", true},
	{"SELECT 1; -- x\nSELECT 2", true},
	{"SELECT ';'", false},
	{"SELECT 'it''s; fine'", false},
	{"SELECT 'a'; SELECT 'b'", true},
	{"SELECT E'it\\'s; fine'", false},
	{"SELECT e'\\\\'; SELECT 2", true},
	{"SELECT 'no\\'; SELECT 2", true},
	{"SELECT \"a;b\" FROM t", false},
	{"SELECT \"a\"\";b\" FROM t", false},
	{"SELECT $$;$$", false},
	{"SELECT $tag$ $$; $tag$", false},
	{"SELECT $tag$ ; $tag$; SELECT 2", true},
	{"SELECT $1; SELECT $2", true},
	{"SELECT a$b; SELECT 2", true},
	{"SELECT 1 -- ; SELECT 2", false},
	{"SELECT 1 /* ; /* nested; */ ; */", false},
	{"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))", false},
	{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END", false},
	{"create or replace procedure p() language sql begin atomic "
	 "select case when true then 1 end; insert into t values (1); end;", false},
	{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT 2", true},
	{"SELECT 'unterminated; SELECT 2", false},
	{"SELECT 1; /* unterminated", false},
	{"", false},
	{";", false},
};

/* a statement and whether it must run alone in its implicit transaction */
static const struct
{
	const char *sql;
	bool		alone;
}			alone_cases[] = {
	{"VACUUM", true},
	{"vacuum (analyze) t", true},
	{"CREATE DATABASE d", true},
	{"drop database d", true},
	{"ALTER DATABASE d SET TABLESPACE s", true},
	{"CREATE TABLESPACE s LOCATION '/x'", true},
	{"ALTER SYSTEM SET work_mem = '1MB'", true},
	{"CREATE INDEX CONCURRENTLY i ON t (x)", true},
	{"create unique index concurrently i on t (x)", true},
	{"DROP INDEX CONCURRENTLY i", true},
	{"REINDEX TABLE CONCURRENTLY t", true},
	{"CLUSTER", true},
	{"CREATE SUBSCRIPTION s CONNECTION '' PUBLICATION p", true},
	{"COMMIT PREPARED 'x'", true},
	{"DISCARD ALL", true},
	{"-- maintenance\nVACUUM t", true},
	{"SELECT 1", false},
	{"CREATE INDEX i ON t (x)", false},
	{"CREATE UNIQUE INDEX i ON t (x)", false},
	{"DROP INDEX i", false},
	{"CREATE TABLE database (x int)", false},
	{"ALTER TABLE t ADD x int", false},
	{"ALTER TABLE p DETACH PARTITION c CONCURRENTLY", true},
	{"vacuumed", false},
	{"", false},
};

int
main(void)
{
	size_t		i;
	char		name[300];

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++)
	{
		snprintf(name, sizeof(name), "sql_has_several_statements(\"%.200s\") is %s", split_cases[i].sql,
				 split_cases[i].several ? "true" : "false");
		for (char *c = name; *c; c++)
			if (*c == '\n')
				*c = ' ';
		TAP_INT_EQ(sql_has_several_statements(split_cases[i].sql), split_cases[i].several, name);
	}
	for (i = 0; i < sizeof(alone_cases) / sizeof(alone_cases[0]); i++)
	{
		snprintf(name, sizeof(name), "sql_runs_alone(\"%s\") is %s", alone_cases[i].sql,
				 alone_cases[i].alone ? "true" : "false");
		for (char *c = name; *c; c++)
			if (*c == '\n')
				*c = ' ';
		TAP_INT_EQ(sql_runs_alone(alone_cases[i].sql), alone_cases[i].alone, name);
	}
	return tap_done();
}
