/*
 * params.c
 *	  Parameters reach the server as they were given, however a request
 *	  stores them (packed behind it, in a slab by size or malloc'd when
 *	  larger): NULLs anywhere among values, empty strings, more parameters
 *	  than the library passes on its stack, and values of every length
 *	  across the size classes, in sessions and autocommit, queued all at
 *	  once so that requests of every class wait together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NPARAMS 20
#define MAX_LEN 200

static int	answered;
static int	wrong;

/* the first value of the first row is the text arg expects */
static void
check_value(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	const char *want = arg;
	const char *got = res ? bm_result_value(res, 0, 0) : NULL;

	(void) s;
	answered++;
	if (err->code != BM_OK || got == NULL || strcmp(got, want) != 0)
	{
		if (wrong++ < 5)
			printf("# expected \"%.60s\", got %s \"%.60s\"\n", want, bm_error_name(err->code),
				   got ? got : err->message);
	}
}

/* "SELECT array_to_string(ARRAY[$1::text, ..., $n::text], ',', '*')" */
static void
array_sql(char *sql, size_t len, int n)
{
	size_t		at = (size_t) snprintf(sql, len, "SELECT array_to_string(ARRAY[");

	for (int k = 1; k <= n; k++)
		at += (size_t) snprintf(sql + at, len - at, "%s$%d::text", k > 1 ? ", " : "", k);
	snprintf(sql + at, len - at, "], ',', '*')");
}

int
main(void)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	const char *params[NPARAMS];
	char		values[NPARAMS][16];
	char		sql[1024];
	char		want_mixed[256] = "";
	char	   *texts[MAX_LEN + 1];
	const char *one[1];
	const char *null_first[2] = {NULL, ""};
	int			queued = 0;

	bmt_guard(60);
	/* NULLs, empty strings and values mixed, more than the stack holds */
	for (int k = 0; k < NPARAMS; k++)
	{
		snprintf(values[k], sizeof(values[k]), "v%d", k);
		params[k] = k % 3 == 0 ? NULL : k % 3 == 1 ? values[k] : "";
		strcat(want_mixed, k > 0 ? "," : "");
		strcat(want_mixed, params[k] ? params[k] : "*");
	}
	array_sql(sql, sizeof(sql), NPARAMS);
	tap_ok(bm_session_execute(s, sql, NPARAMS, params, check_value, want_mixed) == 0 &&
		   bm_engine_execute(e, sql, NPARAMS, params, check_value, want_mixed) == 0,
		   "mixed: twenty parameters, NULLs among them, are queued", "%s", bm_last_error()->message);
	queued += 2;
	array_sql(sql, sizeof(sql), 2);
	tap_ok(bm_session_execute(s, sql, 2, null_first, check_value, "*,") == 0,
		   "null first: a NULL then an empty string are queued", "%s", bm_last_error()->message);
	queued++;

	/* one value of each length, 0 to MAX_LEN bytes: every class and beyond */
	for (int len = 0; len <= MAX_LEN; len++)
	{
		if ((texts[len] = malloc((size_t) len + 1)) == NULL)
			tap_bail("out of memory");
		for (int k = 0; k < len; k++)
			texts[len][k] = (char) ('a' + (len + k) % 26);
		texts[len][len] = '\0';
		one[0] = texts[len];
		if (bm_session_execute(s, "SELECT $1::text", 1, one, check_value, texts[len]) != 0 ||
			bm_engine_execute(e, "SELECT $1::text", 1, one, check_value, texts[len]) != 0)
			tap_bail("cannot queue a statement");
		queued += 2;
	}
	bm_session_commit(s, NULL, NULL);
	bm_engine_run(e);
	TAP_INT_EQ(answered, queued, "every statement is answered once");
	TAP_INT_EQ(wrong, 0, "every value comes back as it was given");

	bm_session_close(s);
	bm_engine_free(e);
	for (int len = 0; len <= MAX_LEN; len++)
		free(texts[len]);
	return tap_done();
}
