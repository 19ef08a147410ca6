/*
 * libev.h
 *	  Attach a libbasemodel engine to a libev loop (header-only; link with
 *	  -lev, which has no pkg-config file).  Installed as
 *	  <basemodel/adapters/libev.h>.
 *
 *		bm_libev_attach(engine, EV_DEFAULT);
 *		... queue work ...
 *		ev_run(EV_DEFAULT, 0);
 *
 *	  One ev_io per socket the engine watches, one ev_timer per engine.  A
 *	  socket the engine stops watching has its watcher stopped and freed at
 *	  once, and a socket watched again is set afresh (ev_io_init), which is
 *	  how libev learns that a reused descriptor number is a new socket.  The
 *	  watchers keep ev_run going while the engine has connections;
 *	  bm_engine_free (from a callback, say) stops them all.
 */
#ifndef BASEMODEL_ADAPTERS_LIBEV_H
#define BASEMODEL_ADAPTERS_LIBEV_H

#include <ev.h>

#include "common.h"

#if !EV_MULTIPLICITY
#error "the basemodel libev adapter takes a loop argument: it needs libev built with EV_MULTIPLICITY"
#endif

typedef struct bm_libev_watch
{
	bm_adapter_watch base;
	ev_io		io;
} bm_libev_watch;

typedef struct bm_libev
{
	bm_adapter	base;
	struct ev_loop *loop;
	ev_timer	timer;
} bm_libev;

/* a watched socket is ready (or libev gave up on it: libpq finds out why) */
static inline void
bm_libev__on_io(struct ev_loop *loop, ev_io *io, int revents)
{
	bm_libev_watch *w = (bm_libev_watch *) io->data;
	int			ev = bm_adapter__bits(revents, EV_READ | EV_ERROR, EV_WRITE | EV_ERROR, BM_EV_READ, BM_EV_WRITE);

	(void) loop;
	bm_engine_on_ready(w->base.owner->engine, w->base.fd, ev);
}

/* the engine's timer fired */
static inline void
bm_libev__on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void) loop;
	(void) revents;
	bm_engine_on_timer(((bm_libev *) t->data)->base.engine);
}

/* bm_adapter_ops.watch: an ev_io cannot change while active, so stop, set, start */
static inline int
bm_libev__watch(bm_adapter *base, bm_adapter_watch *bw, int created)
{
	bm_libev   *a = (bm_libev *) base;
	bm_libev_watch *w = (bm_libev_watch *) bw;

	if (!created)
		ev_io_stop(a->loop, &w->io);
	ev_io_init(&w->io, bm_libev__on_io, bw->fd,
			   bm_adapter__bits(bw->events, BM_EV_READ, BM_EV_WRITE, EV_READ, EV_WRITE));
	w->io.data = w;
	ev_io_start(a->loop, &w->io);
	return 0;
}

/* bm_adapter_ops.unwatch: a stopped watcher may be freed at once, even from its own callback */
static inline void
bm_libev__unwatch(bm_adapter *base, bm_adapter_watch *bw)
{
	ev_io_stop(((bm_libev *) base)->loop, &((bm_libev_watch *) bw)->io);
	free(bw);
}

/* bm_adapter_ops.timer */
static inline void
bm_libev__timer(bm_adapter *base, long ms)
{
	bm_libev   *a = (bm_libev *) base;

	ev_timer_stop(a->loop, &a->timer);
	if (ms < 0)
		return;
	ev_timer_set(&a->timer, (ev_tstamp) ms / 1000.0, 0.0);
	ev_timer_start(a->loop, &a->timer);
}

/* bm_adapter_ops.release */
static inline void
bm_libev__release(bm_adapter *base)
{
	bm_libev   *a = (bm_libev *) base;

	ev_timer_stop(a->loop, &a->timer);
	free(a);
}

/* bm_adapter_ops.start */
static inline int
bm_libev__start(bm_adapter *base)
{
	bm_libev   *a = (bm_libev *) base;

	a->loop = (struct ev_loop *) base->loop;
	ev_timer_init(&a->timer, bm_libev__on_timer, 0.0, 0.0);
	a->timer.data = a;
	return 0;
}

/* attach engine e to loop: 0, or -1 (bm_last_error() says why, unless out of memory) */
static inline int
bm_libev_attach(bm_engine *e, struct ev_loop *loop)
{
	static const bm_adapter_ops ops = BM_ADAPTER_OPS(bm_libev);

	return bm_adapter__attach(e, loop, &ops);
}

#endif							/* BASEMODEL_ADAPTERS_LIBEV_H */
