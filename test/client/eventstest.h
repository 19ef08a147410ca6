/*
 * eventstest.h
 *	  The server's events under one event loop (events.c: the built-in
 *	  bm_engine_run; events_libuv.c: the libuv adapter): notices from a DO
 *	  block and from basemodel.register, none on stderr without a handler;
 *	  LISTEN on a channel that needs quoting, across a kill of the listen
 *	  connection (one gap callback per channel, then notifications again),
 *	  the connection closed after the last UNLISTEN, and a flood of 150,000
 *	  notifications in bounded memory; bm_session_cancel of a running
 *	  statement, of one that already finished (harmless, also when its
 *	  answer is still unread), and the cancel of running statements by
 *	  bm_engine_free (the row lock they held is free again).  Each scenario
 *	  ends by freeing its engine from a callback, which ends either loop.
 */
#ifndef BM_TEST_EVENTSTEST_H
#define BM_TEST_EVENTSTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmtest.h"

#define EVT_FLOOD 150000
#define EVT_STR_(x) #x
#define EVT_STR(x) EVT_STR_(x)
#define EVT_FLOOD_RSS_MAX (2L * 1024 * 1024)
/* a channel name that is nothing without its quotes */
#define EVT_ODD_CHANNEL "Evt \"odd\"; chan\\nel"

/* how one event loop runs an engine */
typedef struct evt_loop
{
	const char *name;			/* as test names say it */
	void		(*attach) (bm_engine *e);	/* attach the loop (nothing for the built-in one) */
	void		(*run) (bm_engine *e);	/* run until a callback frees e */
} evt_loop;

static const evt_loop *evt_the_loop;
static PGconn *evt_check;

/* a check's name: the loop's, then what */
static inline const char *
evt_name(const char *what)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s: %s", evt_the_loop->name, what);
	return buf;
}

/* an engine named app (its connections' application_name), attached to the loop */
static inline bm_engine *
evt_engine(const char *app, int pool_size)
{
	static char appname[64];
	bm_engine_options opts = {.pool_size = pool_size};
	bm_engine  *e;

	snprintf(appname, sizeof(appname), "evt_%s_%s", evt_the_loop->name, app);
	opts.application_name = appname;
	e = bmt_engine(&opts);
	evt_the_loop->attach(e);
	return e;
}

/* a wait in progress: the condition, and whom to call when it holds */
typedef struct evt_waiter
{
	bm_engine  *e;
	char		cond[512];
	bm_result_cb cb;
	void	   *arg;
} evt_waiter;

static void evt_wait_check(bm_session *s, const bm_result *res, const bm_error *err, void *arg);

/* ask the server once more (after 10 ms): each ask is a transaction of its own, with fresh statistics */
static inline void
evt_wait_ask(evt_waiter *w, int pause)
{
	const char *params[1] = {w->cond};

	if (bm_engine_execute(w->e, pause ? "SELECT pg_sleep(0.01), evt_cond($1)" : "SELECT NULL, evt_cond($1)",
						  1, params, evt_wait_check, w) != 0)
		tap_bail("cannot queue the wait");
}

/* the condition's answer: call the waiter's callback, or ask again */
static void
evt_wait_check(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	evt_waiter *w = arg;

	if (err->code == BM_OK && strcmp(bm_result_value(res, 0, 1), "f") == 0)
	{
		evt_wait_ask(w, 1);
		return;
	}
	w->cb(s, res, err, w->arg);
	free(w);
}

/* queue "wait on the server until cond (a query of one boolean) holds" on e, then call cb */
static inline void
evt_wait(bm_engine *e, const char *cond, bm_result_cb cb, void *arg)
{
	evt_waiter *w = calloc(1, sizeof(*w));

	w->e = e;
	snprintf(w->cond, sizeof(w->cond), "%s", cond);
	w->cb = cb;
	w->arg = arg;
	evt_wait_ask(w, 0);
}

