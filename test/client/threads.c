/*
 * threads.c
 *	  One engine per thread: four threads, each with its own engine, run
 *	  sessions and autocommit statements at the same time; the per-thread
 *	  last error stays per thread.  Also the bounded statement cache: more
 *	  distinct statements than the cache holds still run right, and the
 *	  server never holds more prepared statements per connection than that.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NTHREADS 4
#define PER_THREAD 100

typedef struct worker
{
	int			id;
	int			ok;
	int			own_error;
} worker;

static void
count_ok(bm_session *s, const bm_error *err, void *arg)
{
	(void) s;
	((worker *) arg)->ok += err->code == BM_OK;
}

static void
count_result(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	((worker *) arg)->ok += err->code == BM_OK;
}

static void *
work(void *arg)
{
	worker	   *w = arg;
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e = bm_engine_create(NULL, &opts, NULL);
	bm_sessionmaker *m;
	int			i;

	if (e == NULL)
		return NULL;
	m = bm_sessionmaker_create(e, NULL);
	for (i = 0; i < PER_THREAD; i++)
	{
		bm_session *s = bm_session_open(m);
		char		id[16];
		const char *params[1] = {id};

		snprintf(id, sizeof(id), "%d", w->id * 1000 + i);
		bm_session_execute(s, "INSERT INTO threads VALUES ($1)", 1, params, NULL, NULL);
		bm_session_commit(s, count_ok, w);
		bm_session_close(s);
		bm_engine_execute(e, "SELECT 1", 0, NULL, count_result, w);
	}
	/* an error in this thread is this thread's */
	bm_session_execute(NULL, "SELECT 1", 0, NULL, NULL, NULL);
	if (bm_engine_run(e) == 0)
		w->own_error = bm_last_error()->code == BM_ERR_USAGE &&
			strstr(bm_last_error()->message, "session is NULL") != NULL;
	bm_engine_free(e);
	return NULL;
}

static void
test_threads(PGconn *check)
{
	pthread_t	th[NTHREADS];
	worker		w[NTHREADS];
	int			i,
				ok = 0,
				own = 0;

	bmt_exec(check, "DROP TABLE IF EXISTS threads; CREATE TABLE threads (id int PRIMARY KEY)");
	for (i = 0; i < NTHREADS; i++)
	{
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (i = 0; i < NTHREADS; i++)
	{
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		own += w[i].own_error;
	}
	TAP_INT_EQ(ok, NTHREADS * PER_THREAD * 2, "threads: four engines in four threads run all their work");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM threads"), NTHREADS * PER_THREAD, "threads: every row is committed");
	TAP_INT_EQ(own, NTHREADS, "threads: bm_last_error is per thread");
	bmt_exec(check, "DROP TABLE IF EXISTS threads");
}

static bmt_rec cache_recs[40];
static bmt_rec prepared_count = {0};
static int	cache_next = 0;

/* one statement per round trip, so that each Parse is confirmed before the next */
static void
cache_step(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	char		sql[64];
	const char *params[1] = {"100"};

	if (arg)
		bmt_result_cb(s, res, err, arg);
	if (cache_next == 40)
	{
		bm_session_execute(s, "SELECT count(*) FROM pg_prepared_statements", 0, NULL,
						   bmt_result_cb, &prepared_count);
		bm_session_commit(s, NULL, NULL);
		return;
	}
	snprintf(sql, sizeof(sql), "SELECT %d + $1::int", cache_next % 5);
	cache_next++;
	bm_session_execute(s, sql, 1, params, cache_step, &cache_recs[cache_next - 1]);
}

static void
test_cache(void)
{
	bm_engine_options opts = {.pool_size = 1, .statement_cache_size = 2};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bm_engine_stats st;
	int			i,
				ok = 0;

	/* five distinct statements, round robin, through a cache of two */
	cache_step(s, NULL, NULL, NULL);
	bm_engine_run(e);
	for (i = 0; i < 40; i++)
	{
		char		want[16];

		snprintf(want, sizeof(want), "%d", 100 + i % 5);
		ok += cache_recs[i].calls == 1 && strcmp(cache_recs[i].value, want) == 0;
	}
	TAP_INT_EQ(ok, 40, "cache: every statement answers right through a cache of two");
	tap_ok(atol(prepared_count.value) <= 2, "cache: the server holds at most two of our prepared statements",
		   "pg_prepared_statements counts %s", prepared_count.value);
	bm_engine_get_stats(e, &st);
	tap_ok(st.prepares > 5, "cache: evicted statements are prepared again", "prepares %ld", st.prepares);
	bm_engine_free(e);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(90);
	check = bmt_check_conn();
	test_threads(check);
	test_cache();
	PQfinish(check);
	return tap_done();
}
