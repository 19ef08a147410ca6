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
 */
#ifndef BASEMODEL_ADAPTERS_LIBUV_H
#define BASEMODEL_ADAPTERS_LIBUV_H

#include <stdlib.h>

#include <uv.h>

#include <basemodel.h>

typedef struct bm_libuv_watch
{
	uv_poll_t	handle;
	int			fd;
	int			events;			/* BM_EV_READ | BM_EV_WRITE */
	struct bm_libuv *owner;
	struct bm_libuv_watch *next;
} bm_libuv_watch;

typedef struct bm_libuv
{
	bm_engine  *engine;
	uv_loop_t  *loop;
	uv_timer_t	timer;
	bm_libuv_watch *watches;
	int			handles;		/* handles not closed yet */
	int			cleaned;		/* the engine is gone */
} bm_libuv;

static inline void
bm_libuv__release(bm_libuv *a)
{
	if (--a->handles == 0 && a->cleaned)
		free(a);
}

static inline void
bm_libuv__watch_closed(uv_handle_t *h)
{
	bm_libuv_watch *w = (bm_libuv_watch *) h->data;
	bm_libuv   *a = w->owner;

	free(w);
	bm_libuv__release(a);
}

static inline void
bm_libuv__timer_closed(uv_handle_t *h)
{
	bm_libuv__release((bm_libuv *) h->data);
}

static inline void
bm_libuv__on_poll(uv_poll_t *h, int status, int uv_events)
{
	bm_libuv_watch *w = (bm_libuv_watch *) h->data;
	int			ev = 0;

	if (w->owner->cleaned)
		return;
	if (status < 0)
		ev = BM_EV_READ | BM_EV_WRITE;	/* let libpq find the error */
	else
	{
		if (uv_events & (UV_READABLE | UV_DISCONNECT))
			ev |= BM_EV_READ;
		if (uv_events & UV_WRITABLE)
			ev |= BM_EV_WRITE;
	}
	bm_engine_on_ready(w->owner->engine, w->fd, ev);
}

static inline void
bm_libuv__on_timer(uv_timer_t *t)
{
	bm_libuv   *a = (bm_libuv *) t->data;

	if (!a->cleaned)
		bm_engine_on_timer(a->engine);
}

static inline bm_libuv_watch *
bm_libuv__find(bm_libuv *a, int fd)
{
	bm_libuv_watch *w;

	for (w = a->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

static inline void
bm_libuv__drop(bm_libuv *a, bm_libuv_watch *w)
{
	bm_libuv_watch **p = &a->watches;

	while (*p && *p != w)
		p = &(*p)->next;
	if (*p)
		*p = w->next;
	uv_poll_stop(&w->handle);
	uv_close((uv_handle_t *) &w->handle, bm_libuv__watch_closed);
}

/* add (on) or remove (!on) interest in events on fd */
static inline void
bm_libuv__update(void *data, int fd, int events, int on)
{
	bm_libuv   *a = (bm_libuv *) data;
	bm_libuv_watch *w = bm_libuv__find(a, fd);
	int			uv_events = 0;

	if (w == NULL)
	{
		if (!on)
			return;
		w = (bm_libuv_watch *) calloc(1, sizeof(*w));
		if (w == NULL)
			return;
		if (uv_poll_init(a->loop, &w->handle, fd) != 0)
		{
			free(w);
			return;
		}
		w->fd = fd;
		w->owner = a;
		w->handle.data = w;
		w->next = a->watches;
		a->watches = w;
		a->handles++;
	}
	w->events = on ? (w->events | events) : (w->events & ~events);
	if (w->events == 0)
	{
		bm_libuv__drop(a, w);
		return;
	}
	if (w->events & BM_EV_READ)
		uv_events |= UV_READABLE;
	if (w->events & BM_EV_WRITE)
		uv_events |= UV_WRITABLE;
	uv_poll_start(&w->handle, uv_events, bm_libuv__on_poll);
}

static inline void
bm_libuv__add_read(void *data, int fd)
{
	bm_libuv__update(data, fd, BM_EV_READ, 1);
}

static inline void
bm_libuv__del_read(void *data, int fd)
{
	bm_libuv__update(data, fd, BM_EV_READ, 0);
}

static inline void
bm_libuv__add_write(void *data, int fd)
{
	bm_libuv__update(data, fd, BM_EV_WRITE, 1);
}

static inline void
bm_libuv__del_write(void *data, int fd)
{
	bm_libuv__update(data, fd, BM_EV_WRITE, 0);
}

static inline void
bm_libuv__schedule_timer(void *data, long ms)
{
	bm_libuv   *a = (bm_libuv *) data;

	if (ms < 0)
		uv_timer_stop(&a->timer);
	else
		uv_timer_start(&a->timer, bm_libuv__on_timer, (uint64_t) ms, 0);
}

static inline void
bm_libuv__cleanup(void *data)
{
	bm_libuv   *a = (bm_libuv *) data;

	a->cleaned = 1;
	while (a->watches)
		bm_libuv__drop(a, a->watches);
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *) &a->timer, bm_libuv__timer_closed);
}

/* attach engine e to loop: 0, or -1 (bm_last_error()) */
static inline int
bm_libuv_attach(bm_engine *e, uv_loop_t *loop)
{
	bm_ev_hooks hooks;
	bm_libuv   *a;

	if (e == NULL || loop == NULL)
		return bm_engine_attach(NULL, NULL);
	a = (bm_libuv *) calloc(1, sizeof(*a));
	if (a == NULL)
		return -1;
	a->engine = e;
	a->loop = loop;
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	a->handles = 1;
	hooks.data = a;
	hooks.add_read = bm_libuv__add_read;
	hooks.del_read = bm_libuv__del_read;
	hooks.add_write = bm_libuv__add_write;
	hooks.del_write = bm_libuv__del_write;
	hooks.schedule_timer = bm_libuv__schedule_timer;
	hooks.cleanup = bm_libuv__cleanup;
	if (bm_engine_attach(e, &hooks) != 0)
	{
		a->cleaned = 1;
		uv_close((uv_handle_t *) &a->timer, bm_libuv__timer_closed);
		return -1;
	}
	return 0;
}

#endif							/* BASEMODEL_ADAPTERS_LIBUV_H */
