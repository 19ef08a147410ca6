/*
 * session.c
 *	  Sessions: a pipelined unit of 1,000 inserts and a commit in one round
 *	  trip, rollback, an SQL error in the middle, session options, reading
 *	  results, and waiting for a result before committing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NINSERTS 1000

static bmt_rec inserts[NINSERTS];

/* round trips and Syncs seen in libpq's own protocol trace */
static void
count_trace(const char *trace, int *round_trips, int *syncs, int *named_parses)
{
	const char *line = trace;
	char		prev = 0;

	*round_trips = *syncs = *named_parses = 0;
	while (line && *line)
	{
		const char *eol = strchr(line, '\n');
		size_t		len = eol ? (size_t) (eol - line) : strlen(line);

		if (line[0] == 'F' && prev != 'F')
			(*round_trips)++;
		if (line[0] == 'F' && len >= 5 && memmem(line, len, "\tSync", 5))
			(*syncs)++;
		if (line[0] == 'F' && memmem(line, len, "\tParse\t \"bm_", 12))
			(*named_parses)++;
		if (line[0] == 'F' || line[0] == 'B')
			prev = line[0];
		line = eol ? eol + 1 : NULL;
	}
}

static void
test_one_round_trip(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 2};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bm_engine_stats before, after;
	bmt_rec		commit = {0};
	char	   *trace = NULL;
	size_t		trace_len = 0;
	FILE	   *tf = open_memstream(&trace, &trace_len);
	int			i,
				ok = 0,
				rt,
				syncs,
				parses;

	bmt_exec(check, "DROP TABLE IF EXISTS pipe; CREATE TABLE pipe (id int PRIMARY KEY, v text)");
	/* connect first, so that the trace holds only the unit of work */
	bm_engine_execute(e, "SELECT 1", 0, NULL, NULL, NULL);
	bm_engine_run(e);
	bm_engine_trace(e, tf);
	bm_engine_get_stats(e, &before);
	for (i = 0; i < NINSERTS; i++)
	{
		char		id[16],
					v[32];
		const char *params[2] = {id, v};

		snprintf(id, sizeof(id), "%d", i);
		snprintf(v, sizeof(v), "row %d", i);
		bm_session_execute(s, "INSERT INTO pipe VALUES ($1, $2)", 2, params, bmt_result_cb, &inserts[i]);
	}
	bm_session_commit(s, bmt_done_cb, &commit);
	TAP_INT_EQ(bm_engine_run(e), 0, "bm_engine_run returns 0 when the work is done");
	bm_engine_get_stats(e, &after);
	bm_engine_trace(e, NULL);
	fclose(tf);

	for (i = 0; i < NINSERTS; i++)
		ok += inserts[i].calls == 1 && inserts[i].code == BM_OK && inserts[i].affected == 1 &&
			inserts[i].order == i + 1 - (inserts[0].order == 1 ? 0 : 0) + inserts[0].order - 1;
	TAP_INT_EQ(ok, NINSERTS, "each of 1,000 inserts gets one callback, in order, with 1 row affected");
	BMT_REC_IS(commit, BM_OK, "the commit succeeds");
	tap_ok(commit.order == inserts[NINSERTS - 1].order + 1, "the commit's callback comes after the inserts'",
		   "expected order %d, got %d", inserts[NINSERTS - 1].order + 1, commit.order);
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM pipe"), NINSERTS, "the 1,000 rows are committed");
	TAP_INT_EQ(after.round_trips - before.round_trips, 1, "the library counts one round trip for the unit of work");
	TAP_INT_EQ(after.syncs - before.syncs, 1, "the library sends one Sync for the unit of work");
	count_trace(trace, &rt, &syncs, &parses);
	TAP_INT_EQ(rt, 1, "libpq's trace shows one round trip: every message sent before any answer is read");
	TAP_INT_EQ(syncs, 1, "libpq's trace shows one Sync message");
	TAP_INT_EQ(parses, 1, "the insert is prepared once, in the same round trip");
	free(trace);

	/* the statement is prepared once per connection: a second unit reuses it */
	{
		bmt_rec		r = {0},
					c = {0};
		const char *params[2] = {"5000", "again"};

		bm_session_execute(s, "INSERT INTO pipe VALUES ($1, $2)", 2, params, bmt_result_cb, &r);
		bm_session_commit(s, bmt_done_cb, &c);
		bm_engine_run(e);
		BMT_REC_IS(r, BM_OK, "the session runs a second unit of work after its commit");
		BMT_REC_IS(c, BM_OK, "the second unit commits");
		bm_engine_get_stats(e, &before);
		TAP_INT_EQ(before.prepares, after.prepares, "a statement already prepared on the connection is not prepared again");
	}
	bm_session_close(s);
	bm_sessionmaker_free(m);
	bm_engine_free(e);
}

