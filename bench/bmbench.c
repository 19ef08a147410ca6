/*
 * bmbench.c
 *	  The basemodel side of `make bench`: drives libbasemodel through one
 *	  workload and prints one line of key=value figures that bench/run reads.
 *
 *	  bmbench serial   COUNT              C1: one statement at a time, the next
 *	                                      queued from the previous callback
 *	  bmbench pipeline DEPTH COUNT        C2 and the depth scale: batches of
 *	                                      DEPTH statements, the next batch
 *	                                      queued when the last one is answered
 *	  bmbench batch    DEPTH COUNT        the same batches, each in a session
 *	                                      (DEPTH statements and a COMMIT, one
 *	                                      transaction as in pgbench's pipeline)
 *	  bmbench insert   SESSIONS ROWS      C3: sessions of ROWS inserts and a
 *	                                      commit, one session after another
 *	  bmbench burst    COUNT POOL         C4: COUNT statements queued at once
 *	  bmbench sessions COUNT POOL STMTS   C5 and the session scale: COUNT
 *	                                      sessions opened at once, STMTS
 *	                                      statements and a commit each
 *	  bmbench readonly COUNT POOL INFLIGHT  R1: COUNT sessions of one point
 *	                                      select and a commit, INFLIGHT at a
 *	                                      time; with $BM_BENCH_READ_URL every
 *	                                      other one is read-only and runs on
 *	                                      that replica (read_pool_size POOL),
 *	                                      the rest on the primary
 *	  bmbench stream   ROWS               C6: ROWS rows of 3 columns through
 *	                                      bm_session_stream (peak RSS growth)
 *	  bmbench select   ROWS               the same rows as one result of
 *	                                      bm_session_execute, for comparison
 *	  bmbench copyin   FILE ROWS          C7: FILE (ROWS rows) into bench_copy
 *	                                      through bm_session_copy_in
 *	  bmbench bigparam MB                 C8: one INSERT of an MB-megabyte text
 *	                                      value into bench_big, autocommit
 *
 * The database is $DATABASE_URL; point selects draw ids from
 * 1..$BM_BENCH_ROWS of table bench_point.  Every answer is checked (one row,
 * the id that was asked for); any error ends the program with status 1, so
 * that no figure is printed for work that was not done.  Timings start after
 * a warm-up that opens the connections, as pgbench's "without initial
 * connection time" does.  The line ends with the engine's traffic counters
 * (bm_engine_get_stats), warm-up included.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <basemodel.h>

#include "benchutil.h"

#define POINT_SQL "SELECT id, v FROM bench_point WHERE id = $1"
#define INSERT_SQL "INSERT INTO bench_ins AS t (v) VALUES ($1) RETURNING basemodel.to_dict(t)"

static bm_engine *engine;
static bm_sessionmaker *maker;
static long table_rows;

/* what the running workload still has to do */
static long left;				/* statements or sessions not yet queued */
static long answered;			/* statements answered */
static long batch_left;			/* statements of the current batch not answered */
static long batch_depth;
static long rows_per_session;

static void
usage(void)
{
	fprintf(stderr,
			"usage: bmbench serial COUNT | pipeline DEPTH COUNT | batch DEPTH COUNT |\n"
			"               insert SESSIONS ROWS |\n"
			"               burst COUNT POOL | sessions COUNT POOL STMTS |\n"
			"               readonly COUNT POOL INFLIGHT |\n"
			"               stream ROWS | select ROWS | copyin FILE ROWS | bigparam MB\n");
	exit(2);
}

static long
parse_count(const char *s)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1)
		usage();
	return n;
}

static void
fail(const char *what, const bm_error *err)
{
	fprintf(stderr, "bmbench: %s failed: %s", what,
			err && err->message ? err->message : "(no message)");
	if (err && err->sqlstate[0])
		fprintf(stderr, " (SQLSTATE %s)", err->sqlstate);
	fprintf(stderr, "\n");
	exit(1);
}

