/*
 * hooks.c
 *	  The event-loop hooks without libuv: a tiny poll loop of the test's own
 *	  drives the engine through bm_ev_hooks.  Every add is matched by a del
 *	  before the engine goes, cleanup runs once, the timer hook carries the
 *	  work queued outside the loop, a killed connection is replaced under
 *	  the loop, and a server refusing connections is retried with a pause.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmtest.h"

#define MAXFD 64

typedef struct loop
{
	int			events[MAXFD];	/* BM_EV_* watched per fd */
	long		timer_ms;		/* -1: disarmed */
	int			adds;
	int			dels;
	int			cleanups;
	int			bad_calls;		/* add of a watched event, del of an unwatched one */
} loop;

static void
lp_add(loop *l, int fd, int ev)
{
	if (fd < 0 || fd >= MAXFD || (l->events[fd] & ev))
	{
		l->bad_calls++;
		return;
	}
	l->events[fd] |= ev;
	l->adds++;
}

static void
lp_del(loop *l, int fd, int ev)
{
	if (fd < 0 || fd >= MAXFD || !(l->events[fd] & ev))
	{
		l->bad_calls++;
		return;
	}
	l->events[fd] &= ~ev;
	l->dels++;
}

static void
add_read(void *d, int fd)
{
	lp_add(d, fd, BM_EV_READ);
}

static void
del_read(void *d, int fd)
{
	lp_del(d, fd, BM_EV_READ);
}

static void
add_write(void *d, int fd)
{
	lp_add(d, fd, BM_EV_WRITE);
}

static void
del_write(void *d, int fd)
{
	lp_del(d, fd, BM_EV_WRITE);
}

static void
schedule_timer(void *d, long ms)
{
	((loop *) d)->timer_ms = ms;
}

static void
cleanup(void *d)
{
	((loop *) d)->cleanups++;
}

static int	stop = 0;

/* one turn of the test's loop; returns 0 when nothing is watched or armed */
static int
turn(bm_engine *e, loop *l)
{
	struct pollfd fds[MAXFD];
	int			n = 0,
				i,
				r;

	for (i = 0; i < MAXFD; i++)
	{
		if (l->events[i] == 0)
			continue;
		fds[n].fd = i;
		fds[n].events = ((l->events[i] & BM_EV_READ) ? POLLIN : 0) |
			((l->events[i] & BM_EV_WRITE) ? POLLOUT : 0);
		fds[n++].revents = 0;
	}
	if (n == 0 && l->timer_ms < 0)
		return 0;
	r = poll(fds, n, l->timer_ms < 0 ? 1000 : (int) l->timer_ms);
	if (r == 0 && l->timer_ms >= 0)
	{
		l->timer_ms = -1;
		bm_engine_on_timer(e);
		return 1;
	}
	for (i = 0; i < n && !stop; i++)
	{
		int			ev = 0;

		if (fds[i].revents & (POLLIN | POLLERR | POLLHUP))
			ev |= BM_EV_READ;
		if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))
			ev |= BM_EV_WRITE;
		if (ev && (l->events[fds[i].fd] != 0))
			bm_engine_on_ready(e, fds[i].fd, ev);
	}
	return 1;
}

static int	ok_count = 0;
static long killed = -1;

static void
on_ok(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	(void) arg;
	ok_count += err->code == BM_OK;
}

static void
on_kill(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	killed = err->code == BM_OK ? atol(bm_result_value(res, 0, 0)) : -1;
}

static void
on_done(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	ok_count += err->code == BM_OK;
	bm_session_close(s);
}

/* allow or refuse new connections to the test database (from another one) */
static void
allow_connections(PGconn *check, bool allow)
{
	const char *const keys[] = {"dbname", "dbname", NULL};
	const char *const vals[] = {bmt_url(), "postgres", NULL};
	PGconn	   *other = PQconnectdbParams(keys, vals, 1);
	char	   *db = PQescapeIdentifier(check, PQdb(check), strlen(PQdb(check)));
	char		sql[256];

	if (PQstatus(other) != CONNECTION_OK)
		tap_bail(PQerrorMessage(other));
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS %s", db, allow ? "true" : "false");
	PQfreemem(db);
	bmt_exec(other, sql);
	PQfinish(other);
}

/*
 * The server refuses new connections while our one connection is busy: the
 * session waiting for a second one retries with a growing pause, not in a
 * busy loop that forks a backend per turn, and runs on the first connection
 * once that is free.  A busy loop makes hundreds of attempts (each watches a
 * new socket) during the 1.5 s sleep; backing off makes a handful.
 */
