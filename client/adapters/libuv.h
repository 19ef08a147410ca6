/*
 * libuv.h
 *	  Attach a libbasemodel engine to a libuv loop (header-only; link with
 *	  -luv).  Installed as <basemodel/adapters/libuv.h>.
 *
 *		bm_libuv_attach(engine, uv_default_loop());
 *		... queue work ...
 *		uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *
 *	  One uv_poll_t per socket the engine watches, one uv_timer_t per engine.
 *	  A socket the engine stops watching gets its handle closed at once, so a
 *	  new connection can reuse the descriptor number.  The handles keep
 *	  uv_run going while the engine has connections; bm_engine_free (from a
 *	  callback, say) closes them all.
 *
 *	  Standard C: <uv.h> uses POSIX types (pthread_rwlock_t) that glibc hides
 *	  under a strict -std=c11, so such a build defines _POSIX_C_SOURCE
 *	  (-D_POSIX_C_SOURCE=200809L); -std=gnu11 needs nothing.
 */
#ifndef BASEMODEL_ADAPTERS_LIBUV_H
#define BASEMODEL_ADAPTERS_LIBUV_H

#include <stdlib.h>

#if defined(__GLIBC__) && (!defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L)
#error "<uv.h> needs POSIX declarations that strict -std=c11 hides: compile with -D_POSIX_C_SOURCE=200809L (or -std=gnu11)"
#endif

#include <uv.h>

#include "common.h"

typedef struct bm_libuv_watch
{
	bm_adapter_watch base;
	uv_poll_t	handle;
} bm_libuv_watch;

typedef struct bm_libuv
{
	bm_adapter	base;
	uv_loop_t  *loop;
	uv_timer_t	timer;
	int			handles;		/* handles not closed yet; the last one frees the adapter */
} bm_libuv;

/* one of the adapter's handles is closed */
static inline void
bm_libuv__handle_gone(bm_libuv *a)
{
	if (--a->handles == 0)
		free(a);
}

/* uv_close's callback for a socket's handle */
static inline void
bm_libuv__watch_closed(uv_handle_t *h)
{
	bm_libuv_watch *w = (bm_libuv_watch *) h->data;
	bm_libuv   *a = (bm_libuv *) w->base.owner;

	free(w);
	bm_libuv__handle_gone(a);
}

/* uv_close's callback for the timer */
static inline void
bm_libuv__timer_closed(uv_handle_t *h)
{
	bm_libuv__handle_gone((bm_libuv *) h->data);
}

/* a watched socket is ready (or in error: libpq finds out which) */
static inline void
bm_libuv__on_poll(uv_poll_t *h, int status, int uv_events)
{
	bm_libuv_watch *w = (bm_libuv_watch *) h->data;
	int			ev = BM_EV_READ | BM_EV_WRITE;

	if (status >= 0)
		ev = bm_adapter__bits(uv_events, UV_READABLE | UV_DISCONNECT, UV_WRITABLE, BM_EV_READ, BM_EV_WRITE);
	bm_engine_on_ready(w->base.owner->engine, w->base.fd, ev);
}

/* the engine's timer fired */
static inline void
bm_libuv__on_timer(uv_timer_t *t)
{
	bm_engine_on_timer(((bm_libuv *) t->data)->base.engine);
}

/* bm_adapter_ops.watch: (re)start the socket's poll handle */
static inline int
bm_libuv__watch(bm_adapter *base, bm_adapter_watch *bw, int created)
{
	bm_libuv   *a = (bm_libuv *) base;
	bm_libuv_watch *w = (bm_libuv_watch *) bw;

	if (created)
	{
		if (uv_poll_init(a->loop, &w->handle, bw->fd) != 0)
			return -1;
		w->handle.data = w;
		a->handles++;
	}
	uv_poll_start(&w->handle, bm_adapter__bits(bw->events, BM_EV_READ, BM_EV_WRITE, UV_READABLE, UV_WRITABLE),
				  bm_libuv__on_poll);
	return 0;
}

/* bm_adapter_ops.unwatch: stop now, free once libuv has closed the handle */
static inline void
bm_libuv__unwatch(bm_adapter *base, bm_adapter_watch *bw)
{
	bm_libuv_watch *w = (bm_libuv_watch *) bw;

	(void) base;
	uv_poll_stop(&w->handle);
	uv_close((uv_handle_t *) &w->handle, bm_libuv__watch_closed);
}

/* bm_adapter_ops.timer */
static inline void
bm_libuv__timer(bm_adapter *base, long ms)
{
	bm_libuv   *a = (bm_libuv *) base;

	if (ms < 0)
		uv_timer_stop(&a->timer);
	else
		uv_timer_start(&a->timer, bm_libuv__on_timer, (uint64_t) ms, 0);
}

/* bm_adapter_ops.release: close the timer; the last closed handle frees the adapter */
static inline void
bm_libuv__release(bm_adapter *base)
{
	bm_libuv   *a = (bm_libuv *) base;

	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *) &a->timer, bm_libuv__timer_closed);
}

/* bm_adapter_ops.start */
static inline int
bm_libuv__start(bm_adapter *base)
{
	bm_libuv   *a = (bm_libuv *) base;

	a->loop = (uv_loop_t *) base->loop;
	if (uv_timer_init(a->loop, &a->timer) != 0)
		return -1;
	a->timer.data = a;
	a->handles = 1;
	return 0;
}

/* attach engine e to loop: 0, or -1 (bm_last_error() says why, unless out of memory) */
static inline int
bm_libuv_attach(bm_engine *e, uv_loop_t *loop)
{
	static const bm_adapter_ops ops = BM_ADAPTER_OPS(bm_libuv);

	return bm_adapter__attach(e, loop, &ops);
}

#endif							/* BASEMODEL_ADAPTERS_LIBUV_H */
