/*
 * events_libuv.c
 *	  The server's events (eventstest.h) under the libuv adapter: uv_run
 *	  returns once a callback has freed the engine.
 */
#include "eventstest.h"
#include "basemodel/adapters/libuv.h"

static uv_loop_t loop;

/* evt_loop.attach */
static void
uv_attach(bm_engine *e)
{
	if (bm_libuv_attach(e, &loop) != 0)
		tap_bail("bm_libuv_attach failed");
}

/* evt_loop.run: the engine's handles are closed once it is freed */
static void
uv_run_engine(bm_engine *e)
{
	(void) e;
	uv_run(&loop, UV_RUN_DEFAULT);
}

int
main(void)
{
	static const evt_loop ops = {"libuv", uv_attach, uv_run_engine};
	int			rc;

	uv_loop_init(&loop);
	rc = evt_main(&ops);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
	{
		printf("Bail out! the libuv loop still holds handles\n");
		return 1;
	}
	return rc;
}
