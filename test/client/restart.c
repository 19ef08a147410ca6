/*
 * restart.c
 *	  The server stopped while statements are in flight, and started again:
 *	  every callback comes once (BM_ERR_OUTCOME_UNKNOWN where the COMMIT or
 *	  the autocommit statement was sent), work queued while the server is
 *	  down fails (BM_ERR_CONNECTION) instead of hanging, and the engine works again as
 *	  soon as the server answers.  Only on a throwaway cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bmtest.h"

static bm_engine *engine;
static bmt_rec first = {0},
			sleeping = {0},
			commit = {0},
			autos[2];

static pid_t child = -1;

static int
cluster(const char *action)
{
	char		cmd[256];

	snprintf(cmd, sizeof(cmd), "pg_ctlcluster \"$PGVERSION\" regress %s >/dev/null 2>&1", action);
	return system(cmd);
}

/* connected and answered: queue long statements, and stop the server under them */
static void
on_first(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_execute(s, "SELECT pg_sleep(30)", 0, NULL, bmt_result_cb, &sleeping);
	bm_session_commit(s, bmt_done_cb, &commit);
	bm_engine_execute(engine, "SELECT pg_sleep(30)", 0, NULL, bmt_result_cb, &autos[0]);
	fflush(stdout);
	child = fork();
	if (child == 0)
	{
		usleep(300 * 1000);
		_exit(cluster("stop") == 0 ? 0 : 1);
	}
}

int
main(void)
{
	const char *throwaway = getenv("BM_THROWAWAY_CLUSTER");
	bm_engine_options opts = {.pool_size = 2};
	bm_sessionmaker *m;
	bm_session *s;
	int			status = -1;

	if (throwaway == NULL || strcmp(throwaway, "1") != 0)
	{
		printf("ok 1 - server restart # SKIP the server is not a throwaway cluster (BM_THROWAWAY_CLUSTER is not 1)\n");
		printf("1..1\n");
		return 0;
	}
	bmt_guard(120);
	engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(engine, NULL);
	s = bm_session_open(m);
	bm_session_execute(s, "SELECT 1", 0, NULL, on_first, &first);
	bm_engine_execute(engine, "SELECT 1", 0, NULL, bmt_result_cb, &autos[1]);

	TAP_INT_EQ(bm_engine_run(engine), 0, "restart: bm_engine_run returns after the server stopped");
	if (child > 0)
		waitpid(child, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "restart: pg_ctlcluster stop worked", "status %d", status);
	BMT_REC_IS(first, BM_OK, "restart: the statement answered before the stop succeeded");
	/* COMMIT was sent, so the server may have committed before it stopped */
	BMT_REC_IS(sleeping, BM_ERR_OUTCOME_UNKNOWN, "restart: the session's statement in flight gets BM_ERR_OUTCOME_UNKNOWN");
	BMT_REC_IS(commit, BM_ERR_OUTCOME_UNKNOWN, "restart: its commit (sent) too");
	BMT_REC_IS(autos[0], BM_ERR_OUTCOME_UNKNOWN, "restart: the autocommit statement in flight gets BM_ERR_OUTCOME_UNKNOWN");

	/* while the server is down, work fails rather than waits */
	{
		bmt_rec		x = {0},
					a = {0},
					c = {0};

		bm_engine_execute(engine, "SELECT 1", 0, NULL, bmt_result_cb, &x);
		bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &a);
		bm_session_commit(s, bmt_done_cb, &c);
		bm_engine_run(engine);
		BMT_REC_IS(x, BM_ERR_CONNECTION, "restart: with the server down, bm_engine_execute gets BM_ERR_CONNECTION");
		BMT_REC_IS(a, BM_ERR_CONNECTION, "restart: and a session's statement too");
		BMT_REC_IS(c, BM_ERR_CONNECTION, "restart: and its commit");
	}

	TAP_INT_EQ(cluster("start"), 0, "restart: pg_ctlcluster start worked");
	{
		bmt_rec		x = {0},
					a = {0},
					c = {0};

		bm_engine_execute(engine, "SELECT 40 + 2", 0, NULL, bmt_result_cb, &x);
		bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &a);
		bm_session_commit(s, bmt_done_cb, &c);
		bm_engine_run(engine);
		BMT_REC_IS(x, BM_OK, "restart: once the server is back, bm_engine_execute works");
		TAP_STR_EQ(x.value, "42", "restart: and answers");
		BMT_REC_IS(a, BM_OK, "restart: the session works again");
		BMT_REC_IS(c, BM_OK, "restart: and commits");
	}
	bm_engine_free(engine);
	return tap_done();
}
