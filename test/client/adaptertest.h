/*
 * adaptertest.h
 *	  The scenario every event-loop adapter's test runs (libuv.c, libev.c,
 *	  libevent.c, glib.c): the program runs the loop and never
 *	  bm_engine_run.  Sessions and autocommit statements complete, and a
 *	  statement larger than the socket buffers sent while the server sleeps
 *	  (so the engine adds write interest to a socket watched for reading);
 *	  a session streams rows and copies data in and out (the connection
 *	  leaves pipeline mode and comes back, writing whenever the socket takes
 *	  more); the engine's connections are killed and replaced under the loop
 *	  (new sockets, possibly under the old numbers); freeing the engine from a
 *	  callback leaves nothing of it on the loop, which then returns.  A test
 *	  says how its loop does each step in a bmt_loop and calls
 *	  bmt_adapter_main.
 */
#ifndef BM_TEST_ADAPTERTEST_H
#define BM_TEST_ADAPTERTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define BMT_NSESSIONS 200
#define BMT_NAUTO 100
#define BMT_NAFTER 50
#define BMT_BIG (8 * 1024 * 1024)
#define BM_STR_TEST_(x) #x
#define BM_STR_TEST(x) BM_STR_TEST_(x)

/* how one event loop does what the scenario needs */
typedef struct bmt_loop
{
	const char *name;			/* the adapter, as test names say it */
	void		(*open) (void);	/* create the loop */
	int			(*attach) (bm_engine *e);	/* the adapter's attach: 0 or -1 */
	void		(*tick) (int on);	/* on: call bmt_adapter_tick every 10 ms; off: stop that */
	int			(*run) (void);	/* run the loop until bmt_adapter.freed; 0 if it then holds nothing of the engine's */
	void		(*close) (void);	/* free the loop (NULL: run did) */
	int			(*attach_null) (bm_engine *e);	/* the attach with a NULL loop (NULL: it means the default loop) */
} bmt_loop;

/* the scenario's state, which a loop's run may read */
static struct
{
	const bmt_loop *loop;
	bm_engine  *engine;
	bm_sessionmaker *maker;
	char		insert[64];		/* INSERT INTO the test's table */
	char	   *big;			/* BMT_BIG bytes of parameter */
	long		big_len;		/* the length the server saw */
	int			phase1_left;
	int			phase1_ok;
	long		killed;
	int			after_left;
	int			after_ok;
	int			freed;
} bmt_adapter;

/* a check's name: the adapter's, then what */
static inline const char *
bmt_adapter_name(const char *what)
{
	static char buf[200];

	snprintf(buf, sizeof(buf), "%s: %s", bmt_adapter.loop->name, what);
	return buf;
}

static void bmt_adapter_start_after(void);
static void bmt_adapter_phase1_done(void);

#define BMT_NBULK 20000

/* what the streaming and COPY session saw */
static struct
{
	long		stream_rows;	/* rows streamed in order */
	int			stream_ends;	/* end callbacks with BM_OK */
	long		next_in;		/* the next row the COPY FROM STDIN source gives */
	long		copied_in;		/* the COPY FROM STDIN's affected count */
	long		rows_out;		/* rows the COPY TO STDOUT wrote in order */
	long		copied_out;		/* its affected count */
	int			committed;
} bmt_bulk;

/* the streamed rows, 1 to BMT_NBULK, then the end */
static void
bmt_bulk_stream_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	if (err->code == BM_OK && bm_result_nrows(res) == 1)
		bmt_bulk.stream_rows += atol(bm_result_value(res, 0, 0)) == bmt_bulk.stream_rows + 1;
	else
		bmt_bulk.stream_ends += err->code == BM_OK;
}

/* bm_copy_read_cb: the rows 1 to BMT_NBULK, as many as fit */
static long
bmt_bulk_read(char *buf, long cap, void *arg)
{
	long		len = 0;

	(void) arg;
	while (bmt_bulk.next_in <= BMT_NBULK && cap - len > 16)
		len += snprintf(buf + len, cap - len, "%ld\n", bmt_bulk.next_in++);
	return len;
}

/* bm_copy_write_cb: counts the rows that come in order */
static int
bmt_bulk_write(const char *data, long len, void *arg)
{
	(void) arg;
	(void) len;
	bmt_bulk.rows_out += atol(data) == bmt_bulk.rows_out + 1;
	return 0;
}

/* a COPY's result: its affected count where arg points */
static void
bmt_bulk_copied(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	*(long *) arg = err->code == BM_OK ? bm_result_affected(res) : -1;
}

/* the streaming and COPY session committed */
static void
bmt_bulk_on_commit(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	bmt_bulk.committed = err->code == BM_OK;
	bm_session_close(s);
	bmt_adapter_phase1_done();
}

