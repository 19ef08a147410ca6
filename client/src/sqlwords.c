/*
 * sqlwords.c
 *	  What a statement's leading keywords say about it, read without parsing
 *	  SQL: whether it drops every prepared statement of the connection (the
 *	  statement cache must forget its names), and whether it is something the
 *	  library refuses at the call (COPY, transaction control), because it
 *	  would leave a pooled connection in a state the library does not track.
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

/*
 * Why the library refuses this statement, or NULL.  COPY would put the
 * connection into a copy state that pipeline mode cannot drive; transaction
 * control would leave a pooled connection inside (or outside) a transaction
 * that the library does not know about, so that other callers' autocommit
 * statements would join it.  COMMIT PREPARED and ROLLBACK PREPARED end a
 * two-phase transaction, not the connection's, and are allowed.
 */
const char *
sql_refused(const char *sql)
{
	static const char *const copy[] = {"COPY", NULL};
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
	if (*sql == '\0' || strchr("ABCEPRSabceprs", *sql) == NULL)
		return NULL;
	if (match_words(sql, copy))
		return "COPY cannot run as a statement: use bm_session_copy_in or bm_session_copy_out";
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