/* a condition on the backends of application app_suffix's engine */
static inline const char *
evt_cond(const char *fmt, const char *app)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), fmt, evt_the_loop->name, app);
	return buf;
}

/* ---- notices ---- */

#define EVT_NOTICES 8

static struct
{
	int			n;
	struct
	{
		char		severity[16];
		char		sqlstate[6];
		char		message[128];
		char		detail[64];
		char		hint[64];
		int			code;
		int			order;
	}			got[EVT_NOTICES];
	bmt_rec		block;
	bmt_rec		reg;
} evt_notices;

/* the notice handler: records every notice */
static void
evt_on_notice(bm_engine *e, const bm_error *n, void *arg)
{
	(void) e;
	(void) arg;
	if (evt_notices.n >= EVT_NOTICES)
		return;
	snprintf(evt_notices.got[evt_notices.n].severity, 16, "%s", n->severity ? n->severity : "(null)");
	memcpy(evt_notices.got[evt_notices.n].sqlstate, n->sqlstate, 6);
	snprintf(evt_notices.got[evt_notices.n].message, 128, "%s", n->message ? n->message : "(null)");
	snprintf(evt_notices.got[evt_notices.n].detail, 64, "%s", n->detail ? n->detail : "(null)");
	snprintf(evt_notices.got[evt_notices.n].hint, 64, "%s", n->hint ? n->hint : "(null)");
	evt_notices.got[evt_notices.n].code = n->code;
	evt_notices.got[evt_notices.n++].order = ++bmt_seq;
}

static bm_engine *evt_engine_now;

/* a callback that frees the scenario's engine */
static void
evt_free_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (arg)
		bmt_result_cb(s, res, err, arg);
	bm_engine_free(evt_engine_now);
}

/* check one recorded notice */
static inline void
evt_notice_is(int i, const char *severity, const char *sqlstate, const char *message,
			  const char *detail, const char *hint, const char *what)
{
	tap_ok(i < evt_notices.n && strcmp(evt_notices.got[i].severity, severity) == 0 &&
		   strcmp(evt_notices.got[i].sqlstate, sqlstate) == 0 &&
		   strcmp(evt_notices.got[i].message, message) == 0 &&
		   strcmp(evt_notices.got[i].detail, detail) == 0 &&
		   strcmp(evt_notices.got[i].hint, hint) == 0 && evt_notices.got[i].code == BM_OK,
		   evt_name(what), "expected %s %s \"%s\" detail \"%s\" hint \"%s\", got %s %s \"%s\" detail \"%s\" hint \"%s\" code %d (%d notices)",
		   severity, sqlstate, message, detail, hint,
		   i < evt_notices.n ? evt_notices.got[i].severity : "-", i < evt_notices.n ? evt_notices.got[i].sqlstate : "-",
		   i < evt_notices.n ? evt_notices.got[i].message : "-", i < evt_notices.n ? evt_notices.got[i].detail : "-",
		   i < evt_notices.n ? evt_notices.got[i].hint : "-", i < evt_notices.n ? evt_notices.got[i].code : -1,
		   evt_notices.n);
}

#define EVT_DO_BLOCK \
	"DO $$ BEGIN " \
	"RAISE NOTICE 'n1 %', 1 USING DETAIL = 'notice detail', HINT = 'notice hint'; " \
	"RAISE WARNING 'w1' USING ERRCODE = '01P01', DETAIL = 'warning detail', HINT = 'warning hint'; " \
	"RAISE INFO 'i1' USING ERRCODE = '01X42'; " \
	"RAISE DEBUG 'never sent at the default client_min_messages'; " \
	"END $$"