static inline int
is_error(const bm_error *err)
{
	return err != NULL && err->code != BM_OK;
}

/* A point select answered: one row carrying the id that was asked for. */
static void
check_point(const bm_result *res, const bm_error *err, void *arg)
{
	long		want = (long) (intptr_t) arg;
	const char *got;

	if (is_error(err))
		fail("point select", err);
	got = bm_result_nrows(res) == 1 ? bm_result_value(res, 0, 0) : NULL;
	if (got == NULL || strtol(got, NULL, 10) != want)
	{
		fprintf(stderr, "bmbench: point select for id %ld returned %d rows (first id %s)\n",
				want, bm_result_nrows(res), got ? got : "none");
		exit(1);
	}
	answered++;
}

static int
queue_point_engine(bm_result_cb cb)
{
	long		id = next_id(table_rows);
	char		buf[24];
	const char *params[1] = {format_id(buf, id)};

	return bm_engine_execute(engine, POINT_SQL, 1, params, cb, (void *) (intptr_t) id);
}

static void
queue_point_session(bm_session *s, bm_result_cb cb)
{
	long		id = next_id(table_rows);
	char		buf[24];
	const char *params[1] = {format_id(buf, id)};

	if (bm_session_execute(s, POINT_SQL, 1, params, cb, (void *) (intptr_t) id) != 0)
		fail("bm_session_execute", bm_last_error());
}

static void
must_queue(int rc)
{
	if (rc != 0)
		fail("bm_engine_execute", bm_last_error());
}

static void
run_loop(void)
{
	if (bm_engine_run(engine) != 0)
		fail("bm_engine_run", bm_last_error());
}

static void
make_engine(int pool_size)
{
	bm_engine_options opts;
	bm_error	err;

	memset(&opts, 0, sizeof(opts));
	opts.pool_size = pool_size;
	opts.application_name = "bmbench";
	opts.read_url = getenv("BM_BENCH_READ_URL");
	opts.read_pool_size = pool_size;
	memset(&err, 0, sizeof(err));
	engine = bm_engine_create(NULL, &opts, &err);
	if (engine == NULL)
		fail("bm_engine_create", &err);
	maker = bm_sessionmaker_create(engine, NULL);
	if (maker == NULL)
		fail("bm_sessionmaker_create", bm_last_error());
}

static void
point_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	check_point(res, err, arg);
}

static void
warm_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("warm-up commit", err);
	bm_session_close(s);
}

static void
warm_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("warm-up", err);
}

/*
 * Open every connection of the pool and prepare the point select on it:
 * pool_size sessions at once, each holding its connection for a few
 * milliseconds so that the next one cannot reuse it, twice over.  Each runs
 * the select 10 times, past the server's first five custom plans, so that a
 * short measurement does not pay for planning that a long one amortises.
 */
static void
warm_up(int pool_size)
{
	for (int round = 0; round < 2; round++)
	{
		for (int i = 0; i < pool_size; i++)
		{
			bm_session *s = bm_session_open(maker);

			if (s == NULL)
				fail("bm_session_open", bm_last_error());
			for (int j = 0; j < 10; j++)
				queue_point_session(s, point_cb);
			if (pool_size > 1 &&
				bm_session_execute(s, "SELECT pg_sleep(0.01)", 0, NULL, warm_cb, NULL) != 0)
				fail("bm_session_execute", bm_last_error());
			if (bm_session_commit(s, warm_commit_cb, NULL) != 0)
				fail("bm_session_commit", bm_last_error());
		}
		run_loop();
	}
	must_queue(queue_point_engine(point_cb));
	run_loop();
	answered = 0;
}

static void
print_rate(long ops, double seconds)
{
	printf("ops=%ld seconds=%.6f rate=%.1f", ops, seconds, ops / seconds);
}

/* C1 */
static void
serial_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	check_point(res, err, arg);
	if (left > 0)
	{
		left--;
		must_queue(queue_point_engine(serial_cb));
	}
}

