/*
 * copy.c
 *	  bm_session_copy_in and bm_session_copy_out against a real server:
 *	  100,000 rows each way inside a session's transaction; an abort from
 *	  the read callback and from the write callback (the COPY and its
 *	  transaction fail, the session's next transaction runs on the same
 *	  connection); COPYs between other statements of one unit, each
 *	  callback in its place; bad data (the server's error, the transaction
 *	  rolled back, the connection kept); a COPY after a failed statement is
 *	  not run; and the misuse the calls refuse, bm_session_execute of a COPY
 *	  included.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NROWS 100000

/* a COPY FROM STDIN source: rows "i\tname i\n" for i in [next, end), abort_at: -1 after that row */
typedef struct source
{
	long		next;
	long		end;
	long		abort_at;		/* 0: never */
	const char *bad_row;		/* sent instead of the row numbered bad_at */
	long		bad_at;
	int			calls_after_end;	/* read called again after it said 0 or -1 */
	bool		over;
} source;

/* bm_copy_read_cb: whole rows while they fit in cap */
static long
source_read(char *buf, long cap, void *arg)
{
	source	   *src = arg;
	long		len = 0;

	if (src->over)
	{
		src->calls_after_end++;
		return 0;
	}
	while (src->next < src->end)
	{
		char		row[64];
		int			n;

		if (src->abort_at && src->next == src->abort_at)
		{
			src->over = true;
			return -1;
		}
		if (src->bad_row && src->next == src->bad_at)
			n = snprintf(row, sizeof(row), "%s\n", src->bad_row);
		else
			n = snprintf(row, sizeof(row), "%ld\tname %ld\n", src->next, src->next);
		if (len + n > cap)
			return len;
		memcpy(buf + len, row, n);
		len += n;
		src->next++;
	}
	if (len == 0)
		src->over = true;
	return len;
}

/* a COPY TO STDOUT sink: counts rows and checks each is the next id */
typedef struct sink
{
	long		rows;
	long		in_order;
	long		bytes;
	long		abort_at;		/* return -1 at this row (from 1), 0: never */
	long		calls_after_abort;
	bool		aborted;
} sink;

/* bm_copy_write_cb */
static int
sink_write(const char *data, long len, void *arg)
{
	sink	   *k = arg;

	if (k->aborted)
		k->calls_after_abort++;
	k->rows++;
	k->bytes += len;
	if (atol(data) == k->rows && data[len - 1] == '\n')
		k->in_order++;
	if (k->abort_at && k->rows == k->abort_at)
	{
		k->aborted = true;
		return -1;
	}
	return 0;
}

static PGconn *check;

/* the rows in copy_t */
static long
count_rows(void)
{
	return bmt_long(check, "SELECT count(*) FROM copy_t");
}

static void
test_copy_in_and_out(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	source		src = {.next = 1, .end = NROWS + 1};
	sink		k = {0};
	bmt_rec		in = {0},
				out = {0},
				c = {0};

	bmt_exec(check, "TRUNCATE copy_t");
	TAP_INT_EQ(bm_session_copy_in(s, "COPY copy_t (id, name) FROM STDIN", source_read, &src, bmt_result_cb, &in),
			   0, "in/out: bm_session_copy_in is accepted");
	TAP_INT_EQ(bm_session_copy_out(s, "COPY (SELECT id, name FROM copy_t ORDER BY id) TO STDOUT", sink_write, &k,
								   bmt_result_cb, &out),
			   0, "in/out: bm_session_copy_out is accepted");
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "in/out: bm_engine_run returns 0");
	BMT_REC_IS(in, BM_OK, "in/out: COPY FROM STDIN succeeds, one callback");
	TAP_INT_EQ(in.affected, NROWS, "in/out: its result's affected count is the rows copied");
	TAP_INT_EQ(src.calls_after_end, 0, "in/out: read is not called after it said 0");
	BMT_REC_IS(out, BM_OK, "in/out: COPY TO STDOUT in the same transaction succeeds, one callback");
	TAP_INT_EQ(out.affected, NROWS, "in/out: its affected count is the rows copied");
	TAP_INT_EQ(k.rows, NROWS, "in/out: write gets every row, one call each");
	TAP_INT_EQ(k.in_order, NROWS, "in/out: whole rows, in order");
	BMT_REC_IS(c, BM_OK, "in/out: the commit succeeds");
	TAP_INT_EQ(count_rows(), NROWS, "in/out: the rows are in the table");
	bm_session_close(s);
}