/* notices of a DO block and of register reach the handler, before their statements' callbacks */
static void
evt_test_notices(void)
{
	bm_engine  *e = evt_engine("notice", 2);

	memset(&evt_notices, 0, sizeof(evt_notices));
	bmt_exec(evt_check, "DROP TABLE IF EXISTS evt_reg; CREATE TABLE evt_reg (name text); "
			 "INSERT INTO evt_reg VALUES ('a row')");
	TAP_INT_EQ(bm_engine_on_notice(e, evt_on_notice, NULL), 0, evt_name("notices: the handler is set"));
	evt_engine_now = e;
	bm_engine_execute(e, EVT_DO_BLOCK, 0, NULL, bmt_result_cb, &evt_notices.block);
	bm_engine_execute(e, "SELECT basemodel.register('evt_reg')", 0, NULL, evt_free_cb, &evt_notices.reg);
	evt_the_loop->run(e);
	BMT_REC_IS(evt_notices.block, BM_OK, evt_name("notices: the DO block succeeds"));
	BMT_REC_IS(evt_notices.reg, BM_OK, evt_name("notices: register succeeds"));
	TAP_INT_EQ(evt_notices.n, 4, evt_name("notices: three from the DO block and one from register, none for DEBUG"));
	evt_notice_is(0, "NOTICE", "00000", "n1 1", "notice detail", "notice hint",
				  "notices: RAISE NOTICE with its message, DETAIL and HINT");
	evt_notice_is(1, "WARNING", "01P01", "w1", "warning detail", "warning hint",
				  "notices: RAISE WARNING with its ERRCODE");
	evt_notice_is(2, "INFO", "01X42", "i1", "(null)", "(null)", "notices: RAISE INFO, no detail or hint");
	evt_notice_is(3, "NOTICE", "00000", "adding column \"id\" to table \"evt_reg\" rewrites the table", "(null)",
				  "(null)", "notices: register's own NOTICE");
	tap_ok(evt_notices.n == 4 && evt_notices.got[2].order < evt_notices.block.order &&
		   evt_notices.block.order < evt_notices.got[3].order && evt_notices.got[3].order < evt_notices.reg.order,
		   evt_name("notices: each before the callback of the statement that raised it"), "out of order");
}

/* without a handler nothing is printed: stderr goes to a file for the scenario */
static void
evt_test_quiet(void)
{
	bm_engine  *e = evt_engine("quiet", 2);
	FILE	   *f = tmpfile();
	int			saved = dup(2);
	bmt_rec		block = {0},
				block2 = {0};
	struct stat st;
	long		size;

	evt_engine_now = e;
	fflush(stderr);
	dup2(fileno(f), 2);
	bm_engine_execute(e, EVT_DO_BLOCK, 0, NULL, bmt_result_cb, &block);
	bm_engine_on_notice(e, evt_on_notice, NULL);
	bm_engine_on_notice(e, NULL, NULL);
	bm_engine_execute(e, EVT_DO_BLOCK, 0, NULL, evt_free_cb, &block2);
	evt_the_loop->run(e);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	size = fstat(fileno(f), &st) == 0 ? (long) st.st_size : -1;
	fclose(f);
	BMT_REC_IS(block, BM_OK, evt_name("quiet: the DO block succeeds without a handler"));
	BMT_REC_IS(block2, BM_OK, evt_name("quiet: and after the handler is removed"));
	TAP_INT_EQ(size, 0, evt_name("quiet: nothing was written on stderr"));
}

/* ---- LISTEN ---- */

static struct
{
	bm_engine  *e;
	int			phase;
	int			odd_got;
	int			plain_got;
	int			gaps_odd;
	int			gaps_plain;
	int			gap_bad;		/* a gap callback with a payload or pid */
	int			bad_channel;
	char		odd_payload[64];
	int			odd_pid;
	char		notifier_pid[16];
	int			after_got;
	char		after_payload[64];
	long		killed;
	long		closed;			/* after the last unlisten, listen backends left */
} evt_listen;

static void evt_listen_notify(bm_engine *e, const char *channel, const char *payload, int pid, void *arg);

/* the notifier's pid, as pg_notify's statement returned it */
static void
evt_listen_notified(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	if (err->code == BM_OK)
		snprintf(evt_listen.notifier_pid, sizeof(evt_listen.notifier_pid), "%s", bm_result_value(res, 0, 0));
}

