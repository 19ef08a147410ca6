/*
 * terminate.c
 *	  A connection killed with pg_terminate_backend while statements are in
 *	  flight: every callback comes once, the work on that connection fails
 *	  (BM_ERR_OUTCOME_UNKNOWN, its COMMIT having been sent), the rest of the
 *	  pool is unaffected, and the engine replaces the connection for new
 *	  work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NAUTO 20

static bm_engine *engine;
static bmt_rec pid = {0},
			victim[3],
			victim_commit = {0},
			killer = {0},
			bystanders[NAUTO];

static bm_session *first_session,
		   *s2;
static bmt_rec again = {0},
			c = {0},
			other = {0},
			oc = {0};

/* the second session's answer: now both transactions may end */
static void
on_second(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_commit(first_session, bmt_done_cb, &c);
	bm_session_commit(s, bmt_done_cb, &oc);
}

static void
on_pid(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	char		p[32];
	const char *params[1] = {p};
	int			i;

	bmt_result_cb(s, res, err, arg);
	if (err->code != BM_OK)
		return;
	snprintf(p, sizeof(p), "%s", bm_result_value(res, 0, 0));
	/* in flight on the victim's connection when the kill lands */
	bm_session_execute(s, "INSERT INTO term VALUES (1)", 0, NULL, bmt_result_cb, &victim[0]);
	bm_session_execute(s, "SELECT pg_sleep(5)", 0, NULL, bmt_result_cb, &victim[1]);
	bm_session_execute(s, "INSERT INTO term VALUES (2)", 0, NULL, bmt_result_cb, &victim[2]);
	bm_session_commit(s, bmt_done_cb, &victim_commit);
	/* autocommit work goes to the other connection */
	bm_engine_execute(engine, "SELECT pg_terminate_backend($1) FROM pg_sleep(0.2)", 1, params,
					  bmt_result_cb, &killer);
	for (i = 0; i < NAUTO; i++)
		bm_engine_execute(engine, "SELECT 1", 0, NULL, bmt_result_cb, &bystanders[i]);
}

int
main(void)
{
	PGconn	   *check = NULL;
	bm_engine_options opts = {.pool_size = 2};
	bm_sessionmaker *m;
	bm_session *s;
	bm_engine_stats st;
	int			i,
				ok = 0;

	bmt_guard(60);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS term; CREATE TABLE term (id int)");
	engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(engine, NULL);
	s = bm_session_open(m);
	/* two connections up, so that the kill and the victim use different ones */
	bm_engine_execute(engine, "SELECT 1", 0, NULL, NULL, NULL);
	bm_engine_execute(engine, "SELECT 1", 0, NULL, NULL, NULL);
	bm_session_execute(s, "SELECT pg_backend_pid()", 0, NULL, on_pid, &pid);
	TAP_INT_EQ(bm_engine_run(engine), 0, "terminate: bm_engine_run returns");
	BMT_REC_IS(pid, BM_OK, "terminate: the session learns its backend's pid");
	BMT_REC_IS(killer, BM_OK, "terminate: pg_terminate_backend runs on another connection");
	TAP_STR_EQ(killer.value, "t", "terminate: and kills the session's backend");
	/* the first insert may have been answered before the kill */
	for (i = 0; i < 3; i++)
		ok += victim[i].calls == 1 && (i == 0 || victim[i].code != BM_OK);
	TAP_INT_EQ(ok, 3, "terminate: each statement in flight gets exactly one callback, failing after the kill");
	/* the COMMIT was on the wire: nobody can tell the kill came before it */
	BMT_REC_IS(victim[1], BM_ERR_OUTCOME_UNKNOWN, "terminate: the running statement gets BM_ERR_OUTCOME_UNKNOWN");
	BMT_REC_IS(victim_commit, BM_ERR_OUTCOME_UNKNOWN, "terminate: and the commit");
	ok = 0;
	for (i = 0; i < NAUTO; i++)
		ok += bystanders[i].calls == 1 && bystanders[i].code == BM_OK;
	TAP_INT_EQ(ok, NAUTO, "terminate: work on the other connection is unaffected");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM term"), 0, "terminate: nothing of the killed transaction is committed");

	/* the engine recovers: the same session and new work run again */
	{
		bmt_rec		x[8];

		memset(x, 0, sizeof(x));
		/*
		 * Two open transactions at once need both connections of the pool:
		 * the first session commits only once the second has its answer.
		 */
		s2 = bm_session_open(m);
		first_session = s;
		bm_session_execute(s, "INSERT INTO term VALUES (3)", 0, NULL, bmt_result_cb, &again);
		bm_session_execute(s2, "SELECT 1", 0, NULL, on_second, &other);
		for (i = 0; i < 8; i++)
			bm_engine_execute(engine, "SELECT 1", 0, NULL, bmt_result_cb, &x[i]);
		bm_engine_run(engine);
		BMT_REC_IS(again, BM_OK, "terminate: the session runs a new unit after the loss");
		BMT_REC_IS(c, BM_OK, "terminate: and commits it");
		BMT_REC_IS(other, BM_OK, "terminate: a second session runs beside it, on a new connection");
		BMT_REC_IS(oc, BM_OK, "terminate: a second session commits beside it");
		ok = 0;
		for (i = 0; i < 8; i++)
			ok += x[i].calls == 1 && x[i].code == BM_OK;
		TAP_INT_EQ(ok, 8, "terminate: autocommit work runs after the loss");
		TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM term"), 1, "terminate: the new unit's row is committed");
	}
	bm_engine_get_stats(engine, &st);
	TAP_INT_EQ(st.disconnects, 1, "terminate: one connection was lost");
	tap_ok(st.connects == 3, "terminate: the pool replaced it", "expected 3 connects, got %ld", st.connects);
	bm_engine_free(engine);
	bmt_exec(check, "DROP TABLE IF EXISTS term");
	PQfinish(check);
	return tap_done();
}
