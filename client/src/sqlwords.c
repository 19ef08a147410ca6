/*
 * sqlwords.c
 *	  What a statement's leading keywords say about it, read without parsing
 *	  SQL: whether it drops every prepared statement of the connection (the
 *	  statement cache must forget its names), whether it cannot run inside a
 *	  transaction block (nothing may share its Sync), whether it is something
 *	  the library refuses at the call (COPY, transaction control, LISTEN),
 *	  because it would leave a pooled connection in a state the library does
 *	  not track, and what session state it may leave behind for the reset on
 *	  release.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/*
 * Past white space and SQL comments: "--" to the end of the line, and block
 * comments, which nest in PostgreSQL as they do not in C.
 */
static const char *
skip_blanks(const char *p)
{
	for (;;)
	{
		while (isspace((unsigned char) *p))
			p++;
		if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			int			depth = 1;

			for (p += 2; *p && depth > 0; p++)
			{
				if (p[0] == '/' && p[1] == '*')
					depth++, p++;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p++;
			}
		}
		else
			return p;
	}
}

/* past the keywords in words (NULL-terminated), or NULL if sql does not start with them */
static const char *
match_words(const char *sql, const char *const *words)
{
	const char *p = sql;

	for (; *words; words++)
	{
		size_t		len = strlen(*words);

		p = skip_blanks(p);
		if (strncasecmp(p, *words, len) != 0 || isalnum((unsigned char) p[len]) || p[len] == '_')
			return NULL;
		p += len;
	}
	return p;
}

/* the statement is exactly these keywords, give or take blanks and a ';' */
static bool
is_exactly(const char *sql, const char *const *words)
{
	const char *p = match_words(sql, words);

	if (p == NULL)
		return false;
	p = skip_blanks(p);
	if (*p == ';')
		p = skip_blanks(p + 1);
	return *p == '\0';
}

/*
 * Does this statement drop every prepared statement of the session (DISCARD
 * ALL, DEALLOCATE [PREPARE] ALL)?  Then the cache must forget its names
 * before anything after it is sent, or they fail with 26000.
 */
bool
sql_resets_statements(const char *sql)
{
	static const char *const discard_all[] = {"DISCARD", "ALL", NULL};
	static const char *const deallocate_all[] = {"DEALLOCATE", "ALL", NULL};
	static const char *const deallocate_prepare_all[] = {"DEALLOCATE", "PREPARE", "ALL", NULL};

	/* on the path of every statement sent: most start with another letter */
	sql = skip_blanks(sql);
	if (*sql != 'd' && *sql != 'D')
		return false;
	return is_exactly(sql, discard_all) || is_exactly(sql, deallocate_all) ||
		is_exactly(sql, deallocate_prepare_all);
}

/* the statement is a COPY (bm_session_copy_in and bm_session_copy_out run nothing else) */
bool
sql_is_copy(const char *sql)
{
	static const char *const copy[] = {"COPY", NULL};

	return match_words(skip_blanks(sql), copy);
}

static bool has_word(const char *sql, const char *w, bool prefix);

/*
 * Must this statement run alone in its implicit transaction?  The server
 * refuses these inside a transaction block or after another statement of a
 * pipeline ("VACUUM cannot be executed within a pipeline"), so nothing of
 * the library's may go before them in their Sync.  A false positive only
 * costs that (the statement timeout, see proto.c); a miss would fail the
 * statement, so the list is generous: every DATABASE, TABLESPACE and
 * SUBSCRIPTION command, every REINDEX and CLUSTER, any CONCURRENTLY index,
 * an ALTER TABLE naming DETACH and CONCURRENTLY (DETACH PARTITION ...
 * CONCURRENTLY).
 */
