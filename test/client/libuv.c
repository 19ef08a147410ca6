/*
 * libuv.c
 *	  The libuv adapter under the scenario of adaptertest.h: loop_run instead
 *	  of bm_engine_run; once the engine is freed from a callback loop_run
 *	  returns and uv_loop_close finds no handle left open.
 */
#include "adaptertest.h"
#include "basemodel/adapters/libuv.h"

static uv_loop_t loop;
static uv_timer_t tick;

/* bmt_loop.open */
static void
loop_open(void)
{
	uv_loop_init(&loop);
}

/* bmt_loop.attach */
static int
loop_attach(bm_engine *e)
{
	return bm_libuv_attach(e, &loop);
}

/* bmt_loop.attach_null */
static int
loop_attach_null(bm_engine *e)
{
	return bm_libuv_attach(e, NULL);
}

/* the tick timer's callback */
static void
loop_on_tick(uv_timer_t *t)
{
	(void) t;
	bmt_adapter_tick();
}

/* bmt_loop.tick */
static void
loop_tick(int on)
{
	if (on)
	{
		uv_timer_init(&loop, &tick);
		uv_timer_start(&tick, loop_on_tick, 10, 10);
		return;
	}
	uv_timer_stop(&tick);
	uv_close((uv_handle_t *) &tick, NULL);
}

/* bmt_loop.run: uv_run returns 0 when no handle is active, uv_loop_close when none is open */
static int
loop_run(void)
{
	int			rc = uv_run(&loop, UV_RUN_DEFAULT);

	return rc != 0 ? rc : uv_loop_close(&loop);
}

int
main(void)
{
	static const bmt_loop ops = {"libuv", loop_open, loop_attach, loop_tick, loop_run, NULL, loop_attach_null};

	return bmt_adapter_main(&ops);
}