/* a session that streams rows, copies them into a table and back out */
static void
bmt_bulk_session(void)
{
	bm_session *s = bm_session_open(bmt_adapter.maker);

	bmt_bulk.next_in = 1;
	bm_session_execute(s, "CREATE TEMP TABLE bulk_t (id int) ON COMMIT DROP", 0, NULL, NULL, NULL);
	bm_session_stream(s, "SELECT g FROM generate_series(1, " BM_STR_TEST(BMT_NBULK) ") g", 0, NULL,
					  bmt_bulk_stream_cb, NULL);
	bm_session_copy_in(s, "COPY bulk_t FROM STDIN", bmt_bulk_read, NULL, bmt_bulk_copied, &bmt_bulk.copied_in);
	bm_session_copy_out(s, "COPY (SELECT id FROM bulk_t ORDER BY id) TO STDOUT", bmt_bulk_write, NULL,
						bmt_bulk_copied, &bmt_bulk.copied_out);
	bm_session_commit(s, bmt_bulk_on_commit, NULL);
}

/* the last batch: the last commit frees the engine from its callback */
static void
bmt_adapter_on_after_commit(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	bmt_adapter.after_ok += err->code == BM_OK;
	bm_session_close(s);
	if (--bmt_adapter.after_left == 0)
	{
		bmt_adapter.freed = 1;
		bm_engine_free(bmt_adapter.engine);
	}
}

/* every 10 ms under the loop: has the engine noticed every killed connection? */
static inline void
bmt_adapter_tick(void)
{
	bm_engine_stats st;

	bm_engine_get_stats(bmt_adapter.engine, &st);
	if (st.disconnects >= bmt_adapter.killed)
	{
		bmt_adapter.loop->tick(0);
		bmt_adapter_start_after();
	}
}

/* the kill statement's result: how many connections went */
static void
bmt_adapter_on_killed(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	bmt_adapter.killed = err->code == BM_OK ? atol(bm_result_value(res, 0, 0)) : -1;
	bmt_adapter.loop->tick(1);
}

/* queue n sessions that insert ids from first on, each committed with done */
static void
bmt_adapter_sessions(int first, int n, bm_done_cb done)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		bm_session *s = bm_session_open(bmt_adapter.maker);
		char		id[16];
		const char *params[1] = {id};

		snprintf(id, sizeof(id), "%d", first + i);
		bm_session_execute(s, bmt_adapter.insert, 1, params, NULL, NULL);
		bm_session_commit(s, done, NULL);
	}
}

/* after the kill: new sessions on new connections */
static void
bmt_adapter_start_after(void)
{
	bmt_adapter_sessions(100000, BMT_NAFTER, bmt_adapter_on_after_commit);
}

/* the large statement completed */
static void
bmt_adapter_on_big(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	bmt_adapter.big_len = err->code == BM_OK ? atol(bm_result_value(res, 0, 0)) : -1;
	bmt_adapter_phase1_done();
}

/* one of the first batch is done: after the last, kill the engine's other connections */
static void
bmt_adapter_phase1_done(void)
{
	char		sql[256];

	if (--bmt_adapter.phase1_left > 0)
		return;
	snprintf(sql, sizeof(sql),
			 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
			 "WHERE application_name = 'bm_%s_test' AND pid <> pg_backend_pid()",
			 bmt_adapter.loop->name);
	bm_engine_execute(bmt_adapter.engine, sql, 0, NULL, bmt_adapter_on_killed, NULL);
}

/* a first-batch session committed */
static void
bmt_adapter_on_commit(bm_session *s, const bm_error *err, void *arg)
{
	(void) arg;
	bmt_adapter.phase1_ok += err->code == BM_OK;
	bm_session_close(s);
	bmt_adapter_phase1_done();
}

/* a first-batch autocommit statement completed */
static void
bmt_adapter_on_auto(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) res;
	(void) arg;
	bmt_adapter.phase1_ok += err->code == BM_OK && s == NULL;
	bmt_adapter_phase1_done();
}

