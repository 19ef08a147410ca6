/*
 * libevent.h
 *	  Attach a libbasemodel engine to a libevent 2 event_base (header-only;
 *	  link with `pkg-config --libs libevent`, or libevent_core).  Installed
 *	  as <basemodel/adapters/libevent.h>.
 *
 *		bm_libevent_attach(engine, base);
 *		... queue work ...
 *		event_base_dispatch(base);
 *
 *	  One persistent struct event per socket the engine watches, one timer
 *	  event per engine.  A socket the engine stops watching has its event
 *	  deleted and freed at once, so a new connection can reuse the
 *	  descriptor number.  The events keep event_base_dispatch going while
 *	  the engine has connections; bm_engine_free (from a callback, say)
 *	  frees them all, and dispatch then returns 1 (nothing left to wait for).
 */
#ifndef BASEMODEL_ADAPTERS_LIBEVENT_H
#define BASEMODEL_ADAPTERS_LIBEVENT_H

#include <event2/event.h>

#include "common.h"

typedef struct bm_libevent_watch
{
	bm_adapter_watch base;
	struct event *ev;
} bm_libevent_watch;

typedef struct bm_libevent
{
	bm_adapter	base;
	struct event_base *evbase;
	struct event *timer;
} bm_libevent;

/* a watched socket is ready */
static inline void
bm_libevent__on_event(evutil_socket_t fd, short what, void *arg)
{
	bm_libevent_watch *w = (bm_libevent_watch *) arg;

	(void) fd;
	bm_engine_on_ready(w->base.owner->engine, w->base.fd,
					   bm_adapter__bits(what, EV_READ, EV_WRITE, BM_EV_READ, BM_EV_WRITE));
}

/* the engine's timer fired */
static inline void
bm_libevent__on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	bm_engine_on_timer(((bm_libevent *) arg)->base.engine);
}

/* bm_adapter_ops.watch: an event's flags change only while it is not pending */
static inline int
bm_libevent__watch(bm_adapter *base, bm_adapter_watch *bw, int created)
{
	bm_libevent *a = (bm_libevent *) base;
	bm_libevent_watch *w = (bm_libevent_watch *) bw;
	short		flags = (short) (EV_PERSIST | bm_adapter__bits(bw->events, BM_EV_READ, BM_EV_WRITE, EV_READ, EV_WRITE));

	if (created)
	{
		w->ev = event_new(a->evbase, bw->fd, flags, bm_libevent__on_event, w);
		if (w->ev == NULL)
			return -1;
	}
	else
	{
		event_del(w->ev);
		event_assign(w->ev, a->evbase, bw->fd, flags, bm_libevent__on_event, w);
	}
	if (event_add(w->ev, NULL) != 0)
	{
		if (created)
			event_free(w->ev);
		return -1;
	}
	return 0;
}

/* bm_adapter_ops.unwatch: libevent lets an event be freed from its own callback */
static inline void
bm_libevent__unwatch(bm_adapter *base, bm_adapter_watch *bw)
{
	(void) base;
	event_free(((bm_libevent_watch *) bw)->ev);
	free(bw);
}

/* bm_adapter_ops.timer */
static inline void
bm_libevent__timer(bm_adapter *base, long ms)
{
	bm_libevent *a = (bm_libevent *) base;
	struct timeval tv;

	if (ms < 0)
	{
		event_del(a->timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(a->timer, &tv);	/* a pending timer is rescheduled */
}

/* bm_adapter_ops.release */
static inline void
bm_libevent__release(bm_adapter *base)
{
	bm_libevent *a = (bm_libevent *) base;

	event_free(a->timer);
	free(a);
}

/* bm_adapter_ops.start */
static inline int
bm_libevent__start(bm_adapter *base)
{
	bm_libevent *a = (bm_libevent *) base;

	a->evbase = (struct event_base *) base->loop;
	a->timer = event_new(a->evbase, -1, 0, bm_libevent__on_timer, a);
	return a->timer ? 0 : -1;
}

/* attach engine e to evbase: 0, or -1 (bm_last_error() says why, unless out of memory) */
static inline int
bm_libevent_attach(bm_engine *e, struct event_base *evbase)
{
	static const bm_adapter_ops ops = BM_ADAPTER_OPS(bm_libevent);

	return bm_adapter__attach(e, evbase, &ops);
}

#endif							/* BASEMODEL_ADAPTERS_LIBEVENT_H */