static void
test_rollback(PGconn *check)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		r[3] = {{0}},
				rb = {0};

	bmt_exec(check, "DROP TABLE IF EXISTS rb; CREATE TABLE rb (id int)");
	bm_session_execute(s, "INSERT INTO rb VALUES (1)", 0, NULL, bmt_result_cb, &r[0]);
	bm_session_execute(s, "INSERT INTO rb VALUES (2)", 0, NULL, bmt_result_cb, &r[1]);
	bm_session_execute(s, "SELECT count(*) FROM rb", 0, NULL, bmt_result_cb, &r[2]);
	bm_session_rollback(s, bmt_done_cb, &rb);
	bm_engine_run(e);
	BMT_REC_IS(r[0], BM_OK, "rollback: first insert runs");
	TAP_STR_EQ(r[2].value, "2", "rollback: the transaction sees its own rows");
	BMT_REC_IS(rb, BM_OK, "rollback: the rollback succeeds");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM rb"), 0, "rollback: nothing is committed");
	bm_session_close(s);
	bm_engine_free(e);
}

static bmt_rec late = {0};

/* on the error, queue one more statement: it belongs to the failed transaction */
static void
on_error_queue_more(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	if (bm_session_execute(s, "INSERT INTO mid VALUES (4)", 0, NULL, bmt_result_cb, &late) != 0)
		printf("# execute from the callback failed: %s\n", bm_last_error()->message);
}

static bmt_rec *mid_commit;

/* the last statement's callback commits: the commit is queued after `late` */
static void
on_last_commit(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	if (bm_session_commit(s, bmt_done_cb, mid_commit) != 0)
		printf("# commit from the callback failed: %s\n", bm_last_error()->message);
}