bool
sql_runs_alone(const char *sql)
{
	static const char *const alter_table[] = {"ALTER", "TABLE", NULL};
	static const char *const alone[][5] = {
		{"VACUUM", NULL}, {"REINDEX", NULL}, {"CLUSTER", NULL}, {"DISCARD", NULL},
		{"ALTER", "SYSTEM", NULL}, {"COMMIT", "PREPARED", NULL}, {"ROLLBACK", "PREPARED", NULL},
		{"CREATE", "INDEX", "CONCURRENTLY", NULL}, {"CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", NULL},
		{"DROP", "INDEX", "CONCURRENTLY", NULL}
	};
	static const char *const objects[] = {"DATABASE", "TABLESPACE", "SUBSCRIPTION"};
	static const char *const verbs[] = {"CREATE", "ALTER", "DROP"};
	size_t		i,
				j;

	sql = skip_blanks(sql);
	if (*sql == '\0' || strchr("ACDRVacdrv", *sql) == NULL)
		return false;
	for (i = 0; i < sizeof(alone) / sizeof(alone[0]); i++)
		if (match_words(sql, alone[i]))
			return true;
	if (match_words(sql, alter_table) && has_word(sql, "detach", false) && has_word(sql, "concurrently", false))
		return true;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		for (j = 0; j < sizeof(objects) / sizeof(objects[0]); j++)
		{
			const char *const words[] = {verbs[i], objects[j], NULL};

			if (match_words(sql, words))
				return true;
		}
	return false;
}

/*
 * Must this statement run outside a transaction block?  Those that must run
 * alone, and those that may end the transaction they run in: a procedure
 * (CALL) or a DO block may COMMIT, which the server refuses inside a block
 * ("invalid transaction termination").  Such an autocommit statement is not
 * framed with BEGIN and COMMIT (see proto_send_auto).
 */
bool
sql_refuses_block(const char *sql)
{
	static const char *const may_commit[][2] = {{"CALL", NULL}, {"DO", NULL}};
	size_t		i;

	sql = skip_blanks(sql);
	for (i = 0; i < sizeof(may_commit) / sizeof(may_commit[0]); i++)
		if (match_words(sql, may_commit[i]))
			return true;
	return sql_runs_alone(sql);
}

/*
 * Why the library refuses this statement, or NULL.  COPY would put the
 * connection into a copy state that pipeline mode cannot drive; transaction
 * control would leave a pooled connection inside (or outside) a transaction
 * that the library does not know about, so that other callers' autocommit
 * statements would join it; LISTEN would keep the pooled connection
 * listening for whoever takes it next, its notifications read by nobody.
 * COMMIT PREPARED and ROLLBACK PREPARED end a two-phase transaction, not the
 * connection's, and are allowed.
 */
const char *
sql_refused(const char *sql)
{
	static const char *const copy[] = {"COPY", NULL};
	static const char *const listen[][2] = {{"LISTEN", NULL}, {"UNLISTEN", NULL}};
	static const char *const allowed[][3] = {
		{"COMMIT", "PREPARED", NULL}, {"ROLLBACK", "PREPARED", NULL}
	};
	static const char *const savepoint[][4] = {
		{"SAVEPOINT", NULL}, {"RELEASE", NULL}, {"ROLLBACK", "TO", NULL},
		{"ROLLBACK", "WORK", "TO", NULL}, {"ROLLBACK", "TRANSACTION", "TO", NULL}
	};
	static const char *const control[][3] = {
		{"BEGIN", NULL}, {"START", NULL}, {"COMMIT", NULL}, {"END", NULL},
		{"ROLLBACK", NULL}, {"ABORT", NULL}, {"PREPARE", "TRANSACTION", NULL}
	};
	size_t		i;

	/* most statements start with a letter no refused keyword starts with */
	sql = skip_blanks(sql);
	if (*sql == '\0' || strchr("ABCELPRSUabcelprsu", *sql) == NULL)
		return NULL;
	if (match_words(sql, copy))
		return "COPY cannot run as a statement: use bm_session_copy_in or bm_session_copy_out";
	for (i = 0; i < sizeof(listen) / sizeof(listen[0]); i++)
		if (match_words(sql, listen[i]))
			return "LISTEN and UNLISTEN cannot run through basemodel: the pooled connection would go on listening for whoever takes it next, and nobody would read its notifications";
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (match_words(sql, allowed[i]))
			return NULL;
	for (i = 0; i < sizeof(savepoint) / sizeof(savepoint[0]); i++)
		if (match_words(sql, savepoint[i]))
			return "savepoints cannot run through an execute: use bm_session_savepoint, bm_session_rollback_to and bm_session_release";
	for (i = 0; i < sizeof(control) / sizeof(control[0]); i++)
		if (match_words(sql, control[i]))
			return "transaction control cannot run through basemodel: use a session, and bm_session_commit or bm_session_rollback";
	return NULL;
}