/* run the whole scenario on loop; the test's exit status */
static inline int
bmt_adapter_main(const bmt_loop *loop)
{
	PGconn	   *check;
	char		appname[64],
				sql[128];
	bm_engine_options opts = {.pool_size = 3};
	const char *big[1];
	bm_session *s;
	int			i;

	bmt_adapter.loop = loop;
	bmt_adapter.phase1_left = BMT_NSESSIONS + BMT_NAUTO + 2;
	bmt_adapter.killed = -1;
	bmt_adapter.after_left = BMT_NAFTER;
	snprintf(appname, sizeof(appname), "bm_%s_test", loop->name);
	opts.application_name = appname;
	snprintf(bmt_adapter.insert, sizeof(bmt_adapter.insert), "INSERT INTO adapter_%s VALUES ($1)", loop->name);

	bmt_guard(120);
	check = bmt_check_conn();
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS adapter_%s; CREATE TABLE adapter_%s (id int PRIMARY KEY)",
			 loop->name, loop->name);
	bmt_exec(check, sql);
	loop->open();
	bmt_adapter.engine = bmt_engine(&opts);
	bmt_adapter.maker = bm_sessionmaker_create(bmt_adapter.engine, NULL);
	if (loop->attach_null)
	{
		const bm_error *err;
		char		want[64];

		TAP_INT_EQ(loop->attach_null(bmt_adapter.engine), -1, bmt_adapter_name("attaching to a NULL loop is refused"));
		err = bm_last_error();
		snprintf(want, sizeof(want), "bm_%s_attach: the event loop is NULL", loop->name);
		tap_ok(err->code == BM_ERR_USAGE && err->message && strcmp(err->message, want) == 0,
			   bmt_adapter_name("with BM_ERR_USAGE saying the loop (not the engine) is NULL"),
			   "expected %s \"%s\", got %s \"%s\"", bm_error_name(BM_ERR_USAGE), want,
			   bm_error_name(err->code), err->message ? err->message : "(null)");
	}
	TAP_INT_EQ(loop->attach(bmt_adapter.engine), 0, bmt_adapter_name("the adapter attaches the engine"));
	TAP_INT_EQ(loop->attach(bmt_adapter.engine), -1, bmt_adapter_name("a second attach is refused"));
	TAP_INT_EQ(bm_engine_run(bmt_adapter.engine), -1,
			   bmt_adapter_name("bm_engine_run is refused while a loop is attached"));

	bmt_adapter.big = malloc(BMT_BIG + 1);
	memset(bmt_adapter.big, 'x', BMT_BIG);
	bmt_adapter.big[BMT_BIG] = '\0';
	big[0] = bmt_adapter.big;
	s = bm_session_open(bmt_adapter.maker);
	bm_session_execute(s, "SELECT pg_sleep(0.2)", 0, NULL, NULL, NULL);
	bm_session_execute(s, "SELECT length($1)", 1, big, bmt_adapter_on_big, NULL);
	bm_session_close(s);
	bmt_bulk_session();
	bmt_adapter_sessions(0, BMT_NSESSIONS, bmt_adapter_on_commit);
	for (i = 0; i < BMT_NAUTO; i++)
		bm_engine_execute(bmt_adapter.engine, "SELECT 1", 0, NULL, bmt_adapter_on_auto, NULL);

	TAP_INT_EQ(loop->run(), 0,
			   bmt_adapter_name("once the engine is freed the loop returns with nothing of the engine's left on it"));
	TAP_INT_EQ(bmt_adapter.phase1_ok, BMT_NSESSIONS + BMT_NAUTO,
			   bmt_adapter_name("every session and autocommit statement succeeds under the loop"));
	TAP_INT_EQ(bmt_adapter.big_len, BMT_BIG,
			   bmt_adapter_name("a statement larger than the socket buffers, sent while the server sleeps, goes out"));
	TAP_INT_EQ(bmt_bulk.stream_rows, BMT_NBULK, bmt_adapter_name("a streamed result's rows come in order"));
	TAP_INT_EQ(bmt_bulk.stream_ends, 1, bmt_adapter_name("then its end, once"));
	TAP_INT_EQ(bmt_bulk.copied_in, BMT_NBULK, bmt_adapter_name("COPY FROM STDIN takes every row"));
	TAP_INT_EQ(bmt_bulk.copied_out, BMT_NBULK, bmt_adapter_name("COPY TO STDOUT in the same transaction gives them back"));
	TAP_INT_EQ(bmt_bulk.rows_out, BMT_NBULK, bmt_adapter_name("to the write callback, in order"));
	TAP_INT_EQ(bmt_bulk.committed, 1, bmt_adapter_name("and the session commits"));
	tap_ok(bmt_adapter.killed >= 1, bmt_adapter_name("the engine's other connections were killed"),
		   "expected at least 1, got %ld", bmt_adapter.killed);
	TAP_INT_EQ(bmt_adapter.after_ok, BMT_NAFTER,
			   bmt_adapter_name("after the kill, new sessions run on new connections"));
	TAP_INT_EQ(bmt_adapter.freed, 1, bmt_adapter_name("the engine was freed from a callback"));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM adapter_%s", loop->name);
	TAP_INT_EQ(bmt_long(check, sql), BMT_NSESSIONS + BMT_NAFTER, bmt_adapter_name("every committed row is present"));
	if (loop->close)
		loop->close();
	free(bmt_adapter.big);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS adapter_%s", loop->name);
	bmt_exec(check, sql);
	PQfinish(check);
	return tap_done();
}

#endif							/* BM_TEST_ADAPTERTEST_H */
