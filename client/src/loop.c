/*
 * loop.c
 *	  The engine's I/O side: the built-in poll loop (bm_engine_run), the
 *	  hooks an external event loop attaches (bm_engine_attach), and the two
 *	  entry points through which any loop calls back (bm_engine_on_ready,
 *	  bm_engine_on_timer).  Sockets are PQsocket's, which can change across
 *	  reconnects and during a connection attempt.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int
conn_fd(Conn *c)
{
	return (c->state != CONN_EMPTY && c->pg) ? PQsocket(c->pg) : -1;
}

static void
hook_events(bm_engine *e, int fd, int from, int to)
{
	bm_ev_hooks *h = &e->hooks;

	if ((from & BM_EV_READ) && !(to & BM_EV_READ) && h->del_read)
		h->del_read(h->data, fd);
	if ((from & BM_EV_WRITE) && !(to & BM_EV_WRITE) && h->del_write)
		h->del_write(h->data, fd);
	if (!(from & BM_EV_READ) && (to & BM_EV_READ) && h->add_read)
		h->add_read(h->data, fd);
	if (!(from & BM_EV_WRITE) && (to & BM_EV_WRITE) && h->add_write)
		h->add_write(h->data, fd);
}

/* stop watching a connection's socket; called before libpq closes it */
void
loop_unwatch(Conn *c)
{
	if (c->engine->attached && c->watch_fd >= 0)
		hook_events(c->engine, c->watch_fd, c->watch_ev, 0);
	c->watch_fd = -1;
	c->watch_ev = 0;
}

/*
 * Tell the attached loop what changed.  During a connection attempt libpq
 * may close a socket and open another under the same number, so the socket
 * is registered afresh after every PQconnectPoll.
 */
void
loop_sync_watches(bm_engine *e)
{
	int			i;

	if (!e->attached)
		return;
	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];
		int			fd = conn_fd(c);
		int			ev = fd >= 0 ? pool_wanted_events(c) : 0;

		if (c->rewatch || fd != c->watch_fd)
		{
			loop_unwatch(c);
			c->rewatch = false;
			c->watch_fd = fd;
		}
		if (fd >= 0 && ev != c->watch_ev)
		{
			hook_events(e, fd, c->watch_ev, ev);
			c->watch_ev = ev;
		}
	}
}

/* milliseconds until the engine needs the loop again, -1 for never */
static long
next_timeout(bm_engine *e)
{
	int64_t		deadline,
				now;

	if (e->pump_needed || e->ready_head)
		return 0;
	deadline = pool_next_deadline(e);
	if (deadline == 0)
		return -1;
	now = now_ms();
	return deadline > now ? (long) (deadline - now) : 0;
}

void
loop_arm_timer(bm_engine *e)
{
	long		ms;

	if (!e->attached || e->hooks.schedule_timer == NULL)
		return;
	ms = next_timeout(e);
	if (ms < 0 && e->timer_ms < 0)
		return;
	e->timer_ms = ms;
	e->hooks.schedule_timer(e->hooks.data, ms);
}

static void
conn_io(Conn *c, int events)
{
	if (c->state == CONN_CONNECTING)
		pool_connect_poll(c);
	else if (c->state == CONN_READY)
	{
		if (events & BM_EV_WRITE)
			pipeline_write(c);
		if (c->state == CONN_READY && (events & BM_EV_READ))
			pipeline_read(c);
		if (c->state == CONN_READY && c->out_pending)
			pipeline_write(c);
	}
}

BM_EXPORT int
bm_engine_attach(bm_engine *e, const bm_ev_hooks *hooks)
{
	if (check_engine(e) != 0)
		return -1;
	if (hooks == NULL || hooks->schedule_timer == NULL || hooks->add_read == NULL ||
		hooks->del_read == NULL || hooks->add_write == NULL || hooks->del_write == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_attach: every hook but cleanup is required");
		return -1;
	}
	if (e->attached || e->running)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_attach: %s",
					   e->attached ? "an event loop is attached already" : "bm_engine_run is running");
		return -1;
	}
	e->hooks = *hooks;
	e->attached = true;
	e->timer_ms = -1;
	engine_kick(e);
	return 0;
}

/* the common tail of every entry point: settle, then finish a deferred free */
static void
entry_end(bm_engine *e)
{
	engine_settle(e);
	e->busy = false;
	if (e->free_requested)
		engine_destroy(e);
}

BM_EXPORT void
bm_engine_on_ready(bm_engine *e, int fd, int events)
{
	int			i;

	if (e == NULL || e->busy || e->depth > 0 || e->closing)
		return;
	e->busy = true;
	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];

		if (c->state != CONN_EMPTY && c->watch_fd == fd && fd >= 0)
			conn_io(c, events);
	}
	entry_end(e);
}

BM_EXPORT void
bm_engine_on_timer(bm_engine *e)
{
	if (e == NULL || e->busy || e->depth > 0 || e->closing)
		return;
	e->busy = true;
	e->timer_ms = -1;
	pool_check_timeouts(e, now_ms());
	e->pump_needed = true;
	entry_end(e);
}

BM_EXPORT int
bm_engine_run(bm_engine *e)
{
	struct pollfd *fds;
	Conn	  **conns;
	int			rc = 0;

	if (e == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_run: engine is NULL");
		return -1;
	}
	if (e->busy || e->depth > 0 || e->closing)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_run: called from a callback");
		return -1;
	}
	if (e->attached)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_run: an event loop is attached; run that loop instead");
		return -1;
	}
	fds = malloc(e->pool_size * sizeof(*fds));
	conns = malloc(e->pool_size * sizeof(*conns));
	if (fds == NULL || conns == NULL)
	{
		free(fds);
		free(conns);
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	e->busy = true;
	e->running = true;
	e->pump_needed = true;
	for (;;)
	{
		int			n = 0,
					i,
					ready;
		long		timeout;

		pool_check_timeouts(e, now_ms());
		engine_settle(e);
		if (e->free_requested || !engine_has_work(e))
			break;
		for (i = 0; i < e->pool_size; i++)
		{
			Conn	   *c = &e->conns[i];
			int			fd = conn_fd(c),
						ev = fd >= 0 ? pool_wanted_events(c) : 0;

			if (ev == 0)
				continue;
			fds[n].fd = fd;
			fds[n].events = ((ev & BM_EV_READ) ? POLLIN : 0) | ((ev & BM_EV_WRITE) ? POLLOUT : 0);
			fds[n].revents = 0;
			conns[n++] = c;
		}
		timeout = next_timeout(e);
		if (n == 0 && timeout < 0)
		{
			set_last_error(BM_ERR_USAGE, "bm_engine_run: work is pending but nothing can make progress");
			rc = -1;
			break;
		}
		ready = poll(fds, n, timeout > 1000000 ? 1000000 : (int) timeout);
		if (ready < 0 && errno != EINTR)
		{
			set_last_error(BM_ERR_CONNECTION, "bm_engine_run: poll failed: %s", strerror(errno));
			rc = -1;
			break;
		}
		for (i = 0; ready > 0 && i < n; i++)
		{
			int			ev = 0;

			if (fds[i].revents == 0)
				continue;
			if (fds[i].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
				ev |= BM_EV_READ;
			if (fds[i].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
				ev |= BM_EV_WRITE;
			/* an earlier connection's handling cannot close this one, but check */
			if (conn_fd(conns[i]) == fds[i].fd)
				conn_io(conns[i], ev);
		}
		e->pump_needed = true;
	}
	free(fds);
	free(conns);
	e->running = false;
	e->busy = false;
	if (e->free_requested)
		engine_destroy(e);
	return rc;
}