static void
bench_serial(long count)
{
	double		t0;

	make_engine(1);
	warm_up(1);
	t0 = now();
	left = count - 1;
	must_queue(queue_point_engine(serial_cb));
	run_loop();
	print_rate(answered, now() - t0);
}

/* C2 and the depth scale */
static void queue_batch(void);

static void
batch_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	check_point(res, err, arg);
	if (--batch_left == 0 && left > 0)
		queue_batch();
}

static void
queue_batch(void)
{
	long		n = left < batch_depth ? left : batch_depth;

	left -= n;
	batch_left = n;
	for (long i = 0; i < n; i++)
		must_queue(queue_point_engine(batch_cb));
}

/* Time count point selects on one connection, depth at a time, started by start. */
static void
bench_depth(void (*start) (void), long depth, long count)
{
	double		t0;

	make_engine(1);
	warm_up(1);
	batch_depth = depth;
	left = count;
	t0 = now();
	start();
	run_loop();
	print_rate(answered, now() - t0);
}

/* C2 in one transaction a batch */
static void start_batch_session(void);

static void
batch_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("commit", err);
	bm_session_close(s);
	if (left > 0)
		start_batch_session();
}

static void
start_batch_session(void)
{
	long		n = left < batch_depth ? left : batch_depth;
	bm_session *s = bm_session_open(maker);

	if (s == NULL)
		fail("bm_session_open", bm_last_error());
	left -= n;
	for (long i = 0; i < n; i++)
		queue_point_session(s, point_cb);
	if (bm_session_commit(s, batch_commit_cb, NULL) != 0)
		fail("bm_session_commit", bm_last_error());
}


/* C3 */
static void start_insert_session(void);

static void
insert_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("insert", err);
	if (bm_result_nrows(res) != 1 || bm_result_isnull(res, 0, 0))
	{
		fprintf(stderr, "bmbench: insert returned %d rows, expected one to_dict row\n",
				bm_result_nrows(res));
		exit(1);
	}
	answered++;
}

static void
insert_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("commit", err);
	bm_session_close(s);
	if (left > 0)
		start_insert_session();
}

static void
start_insert_session(void)
{
	bm_session *s = bm_session_open(maker);

	if (s == NULL)
		fail("bm_session_open", bm_last_error());
	left--;
	for (long i = 0; i < rows_per_session; i++)
	{
		char		buf[24];
		const char *params[1] = {format_id(buf, next_id(table_rows))};

		if (bm_session_execute(s, INSERT_SQL, 1, params, insert_cb, NULL) != 0)
			fail("bm_session_execute", bm_last_error());
	}
	if (bm_session_commit(s, insert_commit_cb, NULL) != 0)
		fail("bm_session_commit", bm_last_error());
}

static void
bench_insert(long sessions, long rows)
{
	double		t0,
				t;

	make_engine(1);
	warm_up(1);
	rows_per_session = rows;
	t0 = now();
	left = sessions;
	start_insert_session();
	run_loop();
	t = now() - t0;
	if (answered != sessions * rows)
	{
		fprintf(stderr, "bmbench: %ld inserts answered, expected %ld\n", answered, sessions * rows);
		exit(1);
	}
	printf("ops=%ld seconds=%.6f rate=%.1f rows_rate=%.1f",
		   sessions, t, sessions / t, answered / t);
}

/* C4 */
static void
bench_burst(long count, int pool_size)
{
	double		t0,
				t;

	make_engine(pool_size);
	warm_up(pool_size);
	t0 = now();
	for (long i = 0; i < count; i++)
		must_queue(queue_point_engine(point_cb));
	run_loop();
	t = now() - t0;
	if (answered != count)
	{
		fprintf(stderr, "bmbench: %ld statements answered, expected %ld\n", answered, count);
		exit(1);
	}
	print_rate(count, t);
}

/* C5 and the session scale */
typedef struct session_slot
{
	double		opened;
	double		latency;
} session_slot;