static void
test_refused(void)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	PGconn	   *check = bmt_check_conn();
	loop		l;
	bm_ev_hooks h = {&l, add_read, del_read, add_write, del_write, schedule_timer, cleanup};
	bm_session *a,
			   *b;
	bmt_rec		warm = {0},
				sleep = {0},
				sleepc = {0},
				other = {0},
				otherc = {0};
	int			adds;

	memset(&l, 0, sizeof(l));
	l.timer_ms = -1;
	bm_engine_attach(e, &h);
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &warm);
	while (warm.calls == 0 && turn(e, &l))
		;
	allow_connections(check, false);
	a = bm_session_open(m);
	b = bm_session_open(m);
	bm_session_execute(a, "SELECT pg_sleep(1.5)", 0, NULL, bmt_result_cb, &sleep);
	bm_session_commit(a, bmt_done_cb, &sleepc);
	bm_session_execute(b, "SELECT 3", 0, NULL, bmt_result_cb, &other);
	bm_session_commit(b, bmt_done_cb, &otherc);
	adds = l.adds;
	while (sleepc.calls == 0 && turn(e, &l))
		;
	adds = l.adds - adds;
	while (otherc.calls == 0 && turn(e, &l))
		;
	allow_connections(check, true);
	BMT_REC_IS(sleepc, BM_OK, "refused: the busy connection's session commits");
	BMT_REC_IS(other, BM_OK, "refused: the waiting session runs once a connection is free");
	BMT_REC_IS(otherc, BM_OK, "refused: and commits");
	tap_ok(adds < 100, "refused: connection attempts back off while the server refuses them (no busy loop)",
		   "expected a few attempts (under 100 socket watches) during the sleep, got %d watches", adds);
	bm_session_close(a);
	bm_session_close(b);
	bm_engine_free(e);
	PQfinish(check);
}

/*
 * On the one connection of the pool a batch of autocommit statements is
 * unanswered when a session and a statement that refuses a transaction
 * block (DO) are queued: they wait for the batch's answers, then run, under
 * the test's own loop too (no bm_engine_run turn pumps for them).  20 s of
 * the loop without their callbacks means they were never sent.
 */
static void
test_waits_behind_batch(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	loop		l;
	bm_ev_hooks h = {&l, add_read, del_read, add_write, del_write, schedule_timer, cleanup};
	bm_session *s;
	bmt_rec		warm = {0},
				batch[5] = {{0}},
				alone = {0},
				stmt = {0},
				commit = {0};
	time_t		until;
	int			i,
				ok = 0;

	memset(&l, 0, sizeof(l));
	l.timer_ms = -1;
	bm_engine_attach(e, &h);
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &warm);
	while (warm.calls == 0 && turn(e, &l))
		;
	for (i = 0; i < 5; i++)
		bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &batch[i]);
	bm_engine_execute(e, "DO $$ BEGIN END $$", 0, NULL, bmt_result_cb, &alone);
	s = bm_session_open(m);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &stmt);
	bm_session_commit(s, bmt_done_cb, &commit);
	until = time(NULL) + 20;
	while ((alone.calls == 0 || commit.calls == 0) && time(NULL) < until && turn(e, &l))
		;
	for (i = 0; i < 5; i++)
		ok += batch[i].calls == 1 && batch[i].code == BM_OK;
	TAP_INT_EQ(ok, 5, "behind a batch: the batch's statements succeed");
	BMT_REC_IS(alone, BM_OK, "behind a batch: a statement that refuses a block runs once the batch is answered");
	BMT_REC_IS(stmt, BM_OK, "behind a batch: so does a session");
	BMT_REC_IS(commit, BM_OK, "behind a batch: which commits");
	bm_session_close(s);
	bm_engine_free(e);
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 2, .application_name = "bm_hooks_test"};
	bm_engine  *e;
	bm_sessionmaker *m;
	loop		l;
	bm_ev_hooks hooks = {&l, add_read, del_read, add_write, del_write, schedule_timer, cleanup};
	bm_engine_stats st;
	int			i,
				watched = 0;

	bmt_guard(60);
	memset(&l, 0, sizeof(l));
	l.timer_ms = -1;
	e = bmt_engine(&opts);
	m = bm_sessionmaker_create(e, NULL);
	TAP_INT_EQ(bm_engine_attach(e, &hooks), 0, "hooks: attach");
	for (i = 0; i < 20; i++)
		bm_engine_execute(e, "SELECT 1", 0, NULL, on_ok, NULL);
	tap_ok(l.timer_ms == 0, "hooks: work queued outside the loop arms the timer at 0",
		   "timer armed for %ld", l.timer_ms);
	while (ok_count < 20 && turn(e, &l))
		;
	TAP_INT_EQ(ok_count, 20, "hooks: the test's own loop runs the work");

	/* kill the engine's connections from one of them, then run sessions */
	bm_engine_execute(e, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
					  "WHERE application_name = 'bm_hooks_test' AND pid <> pg_backend_pid()",
					  0, NULL, on_kill, NULL);
	while (killed < 0 && turn(e, &l))
		;
	bm_engine_get_stats(e, &st);
	while (st.disconnects < killed && turn(e, &l))
		bm_engine_get_stats(e, &st);
	ok_count = 0;
	for (i = 0; i < 20; i++)
	{
		bm_session *s = bm_session_open(m);

		bm_session_execute(s, "SELECT 1", 0, NULL, on_ok, NULL);
		bm_session_commit(s, on_done, NULL);
	}
	while (ok_count < 40 && turn(e, &l))
		;
	TAP_INT_EQ(ok_count, 40, "hooks: after connections were killed, sessions run on new sockets");
	TAP_INT_EQ(l.bad_calls, 0, "hooks: the engine never adds a watched event nor deletes an unwatched one");
	bm_engine_free(e);
	for (i = 0; i < MAXFD; i++)
		watched += l.events[i] != 0;
	TAP_INT_EQ(watched, 0, "hooks: after bm_engine_free no socket is watched");
	TAP_INT_EQ(l.adds, l.dels, "hooks: every add is matched by a del");
	TAP_INT_EQ(l.cleanups, 1, "hooks: cleanup runs once");
	test_refused();
	test_waits_behind_batch();
	return tap_done();
}
