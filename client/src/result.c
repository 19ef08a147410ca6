/*
 * result.c
 *	  Reading the result of one statement, and keeping a copy of it past
 *	  the callback that received it.
 */
#include <stdlib.h>

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