static void
session_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	session_slot *slot = arg;

	if (is_error(err))
		fail("commit", err);
	slot->latency = now() - slot->opened;
	bm_session_close(s);
}

static long
rss_kib(void)
{
	long		pages = 0;
	FILE	   *f = fopen("/proc/self/statm", "r");

	if (f == NULL || fscanf(f, "%*s %ld", &pages) != 1)
	{
		fprintf(stderr, "bmbench: cannot read /proc/self/statm\n");
		exit(1);
	}
	fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
bench_sessions(long count, int pool_size, long stmts)
{
	session_slot *slots = calloc(count, sizeof(session_slot));
	double	   *lat = calloc(count, sizeof(double));
	double		t0,
				t;
	long		rss_before;
	struct rusage ru;

	if (slots == NULL || lat == NULL)
	{
		fprintf(stderr, "bmbench: out of memory\n");
		exit(1);
	}
	make_engine(pool_size);
	warm_up(pool_size);
	rss_before = rss_kib();
	t0 = now();
	for (long i = 0; i < count; i++)
	{
		bm_session *s = bm_session_open(maker);

		if (s == NULL)
			fail("bm_session_open", bm_last_error());
		slots[i].opened = now();
		for (long j = 0; j < stmts; j++)
			queue_point_session(s, point_cb);
		if (bm_session_commit(s, session_commit_cb, &slots[i]) != 0)
			fail("bm_session_commit", bm_last_error());
	}
	run_loop();
	t = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	if (answered != count * stmts)
	{
		fprintf(stderr, "bmbench: %ld statements answered, expected %ld\n", answered, count * stmts);
		exit(1);
	}
	for (long i = 0; i < count; i++)
		lat[i] = slots[i].latency;
	qsort(lat, count, sizeof(double), cmp_double);
	printf("ops=%ld seconds=%.6f rate=%.1f stmt_rate=%.1f p50_ms=%.3f p99_ms=%.3f rss_growth_kib=%ld",
		   count, t, count / t, answered / t,
		   lat[(count - 1) / 2] * 1e3, lat[(count * 99 + 99) / 100 - 1] * 1e3,
		   ru.ru_maxrss - rss_before);
	free(slots);
	free(lat);
}

/* R1: sessions spread over the primary and a replica, or on the primary alone */
static bm_sessionmaker *ro_maker;

static void start_ro_session(void);

static void
ro_commit_cb(bm_session *s, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("commit", err);
	bm_session_close(s);
	if (left > 0)
		start_ro_session();
}

static void
start_ro_session(void)
{
	/* with a replica, every other session is read-only and goes there */
	bm_session *s = bm_session_open(getenv("BM_BENCH_READ_URL") && left % 2 ? ro_maker : maker);

	if (s == NULL)
		fail("bm_session_open", bm_last_error());
	left--;
	queue_point_session(s, point_cb);
	if (bm_session_commit(s, ro_commit_cb, NULL) != 0)
		fail("bm_session_commit", bm_last_error());
}

static void
bench_readonly(long count, int pool_size, long inflight)
{
	bm_session_options ro = {.read_only = 1};
	bm_sessionmaker *rw;
	bm_engine_stats st;
	double		t0,
				t;

	make_engine(pool_size);
	rw = maker;
	ro_maker = bm_sessionmaker_create(engine, &ro);
	if (ro_maker == NULL)
		fail("bm_sessionmaker_create", bm_last_error());
	/* open and prepare both pools' connections */
	maker = ro_maker;
	warm_up(pool_size);
	maker = rw;
	warm_up(pool_size);
	left = count;
	t0 = now();
	for (long i = 0; i < inflight && left > 0; i++)
		start_ro_session();
	run_loop();
	t = now() - t0;
	bm_engine_get_stats(engine, &st);
	if (answered != count || (getenv("BM_BENCH_READ_URL") && st.replica_sessions < count / 2))
	{
		fprintf(stderr, "bmbench: %ld selects answered (expected %ld), %ld on the replica\n",
				answered, count, st.replica_sessions);
		exit(1);
	}
	print_rate(count, t);
	printf(" replica_sessions=%ld replica_fallbacks=%ld", st.replica_sessions, st.replica_fallbacks);
	bm_sessionmaker_free(ro_maker);
}

#define STREAM_SQL "SELECT g, g * 2, 'row number ' || g FROM generate_series(1, $1::int) g"

static long rows_seen;			/* rows checked so far (streamed, or of the one result) */
static int	ends_seen;

/* a streamed row: the next one, three columns; or the end, once */
static void
stream_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("bm_session_stream", err);
	if (bm_result_nrows(res) == 0)
	{
		ends_seen++;
		return;
	}
	if (bm_result_ncols(res) != 3 || strtol(bm_result_value(res, 0, 0), NULL, 10) != ++rows_seen)
	{
		fprintf(stderr, "bmbench: streamed row %ld is not the one expected\n", rows_seen);
		exit(1);
	}
}