/* send a notification on channel from the pool */
static void
evt_notify(bm_engine *e, const char *channel, const char *payload)
{
	const char *params[2] = {channel, payload};

	bm_engine_execute(e, "SELECT pg_backend_pid() FROM pg_notify($1, $2)", 2, params, evt_listen_notified, NULL);
}

/* the listen connection is up: notify both channels */
static void
evt_listen_ready(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) arg;
	if (err->code != BM_OK)
		printf("# evt_wait: %s\n", err->message);
	evt_notify(evt_listen.e, EVT_ODD_CHANNEL, "odd payload");
	evt_notify(evt_listen.e, "evt_plain", "plain payload");
}

/* the kill's result: how many backends went */
static void
evt_listen_killed(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	evt_listen.killed = err->code == BM_OK ? atol(bm_result_value(res, 0, 0)) : -1;
}

/* the listen connection is gone after the last unlisten: the scenario ends */
static void
evt_listen_closed(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	evt_listen.closed = err->code == BM_OK ? 0 : -1;
	(void) arg;
	bm_engine_free(evt_listen.e);
}

/* every notification and gap callback of the scenario */
static void
evt_listen_notify(bm_engine *e, const char *channel, const char *payload, int pid, void *arg)
{
	int			odd = strcmp(channel, EVT_ODD_CHANNEL) == 0;

	if (e != evt_listen.e || (!odd && strcmp(channel, "evt_plain") != 0) || arg != &evt_listen)
		evt_listen.bad_channel++;
	if (payload == NULL)
	{
		evt_listen.gap_bad += pid != 0;
		if (odd)
			evt_listen.gaps_odd++;
		else
			evt_listen.gaps_plain++;
		/* both channels are listened to again: a new notification gets through */
		if (evt_listen.gaps_odd + evt_listen.gaps_plain == 2)
			evt_notify(e, EVT_ODD_CHANNEL, "after the gap");
		return;
	}
	if (evt_listen.phase == 0)
	{
		if (odd)
		{
			evt_listen.odd_got++;
			snprintf(evt_listen.odd_payload, sizeof(evt_listen.odd_payload), "%s", payload);
			evt_listen.odd_pid = pid;
		}
		else
			evt_listen.plain_got++;
		if (evt_listen.odd_got + evt_listen.plain_got == 2)
		{
			evt_listen.phase = 1;
			bm_engine_execute(e, evt_cond("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
										  "WHERE application_name = 'evt_%s_%s' AND query LIKE 'LISTEN %%'", "listen"),
							  0, NULL, evt_listen_killed, NULL);
		}
		return;
	}
	evt_listen.after_got++;
	snprintf(evt_listen.after_payload, sizeof(evt_listen.after_payload), "%s", payload);
	bm_engine_unlisten(e, EVT_ODD_CHANNEL);
	bm_engine_unlisten(e, "evt_plain");
	evt_wait(e, evt_cond("SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'evt_%s_%s' "
						 "AND query LIKE 'LISTEN %%')", "listen"), evt_listen_closed, NULL);
}

/* misuse of listen and unlisten is refused */
static void
evt_test_listen_misuse(void)
{
	bm_engine  *e = evt_engine("misuse", 1);
	char		longname[80];

	memset(longname, 'x', 64);
	longname[64] = '\0';
	TAP_INT_EQ(bm_engine_listen(e, "", evt_listen_notify, NULL), -1, evt_name("listen: an empty channel is refused"));
	TAP_INT_EQ(bm_engine_listen(e, longname, evt_listen_notify, NULL), -1,
			   evt_name("listen: a channel of 64 bytes is refused (the server would truncate it)"));
	TAP_INT_EQ(bm_engine_listen(e, "x", NULL, NULL), -1, evt_name("listen: a NULL callback is refused"));
	TAP_INT_EQ(bm_engine_unlisten(e, "never"), -1, evt_name("unlisten: a channel not listened to is refused"));
	TAP_INT_EQ(bm_last_error()->code, BM_ERR_USAGE, evt_name("unlisten: with BM_ERR_USAGE"));
	TAP_INT_EQ(bm_session_cancel(NULL), -1, evt_name("cancel: a NULL session is refused"));
	bm_engine_free(e);
}

