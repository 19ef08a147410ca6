/*
 * events.c
 *	  What the server says outside the answers to statements, and what we
 *	  say to it outside the pipeline: notices (bm_engine_on_notice), LISTEN
 *	  on a connection of its own (bm_engine_listen, bm_engine_unlisten) and
 *	  cancel requests (bm_session_cancel).  Part of the engine layer: the
 *	  public calls, and the delivery of notices, notifications and finished
 *	  cancel requests from the loop (loop.c calls events_deliver in every
 *	  turn, before the engine settles).  Calls engine, listen, cancel, pool
 *	  and util; engine.c does not call it.
 *
 *	  Notices are queued by libpq's notice receiver and delivered here, from
 *	  the loop: the receiver runs inside libpq, in the middle of reading a
 *	  connection, where a callback that frees the engine or queues work
 *	  would pull the state out from under the reader.
 *
 *	  A cancel request holds its connection: no new work is sent on it,
 *	  by the session or anyone else, until the request has reached the
 *	  server (PQcancel returns once the postmaster has signalled the
 *	  backend).  A cancel that arrives when the backend already waits for
 *	  its next command is ignored by the server, so it can only hit work
 *	  that was on the wire when bm_session_cancel was called: the session's
 *	  own unit of work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

BM_EXPORT int
bm_engine_on_notice(bm_engine *e, bm_notice_cb cb, void *arg)
{
	Pool	   *p;

	if (check_engine(e) != 0)
		return -1;
	e->notice_cb = cb;
	e->notice_arg = arg;
	for (int k = 0; (p = engine_pool(e, k)) != NULL; k++)
	{
		p->notices.wanted = cb != NULL;
		if (cb == NULL)
			notice_clear(&p->notices);
	}
	return 0;
}

/* -1 (and why) unless name can be a channel */
static int
check_channel(const char *what, const char *channel)
{
	if (channel == NULL || channel[0] == '\0' || strlen(channel) > LISTEN_MAX_CHANNEL)
	{
		set_last_error(BM_ERR_USAGE, "%s: the channel name must be 1 to %d bytes long, not %s", what,
					   LISTEN_MAX_CHANNEL, channel == NULL ? "NULL" : channel[0] ? "longer" : "empty");
		return -1;
	}
	return 0;
}

