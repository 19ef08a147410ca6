/*
 * savepoint.c
 *	  Savepoints: a failed statement after a savepoint, then rollback_to and
 *	  more statements, and the commit commits them, whether rollback_to was
 *	  queued ahead (one round trip) or from the failing statement's
 *	  callback; a commit without rollback_to reports the failure and the
 *	  connection is clean after; a rollback_to to an unknown savepoint; a
 *	  release; a name that needs quoting; raw SAVEPOINT, ROLLBACK TO and
 *	  RELEASE refused, naming the calls to use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/* the rows of sp, in order of id, as "1,3" */
static void
rows_of(PGconn *check, char *buf, size_t len)
{
	PGresult   *res = PQexec(check, "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM sp");

	snprintf(buf, len, "%s", PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "(error)");
	PQclear(res);
}

/* everything queued at once: SAVEPOINT, a duplicate, ROLLBACK TO, another insert, COMMIT */
static void
test_queued_ahead(PGconn *check, bm_session *s, bm_engine *e)
{
	bmt_rec		first = {0},
				sp = {0},
				dup = {0},
				back = {0},
				after = {0},
				commit = {0};
	bm_engine_stats before,
				stats;
	char		rows[64];

	bmt_exec(check, "TRUNCATE sp; INSERT INTO sp VALUES (1)");
	bm_engine_get_stats(e, &before);
	bm_session_execute(s, "INSERT INTO sp VALUES (2)", 0, NULL, bmt_result_cb, &first);
	bm_session_savepoint(s, "a", bmt_done_cb, &sp);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, bmt_result_cb, &dup);
	bm_session_rollback_to(s, "a", bmt_done_cb, &back);
	bm_session_execute(s, "INSERT INTO sp VALUES (3)", 0, NULL, bmt_result_cb, &after);
	bm_session_commit(s, bmt_done_cb, &commit);
	TAP_INT_EQ(bm_engine_run(e), 0, "queued ahead: bm_engine_run returns 0");
	bm_engine_get_stats(e, &stats);
	BMT_REC_IS(sp, BM_OK, "queued ahead: the savepoint is set");
	tap_ok(dup.calls == 1 && dup.code == BM_ERR_SQL && strcmp(dup.sqlstate, "23505") == 0,
		   "queued ahead: the duplicate fails with 23505", "got %s %s", bmt_code(dup.code), dup.sqlstate);
	BMT_REC_IS(back, BM_OK, "queued ahead: rollback_to succeeds");
	BMT_REC_IS(after, BM_OK, "queued ahead: the statement after rollback_to runs");
	BMT_REC_IS(commit, BM_OK, "queued ahead: the commit commits");
	rows_of(check, rows, sizeof(rows));
	TAP_STR_EQ(rows, "1,2,3", "queued ahead: the rows before the savepoint and after rollback_to are committed");
	TAP_INT_EQ(stats.round_trips - before.round_trips, 1, "queued ahead: the whole unit is one round trip");
	TAP_INT_EQ(stats.syncs - before.syncs, 2, "queued ahead: rollback_to costs one Sync message");
}

/* the recovery decided in the failing statement's callback */
typedef struct Recovery
{
	bmt_rec		dup,
				back,
				update,
				commit;
} Recovery;

/* on a duplicate: back to the savepoint, update instead, commit */
static void
on_insert(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	Recovery   *r = arg;

	bmt_result_cb(s, res, err, &r->dup);
	if (err->code == BM_ERR_SQL && strcmp(err->sqlstate, "23505") == 0)
	{
		bm_session_rollback_to(s, "upsert", bmt_done_cb, &r->back);
		bm_session_execute(s, "UPDATE sp SET n = n + 1 WHERE id = 1", 0, NULL, bmt_result_cb, &r->update);
	}
	bm_session_commit(s, bmt_done_cb, &r->commit);
}

