/*
 * loop.c
 *	  The engine's I/O side: the built-in poll loop (bm_engine_run), the
 *	  hooks an external event loop attaches (bm_engine_attach), and the two
 *	  entry points through which any loop calls back (bm_engine_on_ready,
 *	  bm_engine_on_timer).  Sockets are PQsocket's, which can change across
 *	  reconnects and during a connection attempt.  The top layer: calls the
 *	  engine (events.c for the server's events), and the pool for its
 *	  sockets; nothing calls it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* the most sockets events.c has the built-in loop poll (events_poll_fds) */
#define EVENT_FDS 2

/* milliseconds until the engine needs the loop again, -1 for never */
static long
next_timeout(bm_engine *e)
{
	int64_t		deadline,
				events,
				now;

	if (e->pump_needed || !queue_empty(&e->ready) || events_due(e))
		return 0;
	deadline = engine_next_deadline(e);
	events = events_next_deadline(e);
	if (events && (deadline == 0 || events < deadline))
		deadline = events;
	if (deadline == 0)
		return -1;
	now = now_ms();
	return deadline > now ? (long) (deadline - now) : 0;
}

/* arm the attached loop's timer for the engine's next deadline */
static void
arm_timer(bm_engine *e)
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
	e->pool->hooks = &e->hooks;
	if (e->read_pool)
		e->read_pool->hooks = &e->hooks;
	e->timer_ms = -1;
	engine_kick(e);
	return 0;
}

/*
 * The server's events are delivered and the engine settles (until neither
 * has more: a callback may queue work, a connection read in between may
 * bring notices); then the attached loop learns what to watch and when to
 * wake.
 */
static void
settle(bm_engine *e)
{
	do
	{
		if (!events_deliver(e) || !engine_settle(e))
			return;
	} while (events_due(e));
	pool_sync_watches(e->pool);
	if (e->read_pool)
		pool_sync_watches(e->read_pool);
	events_sync_watches(e);
	arm_timer(e);
}

/* the common tail of every entry point: settle, then finish a deferred free */
static void
entry_end(bm_engine *e)
{
	settle(e);
	e->busy = false;
	if (e->free_requested)
		engine_destroy(e);
}

BM_EXPORT void
bm_engine_on_ready(bm_engine *e, int fd, int events)
{
	Pool	   *p;
	int			i,
				k;

	if (e == NULL || e->busy || e->depth > 0 || e->closing)
		return;
	e->busy = true;
	if (!events_io(e, fd, events))
		for (k = 0; (p = engine_pool(e, k)) != NULL; k++)
			for (i = 0; i < p->size; i++)
			{
				Conn	   *c = &p->conns[i];

			if (c->state != CONN_EMPTY && c->watch_fd == fd && fd >= 0)
				engine_conn_io(e, c, events);
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
	engine_check_timeouts(e, now_ms());
	e->pump_needed = true;
	entry_end(e);
}

BM_EXPORT int
bm_engine_run(bm_engine *e)
{
	struct pollfd *fds;
	Conn	  **conns;
	Pool	   *p;
	int			rc = 0,
				nconns = e ? e->pool->size + (e->read_pool ? e->read_pool->size : 0) : 0;

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
	/* the pools' sockets, then up to EVENT_FDS of events.c's */
	fds = malloc((nconns + EVENT_FDS) * sizeof(*fds));
	conns = malloc((nconns + EVENT_FDS) * sizeof(*conns));
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
					k,
					ready,
					efds[EVENT_FDS],
					eevs[EVENT_FDS],
					nevents;
		long		timeout;

		engine_check_timeouts(e, now_ms());
		settle(e);
		if (e->free_requested || !(engine_has_work(e) || events_active(e)))
			break;
		for (k = 0; (p = engine_pool(e, k)) != NULL; k++)
			for (i = 0; i < p->size; i++)
			{
				Conn	   *c = &p->conns[i];
				int			fd = pool_fd(c),
							ev = fd >= 0 ? pool_wanted_events(c) : 0;

				if (ev == 0)
					continue;
				fds[n].fd = fd;
				fds[n].events = ((ev & BM_EV_READ) ? POLLIN : 0) | ((ev & BM_EV_WRITE) ? POLLOUT : 0);
				fds[n].revents = 0;
				conns[n++] = c;
			}
		nevents = events_poll_fds(e, efds, eevs);
		for (i = 0; i < nevents; i++)
		{
			fds[n].fd = efds[i];
			fds[n].events = ((eevs[i] & BM_EV_READ) ? POLLIN : 0) | ((eevs[i] & BM_EV_WRITE) ? POLLOUT : 0);
			fds[n].revents = 0;
			conns[n++] = NULL;
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
			if (conns[i] == NULL)
				events_io(e, fds[i].fd, ev);
			else if (pool_fd(conns[i]) == fds[i].fd)
				engine_conn_io(e, conns[i], ev);
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