/* LISTEN on a quoted channel, across a kill of the listen connection, then UNLISTEN */
static void
evt_test_listen(void)
{
	bm_engine  *e = evt_engine("listen", 2);
	char		pid[16];

	memset(&evt_listen, 0, sizeof(evt_listen));
	evt_listen.e = e;
	evt_listen.killed = evt_listen.closed = -1;
	TAP_INT_EQ(bm_engine_listen(e, EVT_ODD_CHANNEL, evt_listen_notify, &evt_listen), 0,
			   evt_name("listen: a channel that needs quoting is accepted"));
	TAP_INT_EQ(bm_engine_listen(e, "evt_plain", evt_listen_notify, &evt_listen), 0,
			   evt_name("listen: a second channel"));
	evt_wait(e, evt_cond("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'evt_%s_%s' "
						 "AND state = 'idle' AND query LIKE 'LISTEN %%')", "listen"), evt_listen_ready, NULL);
	evt_the_loop->run(e);
	TAP_INT_EQ(evt_listen.bad_channel, 0, evt_name("listen: every callback names one of the channels, with its engine and arg"));
	TAP_INT_EQ(evt_listen.odd_got, 1, evt_name("listen: the quoted channel's notification arrives once"));
	TAP_STR_EQ(evt_listen.odd_payload, "odd payload", evt_name("listen: with its payload"));
	snprintf(pid, sizeof(pid), "%d", evt_listen.odd_pid);
	tap_ok(evt_listen.odd_pid > 0, evt_name("listen: and the notifying backend's pid"), "got %d", evt_listen.odd_pid);
	TAP_INT_EQ(evt_listen.plain_got, 1, evt_name("listen: the other channel's notification arrives once"));
	TAP_INT_EQ(evt_listen.killed, 1, evt_name("listen: the listen connection (one backend, outside the pool) was killed"));
	TAP_INT_EQ(evt_listen.gaps_odd, 1, evt_name("listen: after the kill, one gap callback on the quoted channel"));
	TAP_INT_EQ(evt_listen.gaps_plain, 1, evt_name("listen: and one on the other"));
	TAP_INT_EQ(evt_listen.gap_bad, 0, evt_name("listen: gap callbacks have payload NULL and pid 0"));
	TAP_INT_EQ(evt_listen.after_got, 1, evt_name("listen: re-listened: a notification after the gap arrives"));
	TAP_STR_EQ(evt_listen.after_payload, "after the gap", evt_name("listen: with its payload"));
	TAP_INT_EQ(evt_listen.closed, 0, evt_name("listen: after the last unlisten the listen connection is closed"));
}

/* ---- the flood ---- */

static struct
{
	bm_engine  *e;
	long		got;
	long		rss_before;
	long		rss_after;
	long		bad;
	bmt_rec		notify;
} evt_flood;

/* resident set size of the process in bytes, -1 if unknown */
static inline long
evt_rss(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	long		size = -1,
				resident = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* one notification of the flood; after the last, measure and free */
static void
evt_flood_notify(bm_engine *e, const char *channel, const char *payload, int pid, void *arg)
{
	(void) channel;
	(void) pid;
	(void) arg;
	if (payload == NULL || strlen(payload) != 256)
		evt_flood.bad++;
	if (++evt_flood.got == EVT_FLOOD)
	{
		evt_flood.rss_after = evt_rss();
		bm_engine_free(e);
	}
}

/* the listen connection is up: measure, then 150,000 notifications in one transaction */
static void
evt_flood_ready(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) err;
	(void) arg;
	evt_flood.rss_before = evt_rss();
	bm_engine_execute(evt_flood.e, "SELECT count(pg_notify('evt_flood', lpad(i::text, 256, 'x'))) "
					  "FROM generate_series(1, " EVT_STR(EVT_FLOOD) ") i", 0, NULL, bmt_result_cb, &evt_flood.notify);
}