static void
test_from_callback(PGconn *check, bm_session *s, bm_engine *e)
{
	Recovery	r;
	bmt_rec		skipped = {0};

	memset(&r, 0, sizeof(r));
	bmt_exec(check, "TRUNCATE sp; INSERT INTO sp VALUES (1)");
	bm_session_savepoint(s, "upsert", NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, on_insert, &r);
	TAP_INT_EQ(bm_engine_run(e), 0, "from the callback: bm_engine_run returns 0");
	tap_ok(r.dup.calls == 1 && strcmp(r.dup.sqlstate, "23505") == 0, "from the callback: the insert fails with 23505",
		   "got %s %s", bmt_code(r.dup.code), r.dup.sqlstate);
	BMT_REC_IS(r.back, BM_OK, "from the callback: rollback_to succeeds");
	BMT_REC_IS(r.update, BM_OK, "from the callback: the update queued after it runs");
	BMT_REC_IS(r.commit, BM_OK, "from the callback: the commit commits");
	TAP_INT_EQ(bmt_long(check, "SELECT n FROM sp WHERE id = 1"), 1, "from the callback: the update is committed");

	/* a statement queued between the failure and rollback_to is not run */
	memset(&r, 0, sizeof(r));
	bm_session_savepoint(s, "upsert", NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, bmt_result_cb, &r.dup);
	bm_engine_run(e);
	bm_session_execute(s, "INSERT INTO sp VALUES (7)", 0, NULL, bmt_result_cb, &skipped);
	bm_session_rollback_to(s, "upsert", bmt_done_cb, &r.back);
	bm_session_execute(s, "INSERT INTO sp VALUES (8)", 0, NULL, bmt_result_cb, &r.update);
	bm_session_commit(s, bmt_done_cb, &r.commit);
	bm_engine_run(e);
	BMT_REC_IS(skipped, BM_ERR_ABORTED, "after a failure: a statement before rollback_to is not run");
	BMT_REC_IS(r.back, BM_OK, "after a failure: rollback_to queued later succeeds");
	BMT_REC_IS(r.update, BM_OK, "after a failure: the statement after it runs");
	BMT_REC_IS(r.commit, BM_OK, "after a failure: the commit commits");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM sp WHERE id IN (7, 8)"), 1,
			   "after a failure: only the statement after rollback_to is committed");
}

/* no rollback_to: the commit reports the failure; a rollback_to to an unknown name fails */
static void
test_without_recovery(PGconn *check, bm_session *s, bm_engine *e)
{
	bmt_rec		dup = {0},
				commit = {0},
				back = {0},
				commit2 = {0},
				next = {0},
				commit3 = {0};

	bmt_exec(check, "TRUNCATE sp; INSERT INTO sp VALUES (1)");
	bm_session_savepoint(s, "a", NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, bmt_result_cb, &dup);
	bm_engine_run(e);
	bm_session_commit(s, bmt_done_cb, &commit);
	bm_engine_run(e);
	tap_ok(commit.calls == 1 && commit.code == BM_ERR_SQL && strcmp(commit.sqlstate, "23505") == 0,
		   "without rollback_to: the commit reports the failure", "got %s %s: %s", bmt_code(commit.code),
		   commit.sqlstate, commit.message);

	bm_session_savepoint(s, "a", NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, NULL, NULL);
	bm_session_rollback_to(s, "b", bmt_done_cb, &back);
	bm_session_commit(s, bmt_done_cb, &commit2);
	bm_engine_run(e);
	tap_ok(back.calls == 1 && back.code == BM_ERR_SQL && strcmp(back.sqlstate, "3B001") == 0,
		   "rollback_to an unknown savepoint: 3B001", "got %s %s: %s", bmt_code(back.code), back.sqlstate,
		   back.message);
	tap_ok(commit2.code == BM_ERR_SQL && strcmp(commit2.sqlstate, "23505") == 0,
		   "rollback_to an unknown savepoint: the commit reports the first failure",
		   "got %s %s: %s", bmt_code(commit2.code), commit2.sqlstate, commit2.message);

	bm_session_execute(s, "INSERT INTO sp VALUES (5)", 0, NULL, bmt_result_cb, &next);
	bm_session_commit(s, bmt_done_cb, &commit3);
	bm_engine_run(e);
	BMT_REC_IS(commit3, BM_OK, "after failed units with savepoints: the session's next unit commits");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM sp"), 2, "after failed units with savepoints: only its row is added");
}

