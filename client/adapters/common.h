/*
 * common.h
 *	  Not an adapter: the part every adapter in this directory shares, so
 *	  that each says only how its loop watches a socket and keeps a timer.
 *	  Installed as <basemodel/adapters/common.h>; include an adapter, not this:
 *	  its names are the adapters' own and may change between versions.
 *
 *	  The engine's hooks name one socket and one kind of interest at a time.
 *	  This keeps one record per socket with its read/write interest, has the
 *	  adapter watch it when that interest changes, and hands the record back
 *	  the moment the socket is watched for nothing: the engine may then close
 *	  it, and a new connection may get the same number.  Only the public
 *	  header is used.
 */
#ifndef BASEMODEL_ADAPTERS_COMMON_H
#define BASEMODEL_ADAPTERS_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <basemodel.h>

typedef struct bm_adapter bm_adapter;

/* one watched socket; an adapter's own record starts with it */
typedef struct bm_adapter_watch
{
	bm_adapter *owner;
	int			fd;
	int			events;			/* BM_EV_READ | BM_EV_WRITE, never 0 */
	struct bm_adapter_watch *next;
} bm_adapter_watch;

/* what an adapter does for the common part */
typedef struct bm_adapter_ops
{
	const char *attach_name;	/* the adapter's attach function, for its errors */
	size_t		size;			/* size of the adapter's own state */
	size_t		watch_size;		/* size of the adapter's watch record */
	/* set up the loop state (the timer) of a new adapter; 0, or -1 with nothing to release */
	int			(*start) (bm_adapter *a);
	/* watch w->fd for w->events; a new record (created) is zeroed past the common part; 0 or -1 */
	int			(*watch) (bm_adapter *a, bm_adapter_watch *w, int created);
	/* stop watching w->fd before returning, and free w (now or later) */
	void		(*unwatch) (bm_adapter *a, bm_adapter_watch *w);
	/* as bm_ev_hooks.schedule_timer */
	void		(*timer) (bm_adapter *a, long ms);
	/* the engine is gone (or was never attached): free the rest, a included */
	void		(*release) (bm_adapter *a);
} bm_adapter_ops;

/*
 * The ops of adapter NAME, from its functions NAME__start, NAME__watch,
 * NAME__unwatch, NAME__timer and NAME__release and its types NAME and
 * NAME_watch.
 */
#define BM_ADAPTER_OPS(NAME) \
	{ \
		#NAME "_attach", sizeof(NAME), sizeof(NAME##_watch), NAME##__start, NAME##__watch, \
		NAME##__unwatch, NAME##__timer, NAME##__release \
	}

/* an adapter's own state starts with this */
struct bm_adapter
{
	bm_engine  *engine;
	void	   *loop;			/* what the program attached the engine to */
	const bm_adapter_ops *ops;
	bm_adapter_watch *watches;
};

/* in's bits in_read and in_write, as out_read and out_write: a loop's flags to BM_EV_*, or back */
static inline int
bm_adapter__bits(int in, int in_read, int in_write, int out_read, int out_write)
{
	return ((in & in_read) ? out_read : 0) | ((in & in_write) ? out_write : 0);
}

/* the record of fd, or NULL */
static inline bm_adapter_watch *
bm_adapter__find(bm_adapter *a, int fd)
{
	bm_adapter_watch *w;

	for (w = a->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

/* take w out of the list and have the adapter stop watching it */
static inline void
bm_adapter__drop(bm_adapter *a, bm_adapter_watch *w)
{
	bm_adapter_watch **p = &a->watches;

	while (*p && *p != w)
		p = &(*p)->next;
	if (*p)
		*p = w->next;
	a->ops->unwatch(a, w);
}

/*
 * Add (on) or remove (!on) interest in events on fd.  The hooks cannot
 * report a failure: a socket the loop refuses stays unwatched.
 */
static inline void
bm_adapter__update(void *data, int fd, int events, int on)
{
	bm_adapter *a = (bm_adapter *) data;
	bm_adapter_watch *w = bm_adapter__find(a, fd);

	if (w == NULL)
	{
		if (!on)
			return;
		w = (bm_adapter_watch *) calloc(1, a->ops->watch_size);
		if (w == NULL)
			return;
		w->owner = a;
		w->fd = fd;
		w->events = events;
		if (a->ops->watch(a, w, 1) != 0)
		{
			free(w);
			return;
		}
		w->next = a->watches;
		a->watches = w;
		return;
	}
	w->events = on ? (w->events | events) : (w->events & ~events);
	if (w->events == 0)
		bm_adapter__drop(a, w);
	else
		a->ops->watch(a, w, 0);
}

/* bm_ev_hooks.add_read */
static inline void
bm_adapter__add_read(void *data, int fd)
{
	bm_adapter__update(data, fd, BM_EV_READ, 1);
}

/* bm_ev_hooks.del_read */
static inline void
bm_adapter__del_read(void *data, int fd)
{
	bm_adapter__update(data, fd, BM_EV_READ, 0);
}

/* bm_ev_hooks.add_write */
static inline void
bm_adapter__add_write(void *data, int fd)
{
	bm_adapter__update(data, fd, BM_EV_WRITE, 1);
}

/* bm_ev_hooks.del_write */
static inline void
bm_adapter__del_write(void *data, int fd)
{
	bm_adapter__update(data, fd, BM_EV_WRITE, 0);
}

/* bm_ev_hooks.schedule_timer */
static inline void
bm_adapter__schedule_timer(void *data, long ms)
{
	bm_adapter *a = (bm_adapter *) data;

	a->ops->timer(a, ms);
}

/* bm_ev_hooks.cleanup: the engine is being freed, perhaps from inside one of our callbacks */
static inline void
bm_adapter__cleanup(void *data)
{
	bm_adapter *a = (bm_adapter *) data;

	while (a->watches)
		bm_adapter__drop(a, a->watches);
	a->ops->release(a);
}

/*
 * Attach engine e to loop through a new adapter that does ops: 0, or -1
 * (bm_last_error() says why, unless out of memory).
 */
static inline int
bm_adapter__attach(bm_engine *e, void *loop, const bm_adapter_ops *ops)
{
	bm_ev_hooks hooks;
	bm_adapter *a;

	if (e == NULL)
		return bm_engine_attach(NULL, NULL);
	if (loop == NULL)
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "%s: the event loop is NULL", ops->attach_name);
		return bm_usage_error(msg);
	}
	a = (bm_adapter *) calloc(1, ops->size);
	if (a == NULL)
		return -1;
	a->engine = e;
	a->loop = loop;
	a->ops = ops;
	if (ops->start(a) != 0)
	{
		free(a);
		return -1;
	}
	hooks.data = a;
	hooks.add_read = bm_adapter__add_read;
	hooks.del_read = bm_adapter__del_read;
	hooks.add_write = bm_adapter__add_write;
	hooks.del_write = bm_adapter__del_write;
	hooks.schedule_timer = bm_adapter__schedule_timer;
	hooks.cleanup = bm_adapter__cleanup;
	if (bm_engine_attach(e, &hooks) == 0)
		return 0;
	ops->release(a);
	return -1;
}

#endif							/* BASEMODEL_ADAPTERS_COMMON_H */
