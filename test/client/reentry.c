/*
 * reentry.c
 *	  Calling the API from inside callbacks, and what is left after the
 *	  engine goes: freeing the engine from a statement's callback while
 *	  later work is already answered (it keeps its real answer: a commit
 *	  that committed is never reported as failed), freeing it from an error's
 *	  callback, closing a session from inside its own callback with work
 *	  queued behind, freeing a session maker with its sessions open, and no
 *	  socket left open after bm_engine_free.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

static bm_engine *engine;

/* descriptors open in this process */
static int
count_fds(void)
{
	DIR		   *d = opendir("/proc/self/fd");
	struct dirent *de;
	int			n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;				/* the directory itself */
}

static void
free_engine_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_engine_free(engine);
}

static bmt_rec queued_then_freed;

static void
queue_and_free_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bm_engine_execute(engine, "SELECT 5", 0, NULL, bmt_result_cb, &queued_then_freed);
	free_engine_cb(s, res, err, arg);
}

/* the whole unit is answered in one read: the free comes with the rest ready */
static void
test_free_with_answers_ready(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_sessionmaker *m;
	bm_session *s;
	bmt_rec		first = {0},
				insert = {0},
				commit = {0};

	bmt_exec(check, "DROP TABLE IF EXISTS reentry; CREATE TABLE reentry (id int)");
	engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(engine, NULL);
	s = bm_session_open(m);
	bm_session_execute(s, "SELECT 1", 0, NULL, free_engine_cb, &first);
	bm_session_execute(s, "INSERT INTO reentry VALUES (1)", 0, NULL, bmt_result_cb, &insert);
	bm_session_commit(s, bmt_done_cb, &commit);
	TAP_INT_EQ(bm_engine_run(engine), 0, "free with answers ready: bm_engine_run returns 0");
	BMT_REC_IS(first, BM_OK, "free with answers ready: the callback that frees got its result");
	tap_ok(insert.calls == 1 && commit.calls == 1, "free with answers ready: the rest get one callback each",
		   "insert %d, commit %d callbacks", insert.calls, commit.calls);
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM reentry"), commit.code == BM_OK ? 1 : 0,
			   "free with answers ready: the commit reports what happened (the row is there iff it says BM_OK)");
	/* the unit came back in one packet, so everything was answered when the engine went */
	BMT_REC_IS(commit, BM_OK, "free with answers ready: a commit already answered keeps its BM_OK");
	BMT_REC_IS(insert, BM_OK, "free with answers ready: so does a statement already answered");
	bmt_exec(check, "DROP TABLE reentry");
}

/* freeing from the callback of a failed statement: the rest of the unit gets one callback each */
static void
test_free_from_error(void)
{
	bm_sessionmaker *m;
	bm_session *s;
	bmt_rec		bad = {0},
				next = {0},
				commit = {0};

	engine = bmt_engine(NULL);
	m = bm_sessionmaker_create(engine, NULL);
	s = bm_session_open(m);
	bm_session_execute(s, "SELECT 1/0", 0, NULL, queue_and_free_cb, &bad);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &commit);
	TAP_INT_EQ(bm_engine_run(engine), 0, "free from error: bm_engine_run returns 0");
	BMT_REC_IS(bad, BM_ERR_SQL, "free from error: the failed statement gets BM_ERR_SQL");
	tap_ok(next.calls == 1 && (next.code == BM_ERR_ABORTED || next.code == BM_ERR_CLOSED),
		   "free from error: the next statement gets one callback, aborted or closed",
		   "got %d callback(s), %s", next.calls, bmt_code(next.code));
	tap_ok(commit.calls == 1 && commit.code != BM_OK, "free from error: the commit gets one failing callback",
		   "got %d callback(s), %s", commit.calls, bmt_code(commit.code));
	BMT_REC_IS(queued_then_freed, BM_ERR_CLOSED,
			   "free from error: a statement the callback queued before freeing gets BM_ERR_CLOSED");
}

static bmt_rec after_close[3];

static void
close_self_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_close(s);
	bm_session_close(s);		/* twice is harmless */
}

/* close from inside its own callback, maker freed while sessions are open; no fd left */
static void
test_close_and_fds(void)
{
	bm_engine_options opts = {.pool_size = 3};
	bm_sessionmaker *m;
	bm_session *s,
			   *t;
	bmt_rec		first = {0},
				tr = {0},
				tc = {0};
	int			before = count_fds(),
				i;

	engine = bmt_engine(&opts);
	m = bm_sessionmaker_create(engine, NULL);
	s = bm_session_open(m);
	t = bm_session_open(m);
	bm_sessionmaker_free(m);
	bm_session_execute(s, "SELECT 1", 0, NULL, close_self_cb, &first);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &after_close[0]);
	bm_session_commit(s, bmt_done_cb, &after_close[1]);
	bm_session_execute(t, "SELECT 3", 0, NULL, bmt_result_cb, &tr);
	bm_session_commit(t, bmt_done_cb, &tc);
	for (i = 0; i < 20; i++)
		bm_engine_execute(engine, "SELECT 4", 0, NULL, NULL, NULL);
	TAP_INT_EQ(bm_engine_run(engine), 0, "close self: bm_engine_run returns 0");
	BMT_REC_IS(first, BM_OK, "close self: the callback that closes its session got its result");
	BMT_REC_IS(after_close[0], BM_OK, "close self: the statement queued behind it still runs");
	BMT_REC_IS(after_close[1], BM_OK, "close self: and the commit queued before the close commits");
	BMT_REC_IS(tr, BM_OK, "maker freed: its open session still runs");
	BMT_REC_IS(tc, BM_OK, "maker freed: and commits");
	tap_ok(count_fds() > before, "fds: the engine holds sockets while connected", "%d before, %d now",
		   before, count_fds());
	bm_session_close(t);
	bm_engine_free(engine);
	TAP_INT_EQ(count_fds(), before, "fds: after bm_engine_free no descriptor is left open");
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(60);
	check = bmt_check_conn();
	test_free_with_answers_ready(check);
	test_free_from_error();
	test_close_and_fds();
	PQfinish(check);
	return tap_done();
}