/* a flood of notifications is delivered in bounded memory */
static void
evt_test_flood(void)
{
	const char *slow = getenv("BMT_SLOW");

	memset(&evt_flood, 0, sizeof(evt_flood));
	evt_flood.e = evt_engine("flood", 1);
	bm_engine_listen(evt_flood.e, "evt_flood", evt_flood_notify, NULL);
	evt_wait(evt_flood.e, evt_cond("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'evt_%s_%s' "
								   "AND state = 'idle' AND query LIKE 'LISTEN %%')", "flood"), evt_flood_ready, NULL);
	evt_the_loop->run(evt_flood.e);
	BMT_REC_IS(evt_flood.notify, BM_OK, evt_name("flood: 150,000 notifications sent in one transaction"));
	TAP_INT_EQ(evt_flood.got, EVT_FLOOD, evt_name("flood: every one delivered"));
	TAP_INT_EQ(evt_flood.bad, 0, evt_name("flood: each with its 256-byte payload"));
	printf("# flood: RSS %ld kB before, %ld kB after %d notifications: growth %ld kB\n",
		   evt_flood.rss_before / 1024, evt_flood.rss_after / 1024, EVT_FLOOD,
		   (evt_flood.rss_after - evt_flood.rss_before) / 1024);
	if (slow && atoi(slow) > 1)
		printf("ok %d - %s # SKIP valgrind and ASan hold memory of their own\n", ++tap_count,
			   evt_name("flood: RSS growth at most 2 MiB once delivered"));
	else
		tap_ok(evt_flood.rss_before > 0 && evt_flood.rss_after - evt_flood.rss_before <= EVT_FLOOD_RSS_MAX,
			   evt_name("flood: RSS growth at most 2 MiB once delivered"), "grew by %ld kB",
			   (evt_flood.rss_after - evt_flood.rss_before) / 1024);
}

/* ---- cancel ---- */

static struct
{
	bm_engine  *e;
	bm_session *s;
	bmt_rec		first;
	bmt_rec		sleep;
	bmt_rec		after;
	bmt_rec		commit;
	bmt_rec		next;
	int			rc;
	int			rc_idle;
	bmt_rec		pid;
	bmt_rec		slept;
	bmt_rec		slept2;
	bmt_rec		commit2;
} evt_cancel;

/* the commit reported the cancel: the connection takes the next unit */
static void
evt_cancel_committed(bm_session *s, const bm_error *err, void *arg)
{
	bmt_done_cb(s, err, arg);
	bm_session_execute(s, "SELECT 3", 0, NULL, evt_free_cb, &evt_cancel.next);
}

/* the sleep runs on the server: cancel it */
static void
evt_cancel_now(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) arg;
	if (err->code != BM_OK)
		printf("# evt_wait: %s\n", err->message);
	evt_cancel.rc = bm_session_cancel(evt_cancel.s);
}

