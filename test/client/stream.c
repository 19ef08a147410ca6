/*
 * stream.c
 *	  bm_session_stream against a real server: a million rows of three
 *	  columns come one callback each, in order, then one end callback, with
 *	  the client's peak RSS bounded (checked in the plain build, where RSS
 *	  means what it says; valgrind and ASan stream fewer rows unchecked); an
 *	  error in the middle of the rows (the rows before it, the error once,
 *	  the rest of the transaction aborted, the session usable after); and
 *	  streams between other statements of a session, first in a unit, after
 *	  a prepared statement and with parameters, each in its place; a stream
 *	  after a failed statement, or of bad SQL, ends once without rows.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bmtest.h"

/* what one stream's callbacks saw */
typedef struct stream_rec
{
	long		rows;			/* row callbacks */
	long		in_order;		/* rows whose first value was the one expected */
	long		bad_shape;		/* row callbacks that were not one row of ncols columns */
	int			ncols;
	int			ends;			/* end callbacks (0-row result or an error) */
	int			end_code;
	char		end_sqlstate[6];
	char		end_message[256];
	long		end_affected;
	long		rows_after_end;
} stream_rec;

/* row callbacks bring one row each, the first column counting from 1; the end comes once */
static void
stream_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	stream_rec *r = arg;

	(void) s;
	if (err->code == BM_OK && bm_result_nrows(res) == 1)
	{
		if (r->ends > 0)
			r->rows_after_end++;
		r->rows++;
		if (bm_result_ncols(res) != r->ncols)
			r->bad_shape++;
		else if (atol(bm_result_value(res, 0, 0)) == r->rows)
			r->in_order++;
		return;
	}
	r->ends++;
	r->end_code = err->code;
	memcpy(r->end_sqlstate, err->sqlstate, 6);
	snprintf(r->end_message, sizeof(r->end_message), "%s", err->message ? err->message : "");
	r->end_affected = res ? bm_result_affected(res) : -2;
	if (res && bm_result_nrows(res) != 0)
		r->bad_shape++;
}

/* the process's peak resident set so far, in KiB */
static long
peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* under valgrind or ASan, RSS says nothing about the library and rows cost far more */
static bool
instrumented(void)
{
	const char *slow = getenv("BMT_SLOW");

	return slow && atoi(slow) > 1;
}

#define BIG_ROWS 1000000L
#define RSS_BOUND_KB (16L * 1024)

static void
test_big_stream(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	stream_rec	r = {.ncols = 3};
	bmt_rec		c = {0};
	long		nrows = instrumented() ? BIG_ROWS / 20 : BIG_ROWS;
	long		before,
				growth;
	char		n[32];
	const char *params[1] = {n};

	snprintf(n, sizeof(n), "%ld", nrows);
	before = peak_rss_kb();
	bm_session_stream(s, "SELECT g, g * 2, 'row number ' || g FROM generate_series(1, $1::int) g",
					  1, params, stream_cb, &r);
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "big: bm_engine_run returns 0");
	growth = peak_rss_kb() - before;
	TAP_INT_EQ(r.rows, nrows, "big: one row callback per row");
	TAP_INT_EQ(r.in_order, nrows, "big: the rows come in order, three columns each");
	TAP_INT_EQ(r.bad_shape, 0, "big: every row callback has one row, the end none");
	TAP_INT_EQ(r.ends, 1, "big: exactly one end callback");
	TAP_INT_EQ(r.end_code, BM_OK, "big: the end callback says BM_OK");
	TAP_INT_EQ(r.end_affected, nrows, "big: the end result's affected count is the row count");
	TAP_INT_EQ(r.rows_after_end, 0, "big: no row after the end");
	BMT_REC_IS(c, BM_OK, "big: the commit after the stream succeeds");
	if (instrumented())
		tap_ok(1, "big: peak RSS growth # SKIP RSS means nothing under valgrind or ASan", "");
	else
		tap_ok(growth <= RSS_BOUND_KB, "big: streaming a million rows grows the peak RSS by at most 16 MiB",
			   "expected at most %ld KiB, got %ld KiB", RSS_BOUND_KB, growth);
	printf("# peak RSS growth over %ld streamed rows: %ld KiB\n", nrows, growth);
	bm_session_close(s);
}

