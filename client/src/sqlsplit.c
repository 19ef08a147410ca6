/*
 * sqlsplit.c
 *	  Where a statement ends: whether an SQL text holds more than one
 *	  statement, read with PostgreSQL's lexical rules (string literals,
 *	  quoted identifiers, dollar quotes, comments, parentheses, and the
 *	  BEGIN ... END body of a CREATE FUNCTION or PROCEDURE, as psql reads
 *	  them) but without parsing SQL.  Calls nothing above util.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* a byte that may start an identifier (and so a dollar-quote tag) */
static bool
ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

/* a byte that may continue an identifier */
static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || isdigit(c) || c == '$';
}

/* past a quoted string or identifier opened at p (quote q); backslash escapes when `escapes` */
static const char *
skip_quoted(const char *p, char q, bool escapes)
{
	for (p++; *p; p++)
	{
		if (escapes && *p == '\\' && p[1])
			p++;
		else if (*p == q)
		{
			if (p[1] != q)
				return p + 1;
			p++;
		}
	}
	return p;
}

/* past a dollar-quoted string whose opening tag ("$tag$", taglen bytes) starts at p */
static const char *
skip_dollar(const char *p, size_t taglen)
{
	const char *end;

	for (end = p + taglen; *end; end++)
		if (*end == '$' && strncmp(end, p, taglen) == 0)
			return end + taglen;
	return end;
}

/* the length of a dollar-quote tag starting at p ("$$" or "$name$"), 0 if none */
static size_t
dollar_tag(const char *p)
{
	const char *q = p + 1;

	if (*q != '$')
	{
		if (!ident_start((unsigned char) *q))
			return 0;
		while (ident_cont((unsigned char) *q) && *q != '$')
			q++;
		if (*q != '$')
			return 0;
	}
	return q + 1 - p;
}

/* past a comment at p ("--" to the end of the line, or a nesting block comment) */
static const char *
skip_comment(const char *p)
{
	int			depth = 1;

	if (p[0] == '-')
		return p + strcspn(p, "\n");
	for (p += 2; *p && depth > 0; p++)
	{
		if (p[0] == '/' && p[1] == '*')
			depth++, p++;
		else if (p[0] == '*' && p[1] == '/')
			depth--, p++;
	}
	return p;
}

/*
 * How a word changes the depth of BEGIN ... END blocks in the body of a
 * CREATE [OR REPLACE] FUNCTION or PROCEDURE (BEGIN ATOMIC), where semicolons
 * do not end the statement: psql's heuristic.  *head collects the first
 * words' initials to recognise such a statement.
 */
static void
track_word(const char *w, size_t len, char head[5], int *nwords, int *begin_depth)
{
	static const char *const heads[] = {"create", "or", "replace", "function", "procedure"};
	size_t		i;

	if (*nwords < 4)
		for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
			if (strlen(heads[i]) == len && strncasecmp(w, heads[i], len) == 0)
				head[*nwords] = heads[i][0];
	(*nwords)++;
	if (!(head[0] == 'c' && (head[1] == 'f' || head[1] == 'p' ||
							 (head[1] == 'o' && head[2] == 'r' && (head[3] == 'f' || head[3] == 'p')))))
		return;
	if (len == 5 && strncasecmp(w, "begin", 5) == 0)
		(*begin_depth)++;
	else if (len == 4 && strncasecmp(w, "case", 4) == 0 && *begin_depth > 0)
		(*begin_depth)++;
	else if (len == 3 && strncasecmp(w, "end", 3) == 0 && *begin_depth > 0)
		(*begin_depth)--;
}

/*
 * Does sql hold more than one statement ("SELECT 1; SELECT 2")?  A
 * semicolon followed only by blanks, comments and more semicolons ends the
 * one statement; semicolons inside literals, quoted identifiers, comments,
 * parentheses or a function's BEGIN ... END do not count.  Texts without a
 * semicolon, nearly all of them, cost one strchr.
 */
bool
sql_has_several_statements(const char *sql)
{
	const char *p = sql;
	char		head[5] = {0};
	int			nwords = 0,
				parens = 0,
				begin_depth = 0;
	bool		ended = false;

	if (strchr(sql, ';') == NULL)
		return false;
	while (*p)
	{
		unsigned char c = (unsigned char) *p;
		size_t		tag;

		if (isspace(c))
			p++;
		else if ((c == '-' && p[1] == '-') || (c == '/' && p[1] == '*'))
			p = skip_comment(p);
		else if (ended && c != ';')
			return true;
		else if (c == ';')
		{
			ended = ended || (parens == 0 && begin_depth == 0);
			p++;
		}
		else if (c == '\'')
			p = skip_quoted(p, '\'', false);
		else if (c == '"')
			p = skip_quoted(p, '"', false);
		else if (c == '$' && (tag = dollar_tag(p)) > 0)
			p = skip_dollar(p, tag);
		else if ((c == 'e' || c == 'E') && p[1] == '\'')
			p = skip_quoted(p + 1, '\'', true);
		else if (ident_start(c))
		{
			const char *w = p;

			while (ident_cont((unsigned char) *p))
				p++;
			track_word(w, p - w, head, &nwords, &begin_depth);
		}
		else
		{
			parens += c == '(' ? 1 : c == ')' && parens > 0 ? -1 : 0;
			p++;
		}
	}
	return false;
}
