/*
 * events.c
 *	  The server's events (eventstest.h) under the built-in loop,
 *	  bm_engine_run.
 */
#include "eventstest.h"

/* evt_loop.attach: the built-in loop needs nothing */
static void
builtin_attach(bm_engine *e)
{
	(void) e;
}

/* evt_loop.run */
static void
builtin_run(bm_engine *e)
{
	if (bm_engine_run(e) != 0)
		printf("# bm_engine_run: %s\n", bm_last_error()->message);
}

int
main(void)
{
	static const evt_loop loop = {"builtin", builtin_attach, builtin_run};

	return evt_main(&loop);
}