static void
test_error_mid_session(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		r[4] = {{0}},
				c = {0},
				again = {0},
				c2 = {0};
	bm_error	detail_seen = {0};

	(void) detail_seen;
	bmt_exec(check, "DROP TABLE IF EXISTS mid; CREATE TABLE mid (id int PRIMARY KEY)");
	bm_session_execute(s, "INSERT INTO mid VALUES (1)", 0, NULL, bmt_result_cb, &r[0]);
	bm_session_execute(s, "INSERT INTO mid VALUES (1)", 0, NULL, on_error_queue_more, &r[1]);
	bm_session_execute(s, "INSERT INTO mid VALUES (2)", 0, NULL, bmt_result_cb, &r[2]);
	bm_session_execute(s, "SELECT 1/0", 0, NULL, on_last_commit, &r[3]);
	mid_commit = &c;
	bm_engine_run(e);
	BMT_REC_IS(r[0], BM_OK, "error: the statement before the error succeeds");
	BMT_REC_IS(r[1], BM_ERR_SQL, "error: the failing statement gets BM_ERR_SQL");
	TAP_STR_EQ(r[1].sqlstate, "23505", "error: with its SQLSTATE");
	tap_ok(strstr(r[1].message, "duplicate key") != NULL, "error: and the server's message",
		   "expected a duplicate key message, got \"%s\"", r[1].message);
	BMT_REC_IS(r[2], BM_ERR_ABORTED, "error: the next statement gets BM_ERR_ABORTED");
	BMT_REC_IS(r[3], BM_ERR_ABORTED, "error: the one after too, although it would fail itself");
	BMT_REC_IS(late, BM_ERR_ABORTED, "error: a statement queued from the error's callback gets BM_ERR_ABORTED");
	tap_ok(c.calls == 1 && c.code == BM_ERR_SQL && strcmp(c.sqlstate, "23505") == 0,
		   "error: the commit reports the failure instead of committing",
		   "expected BM_ERR_SQL 23505, got %s %s", bmt_code(c.code), c.sqlstate);
	tap_ok(r[0].order < r[1].order && r[1].order < r[2].order && r[2].order < r[3].order &&
		   r[3].order < late.order && late.order < c.order, "error: callbacks come in the order queued",
		   "orders %d %d %d %d %d %d", r[0].order, r[1].order, r[2].order, r[3].order, late.order, c.order);
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM mid"), 0, "error: nothing is committed");

	/* same session, same (only) connection: it works again */
	bm_session_execute(s, "INSERT INTO mid VALUES (7)", 0, NULL, bmt_result_cb, &again);
	bm_session_commit(s, bmt_done_cb, &c2);
	bm_engine_run(e);
	BMT_REC_IS(again, BM_OK, "error: the session's next unit runs on the reused connection");
	BMT_REC_IS(c2, BM_OK, "error: and commits");
	TAP_INT_EQ(bmt_long(check, "SELECT count(*) FROM mid"), 1, "error: the new unit's row is committed");
	{
		bm_engine_stats st;

		bm_engine_get_stats(e, &st);
		TAP_INT_EQ(st.connects, 1, "error: the connection was not replaced");
	}
	/* a statement that fails to parse: its prepared name must not be reused */
	{
		bmt_rec		p1 = {0},
					p2 = {0},
					c3 = {0},
					c4 = {0};

		bm_session_execute(s, "SELEC 1", 0, NULL, bmt_result_cb, &p1);
		bm_session_commit(s, bmt_done_cb, &c3);
		bm_engine_run(e);
		BMT_REC_IS(p1, BM_ERR_SQL, "error: a syntax error is BM_ERR_SQL");
		TAP_STR_EQ(p1.sqlstate, "42601", "error: with SQLSTATE 42601");
		bm_session_execute(s, "SELEC 1", 0, NULL, bmt_result_cb, &p2);
		bm_session_rollback(s, bmt_done_cb, &c4);
		bm_engine_run(e);
		tap_ok(p2.calls == 1 && strcmp(p2.sqlstate, "42601") == 0,
			   "error: the same bad statement fails the same way again",
			   "expected 42601, got %s %s: %s", bmt_code(p2.code), p2.sqlstate, p2.message);
		BMT_REC_IS(c4, BM_OK, "error: rolling back a failed transaction succeeds");
	}
	/* too few parameters for the statement: the server's 08P01 is an SQL error */
	{
		bmt_rec		p1 = {0},
					p2 = {0},
					c5 = {0};
		bm_engine_stats st;

		bm_session_execute(s, "SELECT $1::int + $2::int", 1, (const char *const[]) {"1"}, bmt_result_cb, &p1);
		bm_session_rollback(s, NULL, NULL);
		bm_session_execute(s, "SELECT $1::int + $2::int", 2, (const char *const[]) {"1", "2"}, bmt_result_cb, &p2);
		bm_session_commit(s, bmt_done_cb, &c5);
		bm_engine_run(e);
		tap_ok(p1.calls == 1 && p1.code == BM_ERR_SQL, "error: a wrong parameter count is BM_ERR_SQL",
			   "got %s %s: %s", bmt_code(p1.code), p1.sqlstate, p1.message);
		TAP_STR_EQ(p2.value, "3", "error: the statement then runs with the right parameters");
		bm_engine_get_stats(e, &st);
		TAP_INT_EQ(st.connects, 1, "error: and the connection survived");
	}
	/* a schema change under a prepared statement: one failure, then it works */
	{
		bmt_rec		a = {0},
					b = {0};

		bm_engine_execute(e, "SELECT * FROM mid", 0, NULL, NULL, NULL);
		bm_engine_run(e);
		bm_engine_execute(e, "ALTER TABLE mid ADD COLUMN extra int DEFAULT 5", 0, NULL, NULL, NULL);
		bm_engine_execute(e, "SELECT * FROM mid", 0, NULL, bmt_result_cb, &a);
		bm_engine_run(e);
		bm_engine_execute(e, "SELECT * FROM mid", 0, NULL, bmt_result_cb, &b);
		bm_engine_run(e);
		tap_ok(a.calls == 1 && (a.code == BM_OK || strcmp(a.sqlstate, "0A000") == 0),
			   "error: after ALTER TABLE a prepared SELECT * answers or fails with 0A000",
			   "got %s %s: %s", bmt_code(a.code), a.sqlstate, a.message);
		BMT_REC_IS(b, BM_OK, "error: the next execution is prepared afresh and works");
	}
	bm_session_close(s);
	bm_engine_free(e);
}

