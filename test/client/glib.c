/*
 * glib.c
 *	  The GLib adapter under the scenario of adaptertest.h: the test's own
 *	  GMainContext is iterated until the engine is freed from a callback;
 *	  then no source is left on the context, which polls no more descriptors
 *	  than before the attach and has no timeout pending.
 */
#include "adaptertest.h"
#include "basemodel/adapters/glib.h"

static GMainContext *context;
static GSource *tick;
static int	polled_before;

/* one iteration that dispatches nothing: how many descriptors the context polls, and its timeout */
static int
glib_polled(gint *timeout)
{
	GPollFD		fds[16];
	gint		prio,
				n;

	g_main_context_acquire(context);
	g_main_context_prepare(context, &prio);
	n = g_main_context_query(context, prio, timeout, fds, 16);
	g_main_context_check(context, prio, fds, n < 16 ? n : 16);
	g_main_context_release(context);
	return n;
}

/* how many sources are attached to the context (its own ids, from 1; the test makes few) */
static int
glib_sources(void)
{
	int			n = 0;
	guint		id;

	for (id = 1; id <= 64; id++)
		n += g_main_context_find_source_by_id(context, id) != NULL;
	return n;
}

/* bmt_loop.open */
static void
loop_open(void)
{
	gint		timeout;

	context = g_main_context_new();
	polled_before = glib_polled(&timeout);
}

/* bmt_loop.attach */
static int
loop_attach(bm_engine *e)
{
	return bm_glib_attach(e, context);
}

/* the tick source's callback */
static gboolean
loop_on_tick(gpointer data)
{
	(void) data;
	bmt_adapter_tick();
	return G_SOURCE_CONTINUE;
}

/* bmt_loop.tick */
static void
loop_tick(int on)
{
	if (on)
	{
		tick = g_timeout_source_new(10);
		g_source_set_callback(tick, loop_on_tick, NULL, NULL);
		g_source_attach(tick, context);
		return;
	}
	g_source_destroy(tick);
	g_source_unref(tick);
}

/* bmt_loop.run: iterate until the engine is freed, then look at what is left */
static int
loop_run(void)
{
	gint		timeout;
	int			polled,
				sources;

	while (!bmt_adapter.freed)
		g_main_context_iteration(context, TRUE);
	polled = glib_polled(&timeout);
	sources = glib_sources();
	if (sources != 0 || polled != polled_before || timeout != -1)
		printf("# %d source(s) left; polled %d descriptors (%d before the attach), timeout %d\n",
			   sources, polled, polled_before, timeout);
	return sources != 0 || polled != polled_before || timeout != -1;
}

/* bmt_loop.close */
static void
loop_close(void)
{
	g_main_context_unref(context);
}

int
main(void)
{
	static const bmt_loop ops = {"glib", loop_open, loop_attach, loop_tick, loop_run, loop_close, NULL};

	return bmt_adapter_main(&ops);
}