/* the whole result at once: every row in order */
static void
select_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("bm_session_execute", err);
	for (int i = 0; i < bm_result_nrows(res); i++)
		if (strtol(bm_result_value(res, i, 0), NULL, 10) != ++rows_seen)
		{
			fprintf(stderr, "bmbench: row %ld is not the one expected\n", rows_seen);
			exit(1);
		}
	ends_seen++;
}

static void
done_cb(bm_session *s, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("commit", err);
}

/*
 * ROWS rows of three columns in one session, streamed or as one result:
 * rows/s and the growth of the peak RSS over the run.
 */
static void
bench_rows(long rows, bool stream)
{
	bm_session *s;
	char		n[24];
	const char *params[1] = {format_id(n, rows)};
	long		rss_before;
	double		t0,
				t;
	struct rusage ru;

	make_engine(1);
	warm_up(1);
	rss_before = rss_kib();
	t0 = now();
	s = bm_session_open(maker);
	if ((stream ? bm_session_stream(s, STREAM_SQL, 1, params, stream_cb, NULL)
		 : bm_session_execute(s, STREAM_SQL, 1, params, select_cb, NULL)) != 0 ||
		bm_session_commit(s, done_cb, NULL) != 0)
		fail("queueing the select", bm_last_error());
	bm_session_close(s);
	run_loop();
	t = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	if (rows_seen != rows || ends_seen != 1)
	{
		fprintf(stderr, "bmbench: %ld rows and %d ends, expected %ld and 1\n", rows_seen, ends_seen, rows);
		exit(1);
	}
	printf("ops=%ld seconds=%.6f rate=%.1f rss_growth_kib=%ld", rows, t, rows / t, ru.ru_maxrss - rss_before);
}

/* bm_copy_read_cb: the next bytes of the file */
static long
file_read(char *buf, long cap, void *arg)
{
	size_t		n = fread(buf, 1, cap, arg);

	return ferror((FILE *) arg) ? -1 : (long) n;
}

static long copied = -1;

/* the COPY's result: the rows it copied */
static void
copied_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	if (is_error(err))
		fail("bm_session_copy_in", err);
	copied = bm_result_affected(res);
}

