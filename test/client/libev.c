/*
 * libev.c
 *	  The libev adapter under the scenario of adaptertest.h: loop_run instead
 *	  of bm_engine_run; once the engine is freed from a callback loop_run
 *	  returns false (no active watcher left).
 */
#include "adaptertest.h"
#include "basemodel/adapters/libev.h"

static struct ev_loop *loop;
static ev_timer tick;

/* bmt_loop.open */
static void
loop_open(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		tap_bail("ev_loop_new failed");
}

/* bmt_loop.attach */
static int
loop_attach(bm_engine *e)
{
	return bm_libev_attach(e, loop);
}

/* bmt_loop.attach_null */
static int
loop_attach_null(bm_engine *e)
{
	return bm_libev_attach(e, NULL);
}

/* the tick timer's callback */
static void
loop_on_tick(struct ev_loop *l, ev_timer *t, int revents)
{
	(void) l;
	(void) t;
	(void) revents;
	bmt_adapter_tick();
}

/* bmt_loop.tick */
static void
loop_tick(int on)
{
	if (on)
	{
		ev_timer_init(&tick, loop_on_tick, 0.01, 0.01);
		ev_timer_start(loop, &tick);
	}
	else
		ev_timer_stop(loop, &tick);
}

/* bmt_loop.run: ev_run returns true while watchers are active */
static int
loop_run(void)
{
	return ev_run(loop, 0);
}

/* bmt_loop.close */
static void
loop_close(void)
{
	ev_loop_destroy(loop);
}

int
main(void)
{
	static const bmt_loop ops = {"libev", loop_open, loop_attach, loop_tick, loop_run, loop_close, loop_attach_null};

	return bmt_adapter_main(&ops);
}
