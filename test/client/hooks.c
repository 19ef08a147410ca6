/*
 * hooks.c
 *	  The event-loop hooks without libuv: a tiny poll loop of the test's own
 *	  drives the engine through bm_ev_hooks.  Every add is matched by a del
 *	  before the engine goes, cleanup runs once, the timer hook carries the
 *	  work queued outside the loop, and a killed connection is replaced
 *	  under the loop.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	return tap_done();
}