static void
test_error_mid_stream(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	stream_rec	r = {.ncols = 1};
	bmt_rec		after = {0},
				c = {0},
				next = {0},
				c2 = {0};

	bm_session_stream(s, "SELECT 1000 / (1000 - g) * 0 + g FROM generate_series(1, 5000) g",
					  0, NULL, stream_cb, &r);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &after);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_execute(s, "SELECT 42", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &c2);
	TAP_INT_EQ(bm_engine_run(e), 0, "error: bm_engine_run returns 0");
	TAP_INT_EQ(r.rows, 999, "error: the 999 rows before the division by zero are delivered");
	TAP_INT_EQ(r.in_order, 999, "error: in order");
	TAP_INT_EQ(r.ends, 1, "error: the error comes once, as the end callback");
	TAP_INT_EQ(r.end_code, BM_ERR_SQL, "error: with BM_ERR_SQL");
	TAP_STR_EQ(r.end_sqlstate, "22012", "error: and the server's SQLSTATE (division_by_zero)");
	TAP_INT_EQ(r.rows_after_end, 0, "error: no row after the error");
	BMT_REC_IS(after, BM_ERR_ABORTED, "error: the next statement of the transaction is BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_SQL, "error: the commit reports the failure");
	BMT_REC_IS(next, BM_OK, "error: the session's next transaction runs");
	TAP_STR_EQ(next.value, "42", "error: and answers");
	BMT_REC_IS(c2, BM_OK, "error: and commits");
	bm_session_close(s);
}

/* the order callbacks came in, one token each */
static char trail[512];

/* a plain statement's callback: its token (arg) */
static void
trail_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	size_t		len = strlen(trail);

	(void) s;
	snprintf(trail + len, sizeof(trail) - len, "%s%s ", (const char *) arg,
			 err->code == BM_OK ? "" : "!");
	(void) res;
}

/* a stream's callback: a row is "r<first value>", the end "<token>." */
static void
trail_stream_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	size_t		len = strlen(trail);

	(void) s;
	if (err->code == BM_OK && bm_result_nrows(res) == 1)
		snprintf(trail + len, sizeof(trail) - len, "r%s ", bm_result_value(res, 0, 0));
	else
		snprintf(trail + len, sizeof(trail) - len, "%s.%s ", (const char *) arg,
				 err->code == BM_OK ? "" : "!");
}

/* a commit's callback: "C" */
static void
trail_done_cb(bm_session *s, const bm_error *err, void *arg)
{
	size_t		len = strlen(trail);

	(void) s;
	(void) arg;
	snprintf(trail + len, sizeof(trail) - len, "C%s ", err->code == BM_OK ? "" : "!");
}

static void
test_order(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	bm_session *other = bm_session_open(m);
	const char *params[2] = {"2", "3"};

	trail[0] = '\0';
	/* first in its unit: the BEGIN is answered before it */
	bm_session_stream(s, "SELECT g FROM generate_series(1, 2) g", 0, NULL, trail_stream_cb, "s1");
	bm_session_execute(s, "SELECT 1", 0, NULL, trail_cb, "a");
	/* the same text again: prepared, so its Parse is answered first; then with parameters */
	bm_session_stream(s, "SELECT g FROM generate_series(1, 2) g", 0, NULL, trail_stream_cb, "s2");
	bm_session_stream(s, "SELECT g FROM generate_series($1::int, $2::int) g", 2, params, trail_stream_cb, "s3");
	bm_session_stream(s, "SELECT 1 WHERE false", 0, NULL, trail_stream_cb, "s4");
	bm_session_execute(s, "SELECT 2", 0, NULL, trail_cb, "b");
	bm_session_commit(s, trail_done_cb, NULL);
	/* a second unit: after the first's Sync */
	bm_session_stream(s, "SELECT g FROM generate_series(7, 8) g", 0, NULL, trail_stream_cb, "s5");
	bm_session_commit(s, trail_done_cb, NULL);
	bm_session_execute(other, "SELECT 3", 0, NULL, NULL, NULL);
	bm_session_commit(other, NULL, NULL);
	TAP_INT_EQ(bm_engine_run(e), 0, "order: bm_engine_run returns 0");
	TAP_STR_EQ(trail, "r1 r2 s1. a r1 r2 s2. r2 r3 s3. s4. b C r7 r8 s5. C ",
			   "order: streams keep their place among the session's statements, rows before their end");
	bm_session_close(s);
	bm_session_close(other);
}

