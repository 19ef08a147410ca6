/*
 * libevent.c
 *	  The libevent adapter under the scenario of adaptertest.h:
 *	  event_base_dispatch instead of bm_engine_run; once the engine is freed
 *	  from a callback dispatch returns 1 (no event left).
 */
#include "adaptertest.h"
#include "basemodel/adapters/libevent.h"

static struct event_base *evbase;
static struct event *tick;

/* bmt_loop.open */
static void
loop_open(void)
{
	evbase = event_base_new();
	if (evbase == NULL)
		tap_bail("event_base_new failed");
}

/* bmt_loop.attach */
static int
loop_attach(bm_engine *e)
{
	return bm_libevent_attach(e, evbase);
}

/* bmt_loop.attach_null */
static int
loop_attach_null(bm_engine *e)
{
	return bm_libevent_attach(e, NULL);
}

/* the tick event's callback */
static void
loop_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	bmt_adapter_tick();
}

/* bmt_loop.tick */
static void
loop_tick(int on)
{
	struct timeval tv = {0, 10000};

	if (on)
	{
		tick = event_new(evbase, -1, EV_PERSIST, loop_on_tick, NULL);
		event_add(tick, &tv);
	}
	else
		event_free(tick);
}

/* bmt_loop.run: dispatch returns 1 when no event is left, 0 when asked to stop */
static int
loop_run(void)
{
	int			rc = event_base_dispatch(evbase);

	return rc == 1 ? 0 : -1;
}

/* bmt_loop.close */
static void
loop_close(void)
{
	event_base_free(evbase);
}

int
main(void)
{
	static const bmt_loop ops = {"libevent", loop_open, loop_attach, loop_tick, loop_run, loop_close, loop_attach_null};

	return bmt_adapter_main(&ops);
}
