/*
 * bmtest.h
 *	  Helpers shared by the client tests: a plain libpq connection to check
 *	  what the library did, callback recorders, and a guard against hangs.
 */
#ifndef BM_TEST_BMTEST_H
#define BM_TEST_BMTEST_H

#include <signal.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "basemodel.h"
#include "tap.h"

/* a hang is a failure with a message, not a stuck `make test` */
static inline void
bmt_on_alarm(int sig)
{
	static const char msg[] = "Bail out! test timed out (a callback never came?)\n";

	(void) sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* BMT_SLOW (valgrind, sanitizers) stretches the guard, never a check */
static inline void
bmt_guard(unsigned seconds)
{
	const char *slow = getenv("BMT_SLOW");

	if (slow && atoi(slow) > 1)
		seconds *= (unsigned) atoi(slow);
	/* line by line, so that a hang's log shows how far the test got */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, bmt_on_alarm);
	alarm(seconds);
}

static inline const char *
bmt_url(void)
{
	const char *url = getenv("DATABASE_URL");

	if (url == NULL)
		tap_bail("DATABASE_URL is not set");
	return url;
}

static inline void
bmt_quiet(void *arg, const char *m)
{
	(void) arg;
	(void) m;
}

/* a plain libpq connection, for setting up and checking */
static inline PGconn *
bmt_check_conn(void)
{
	PGconn	   *conn = PQconnectdb(bmt_url());

	if (PQstatus(conn) != CONNECTION_OK)
		tap_bail(PQerrorMessage(conn));
	PQsetNoticeProcessor(conn, bmt_quiet, NULL);
	return conn;
}

static inline void
bmt_exec(PGconn *conn, const char *sql)
{
	PGresult   *res;

	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		printf("# %s: %s", sql, PQresultErrorMessage(res));
		tap_bail("setup statement failed");
	}
	PQclear(res);
}

/* the first value of a query, as a number (-1 if none) */
static inline long
bmt_long(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	long		v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = atol(PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		printf("# %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

static inline bm_engine *
bmt_engine(const bm_engine_options *opts)
{
	bm_error	err;
	bm_engine  *e = bm_engine_create(NULL, opts, &err);

	if (e == NULL)
	{
		printf("# bm_engine_create: %s\n", err.message);
		tap_bail("cannot create an engine");
	}
	return e;
}

/* what one callback saw */
typedef struct bmt_rec
{
	int			calls;			/* how many times it was called */
	int			order;			/* its place among all recorded callbacks */
	int			code;
	char		sqlstate[6];
	char		message[256];
	char		value[64];		/* first value of the first row */
	long		affected;
} bmt_rec;

static int	bmt_seq = 0;

static inline void
bmt_record_err(bmt_rec *r, const bm_error *err)
{
	r->calls++;
	r->order = ++bmt_seq;
	r->code = err ? err->code : -1;
	if (err)
	{
		memcpy(r->sqlstate, err->sqlstate, 6);
		snprintf(r->message, sizeof(r->message), "%s", err->message ? err->message : "(null message)");
	}
}

/* a bm_result_cb that records into the bmt_rec passed as arg */
static inline void
bmt_result_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_rec    *r = arg;

	(void) s;
	bmt_record_err(r, err);
	r->affected = res ? bm_result_affected(res) : -2;
	if (res && bm_result_nrows(res) > 0 && bm_result_value(res, 0, 0))
		snprintf(r->value, sizeof(r->value), "%s", bm_result_value(res, 0, 0));
}

/* a bm_done_cb that records into the bmt_rec passed as arg */
static inline void
bmt_done_cb(bm_session *s, const bm_error *err, void *arg)
{
	(void) s;
	bmt_record_err(arg, err);
}

static inline const char *
bmt_code(int code)
{
	return code < 0 ? "(no callback)" : bm_error_name(code);
}

/* check one recorded callback: called once, with this code */
#define BMT_REC_IS(rec, want, name) \
	tap_ok((rec).calls == 1 && (rec).code == (want), (name), \
		   "expected one callback with %s, got %d callback(s), last %s: %s", \
		   bm_error_name(want), (rec).calls, bmt_code((rec).calls ? (rec).code : -1), (rec).message)

#endif							/* BM_TEST_BMTEST_H */
