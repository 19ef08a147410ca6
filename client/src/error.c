/*
 * error.c
 *	  Errors: the names of the codes, errors with owned strings carried by
 *	  requests, and the per-thread error of the last call that failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the error of this thread's last failing call; its strings live here too */
static __thread bm_error last_error;
static __thread char last_message[512];

BM_EXPORT const char *
bm_error_name(int code)
{
	switch (code)
	{
		case BM_OK:
			return "BM_OK";
		case BM_ERR_SQL:
			return "BM_ERR_SQL";
		case BM_ERR_CONNECTION:
			return "BM_ERR_CONNECTION";
		case BM_ERR_ABORTED:
			return "BM_ERR_ABORTED";
		case BM_ERR_TIMEOUT:
			return "BM_ERR_TIMEOUT";
		case BM_ERR_CLOSED:
			return "BM_ERR_CLOSED";
		case BM_ERR_USAGE:
			return "BM_ERR_USAGE";
		case BM_ERR_NOMEM:
			return "BM_ERR_NOMEM";
		case BM_ERR_OUTCOME_UNKNOWN:
			return "BM_ERR_OUTCOME_UNKNOWN";
	}
	return "BM_ERR_UNKNOWN";
}

BM_EXPORT const bm_error *
bm_last_error(void)
{
	return last_error_public();
}

BM_EXPORT int
bm_usage_error(const char *message)
{
	set_last_error(BM_ERR_USAGE, "%s", message ? message : "usage error");
	return -1;
}

/* this thread's last error, with its message */
const bm_error *
last_error_public(void)
{
	if (last_error.message == NULL)
		last_error.message = last_message;
	return &last_error;
}

/* the error a failing call leaves for bm_last_error */
void
set_last_error(int code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	memset(&last_error, 0, sizeof(last_error));
	last_error.code = code;
	last_error.message = last_message;
}

/* a copy of s, NULL for NULL */
static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* trim the newline libpq leaves at the end of its messages */
static char *
dup_trimmed(const char *s)
{
	char	   *d = strdup(s ? s : "");
	size_t		n;

	if (d == NULL)
		return NULL;
	n = strlen(d);
	while (n > 0 && (d[n - 1] == '\n' || d[n - 1] == ' '))
		d[--n] = '\0';
	return d;
}

/* free the strings and zero the error */
void
err_clear(ErrorBuf *eb)
{
	if (eb == NULL)
		return;
	free(eb->message);
	free(eb->detail);
	free(eb->hint);
	free(eb->schema_name);
	free(eb->table_name);
	free(eb->column_name);
	free(eb->constraint_name);
	memset(eb, 0, sizeof(*eb));
}

/* replace the error with copies of these */
void
err_set(ErrorBuf *eb, int code, const char *sqlstate, const char *message,
		const char *detail, const char *hint)
{
	if (eb == NULL)
		return;					/* no memory for the error: it reads BM_ERR_NOMEM */
	err_clear(eb);
	eb->code = code;
	if (sqlstate)
		snprintf(eb->sqlstate, sizeof(eb->sqlstate), "%s", sqlstate);
	eb->message = dup_trimmed(message);
	eb->detail = dup_or_null(detail);
	eb->hint = dup_or_null(hint);
}

/* the server's fields naming what the error is about (after err_set, which clears them) */
void
err_set_fields(ErrorBuf *eb, const char *schema_name, const char *table_name,
			   const char *column_name, const char *constraint_name, int position)
{
	if (eb == NULL)
		return;
	eb->schema_name = dup_or_null(schema_name);
	eb->table_name = dup_or_null(table_name);
	eb->column_name = dup_or_null(column_name);
	eb->constraint_name = dup_or_null(constraint_name);
	eb->position = position;
}

/* dst becomes a copy of src */
void
err_copy(ErrorBuf *dst, const ErrorBuf *src)
{
	err_set(dst, src->code, src->sqlstate, src->message, src->detail, src->hint);
	err_set_fields(dst, src->schema_name, src->table_name, src->column_name,
				   src->constraint_name, src->position);
}

/* the view a callback gets; when strdup failed the message says so */
void
err_public(const ErrorBuf *eb, bm_error *out)
{
	memset(out, 0, sizeof(*out));
	out->code = eb->code;
	memcpy(out->sqlstate, eb->sqlstate, sizeof(out->sqlstate));
	out->message = eb->message ? eb->message : (eb->code == BM_OK ? "" : "out of memory");
	out->detail = eb->detail;
	out->hint = eb->hint;
	out->schema_name = eb->schema_name;
	out->table_name = eb->table_name;
	out->column_name = eb->column_name;
	out->constraint_name = eb->constraint_name;
	out->position = eb->position;
}
