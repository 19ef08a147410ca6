/*
 * pool.c
 *	  1,000 sessions over a pool of 4 (queued in order, none refused, every
 *	  callback once, every committed row present, never more than 4
 *	  connections), and bm_engine_execute from many callers at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NSESSIONS 1000
#define NCALLERS 500

static bmt_rec ins[NSESSIONS],
			com[NSESSIONS];
static int	closed_in_callback = 0;

/* each commit closes its own session from inside the callback */
static void
on_commit_close(bm_session *s, const bm_error *err, void *arg)
{
	bmt_done_cb(s, err, arg);
	bm_session_close(s);
	closed_in_callback++;
}

static void
test_many_sessions(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 4, .application_name = "bm_pool_test"};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_engine_stats st;
	int			i,
				ok_ins = 0,
				ok_com = 0,
				in_order = 1;

	bmt_exec(check, "DROP TABLE IF EXISTS many; CREATE TABLE many (id int PRIMARY KEY, s text)");
	for (i = 0; i < NSESSIONS; i++)
	{
		bm_session *s = bm_session_open(m);
		char		id[16];
		const char *params[2] = {id, "x"};

		snprintf(id, sizeof(id), "%d", i);
		if (s == NULL)
		{
			printf("# bm_session_open: %s\n", bm_last_error()->message);
			break;
		}
		bm_session_execute(s, "INSERT INTO many VALUES ($1, $2)", 2, params, bmt_result_cb, &ins[i]);
		bm_session_commit(s, on_commit_close, &com[i]);
	}
	TAP_INT_EQ(bm_engine_run(e), 0, "1,000 sessions: bm_engine_run returns 0 (no deadlock)");
	for (i = 0; i < NSESSIONS; i++)
	{
		ok_ins += ins[i].calls == 1 && ins[i].code == BM_OK;
		ok_com += com[i].calls == 1 && com[i].code == BM_OK;
		if (com[i].order < ins[i].order)
			in_order = 0;
	}
	TAP_INT_EQ(ok_ins, NSESSIONS, "1,000 sessions: every insert gets exactly one successful callback");
	TAP_INT_EQ(ok_com, NSESSIONS, "1,000 sessions: every commit gets exactly one successful callback");
	tap_ok(in_order, "1,000 sessions: each session's commit comes after its insert", "a commit came first");
	TAP_INT_EQ(closed_in_callback, NSESSIONS, "1,000 sessions: each closed from its commit's callback");
	TAP_INT_EQ(bmt_long(check, "SELECT count(DISTINCT id) FROM many"), NSESSIONS, "1,000 sessions: every committed row is present");
	bm_engine_get_stats(e, &st);
	tap_ok(st.connects >= 1 && st.connects <= 4, "1,000 sessions: the pool never opens more than 4 connections",
		   "expected 1..4 connects, got %ld", st.connects);
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bm_pool_test'"),
			   st.connects, "1,000 sessions: the server sees the pool's connections, named by application_name");
	bm_engine_free(e);
}

static int	caller_seen[NCALLERS];
static int	caller_order_ok = 1;
static int	caller_next = 0;

static void
on_caller(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	long		i = (long) (intptr_t) arg;

	if (s != NULL)
		caller_order_ok = 0;
	if (i != caller_next++)
		caller_order_ok = 0;
	caller_seen[i]++;
	if (i == 250)
	{
		if (err->code != BM_ERR_SQL || strcmp(err->sqlstate, "22012") != 0)
			caller_seen[i] += 100;
		return;
	}
	if (i == 300)
	{
		/* a NULL parameter comes back as SQL NULL */
		if (err->code != BM_OK || !bm_result_isnull(res, 0, 0))
			caller_seen[i] += 100;
		return;
	}
	if (err->code != BM_OK || atol(bm_result_value(res, 0, 0)) != 2 * i)
		caller_seen[i] += 100;
}

static void
test_many_callers(void)
{
	bm_engine_options opts = {.pool_size = 4};
	bm_engine  *e = bmt_engine(&opts);
	bm_engine_stats st;
	long		i;
	int			ok = 0;

	for (i = 0; i < NCALLERS; i++)
	{
		char		n[16];
		const char *params[1] = {n};

		snprintf(n, sizeof(n), "%ld", i);
		if (i == 250)
			bm_engine_execute(e, "SELECT $1::int / 0", 1, params, on_caller, (void *) (intptr_t) i);
		else if (i == 300)
		{
			params[0] = NULL;
			bm_engine_execute(e, "SELECT $1::int * 2", 1, params, on_caller, (void *) (intptr_t) i);
		}
		else
			bm_engine_execute(e, "SELECT $1::int * 2", 1, params, on_caller, (void *) (intptr_t) i);
	}
	TAP_INT_EQ(bm_engine_run(e), 0, "many callers: bm_engine_run returns 0");
	for (i = 0; i < NCALLERS; i++)
		ok += caller_seen[i] == 1;
	TAP_INT_EQ(ok, NCALLERS, "many callers: each gets one callback with its own answer (one SQL error, one NULL)");
	tap_ok(caller_order_ok, "many callers: callbacks come in the order queued, with a NULL session",
		   "out of order or session not NULL");
	bm_engine_get_stats(e, &st);
	tap_ok(st.round_trips < NCALLERS / 10, "many callers: statements are pipelined (far fewer round trips than statements)",
		   "expected fewer than %d round trips, got %ld", NCALLERS / 10, st.round_trips);
	tap_ok(st.syncs < NCALLERS / 10, "many callers: the statements share Syncs (each still commits on its own)",
		   "expected fewer than %d Syncs, got %ld", NCALLERS / 10, st.syncs);
	tap_ok(st.prepares <= 2 * opts.pool_size + 1,
		   "many callers: each distinct statement is prepared once a connection (and again after a failure skipped its Parse)",
		   "expected at most %d prepares, got %ld", 2 * opts.pool_size + 1, st.prepares);
	bm_engine_free(e);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(120);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS many");
	test_many_sessions(check);
	test_many_callers();
	bmt_exec(check, "DROP TABLE IF EXISTS many");
	PQfinish(check);
	return tap_done();
}
