/*
 * misuse.c
 *	  Bad URLs and options fail at bm_engine_create with BM_ERR_USAGE and a
 *	  message naming the problem; misuse of every call returns -1 (or NULL)
 *	  with BM_ERR_USAGE and does not crash; an unreachable server fails work
 *	  with BM_ERR_CONNECTION.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

static void
bad_url(const char *url, const char *mention, const char *name)
{
	bm_error	err = {0};
	bm_engine  *e = bm_engine_create(url, NULL, &err);

	tap_ok(e == NULL && err.code == BM_ERR_USAGE && err.message && strstr(err.message, mention),
		   name, "expected NULL and BM_ERR_USAGE mentioning \"%s\", got %s: %s", mention,
		   bm_error_name(err.code), err.message ? err.message : "(null)");
	bm_engine_free(e);
}

#define EXPECT_USAGE(call, name) \
	do { int rc_ = (call); \
		tap_ok(rc_ == -1 && bm_last_error()->code == BM_ERR_USAGE, (name), \
			   "expected -1 and BM_ERR_USAGE, got %d and %s: %s", rc_, \
			   bm_error_name(bm_last_error()->code), bm_last_error()->message); \
	} while (0)

static int	run_from_callback = 0;

static void
on_result_run(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) err;
	run_from_callback = bm_engine_run(arg) == -1 && bm_last_error()->code == BM_ERR_USAGE;
}

int
main(void)
{
	bm_engine  *e;
	bm_sessionmaker *m;
	bm_session *s;
	bm_error	err;
	bmt_rec		r = {0},
				c = {0},
				kw = {0},
				commented = {0},
				rp = {0};
	char	   *saved;
	const char *params[1] = {"1"};

	bmt_guard(60);
	bad_url("nonsense=1", "nonsense", "bad URL: an unknown keyword is named");
	bad_url("host=localhost port", "port", "bad URL: a keyword without a value is named");
	bad_url("postgresql://[::1/db", "IPv6", "bad URL: a broken URL is rejected");
	bad_url("postgres://localhost/db?sslmode=sometimes", "sslmode", "bad URL: an invalid parameter value is named");
	saved = strdup(bmt_url());
	unsetenv("DATABASE_URL");
	bad_url(NULL, "DATABASE_URL", "bad URL: NULL with no DATABASE_URL says so");
	setenv("DATABASE_URL", saved, 1);
	free(saved);
	{
		bm_engine_options neg = {.pool_size = -1};

		e = bm_engine_create(NULL, &neg, &err);
		tap_ok(e == NULL && err.code == BM_ERR_USAGE, "bad options: a negative pool size is refused",
			   "got %s", bm_error_name(err.code));
	}
	{
		bm_engine_options below = {.statement_cache_size = -2};
		bm_engine_options none = {.statement_cache_size = -1};

		e = bm_engine_create(NULL, &below, &err);
		tap_ok(e == NULL && err.code == BM_ERR_USAGE, "bad options: statement_cache_size below -1 is refused",
			   "got %s", bm_error_name(err.code));
		e = bm_engine_create(NULL, &none, &err);
		tap_ok(e != NULL, "options: statement_cache_size -1 (no named statements) is accepted",
			   "got %s: %s", bm_error_name(err.code), err.message);
		bm_engine_free(e);
	}
	{
		bm_engine_options two = {.autocommit_sync_each = 2};

		e = bm_engine_create(NULL, &two, &err);
		tap_ok(e == NULL && err.code == BM_ERR_USAGE && strstr(err.message, "autocommit_sync_each"),
			   "bad options: autocommit_sync_each other than 0 or 1 is refused and named", "got %s: %s",
			   bm_error_name(err.code), err.message ? err.message : "(none)");
	}
	{
		bm_engine_options huge_pool = {.pool_size = 1 << 30};
		bm_engine_options huge_cache = {.statement_cache_size = 1 << 30};

		e = bm_engine_create(NULL, &huge_pool, &err);
		tap_ok(e == NULL && err.code == BM_ERR_USAGE && strstr(err.message, "pool_size"),
			   "bad options: a huge pool size is refused and named", "got %s: %s",
			   bm_error_name(err.code), err.message ? err.message : "(none)");
		e = bm_engine_create(NULL, &huge_cache, &err);
		tap_ok(e == NULL && err.code == BM_ERR_USAGE && strstr(err.message, "statement_cache_size"),
			   "bad options: a huge statement cache is refused and named", "got %s: %s",
			   bm_error_name(err.code), err.message ? err.message : "(none)");
	}

	/* a valid URL of a server that is not there: the failure comes with the work */
	{
		bm_engine_options o = {.pool_size = 2};

		e = bm_engine_create("postgresql://127.0.0.1:1/nowhere?user=nobody&sslmode=disable", &o, &err);
		tap_ok(e != NULL, "unreachable server: the engine is created (it connects lazily)", "%s", err.message);
		m = bm_sessionmaker_create(e, NULL);
		s = bm_session_open(m);
		{
			bmt_rec		a = {0},
						b = {0},
						x = {0},
						cc = {0};

			bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &x);
			bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &a);
			bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &b);
			bm_session_commit(s, bmt_done_cb, &cc);
			TAP_INT_EQ(bm_engine_run(e), 0, "unreachable server: bm_engine_run returns once the work has failed");
			BMT_REC_IS(x, BM_ERR_CONNECTION, "unreachable server: bm_engine_execute gets BM_ERR_CONNECTION");
			BMT_REC_IS(a, BM_ERR_CONNECTION, "unreachable server: the session's first statement gets BM_ERR_CONNECTION");
			BMT_REC_IS(b, BM_ERR_ABORTED, "unreachable server: the next gets BM_ERR_ABORTED");
			BMT_REC_IS(cc, BM_ERR_CONNECTION, "unreachable server: the commit reports the failure");
		}
		bm_engine_free(e);
	}

	e = bmt_engine(NULL);
	m = bm_sessionmaker_create(e, NULL);
	s = bm_session_open(m);
	EXPECT_USAGE(bm_session_execute(s, NULL, 0, NULL, NULL, NULL), "misuse: NULL sql");
	EXPECT_USAGE(bm_session_execute(s, "SELECT $1", -1, NULL, NULL, NULL), "misuse: negative nparams");
	EXPECT_USAGE(bm_session_execute(s, "SELECT $1", 1, NULL, NULL, NULL), "misuse: nparams without params");
	EXPECT_USAGE(bm_session_execute(NULL, "SELECT 1", 0, NULL, NULL, NULL), "misuse: NULL session");
	EXPECT_USAGE(bm_engine_execute(NULL, "SELECT 1", 0, NULL, NULL, NULL), "misuse: NULL engine");
	EXPECT_USAGE(bm_engine_execute(e, NULL, 0, NULL, NULL, NULL), "misuse: NULL sql in bm_engine_execute");
	EXPECT_USAGE(bm_session_commit(s, NULL, NULL), "misuse: commit with nothing executed");
	EXPECT_USAGE(bm_session_rollback(s, NULL, NULL), "misuse: rollback with nothing executed");
	EXPECT_USAGE(bm_engine_run(NULL), "misuse: bm_engine_run(NULL)");
	EXPECT_USAGE(bm_engine_attach(e, NULL), "misuse: attaching no hooks");
	tap_ok(bm_session_open(NULL) == NULL && bm_last_error()->code == BM_ERR_USAGE,
		   "misuse: bm_session_open(NULL) returns NULL", "got %s", bm_error_name(bm_last_error()->code));
	tap_ok(bm_sessionmaker_create(NULL, NULL) == NULL && bm_last_error()->code == BM_ERR_USAGE,
		   "misuse: bm_sessionmaker_create(NULL) returns NULL", "got %s", bm_error_name(bm_last_error()->code));
	{
		bm_session_options bad = {.isolation = 42};

		tap_ok(bm_sessionmaker_create(e, &bad) == NULL && bm_last_error()->code == BM_ERR_USAGE,
			   "misuse: an unknown isolation level is refused", "got %s", bm_error_name(bm_last_error()->code));
	}

	/* statements that would leave a pooled connection in a state the library does not track */
	EXPECT_USAGE(bm_engine_execute(e, "BEGIN", 0, NULL, NULL, NULL), "refused: BEGIN as an autocommit statement");
	EXPECT_USAGE(bm_engine_execute(e, "  start transaction isolation level serializable", 0, NULL, NULL, NULL),
				 "refused: START TRANSACTION, in lower case after blanks");
	EXPECT_USAGE(bm_engine_execute(e, "-- a comment\n/* and another */ COMMIT", 0, NULL, NULL, NULL),
				 "refused: COMMIT after comments");
	EXPECT_USAGE(bm_session_execute(s, "SAVEPOINT a", 0, NULL, NULL, NULL), "refused: SAVEPOINT in a session");
	EXPECT_USAGE(bm_session_execute(s, "ROLLBACK", 0, NULL, NULL, NULL), "refused: ROLLBACK in a session");
	EXPECT_USAGE(bm_session_execute(s, "PREPARE TRANSACTION 'x'", 0, NULL, NULL, NULL), "refused: PREPARE TRANSACTION");
	EXPECT_USAGE(bm_engine_execute(e, "COPY t FROM STDIN", 0, NULL, NULL, NULL), "refused: COPY FROM STDIN");
	EXPECT_USAGE(bm_session_execute(s, "copy (SELECT 1) TO STDOUT", 0, NULL, NULL, NULL), "refused: COPY TO STDOUT in a session");
	tap_ok(strstr(bm_last_error()->message, "COPY") != NULL, "refused: the message names COPY",
		   "got: %s", bm_last_error()->message);
	/* block comments nest in PostgreSQL: the COPY after this one is still seen */
	EXPECT_USAGE(bm_engine_execute(e, "/* a /* nested */ comment */ COPY (SELECT 1) TO STDOUT", 0, NULL, NULL, NULL),
				 "refused: COPY after a nested block comment");
	TAP_INT_EQ(bm_engine_execute(e, "/* BEGIN */ SELECT 1 -- COMMIT", 0, NULL, bmt_result_cb, &commented), 0,
			   "accepted: keywords inside comments");
	TAP_INT_EQ(bm_engine_execute(e, "SELECT 'BEGIN' AS begin_", 0, NULL, bmt_result_cb, &kw), 0,
			   "accepted: a statement that only mentions a keyword");
	TAP_INT_EQ(bm_engine_execute(e, "ROLLBACK PREPARED 'no_such_gid'", 0, NULL, bmt_result_cb, &rp), 0,
			   "accepted: ROLLBACK PREPARED (a two-phase transaction, not the connection's)");
	TAP_INT_EQ(bm_session_execute(s, "SELECT $1::int", 1, params, bmt_result_cb, &r), 0, "misuse: a valid execute is accepted");
	TAP_INT_EQ(bm_session_commit(s, bmt_done_cb, &c), 0, "misuse: the first commit is accepted");
	EXPECT_USAGE(bm_session_commit(s, bmt_done_cb, &c), "misuse: committing twice");
	bm_session_close(s);
	EXPECT_USAGE(bm_session_execute(s, "SELECT 1", 0, NULL, NULL, NULL), "misuse: execute after close");
	EXPECT_USAGE(bm_session_commit(s, NULL, NULL), "misuse: commit after close");
	bm_session_close(s);		/* closing twice is harmless */
	bm_engine_execute(e, "SELECT 1", 0, NULL, on_result_run, e);
	TAP_INT_EQ(bm_engine_run(e), 0, "misuse: the loop still runs the accepted work");
	BMT_REC_IS(r, BM_OK, "misuse: the accepted statement ran");
	BMT_REC_IS(c, BM_OK, "misuse: the accepted commit ran, once");
	BMT_REC_IS(kw, BM_OK, "accepted: the statement mentioning BEGIN ran");
	BMT_REC_IS(commented, BM_OK, "accepted: the statement with keywords in comments ran");
	tap_ok(rp.calls == 1 && rp.code == BM_ERR_SQL && strcmp(rp.sqlstate, "42704") == 0,
		   "accepted: ROLLBACK PREPARED reached the server (42704: no such transaction)",
		   "got %d callback(s), %s %s: %s", rp.calls, bmt_code(rp.code), rp.sqlstate, rp.message);
	tap_ok(run_from_callback, "misuse: bm_engine_run from a callback returns -1 with BM_ERR_USAGE", "it did not");

	TAP_STR_EQ(bm_error_name(BM_ERR_TIMEOUT), "BM_ERR_TIMEOUT", "bm_error_name names the codes");
	TAP_STR_EQ(bm_error_name(999), "BM_ERR_UNKNOWN", "bm_error_name of an unknown code");
	tap_ok(bm_result_nrows(NULL) == 0 && bm_result_value(NULL, 0, 0) == NULL &&
		   bm_result_isnull(NULL, 0, 0) == 1 && bm_result_colname(NULL, 0) == NULL &&
		   bm_result_affected(NULL) == -1 && bm_result_copy(NULL) == NULL,
		   "misuse: result functions accept NULL", "one did not");
	bm_sessionmaker_free(m);
	bm_engine_free(e);
	bm_engine_free(NULL);
	return tap_done();
}