/* a character that continues an identifier */
static bool
ident_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$';
}

/*
 * Does sql hold the word w (lower case) anywhere, comments and literals
 * included?  prefix: the word may go on (pg_advisory_lock_shared).
 */
static bool
has_word(const char *sql, const char *w, bool prefix)
{
	size_t		len = strlen(w);
	const char *p;

	for (p = sql; *p; p++)
		if (tolower((unsigned char) *p) == w[0] && strncasecmp(p, w, len) == 0 &&
			(p == sql || !ident_char(p[-1])) && (prefix || !ident_char(p[len])))
			return true;
	return false;
}

/* the statement starts with this keyword */
static bool
starts_with(const char *sql, const char *word)
{
	const char *const words[] = {word, NULL};

	return match_words(sql, words) != NULL;
}

/* the statement starts with one of these keywords (NULL-terminated) */
static bool
starts_with_any(const char *sql, const char *const *words)
{
	for (; *words; words++)
		if (starts_with(sql, *words))
			return true;
	return false;
}

/*
 * Can this statement create a temporary object?  TEMP or TEMPORARY in a
 * CREATE, or in SELECT ... INTO TEMP; a write to a column named "temp" does
 * not count.
 */
static bool
may_create_temp(const char *sql)
{
	static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "MERGE", NULL};
	static const char *const reads[] = {"SELECT", "WITH", "VALUES", "TABLE", NULL};

	if (has_word(sql, "pg_temp", true))
		return true;
	if (!has_word(sql, "temp", false) && !has_word(sql, "temporary", false))
		return false;
	if (starts_with_any(sql, writes))
		return false;
	if (*sql == '(' || starts_with_any(sql, reads))
		return has_word(sql, "into", false);
	return true;
}

/*
 * What this statement may leave on its connection once its transaction is
 * over (LEAVES_* bits), for the reset before the connection goes back to the
 * pool.  Read once per distinct SQL text from its words, conservatively: a
 * false alarm costs a pipelined reset, a miss leaks state to the next user.
 * State changed inside a function or trigger the text does not name is not
 * seen here (the server's ParameterStatus reports catch reported settings).
 */
uint8_t
sql_leaves(const char *sql)
{
	static const char *const set_local[] = {"SET", "LOCAL", NULL};
	static const char *const set_transaction[] = {"SET", "TRANSACTION", NULL};
	static const char *const set_constraints[] = {"SET", "CONSTRAINTS", NULL};
	uint8_t		leaves = 0;

	sql = skip_blanks(sql);
	if (starts_with(sql, "SET") && !match_words(sql, set_local) &&
		!match_words(sql, set_transaction) && !match_words(sql, set_constraints))
		leaves |= LEAVES_SETTINGS;
	else if (starts_with(sql, "LISTEN"))
		leaves |= LEAVES_LISTEN;
	else if (starts_with(sql, "DECLARE") && has_word(sql, "hold", false))
		leaves |= LEAVES_CURSORS;
	else if (starts_with(sql, "PREPARE"))
		leaves |= LEAVES_PREPARED;
	else if (starts_with(sql, "LOAD"))
		leaves |= LEAVES_CLOSE;
	else if (starts_with(sql, "DO") || starts_with(sql, "CALL"))
	{
		/* code the text may not show: everything but the prepared statements */
		leaves |= LEAVES_RESET_ALL & ~LEAVES_PREPARED;
		if (has_word(sql, "prepare", false))
			leaves |= LEAVES_PREPARED;
	}
	if (has_word(sql, "set_config", false))
		leaves |= LEAVES_SETTINGS;
	if (has_word(sql, "pg_advisory_lock", true) || has_word(sql, "pg_try_advisory_lock", true))
		leaves |= LEAVES_LOCKS;
	if (may_create_temp(sql))
		leaves |= LEAVES_TEMP;
	if (has_word(sql, "dblink", true))
		leaves |= LEAVES_CLOSE;
	return leaves;
}