BM_EXPORT int
bm_engine_listen(bm_engine *e, const char *channel, bm_notify_cb cb, void *arg)
{
	if (check_engine(e) != 0 || check_channel("bm_engine_listen", channel) != 0)
		return -1;
	if (cb == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_listen: the callback is NULL");
		return -1;
	}
	if (e->listener == NULL &&
		(e->listener = listen_create((const char *const *) e->pool->keywords,
									 (const char *const *) e->pool->values,
									 e->pool->connect_timeout_ms, &e->pool->notices,
									 e->attached ? &e->hooks : NULL)) == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (!listen_add(e->listener, channel, cb, arg))
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	engine_kick(e);
	return 0;
}

BM_EXPORT int
bm_engine_unlisten(bm_engine *e, const char *channel)
{
	if (check_engine(e) != 0 || check_channel("bm_engine_unlisten", channel) != 0)
		return -1;
	if (e->listener == NULL || !listen_remove(e->listener, channel))
	{
		set_last_error(BM_ERR_USAGE, "bm_engine_unlisten: channel \"%s\" is not listened to", channel);
		return -1;
	}
	engine_kick(e);
	return 0;
}

BM_EXPORT int
bm_session_cancel(bm_session *s)
{
	PGcancel   *pc;
	Conn	   *c;

	if (s == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_session_cancel: session is NULL");
		return -1;
	}
	if (s->closed)
	{
		set_last_error(BM_ERR_USAGE, "bm_session_cancel: session is closed");
		return -1;
	}
	if (check_engine(s->engine) != 0)
		return -1;
	c = s->conn;
	if (c == NULL || (pc = pool_running_cancel(c)) == NULL)
		return 0;
	if (!cancel_start(&s->engine->cancels, pc, c, c->serial))
	{
		set_last_error(BM_ERR_NOMEM, "bm_session_cancel: cannot start the cancel request (out of memory or threads)");
		return -1;
	}
	c->cancels++;
	engine_kick(s->engine);
	return 1;
}

/* finished cancel requests let go of their connections (one that was replaced meanwhile is not held) */
static void
cancels_done(bm_engine *e)
{
	void	   *tag;
	long		serial;

	while (cancel_next_done(&e->cancels, &tag, &serial))
	{
		Conn	   *c = tag;

		if (c->serial == serial && c->cancels > 0)
			c->cancels--;
		e->pump_needed = true;
	}
}

/* run one callback of the engine's own (not a request's): a free inside it is deferred */
#define EVENT_CALLBACK(e, call) \
	do { (e)->depth++; call; (e)->depth--; } while (0)

/* deliver the queued notices; false when a callback freed the engine */
static bool
deliver_notices(bm_engine *e)
{
	Notice	   *n;
	Pool	   *p;

	for (int k = 0; (p = engine_pool(e, k)) != NULL; k++)
		while (!e->free_requested && (n = notice_pop(&p->notices)) != NULL)
		{
			bm_error	err;

			notice_public(n, &err);
			if (e->notice_cb)
				EVENT_CALLBACK(e, e->notice_cb(e, &err, e->notice_arg));
			free(n);
		}
	return !e->free_requested;
}

/* deliver the gap callbacks and the notifications read; false when a callback freed the engine */
static bool
deliver_notifications(bm_engine *e)
{
	Listener   *l = e->listener;
	ListenChannel *ch;
	PGnotify   *n;
	bm_notify_cb cb;
	void	   *arg;

	if (l == NULL)
		return true;
	while (!e->free_requested && (ch = listen_next_gap(l)) != NULL)
		EVENT_CALLBACK(e, ch->cb(e, ch->name, NULL, 0, ch->arg));
	while (!e->free_requested && (n = listen_next_notify(l, &cb, &arg)) != NULL)
	{
		EVENT_CALLBACK(e, cb(e, n->relname, n->extra, n->be_pid, arg));
		PQfreemem(n);
	}
	return !e->free_requested;
}

/*
 * One turn's events, before the engine settles: finished cancel requests,
 * the listen connection's next step, then the callbacks.  False when a
 * callback freed the engine.
 */
bool
events_deliver(bm_engine *e)
{
	cancels_done(e);
	if (e->listener)
		listen_pump(e->listener, now_ms());
	return deliver_notices(e) && deliver_notifications(e);
}

/* events wait for delivery: the loop must not sleep */
bool
events_due(bm_engine *e)
{
	Pool	   *p;

	for (int k = 0; (p = engine_pool(e, k)) != NULL; k++)
		if (!queue_empty(&p->notices.queue))
			return true;
	return false;
}

/* a channel is listened to: the built-in loop keeps running */
bool
events_active(bm_engine *e)
{
	return e->listener && listen_active(e->listener);
}

/* fd is one of the events' sockets: handle its events (true), else false */
bool
events_io(bm_engine *e, int fd, int events)
{
	if (fd < 0)
		return false;
	if (e->listener && listen_fd(e->listener) == fd)
	{
		listen_io(e->listener, events);
		return true;
	}
	if (e->cancels.open && e->cancels.wake_fd == fd)
	{
		cancels_done(e);
		return true;
	}
	return false;
}

/* when the listen connection must look again (a retry, a connect timeout), 0 if never */
int64_t
events_next_deadline(bm_engine *e)
{
	return e->listener ? listen_next_deadline(e->listener) : 0;
}

/* the sockets the built-in loop polls for the events: up to 2, into fds and evs */
int
events_poll_fds(bm_engine *e, int *fds, int *evs)
{
	int			n = 0;

	if (e->listener && listen_fd(e->listener) >= 0 && listen_wanted_events(e->listener))
	{
		fds[n] = listen_fd(e->listener);
		evs[n++] = listen_wanted_events(e->listener);
	}
	if (e->cancels.open && e->cancels.jobs)
	{
		fds[n] = e->cancels.wake_fd;
		evs[n++] = BM_EV_READ;
	}
	return n;
}

/* tell the attached loop about the listen connection's socket and the cancel requests' eventfd */
void
events_sync_watches(bm_engine *e)
{
	if (!e->attached)
		return;
	if (e->listener)
	{
		e->listener->hooks = &e->hooks;
		listen_sync_watches(e->listener);
	}
	if (e->cancels.open && !e->cancel_watched)
	{
		e->hooks.add_read(e->hooks.data, e->cancels.wake_fd);
		e->cancel_watched = true;
	}
}
