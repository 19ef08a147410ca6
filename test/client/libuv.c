/*
 * libuv.c
 *	  The libuv adapter: with bm_libuv_attach the program runs uv_run and
 *	  never bm_engine_run.  Sessions and autocommit statements complete; the
 *	  engine's connections are killed and replaced under the loop (new
 *	  sockets, possibly under the old numbers); freeing the engine from a
 *	  callback closes every handle so that uv_run returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"
#include "basemodel/adapters/libuv.h"

#define NSESSIONS 200
#define NAUTO 100
#define NAFTER 50

static uv_loop_t loop;
static bm_engine *engine;
static bm_sessionmaker *maker;
static int	phase1_left = NSESSIONS + NAUTO;
static int	phase1_ok = 0;
static long killed = -1;
static int	after_left = NAFTER;
static int	after_ok = 0;
static uv_timer_t wait_timer;
static int	freed = 0;

static void start_after(void);

static void
on_after_commit(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	after_ok += err->code == BM_OK;
	bm_session_close(s);
	if (--after_left == 0)
	{
		freed = 1;
		bm_engine_free(engine);	/* from a callback: closes the adapter's handles */
	}
}

/* wait (under the loop) until the engine has noticed every killed connection */
static void
on_wait(uv_timer_t *t)
{
	bm_engine_stats st;

	bm_engine_get_stats(engine, &st);
	if (st.disconnects >= killed)
	{
		uv_timer_stop(t);
		uv_close((uv_handle_t *) t, NULL);
		start_after();
	}
}

static void
on_killed(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	killed = err->code == BM_OK ? atol(bm_result_value(res, 0, 0)) : -1;
	uv_timer_init(&loop, &wait_timer);
	uv_timer_start(&wait_timer, on_wait, 10, 10);
}

static void
start_after(void)
{
	int			i;

	for (i = 0; i < NAFTER; i++)
	{
		bm_session *s = bm_session_open(maker);
		char		id[16];
		const char *params[1] = {id};

		snprintf(id, sizeof(id), "%d", 100000 + i);
		bm_session_execute(s, "INSERT INTO uvt VALUES ($1)", 1, params, NULL, NULL);
		bm_session_commit(s, on_after_commit, NULL);
	}
}

static void
phase1_done(void)
{
	if (--phase1_left > 0)
		return;
	/* kill every other connection of the engine while it is idle */
	bm_engine_execute(engine,
					  "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
					  "WHERE application_name = 'bm_uv_test' AND pid <> pg_backend_pid()",
					  0, NULL, on_killed, NULL);
}

static void
on_commit(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	phase1_ok += err->code == BM_OK;
	bm_session_close(s);
	phase1_done();
}

static void
on_auto(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) res;
	(void) arg;
	phase1_ok += err->code == BM_OK && s == NULL;
	phase1_done();
}

int
main(void)
{
	PGconn	   *check;
	bm_engine_options opts = {.pool_size = 3, .application_name = "bm_uv_test"};
	bm_engine_stats st;
	int			i;

	bmt_guard(120);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS uvt; CREATE TABLE uvt (id int PRIMARY KEY)");
	uv_loop_init(&loop);
	engine = bmt_engine(&opts);
	maker = bm_sessionmaker_create(engine, NULL);
	TAP_INT_EQ(bm_libuv_attach(engine, &loop), 0, "libuv: bm_libuv_attach attaches the engine");
	TAP_INT_EQ(bm_libuv_attach(engine, &loop), -1, "libuv: a second attach is refused");
	TAP_INT_EQ(bm_engine_run(engine), -1, "libuv: bm_engine_run is refused while a loop is attached");

	for (i = 0; i < NSESSIONS; i++)
	{
		bm_session *s = bm_session_open(maker);
		char		id[16];
		const char *params[1] = {id};

		snprintf(id, sizeof(id), "%d", i);
		bm_session_execute(s, "INSERT INTO uvt VALUES ($1)", 1, params, NULL, NULL);
		bm_session_commit(s, on_commit, NULL);
	}
	for (i = 0; i < NAUTO; i++)
		bm_engine_execute(engine, "SELECT 1", 0, NULL, on_auto, NULL);

	TAP_INT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0, "libuv: uv_run returns once the engine is freed");
	TAP_INT_EQ(phase1_ok, NSESSIONS + NAUTO, "libuv: every session and autocommit statement succeeds under uv_run");
	tap_ok(killed >= 1, "libuv: the engine's other connections were killed", "killed %ld", killed);
	TAP_INT_EQ(after_ok, NAFTER, "libuv: after the kill, new sessions run on new connections");
	TAP_INT_EQ(freed, 1, "libuv: the engine was freed from a callback");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM uvt"), NSESSIONS + NAFTER, "libuv: every committed row is present");
	(void) st;
	TAP_INT_EQ(uv_loop_close(&loop), 0, "libuv: no handle is left open on the loop");
	bmt_exec(check, "DROP TABLE IF EXISTS uvt");
	PQfinish(check);
	return tap_done();
}