/* release, and a name that needs quoting */
static void
test_release_and_names(PGconn *check, bm_session *s, bm_engine *e)
{
	bmt_rec		rel = {0},
				back = {0},
				commit = {0};
	const char *odd = "we\"ird name; DROP TABLE sp";

	bmt_exec(check, "TRUNCATE sp");
	bm_session_savepoint(s, odd, NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (1)", 0, NULL, NULL, NULL);
	bm_session_rollback_to(s, odd, bmt_done_cb, &back);
	bm_session_savepoint(s, "kept", NULL, NULL);
	bm_session_execute(s, "INSERT INTO sp VALUES (2)", 0, NULL, NULL, NULL);
	bm_session_release(s, "kept", bmt_done_cb, &rel);
	bm_session_commit(s, bmt_done_cb, &commit);
	bm_engine_run(e);
	BMT_REC_IS(back, BM_OK, "names: rollback_to a name with a quote, a space and a semicolon");
	BMT_REC_IS(rel, BM_OK, "release: succeeds");
	BMT_REC_IS(commit, BM_OK, "release: the commit commits");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) * 10 + max(id) FROM sp"), 12,
			   "names: rollback_to undid its statement, release kept its own");
}

/* what execute says of raw savepoint statements, and misuse of the calls */
static void
test_refused(bm_session *s, bm_engine *e)
{
	static const char *const raw[] = {"SAVEPOINT a", "ROLLBACK TO SAVEPOINT a", "release a"};
	size_t		i;
	char		name[128];

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
	{
		const bm_error *err;

		snprintf(name, sizeof(name), "raw \"%s\" through bm_session_execute is refused, naming the calls", raw[i]);
		tap_ok(bm_session_execute(s, raw[i], 0, NULL, NULL, NULL) == -1 &&
			   (err = bm_last_error())->code == BM_ERR_USAGE &&
			   strstr(err->message, "bm_session_savepoint") && strstr(err->message, "bm_session_rollback_to") &&
			   strstr(err->message, "bm_session_release"), name,
			   "got %s: %s", bmt_code(bm_last_error()->code), bm_last_error()->message);
	}
	TAP_INT_EQ(bm_engine_execute(e, "SAVEPOINT a", 0, NULL, NULL, NULL), -1,
			   "raw SAVEPOINT through bm_engine_execute is refused");
	TAP_INT_EQ(bm_session_rollback_to(s, "a", NULL, NULL), -1, "misuse: rollback_to with no transaction open");
	tap_ok(strstr(bm_last_error()->message, "no transaction is open") != NULL,
		   "misuse: the message says no transaction is open", "got \"%s\"", bm_last_error()->message);
	TAP_INT_EQ(bm_session_savepoint(s, "", NULL, NULL), -1, "misuse: an empty savepoint name");
	TAP_INT_EQ(bm_session_savepoint(NULL, "a", NULL, NULL), -1, "misuse: a NULL session");
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 1};
	PGconn	   *check;
	bm_engine  *e;
	bm_sessionmaker *m;
	bm_session *s;

	bmt_guard(60);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS sp; CREATE TABLE sp (id int PRIMARY KEY, n int DEFAULT 0)");
	e = bmt_engine(&opts);
	m = bm_sessionmaker_create(e, NULL);
	s = bm_session_open(m);
	/* connect first, so that round trips count the units alone */
	bm_engine_execute(e, "SELECT 1", 0, NULL, NULL, NULL);
	bm_engine_run(e);
	test_queued_ahead(check, s, e);
	test_from_callback(check, s, e);
	test_without_recovery(check, s, e);
	test_release_and_names(check, s, e);
	test_refused(s, e);
	bm_session_close(s);
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE sp");
	PQfinish(check);
	return tap_done();
}
