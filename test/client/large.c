/*
 * large.c
 *	  Batches larger than the socket buffers, both ways: a session of
 *	  100,000 statements and a commit sent at once (the server's answers
 *	  fill our receive buffer while we are still writing), and a 10 MB
 *	  parameter whose value comes back as a 10 MB result, through the
 *	  built-in loop and with an autocommit statement.  Neither may deadlock,
 *	  and every callback comes once, in order.  Then parameters of tens of
 *	  megabytes (sent by a flusher thread): one checked by the server (length
 *	  and md5), and one sent while the server answers a large result of the
 *	  same batch, so that the flusher must read while it writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define BIG (10 * 1024 * 1024)

static int	next_expected = 0;
static int	in_order = 0;

/* each statement's callback checks it comes in turn and answers its own number */
static void
numbered_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	int			n = (int) (long) arg;

	(void) s;
	if (n == next_expected && err->code == BM_OK && res && atoi(bm_result_value(res, 0, 0)) == n)
		in_order++;
	next_expected = n + 1;
}

static void
test_many_statements(bm_engine *e, int count)
{
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		c = {0};
	bm_engine_stats before,
				after;
	int			i;

	bm_engine_get_stats(e, &before);
	for (i = 0; i < count; i++)
	{
		char		n[16];
		const char *params[1] = {n};

		snprintf(n, sizeof(n), "%d", i);
		bm_session_execute(s, "SELECT $1::int", 1, params, numbered_cb, (void *) (long) i);
	}
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "many: bm_engine_run returns 0 after the whole batch");
	bm_engine_get_stats(e, &after);
	TAP_INT_EQ(in_order, count, "many: every statement of a batch larger than the socket buffers answers once, in order");
	BMT_REC_IS(c, BM_OK, "many: the commit succeeds");
	TAP_INT_EQ(after.syncs - before.syncs, 1, "many: the whole unit is one Sync");
	bm_session_close(s);
	bm_sessionmaker_free(m);
}

static char *big;

static void
big_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_rec    *r = arg;
	const char *v = res ? bm_result_value(res, 0, 0) : NULL;

	(void) s;
	bmt_record_err(r, err);
	/* value: "same" when the 10 MB came back unchanged */
	snprintf(r->value, sizeof(r->value), "%s",
			 v == NULL ? "(null)" : (strlen(v) == BIG && memcmp(v, big, BIG) == 0) ? "same" : "different");
}

static void
test_big_value(bm_engine *e)
{
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	const char *params[1];
	bmt_rec		a = {0},
				b = {0},
				c = {0};
	int			i;

	big = malloc(BIG + 1);
	for (i = 0; i < BIG; i++)
		big[i] = 'a' + i % 26;
	big[BIG] = '\0';
	params[0] = big;
	bm_engine_execute(e, "SELECT $1::text", 1, params, big_cb, &a);
	bm_session_execute(s, "SELECT $1::text", 1, params, big_cb, &b);
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "big: bm_engine_run returns 0");
	tap_ok(a.calls == 1 && a.code == BM_OK && strcmp(a.value, "same") == 0,
		   "big: a 10 MB parameter goes out and comes back unchanged (autocommit)",
		   "got %d callback(s), %s: %s (%s)", a.calls, bmt_code(a.code), a.message, a.value);
	tap_ok(b.calls == 1 && b.code == BM_OK && strcmp(b.value, "same") == 0,
		   "big: and in a session", "got %d callback(s), %s: %s (%s)", b.calls, bmt_code(b.code), b.message, b.value);
	BMT_REC_IS(c, BM_OK, "big: the session commits");
	free(big);
	bm_session_close(s);
	bm_sessionmaker_free(m);
}

/* the server's verdict on a huge parameter: "<length> <same md5 as expected>" */
static void
verdict_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_rec    *r = arg;

	(void) s;
	bmt_record_err(r, err);
	snprintf(r->value, sizeof(r->value), "%s %s", res ? bm_result_value(res, 0, 0) : "(null)",
			 res ? bm_result_value(res, 0, 1) : "(null)");
}

/* a value of letters repeated n times, the server builds the same with repeat() */
static char *
letters(long n)
{
	char	   *v = malloc(26 * n + 1);
	long		i;

	for (i = 0; i < 26 * n; i++)
		v[i] = 'a' + i % 26;
	v[26 * n] = '\0';
	return v;
}

static void
test_huge_value(bm_engine *e, long n)
{
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	char	   *v = letters(n);
	char		count[32],
				expected[64];
	const char *params[2] = {v, count};
	const char *sql = "SELECT length($1::text), md5($1::text) = md5(repeat('abcdefghijklmnopqrstuvwxyz', $2::int))";
	bmt_rec		a = {0},
				b = {0},
				r = {0},
				c = {0};

	snprintf(count, sizeof(count), "%ld", n);
	snprintf(expected, sizeof(expected), "%ld t", 26 * n);
	bm_engine_execute(e, sql, 2, params, verdict_cb, &a);
	/* the server sends this result while the parameter after it is still on its way */
	bm_session_execute(s, "SELECT repeat('x', 20000000)", 0, NULL, bmt_result_cb, &r);
	bm_session_execute(s, sql, 2, params, verdict_cb, &b);
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "huge: bm_engine_run returns 0");
	tap_ok(a.calls == 1 && a.code == BM_OK && strcmp(a.value, expected) == 0,
		   "huge: a parameter of tens of megabytes arrives whole (length and md5 checked by the server)",
		   "expected \"%s\", got %d callback(s), %s: %s (%s)", expected, a.calls, bmt_code(a.code), a.message, a.value);
	BMT_REC_IS(r, BM_OK, "huge: a 20 MB result sent while the parameter goes out is read");
	tap_ok(b.calls == 1 && b.code == BM_OK && strcmp(b.value, expected) == 0,
		   "huge: and the parameter after it arrives whole",
		   "expected \"%s\", got %d callback(s), %s: %s (%s)", expected, b.calls, bmt_code(b.code), b.message, b.value);
	BMT_REC_IS(c, BM_OK, "huge: the session commits");
	free(v);
	bm_session_close(s);
	bm_sessionmaker_free(m);
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e;
	const char *slow = getenv("BMT_SLOW");

	bmt_guard(120);
	e = bmt_engine(&opts);
	/* valgrind runs 20,000: still several megabytes each way */
	test_many_statements(e, slow && atoi(slow) >= 4 ? 20000 : 100000);
	test_big_value(e);
	/* 64 MB; valgrind 5 MB */
	test_huge_value(e, slow && atoi(slow) >= 4 ? 200000 : 2600000);
	bm_engine_free(e);
	return tap_done();
}