/* a running statement is cancelled: 57014, the rest ABORTED, the commit reports it */
static void
evt_test_cancel(void)
{
	bm_engine  *e = evt_engine("cancel", 2);
	bm_session *s = bm_session_open(bm_sessionmaker_create(e, NULL));

	memset(&evt_cancel, 0, sizeof(evt_cancel));
	evt_engine_now = e;
	evt_cancel.s = s;
	evt_cancel.rc = -2;
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &evt_cancel.first);
	bm_session_execute(s, "SELECT pg_sleep(60)", 0, NULL, bmt_result_cb, &evt_cancel.sleep);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &evt_cancel.after);
	bm_session_commit(s, evt_cancel_committed, &evt_cancel.commit);
	evt_wait(e, evt_cond("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'evt_%s_%s' "
						 "AND state = 'active' AND query = 'SELECT pg_sleep(60)')", "cancel"), evt_cancel_now, NULL);
	evt_the_loop->run(e);
	TAP_INT_EQ(evt_cancel.rc, 1, evt_name("cancel: bm_session_cancel returns 1: a request was sent"));
	BMT_REC_IS(evt_cancel.first, BM_OK, evt_name("cancel: the statement before is unaffected"));
	BMT_REC_IS(evt_cancel.sleep, BM_ERR_SQL, evt_name("cancel: the running statement fails with BM_ERR_SQL"));
	TAP_STR_EQ(evt_cancel.sleep.sqlstate, "57014", evt_name("cancel: SQLSTATE 57014"));
	BMT_REC_IS(evt_cancel.after, BM_ERR_ABORTED, evt_name("cancel: the rest of the transaction is BM_ERR_ABORTED"));
	BMT_REC_IS(evt_cancel.commit, BM_ERR_SQL, evt_name("cancel: the commit reports the cancel"));
	TAP_STR_EQ(evt_cancel.commit.sqlstate, "57014", evt_name("cancel: with its SQLSTATE"));
	BMT_REC_IS(evt_cancel.next, BM_OK, evt_name("cancel: the session's next transaction works"));
}

/* the last commit of the scenario: free the engine */
static void
evt_cancel_last(bm_session *s, const bm_error *err, void *arg)
{
	bmt_done_cb(s, err, arg);
	bm_engine_free(evt_engine_now);
}

/* the session's statement has finished on the server, its answer is unread: cancel, then more work */
static void
evt_cancel_late(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	char		sql[400];

	(void) s;
	(void) res;
	(void) err;
	(void) arg;
	/* the backend finished the sleep and waits for its next command (the loop waits too) */
	snprintf(sql, sizeof(sql), "SELECT evt_cond($$SELECT wait_event = 'ClientRead' AND query = 'SELECT pg_sleep(1)' "
			 "FROM pg_stat_activity WHERE pid = %s$$)::int", evt_cancel.pid.value);
	while (bmt_long(evt_check, sql) == 0)
		usleep(10000);
	evt_cancel.rc = bm_session_cancel(evt_cancel.s);
	/* without the hold on the connection, the cancel would land in this sleep */
	bm_session_execute(evt_cancel.s, "SELECT pg_sleep(0.3)", 0, NULL, bmt_result_cb, &evt_cancel.slept2);
	bm_session_commit(evt_cancel.s, evt_cancel_last, &evt_cancel.commit2);
}

/* the pid is known: a statement that finishes while the engine looks away */
static void
evt_cancel_pid(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_execute(s, "SELECT pg_sleep(1)", 0, NULL, bmt_result_cb, &evt_cancel.slept);
	bm_engine_execute(evt_cancel.e, "SELECT 1", 0, NULL, evt_cancel_late, NULL);
}

/* the first statement answered, nothing else sent: the session is idle in its transaction */
static void
evt_cancel_idle(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	evt_cancel.rc_idle = bm_session_cancel(s);
	bm_session_execute(s, "SELECT pg_backend_pid()", 0, NULL, evt_cancel_pid, &evt_cancel.pid);
}