static void
test_abort_in(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	source		src = {.next = 1, .end = NROWS + 1, .abort_at = 5000};
	bmt_rec		ins = {0},
				in = {0},
				after = {0},
				c = {0},
				next = {0},
				c2 = {0};
	bm_engine_stats before,
				st;

	bmt_exec(check, "TRUNCATE copy_t");
	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "INSERT INTO copy_t VALUES (0, 'before')", 0, NULL, bmt_result_cb, &ins);
	bm_session_copy_in(s, "COPY copy_t FROM STDIN", source_read, &src, bmt_result_cb, &in);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &after);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_execute(s, "SELECT count(*) FROM copy_t", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &c2);
	TAP_INT_EQ(bm_engine_run(e), 0, "abort in: bm_engine_run returns 0");
	BMT_REC_IS(ins, BM_OK, "abort in: the statement before the COPY succeeds");
	BMT_REC_IS(in, BM_ERR_SQL, "abort in: read's -1 fails the COPY");
	TAP_STR_EQ(in.sqlstate, "57014", "abort in: the server cancelled it (57014)");
	tap_ok(strstr(in.message, "COPY aborted by the read callback") != NULL,
		   "abort in: the message says the read callback aborted it", "got \"%s\"", in.message);
	TAP_INT_EQ(src.calls_after_end, 0, "abort in: read is not called after it said -1");
	BMT_REC_IS(after, BM_ERR_ABORTED, "abort in: the next statement is BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_SQL, "abort in: the commit reports the failure");
	BMT_REC_IS(next, BM_OK, "abort in: the session's next transaction runs");
	TAP_STR_EQ(next.value, "0", "abort in: and sees nothing of the failed one (rolled back)");
	BMT_REC_IS(c2, BM_OK, "abort in: and commits");
	bm_engine_get_stats(e, &st);
	TAP_INT_EQ(st.disconnects - before.disconnects, 0, "abort in: no connection was dropped");
	bm_session_close(s);
}

static void
test_abort_out(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	sink		k = {.abort_at = 10};
	bmt_rec		ins = {0},
				out = {0},
				after = {0},
				c = {0},
				next = {0},
				c2 = {0};
	bm_engine_stats before,
				st;

	bmt_exec(check, "TRUNCATE copy_t; INSERT INTO copy_t SELECT g, 'name ' || g FROM generate_series(1, 50000) g");
	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "DELETE FROM copy_t WHERE id <= 100", 0, NULL, bmt_result_cb, &ins);
	bm_session_copy_out(s, "COPY (SELECT id - 100, name FROM copy_t ORDER BY id) TO STDOUT", sink_write, &k,
						bmt_result_cb, &out);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &after);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_execute(s, "SELECT count(*) FROM copy_t", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &c2);
	TAP_INT_EQ(bm_engine_run(e), 0, "abort out: bm_engine_run returns 0");
	BMT_REC_IS(ins, BM_OK, "abort out: the statement before the COPY succeeds");
	TAP_INT_EQ(k.rows, 10, "abort out: write is called up to the row that returned -1");
	TAP_INT_EQ(k.calls_after_abort, 0, "abort out: and never after");
	BMT_REC_IS(out, BM_ERR_SQL, "abort out: write's -1 fails the COPY");
	TAP_STR_EQ(out.sqlstate, "57014", "abort out: as cancelled (57014)");
	TAP_STR_EQ(out.message, "COPY to stdout aborted by the write callback",
			   "abort out: the message says the write callback aborted it");
	BMT_REC_IS(after, BM_ERR_ABORTED, "abort out: the next statement is BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_SQL, "abort out: the commit reports the failure");
	BMT_REC_IS(next, BM_OK, "abort out: the session's next transaction runs");
	TAP_STR_EQ(next.value, "50000", "abort out: and the DELETE before the COPY was rolled back");
	BMT_REC_IS(c2, BM_OK, "abort out: and commits");
	bm_engine_get_stats(e, &st);
	TAP_INT_EQ(st.disconnects - before.disconnects, 0, "abort out: no connection was dropped");
	bm_session_close(s);
}

/* the order callbacks came in, one token each */
static char trail[256];

