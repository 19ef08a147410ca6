/*
 * result.c
 *	  Reading the result of one statement (as text, or typed: integers,
 *	  doubles, booleans, each refused with a reason rather than read as a
 *	  silent 0), and keeping a copy of it past the callback that received it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the cell exists */
static inline bool
in_range(const bm_result *r, int row, int col)
{
	return r && r->pg && row >= 0 && col >= 0 &&
		row < PQntuples(r->pg) && col < PQnfields(r->pg);
}

/* the row count of the command status, -1 when it has none */
static long
result_affected_of(const PGresult *res)
{
	const char *n = PQcmdTuples((PGresult *) res);

	return (n && *n) ? strtol(n, NULL, 10) : -1;
}

BM_EXPORT int
bm_result_nrows(const bm_result *r)
{
	return (r && r->pg) ? PQntuples(r->pg) : 0;
}

BM_EXPORT int
bm_result_ncols(const bm_result *r)
{
	return (r && r->pg) ? PQnfields(r->pg) : 0;
}

BM_EXPORT const char *
bm_result_colname(const bm_result *r, int col)
{
	if (r == NULL || r->pg == NULL || col < 0 || col >= PQnfields(r->pg))
		return NULL;
	return PQfname(r->pg, col);
}

BM_EXPORT const char *
bm_result_value(const bm_result *r, int row, int col)
{
	if (!in_range(r, row, col) || PQgetisnull(r->pg, row, col))
		return NULL;
	return PQgetvalue(r->pg, row, col);
}

BM_EXPORT int
bm_result_isnull(const bm_result *r, int row, int col)
{
	if (!in_range(r, row, col))
		return 1;
	return PQgetisnull(r->pg, row, col);
}

BM_EXPORT int
bm_result_colnum(const bm_result *r, const char *name)
{
	int			col;

	if (r == NULL || r->pg == NULL || name == NULL)
		return -1;
	for (col = 0; col < PQnfields(r->pg); col++)
		if (strcmp(PQfname(r->pg, col), name) == 0)
			return col;
	return -1;
}

BM_EXPORT unsigned int
bm_result_coltype(const bm_result *r, int col)
{
	if (r == NULL || r->pg == NULL || col < 0 || col >= PQnfields(r->pg))
		return 0;
	return PQftype(r->pg, col);
}

/*
 * The text of a cell a typed getter reads, or NULL with the reason in the
 * last error (what names the getter and the type it wanted).
 */
static const char *
typed_value(const bm_result *r, int row, int col, const char *what)
{
	if (!in_range(r, row, col))
	{
		set_last_error(BM_ERR_USAGE, "%s: row %d, column %d is out of range (%d rows, %d columns)",
					   what, row, col, bm_result_nrows(r), bm_result_ncols(r));
		return NULL;
	}
	if (PQgetisnull(r->pg, row, col))
	{
		set_last_error(BM_ERR_USAGE, "%s: the value at row %d, column %d (\"%s\") is NULL",
					   what, row, col, PQfname(r->pg, col));
		return NULL;
	}
	return PQgetvalue(r->pg, row, col);
}

/* -1, with why the value is not of the type wanted */
static int
not_of_type(const bm_result *r, int row, int col, const char *what, const char *type)
{
	set_last_error(BM_ERR_USAGE, "%s: the value at row %d, column %d (\"%s\") is not %s: \"%.64s\"",
				   what, row, col, PQfname(r->pg, col), type, PQgetvalue(r->pg, row, col));
	return -1;
}

BM_EXPORT int
bm_result_int64(const bm_result *r, int row, int col, long long *out)
{
	const char *v = typed_value(r, row, col, "bm_result_int64");
	char	   *end;
	long long	n;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || errno == ERANGE || isspace((unsigned char) *v))
		return not_of_type(r, row, col, "bm_result_int64", "a 64-bit integer");
	*out = n;
	return 0;
}

BM_EXPORT int
bm_result_double(const bm_result *r, int row, int col, double *out)
{
	const char *v = typed_value(r, row, col, "bm_result_double");
	char	   *end;
	double		d;

	if (v == NULL)
		return -1;
	/* the server writes float8's NaN and infinities as strtod reads them */
	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end != '\0' || (errno == ERANGE && (d > 1.0 || d < -1.0)) ||
		isspace((unsigned char) *v))
		return not_of_type(r, row, col, "bm_result_double", "a number that fits a double");
	*out = d;
	return 0;
}

BM_EXPORT int
bm_result_bool(const bm_result *r, int row, int col, int *out)
{
	const char *v = typed_value(r, row, col, "bm_result_bool");

	if (v == NULL)
		return -1;
	/* boolean's text output is exactly "t" or "f" */
	if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0)
		return not_of_type(r, row, col, "bm_result_bool", "a boolean (t or f)");
	*out = v[0] == 't';
	return 0;
}

/* a callback's result reads the count only if asked (most never ask) */
BM_EXPORT long
bm_result_affected(const bm_result *r)
{
	if (r == NULL)
		return -1;
	return r->affected == AFFECTED_UNREAD ? result_affected_of(r->pg) : r->affected;
}

/* PQcopyResult leaves out the command status, so the count travels beside it */
BM_EXPORT bm_result *
bm_result_copy(const bm_result *r)
{
	bm_result  *copy;

	if (r == NULL || r->pg == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_result_copy: result is NULL");
		return NULL;
	}
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	copy->pg = PQcopyResult(r->pg, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (copy->pg == NULL)
	{
		free(copy);
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	copy->affected = bm_result_affected(r);
	return copy;
}

BM_EXPORT void
bm_result_free(bm_result *r)
{
	if (r == NULL)
		return;
	PQclear(r->pg);
	free(r);
}
