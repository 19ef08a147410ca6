/*
 * glib.h
 *	  Attach a libbasemodel engine to a GLib main context (header-only; link
 *	  with `pkg-config --libs glib-2.0`).  Installed as
 *	  <basemodel/adapters/glib.h>.
 *
 *		bm_glib_attach(engine, NULL);		(NULL: the default context)
 *		... queue work; the last callback frees the engine and quits ...
 *		g_main_loop_run(loop);
 *
 *	  One GSource per engine (named "basemodel"), attached to the context:
 *	  each socket the engine watches is one of its unix fds, and the
 *	  engine's timer is its ready time.  A socket the engine stops watching
 *	  is removed from the source at once, so a new connection can reuse the
 *	  descriptor number.  bm_engine_free (from a callback, say) destroys the
 *	  source.  A GMainLoop runs until g_main_loop_quit, engine or not: quit
 *	  it when the work is done.
 */
#ifndef BASEMODEL_ADAPTERS_GLIB_H
#define BASEMODEL_ADAPTERS_GLIB_H

#include <glib.h>

#include "common.h"

typedef struct bm_glib_watch
{
	bm_adapter_watch base;
	gpointer	tag;			/* g_source_add_unix_fd's */
	int			ready;			/* BM_EV_* seen by the dispatch under way, not yet passed on */
} bm_glib_watch;

typedef struct bm_glib bm_glib;

/* GLib owns this and keeps it alive while it dispatches, after the engine too */
typedef struct bm_glib_source
{
	GSource		source;
	bm_glib    *adapter;		/* NULL once the engine is gone */
} bm_glib_source;

struct bm_glib
{
	bm_adapter	base;
	bm_glib_source *source;
};

/* what a socket's poll result means to the engine */
static inline int
bm_glib__events(GIOCondition cond)
{
	const int	bad = G_IO_ERR | G_IO_HUP | G_IO_NVAL;	/* let libpq find the error */

	return bm_adapter__bits(cond, G_IO_IN | bad, G_IO_OUT | bad, BM_EV_READ, BM_EV_WRITE);
}

/* the first socket with events not passed on yet, or NULL */
static inline bm_glib_watch *
bm_glib__next_ready(bm_glib *a)
{
	bm_adapter_watch *w;

	for (w = a->base.watches; w; w = w->next)
		if (((bm_glib_watch *) w)->ready & w->events)
			return (bm_glib_watch *) w;
	return NULL;
}

/*
 * GSourceFuncs.dispatch: pass on every ready socket, then the timer.  Any
 * callback may change the watched sockets or free the engine, so the ready
 * ones are noted first and looked for afresh after each.
 */
static inline gboolean
bm_glib__dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	bm_glib_source *src = (bm_glib_source *) source;
	bm_adapter_watch *w;
	bm_glib_watch *r;
	gint64		due;

	(void) callback;
	(void) user_data;
	if (src->adapter == NULL)
		return G_SOURCE_REMOVE;
	for (w = src->adapter->base.watches; w; w = w->next)
		((bm_glib_watch *) w)->ready =
			bm_glib__events(g_source_query_unix_fd(source, ((bm_glib_watch *) w)->tag));
	while (src->adapter && (r = bm_glib__next_ready(src->adapter)) != NULL)
	{
		int			ev = r->ready & r->base.events;

		r->ready = 0;
		bm_engine_on_ready(src->adapter->base.engine, r->base.fd, ev);
	}
	due = g_source_get_ready_time(source);
	if (src->adapter && due >= 0 && due <= g_source_get_time(source))
	{
		g_source_set_ready_time(source, -1);
		bm_engine_on_timer(src->adapter->base.engine);
	}
	return G_SOURCE_CONTINUE;
}

/* bm_adapter_ops.watch */
static inline int
bm_glib__watch(bm_adapter *base, bm_adapter_watch *bw, int created)
{
	GSource    *source = &((bm_glib *) base)->source->source;
	bm_glib_watch *w = (bm_glib_watch *) bw;
	int			cond = bm_adapter__bits(bw->events, BM_EV_READ, BM_EV_WRITE, G_IO_IN, G_IO_OUT);

	if (created)
		w->tag = g_source_add_unix_fd(source, bw->fd, (GIOCondition) cond);
	else
		g_source_modify_unix_fd(source, w->tag, (GIOCondition) cond);
	return 0;
}

/* bm_adapter_ops.unwatch */
static inline void
bm_glib__unwatch(bm_adapter *base, bm_adapter_watch *bw)
{
	g_source_remove_unix_fd(&((bm_glib *) base)->source->source, ((bm_glib_watch *) bw)->tag);
	free(bw);
}

/* bm_adapter_ops.timer: the source's ready time, on the monotonic clock */
static inline void
bm_glib__timer(bm_adapter *base, long ms)
{
	GSource    *source = &((bm_glib *) base)->source->source;

	g_source_set_ready_time(source, ms < 0 ? -1 : g_get_monotonic_time() + (gint64) ms * 1000);
}

/* bm_adapter_ops.release: a dispatch under way sees adapter NULL; GLib frees the source */
static inline void
bm_glib__release(bm_adapter *base)
{
	bm_glib    *a = (bm_glib *) base;

	a->source->adapter = NULL;
	g_source_destroy(&a->source->source);
	g_source_unref(&a->source->source);
	free(a);
}

/* bm_adapter_ops.start: a source of our own on the context */
static inline int
bm_glib__start(bm_adapter *base)
{
	static GSourceFuncs funcs = {NULL, NULL, bm_glib__dispatch, NULL, NULL, NULL};
	bm_glib    *a = (bm_glib *) base;

	a->source = (bm_glib_source *) g_source_new(&funcs, sizeof(bm_glib_source));
	a->source->adapter = a;
	g_source_set_name(&a->source->source, "basemodel");
	g_source_attach(&a->source->source, (GMainContext *) base->loop);
	return 0;
}

/* attach engine e to context (NULL: the default one): 0, or -1 (bm_last_error() says why, unless out of memory) */
static inline int
bm_glib_attach(bm_engine *e, GMainContext *context)
{
	static const bm_adapter_ops ops = BM_ADAPTER_OPS(bm_glib);

	return bm_adapter__attach(e, context ? context : g_main_context_default(), &ops);
}

#endif							/* BASEMODEL_ADAPTERS_GLIB_H */