/* FILE into bench_copy (emptied by the caller) with COPY FROM STDIN: rows/s */
static void
bench_copyin(const char *path, long rows)
{
	FILE	   *f = fopen(path, "r");
	bm_session *s;
	double		t0,
				t;

	if (f == NULL)
	{
		fprintf(stderr, "bmbench: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	make_engine(1);
	warm_up(1);
	t0 = now();
	s = bm_session_open(maker);
	if (bm_session_copy_in(s, "COPY bench_copy FROM STDIN", file_read, f, copied_cb, NULL) != 0 ||
		bm_session_commit(s, done_cb, NULL) != 0)
		fail("queueing the COPY", bm_last_error());
	bm_session_close(s);
	run_loop();
	t = now() - t0;
	fclose(f);
	if (copied != rows)
	{
		fprintf(stderr, "bmbench: COPY copied %ld rows, expected %ld\n", copied, rows);
		exit(1);
	}
	printf("ops=%ld seconds=%.6f rate=%.1f", rows, t, rows / t);
}

static long inserted = -1;

/* the big INSERT's answer: the rows it inserted */
static void
inserted_cb(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) arg;
	if (is_error(err))
		fail("the big INSERT", err);
	inserted = bm_result_affected(res);
}

/* C8: one text parameter of mb megabytes INSERTed into bench_big: bytes/s */
static void
bench_bigparam(long mb)
{
	size_t		len = (size_t) mb * 1000 * 1000;
	char	   *v = malloc(len + 1);
	const char *params[1] = {v};
	double		t0,
				t;

	if (v == NULL)
	{
		fprintf(stderr, "bmbench: no memory for a %ld MB value\n", mb);
		exit(1);
	}
	for (size_t i = 0; i < len; i++)
		v[i] = 'a' + i % 26;
	v[len] = '\0';
	make_engine(1);
	warm_up(1);
	t0 = now();
	if (bm_engine_execute(engine, "INSERT INTO bench_big (v) VALUES ($1)", 1, params, inserted_cb, NULL) != 0)
		fail("queueing the big INSERT", bm_last_error());
	run_loop();
	t = now() - t0;
	free(v);
	if (inserted != 1)
	{
		fprintf(stderr, "bmbench: the big INSERT inserted %ld rows, expected 1\n", inserted);
		exit(1);
	}
	printf("ops=1 seconds=%.6f rate=%.1f", t, len / t);
}

int
main(int argc, char **argv)
{
	const char *rows = getenv("BM_BENCH_ROWS");
	bm_engine_stats stats;

	if (argc < 3)
		usage();
	table_rows = rows ? parse_count(rows) : 100000;
	if (strcmp(argv[1], "serial") == 0 && argc == 3)
		bench_serial(parse_count(argv[2]));
	else if (strcmp(argv[1], "pipeline") == 0 && argc == 4)
		bench_depth(queue_batch, parse_count(argv[2]), parse_count(argv[3]));
	else if (strcmp(argv[1], "batch") == 0 && argc == 4)
		bench_depth(start_batch_session, parse_count(argv[2]), parse_count(argv[3]));
	else if (strcmp(argv[1], "insert") == 0 && argc == 4)
		bench_insert(parse_count(argv[2]), parse_count(argv[3]));
	else if (strcmp(argv[1], "burst") == 0 && argc == 4)
		bench_burst(parse_count(argv[2]), (int) parse_count(argv[3]));
	else if (strcmp(argv[1], "sessions") == 0 && argc == 5)
		bench_sessions(parse_count(argv[2]), (int) parse_count(argv[3]), parse_count(argv[4]));
	else if (strcmp(argv[1], "readonly") == 0 && argc == 5)
		bench_readonly(parse_count(argv[2]), (int) parse_count(argv[3]), parse_count(argv[4]));
	else if (strcmp(argv[1], "stream") == 0 && argc == 3)
		bench_rows(parse_count(argv[2]), true);
	else if (strcmp(argv[1], "select") == 0 && argc == 3)
		bench_rows(parse_count(argv[2]), false);
	else if (strcmp(argv[1], "copyin") == 0 && argc == 4)
		bench_copyin(argv[2], parse_count(argv[3]));
	else if (strcmp(argv[1], "bigparam") == 0 && argc == 3)
		bench_bigparam(parse_count(argv[2]));
	else
		usage();
	/* the engine's own count of what went over the wire, warm-up included */
	bm_engine_get_stats(engine, &stats);
	printf(" round_trips=%ld syncs=%ld prepares=%ld connects=%ld\n",
		   stats.round_trips, stats.syncs, stats.prepares, stats.connects);
	bm_sessionmaker_free(maker);
	bm_engine_free(engine);
	return 0;
}