static void
test_options(void)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_session_options ro = {.read_only = 1, .isolation = BM_ISOLATION_SERIALIZABLE};
	bm_sessionmaker *m = bm_sessionmaker_create(e, &ro);
	bm_session *s = bm_session_open(m);
	bmt_rec		iso = {0},
				rdo = {0},
				w = {0},
				c = {0};

	bm_session_execute(s, "SHOW transaction_isolation", 0, NULL, bmt_result_cb, &iso);
	bm_session_execute(s, "SHOW transaction_read_only", 0, NULL, bmt_result_cb, &rdo);
	bm_session_execute(s, "CREATE TABLE ro_fail (id int)", 0, NULL, bmt_result_cb, &w);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_engine_run(e);
	TAP_STR_EQ(iso.value, "serializable", "options: the isolation level applies to the session's transactions");
	TAP_STR_EQ(rdo.value, "on", "options: read_only makes the transaction read only");
	TAP_STR_EQ(w.sqlstate, "25006", "options: a write in a read-only session fails with 25006");
	bm_session_close(s);
	bm_sessionmaker_free(m);
	bm_engine_free(e);
}

static bm_result *kept = NULL;
static int	values_ok = 0;

static void
on_rows(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	if (err->code != BM_OK)
		return;
	values_ok = bm_result_nrows(res) == 2 && bm_result_ncols(res) == 3 &&
		strcmp(bm_result_colname(res, 0), "n") == 0 &&
		strcmp(bm_result_colname(res, 2), "nothing") == 0 &&
		bm_result_colname(res, 3) == NULL &&
		strcmp(bm_result_value(res, 1, 0), "2") == 0 &&
		strcmp(bm_result_value(res, 0, 1), "a'b") == 0 &&
		bm_result_value(res, 0, 2) == NULL && bm_result_isnull(res, 0, 2) == 1 &&
		bm_result_isnull(res, 0, 0) == 0 && bm_result_value(res, 9, 0) == NULL &&
		bm_result_affected(res) == 2;
	kept = bm_result_copy(res);
}

/* a session that reads a value and decides what to write before committing */
static bmt_rec counter_update = {0},
			counter_commit = {0};

static void
on_counter(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	char		next[32];
	const char *params[1] = {next};

	(void) arg;
	if (err->code != BM_OK)
		return;
	snprintf(next, sizeof(next), "%ld", atol(bm_result_value(res, 0, 0)) + 1);
	bm_session_execute(s, "UPDATE counter SET n = $1", 1, params, bmt_result_cb, &counter_update);
	bm_session_commit(s, bmt_done_cb, &counter_commit);
}

static void
test_results(PGconn *check)
{
	bm_engine  *e = bmt_engine(NULL);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	const char *params[2] = {"a'b", NULL};
	bmt_rec		ins = {0};

	bm_session_execute(s, "SELECT n, $1::text AS t, $2::text AS nothing FROM generate_series(1, 2) n",
					   2, params, on_rows, NULL);
	bm_session_commit(s, NULL, NULL);
	bm_engine_run(e);
	tap_ok(values_ok, "results: rows, columns, names, values, NULLs and the row count read back", "a check failed");
	tap_ok(kept && bm_result_nrows(kept) == 2 && strcmp(bm_result_value(kept, 0, 1), "a'b") == 0 &&
		   bm_result_affected(kept) == 2,
		   "results: bm_result_copy keeps a result after its callback", "the copy differs");
	bm_result_free(kept);

	bmt_exec(check, "DROP TABLE IF EXISTS counter; CREATE TABLE counter (n int); INSERT INTO counter VALUES (41)");
	bm_session_execute(s, "SELECT n FROM counter FOR UPDATE", 0, NULL, on_counter, NULL);
	bm_engine_run(e);
	BMT_REC_IS(counter_update, BM_OK, "results: a session can wait for a row, then write (Flush, no Sync)");
	BMT_REC_IS(counter_commit, BM_OK, "results: and commit afterwards");
	TAP_INT_EQ(bmt_long(check, "SELECT n FROM counter"), 42, "results: the value written from the callback is committed");

	bm_session_execute(s, "", 0, NULL, bmt_result_cb, &ins);
	bm_session_rollback(s, NULL, NULL);
	bm_engine_run(e);
	BMT_REC_IS(ins, BM_OK, "results: an empty statement is not an error");
	bm_engine_free(e);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(120);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS pipe, rb, mid, counter");
	test_one_round_trip(check);
	test_rollback(check);
	test_error_mid_session(check);
	test_options();
	test_results(check);
	bmt_exec(check, "DROP TABLE IF EXISTS pipe, rb, mid, counter");
	PQfinish(check);
	return tap_done();
}