/* a stream after a failure in its batch, and one whose own Parse fails: no rows, the error once */
static void
test_not_run(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	stream_rec	after_failure = {.ncols = 1},
				bad_sql = {.ncols = 1};
	bmt_rec		bad = {0},
				c = {0},
				c2 = {0};
	bm_engine_stats before,
				st;

	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "SELECT 1/0", 0, NULL, bmt_result_cb, &bad);
	bm_session_stream(s, "SELECT g FROM generate_series(1, 10) g", 0, NULL, stream_cb, &after_failure);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_stream(s, "SELEC g FROM generate_series(1, 10) g", 0, NULL, stream_cb, &bad_sql);
	bm_session_commit(s, bmt_done_cb, &c2);
	TAP_INT_EQ(bm_engine_run(e), 0, "not run: bm_engine_run returns 0");
	BMT_REC_IS(bad, BM_ERR_SQL, "not run: the statement before fails");
	TAP_INT_EQ(after_failure.rows, 0, "not run: a stream after it has no rows");
	TAP_INT_EQ(after_failure.ends, 1, "not run: and one end callback");
	TAP_INT_EQ(after_failure.end_code, BM_ERR_ABORTED, "not run: with BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_SQL, "not run: the commit reports the failure");
	TAP_INT_EQ(bad_sql.rows + bad_sql.ends * 100, 100, "not run: a stream of bad SQL ends once, without rows");
	TAP_STR_EQ(bad_sql.end_sqlstate, "42601", "not run: with the syntax error");
	BMT_REC_IS(c2, BM_ERR_SQL, "not run: its commit reports it");
	bm_engine_get_stats(e, &st);
	TAP_INT_EQ(st.disconnects - before.disconnects, 0, "not run: no connection was dropped");
	bm_session_close(s);
}

static void
test_refused(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	stream_rec	r = {0};

	TAP_INT_EQ(bm_session_stream(s, "COPY t TO STDOUT", 0, NULL, stream_cb, &r), -1,
			   "refused: a COPY cannot be streamed");
	TAP_INT_EQ(bm_session_stream(s, "COMMIT", 0, NULL, stream_cb, &r), -1,
			   "refused: nor transaction control");
	TAP_INT_EQ(bm_session_stream(NULL, "SELECT 1", 0, NULL, stream_cb, &r), -1,
			   "refused: a NULL session");
	TAP_INT_EQ(bm_last_error()->code, BM_ERR_USAGE, "refused: with BM_ERR_USAGE");
	bm_session_close(s);
	TAP_INT_EQ(bm_engine_run(e), 0, "refused: nothing was queued");
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e;
	bm_sessionmaker *m;

	bmt_guard(300);
	e = bmt_engine(&opts);
	m = bm_sessionmaker_create(e, NULL);
	test_order(e, m);
	test_error_mid_stream(e, m);
	test_not_run(e, m);
	test_refused(e, m);
	test_big_stream(e, m);
	bm_sessionmaker_free(m);
	bm_engine_free(e);
	return tap_done();
}