/* a result callback: its token (arg), "!" when it failed, then the affected count */
static void
trail_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	size_t		len = strlen(trail);

	(void) s;
	snprintf(trail + len, sizeof(trail) - len, "%s%s%ld ", (const char *) arg, err->code == BM_OK ? "=" : "!",
			 res ? (bm_result_nrows(res) == 1 ? atol(bm_result_value(res, 0, 0)) : bm_result_affected(res)) : 0);
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
test_between_statements(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	bm_session *other = bm_session_open(m);
	source		src = {.next = 1, .end = 1001};
	sink		k = {0};
	bmt_rec		o = {0};

	bmt_exec(check, "TRUNCATE copy_t");
	trail[0] = '\0';
	bm_session_execute(s, "INSERT INTO copy_t VALUES (-1, 'first')", 0, NULL, trail_cb, "i");
	bm_session_copy_in(s, "COPY copy_t FROM STDIN", source_read, &src, trail_cb, "in");
	bm_session_execute(s, "SELECT count(*) FROM copy_t", 0, NULL, trail_cb, "n");
	bm_session_copy_out(s, "COPY (SELECT id FROM copy_t WHERE id > 0 ORDER BY id) TO STDOUT", sink_write, &k,
						trail_cb, "out");
	bm_session_execute(s, "INSERT INTO copy_t VALUES (-2, 'last')", 0, NULL, trail_cb, "j");
	bm_session_execute(s, "SELECT count(*) FROM copy_t", 0, NULL, trail_cb, "n");
	bm_session_commit(s, trail_done_cb, NULL);
	/* the next unit starts in pipeline mode again, with a COPY first */
	bm_session_copy_out(s, "COPY (SELECT 1) TO STDOUT", sink_write, &k, trail_cb, "out");
	bm_session_commit(s, trail_done_cb, NULL);
	/* another session meanwhile, on another connection */
	bm_session_execute(other, "SELECT 5", 0, NULL, bmt_result_cb, &o);
	bm_session_commit(other, NULL, NULL);
	TAP_INT_EQ(bm_engine_run(e), 0, "between: bm_engine_run returns 0");
	TAP_STR_EQ(trail, "i=1 in=1000 n=1001 out=1000 j=1 n=1002 C out=1 C ",
			   "between: a unit's COPYs and statements call back in order, each seeing the ones before");
	BMT_REC_IS(o, BM_OK, "between: another session runs meanwhile");
	TAP_INT_EQ(count_rows(), 1002, "between: everything was committed");
	bm_session_close(s);
	bm_session_close(other);
}

static void
test_bad_data(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	source		src = {.next = 1, .end = NROWS + 1, .bad_row = "oops\tnot a number", .bad_at = 777};
	bmt_rec		ins = {0},
				in = {0},
				after = {0},
				c = {0},
				next = {0},
				c2 = {0};
	bm_engine_stats before,
				st;

	bmt_exec(check, "TRUNCATE copy_t");
	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "INSERT INTO copy_t VALUES (0, 'before')", 0, NULL, bmt_result_cb, &ins);
	bm_session_copy_in(s, "COPY copy_t FROM STDIN", source_read, &src, bmt_result_cb, &in);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &after);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_execute(s, "SELECT count(*) FROM copy_t", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &c2);
	TAP_INT_EQ(bm_engine_run(e), 0, "bad data: bm_engine_run returns 0");
	BMT_REC_IS(in, BM_ERR_SQL, "bad data: the COPY fails with BM_ERR_SQL");
	TAP_STR_EQ(in.sqlstate, "22P02", "bad data: with the server's SQLSTATE (invalid_text_representation)");
	tap_ok(strstr(in.message, "oops") != NULL, "bad data: and its message", "got \"%s\"", in.message);
	BMT_REC_IS(after, BM_ERR_ABORTED, "bad data: the next statement is BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_SQL, "bad data: the commit reports the failure");
	TAP_INT_EQ(count_rows(), 0, "bad data: the transaction was rolled back (the INSERT before is gone too)");
	BMT_REC_IS(next, BM_OK, "bad data: the session's next transaction runs");
	BMT_REC_IS(c2, BM_OK, "bad data: and commits");
	bm_engine_get_stats(e, &st);
	TAP_INT_EQ(st.disconnects - before.disconnects, 0, "bad data: the connection was kept");
	bm_session_close(s);
}

static void
test_not_run(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	source		src = {.next = 1, .end = 10};
	sink		k = {0};
	bmt_rec		bad = {0},
				in = {0},
				out = {0},
				c = {0};

	bm_session_execute(s, "SELECT 1/0", 0, NULL, bmt_result_cb, &bad);
	bm_session_copy_in(s, "COPY copy_t FROM STDIN", source_read, &src, bmt_result_cb, &in);
	bm_session_copy_out(s, "COPY copy_t TO STDOUT", sink_write, &k, bmt_result_cb, &out);
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "not run: bm_engine_run returns 0");
	BMT_REC_IS(bad, BM_ERR_SQL, "not run: the statement before fails");
	BMT_REC_IS(in, BM_ERR_ABORTED, "not run: a COPY FROM STDIN after it is BM_ERR_ABORTED");
	TAP_INT_EQ(src.next, 1, "not run: its read callback was never called");
	BMT_REC_IS(out, BM_ERR_ABORTED, "not run: a COPY TO STDOUT after it is BM_ERR_ABORTED");
	TAP_INT_EQ(k.rows, 0, "not run: its write callback was never called");
	BMT_REC_IS(c, BM_ERR_SQL, "not run: the commit reports the failure");
	bm_session_close(s);
}