/* cancelling what already finished is harmless: nothing sent when idle, nothing hit after */
static void
evt_test_cancel_finished(void)
{
	bm_engine  *e = evt_engine("late", 2);
	bm_session *s = bm_session_open(bm_sessionmaker_create(e, NULL));

	memset(&evt_cancel, 0, sizeof(evt_cancel));
	evt_engine_now = e;
	evt_cancel.e = e;
	evt_cancel.s = s;
	evt_cancel.rc = evt_cancel.rc_idle = -2;
	TAP_INT_EQ(bm_session_cancel(s), 0, evt_name("cancel: a session that has sent nothing has nothing to cancel"));
	bm_session_execute(s, "SELECT 1", 0, NULL, evt_cancel_idle, &evt_cancel.first);
	evt_the_loop->run(e);
	TAP_INT_EQ(evt_cancel.rc_idle, 0, evt_name("cancel: an idle session (its statement answered) sends no request"));
	BMT_REC_IS(evt_cancel.pid, BM_OK, evt_name("cancel: its next statement runs"));
	TAP_INT_EQ(evt_cancel.rc, 1, evt_name("cancel: a late cancel is sent while the finished statement's answer is unread"));
	BMT_REC_IS(evt_cancel.slept, BM_OK, evt_name("cancel: the statement that had finished keeps its result"));
	BMT_REC_IS(evt_cancel.slept2, BM_OK, evt_name("cancel: a statement queued after the late cancel is not hit"));
	BMT_REC_IS(evt_cancel.commit2, BM_OK, evt_name("cancel: and the transaction commits"));
}

/* the session's sleep holds a row lock: free the engine under it */
static void
evt_free_now(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) arg;
	if (err->code != BM_OK)
		printf("# evt_wait: %s\n", err->message);
	bm_engine_free(evt_engine_now);
}

/* bm_engine_free cancels the statements still running: their locks go */
static void
evt_test_cancel_at_free(void)
{
	bm_engine  *e = evt_engine("free", 2);
	bm_session *s = bm_session_open(bm_sessionmaker_create(e, NULL));
	bmt_rec		sleep = {0};
	PGresult   *res;

	evt_engine_now = e;
	bmt_exec(evt_check, "DROP TABLE IF EXISTS evt_lock; CREATE TABLE evt_lock (id int PRIMARY KEY); "
			 "INSERT INTO evt_lock VALUES (1)");
	bm_session_execute(s, "UPDATE evt_lock SET id = id WHERE id = 1", 0, NULL, NULL, NULL);
	bm_session_execute(s, "SELECT pg_sleep(60)", 0, NULL, bmt_result_cb, &sleep);
	evt_wait(e, evt_cond("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'evt_%s_%s' "
						 "AND state = 'active' AND query = 'SELECT pg_sleep(60)')", "free"), evt_free_now, NULL);
	evt_the_loop->run(e);
	BMT_REC_IS(sleep, BM_ERR_CLOSED, evt_name("free: the running statement gets BM_ERR_CLOSED"));
	bmt_exec(evt_check, "SET lock_timeout = '30s'");
	res = PQexec(evt_check, "UPDATE evt_lock SET id = id WHERE id = 1");
	tap_ok(PQresultStatus(res) == PGRES_COMMAND_OK, evt_name("free: another connection takes the row lock afterwards"),
		   "the UPDATE failed: %s", PQresultErrorMessage(res));
	PQclear(res);
	bmt_exec(evt_check, "RESET lock_timeout");
	/* whatever the outcome, no backend of the test's is left behind */
	bmt_exec(evt_check, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'evt_%'");
}

/* run every scenario under loop; the test's exit status */
static inline int
evt_main(const evt_loop *loop)
{
	evt_the_loop = loop;
	bmt_guard(60);
	evt_check = bmt_check_conn();
	bmt_exec(evt_check, "CREATE EXTENSION IF NOT EXISTS basemodel");
	bmt_exec(evt_check,
			 "CREATE OR REPLACE FUNCTION evt_cond(cond text) RETURNS boolean LANGUAGE plpgsql AS $$ "
			 "DECLARE ok boolean; BEGIN EXECUTE cond INTO ok; RETURN coalesce(ok, false); END $$");
	evt_test_notices();
	evt_test_quiet();
	evt_test_listen_misuse();
	evt_test_listen();
	evt_test_flood();
	evt_test_cancel();
	evt_test_cancel_finished();
	evt_test_cancel_at_free();
	bmt_exec(evt_check, "DROP TABLE IF EXISTS evt_reg, evt_lock");
	PQfinish(evt_check);
	return tap_done();
}

#endif							/* BM_TEST_EVENTSTEST_H */