static void
test_misuse(bm_engine *e, bm_sessionmaker *m)
{
	bm_session *s = bm_session_open(m);
	source		src = {.next = 1, .end = 10};
	sink		k = {0};
	bmt_rec		wrong_in = {0},
				wrong_out = {0},
				c = {0};
	const bm_error *err;

	TAP_INT_EQ(bm_session_execute(s, "COPY copy_t FROM STDIN", 0, NULL, NULL, NULL), -1,
			   "misuse: bm_session_execute refuses a COPY");
	err = bm_last_error();
	tap_ok(err->code == BM_ERR_USAGE && strstr(err->message, "bm_session_copy_in") &&
		   strstr(err->message, "bm_session_copy_out"),
		   "misuse: with BM_ERR_USAGE, pointing to bm_session_copy_in and bm_session_copy_out",
		   "got %s \"%s\"", bm_error_name(err->code), err->message);
	TAP_INT_EQ(bm_engine_execute(e, "copy copy_t to stdout", 0, NULL, NULL, NULL), -1,
			   "misuse: so does bm_engine_execute");
	TAP_INT_EQ(bm_session_copy_in(s, "SELECT 1", source_read, &src, NULL, NULL), -1,
			   "misuse: bm_session_copy_in refuses what is not a COPY");
	TAP_STR_EQ(bm_last_error()->message, "bm_session_copy_in: the statement is not a COPY",
			   "misuse: saying so");
	TAP_INT_EQ(bm_session_copy_in(s, "COPY copy_t FROM STDIN", NULL, NULL, NULL, NULL), -1,
			   "misuse: bm_session_copy_in refuses a NULL read callback");
	TAP_INT_EQ(bm_session_copy_out(s, "COPY copy_t TO STDOUT", NULL, NULL, NULL, NULL), -1,
			   "misuse: bm_session_copy_out refuses a NULL write callback");
	TAP_INT_EQ(bm_session_copy_out(NULL, "COPY copy_t TO STDOUT", sink_write, &k, NULL, NULL), -1,
			   "misuse: and a NULL session");
	/* the wrong direction: the server decides it, the call says what it is for */
	bm_session_copy_in(s, "COPY (SELECT 1) TO STDOUT", source_read, &src, bmt_result_cb, &wrong_in);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_session_copy_out(s, "COPY copy_t FROM STDIN", sink_write, &k, bmt_result_cb, &wrong_out);
	bm_session_rollback(s, NULL, NULL);
	TAP_INT_EQ(bm_engine_run(e), 0, "misuse: bm_engine_run returns 0");
	BMT_REC_IS(wrong_in, BM_ERR_USAGE, "misuse: bm_session_copy_in of a COPY TO STDOUT fails with BM_ERR_USAGE");
	TAP_STR_EQ(wrong_in.message, "bm_session_copy_in ran a COPY TO STDOUT: use bm_session_copy_out",
			   "misuse: saying which call to use");
	BMT_REC_IS(c, BM_ERR_USAGE, "misuse: its transaction fails");
	BMT_REC_IS(wrong_out, BM_ERR_USAGE, "misuse: bm_session_copy_out of a COPY FROM STDIN fails with BM_ERR_USAGE");
	TAP_STR_EQ(wrong_out.message, "bm_session_copy_out ran a COPY FROM STDIN: use bm_session_copy_in",
			   "misuse: saying which call to use");
	TAP_INT_EQ(src.next + k.rows, 1, "misuse: neither callback was called");
	bm_session_close(s);
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e;
	bm_sessionmaker *m;

	bmt_guard(300);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS copy_t; CREATE TABLE copy_t (id int PRIMARY KEY, name text)");
	e = bmt_engine(&opts);
	m = bm_sessionmaker_create(e, NULL);
	test_misuse(e, m);
	test_not_run(e, m);
	test_copy_in_and_out(e, m);
	test_between_statements(e, m);
	test_abort_in(e, m);
	test_abort_out(e, m);
	test_bad_data(e, m);
	bm_sessionmaker_free(m);
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE IF EXISTS copy_t");
	PQfinish(check);
	return tap_done();
}
