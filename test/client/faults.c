/*
 * faults.c
 *	  Chaos: units of work and autocommit inserts run through a fault proxy
 *	  on loopback while a driver process cuts connections, delays traffic,
 *	  blackholes the network (briefly, and once for longer than the silence
 *	  guard), kills backends and (on a throwaway cluster) restarts the
 *	  server; in one round the engine is freed from a callback at a random
 *	  moment.  Every callback's code is then checked against the table:
 *	  BM_OK commits are there once, definite failures (BM_ERR_SQL,
 *	  BM_ERR_ABORTED, BM_ERR_CONNECTION, BM_ERR_TIMEOUT, BM_ERR_CLOSED) are
 *	  not, only BM_ERR_OUTCOME_UNKNOWN may go either way, and no callback
 *	  waits longer than the timeouts allow.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmtest.h"
#include "faultproxy.h"

#define NCHAINS 8				/* sessions running at once */
#define UNITS_PER_CHAIN 30
#define NUNITS (NCHAINS * UNITS_PER_CHAIN)
#define NAUTOCHAINS 2
#define AUTOS_PER_CHAIN 40
#define NAUTOS (NAUTOCHAINS * AUTOS_PER_CHAIN)
#define AUTO_BASE 100000
#define CONNECT_TIMEOUT_MS 1000
#define STATEMENT_TIMEOUT_MS 1000
/*
 * The longest a callback may wait: the silence guard of a unit (one
 * statement timeout per query on the wire, and one more with a second),
 * then a connection attempt and the backoff; three times over.
 */
#define BOUND_MS (3 * (8 * STATEMENT_TIMEOUT_MS + 1000 + CONNECT_TIMEOUT_MS + 1000))

/* the bound, stretched for the valgrind and sanitizer runs (BMT_SLOW) */
static int
bound_ms(void)
{
	const char *slow = getenv("BMT_SLOW");

	return BOUND_MS * (slow && atoi(slow) > 1 ? atoi(slow) : 1);
}

typedef struct call
{
	int			calls;
	int			code;
	int64_t		queued;
	int64_t		waited;			/* ms from queueing to the callback */
} call;

typedef struct unit
{
	bool		queued;
	call		insert;
	call		sleep;
	call		commit;
} unit;

static unit units[NUNITS];
static call autos[NAUTOS];
static int	nunits = NUNITS;	/* fewer under valgrind and the sanitizers (BMT_SLOW) */
static int	nautos = NAUTOS;
static bm_engine *engine;
static bm_sessionmaker *maker;
static long callbacks;
static long free_at;			/* free the engine this many callbacks after the first commit, 0: never */
static long first_commit;		/* callbacks when the first commit was called back, 0: none yet */
static bool freed;

static int64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void queue_unit(int i);
static void queue_auto(int i);

/*
 * One callback came (commits: of a commit or an autocommit statement):
 * record it, and maybe free the engine from here, counting from the first
 * commit so that the round with a free has work committed before it.
 */
static void
record(call *c, const bm_error *err, bool commits)
{
	c->calls++;
	c->code = err->code;
	c->waited = clock_ms() - c->queued;
	++callbacks;
	if (commits && err->code == BM_OK && first_commit == 0)
		first_commit = callbacks;
	if (free_at > 0 && first_commit > 0 && callbacks - first_commit == free_at && !freed)
	{
		freed = true;
		bm_engine_free(engine);
	}
}

static void
on_stmt(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	record(arg, err, false);
}

/* a unit's commit: the chain goes on with its next unit */
static void
on_commit(bm_session *s, const bm_error *err, void *arg)
{
	unit	   *u = arg;
	int			i = (int) (u - units);

	(void) s;
	record(&u->commit, err, true);
	if (!freed && i + NCHAINS < nunits)
		queue_unit(i + NCHAINS);
}

static void
on_auto(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	call	   *c = arg;
	int			i = (int) (c - autos);

	(void) s;
	(void) res;
	record(c, err, true);
	if (!freed && i + NAUTOCHAINS < nautos)
		queue_auto(i + NAUTOCHAINS);
}

static void
queue_unit(int i)
{
	bm_session *s = bm_session_open(maker);
	char		id[16],
				pause[16];
	const char *p1[1] = {id},
			   *p2[1] = {pause};

	snprintf(id, sizeof(id), "%d", i);
	snprintf(pause, sizeof(pause), "0.0%d", rand() % 10);
	units[i].queued = true;
	units[i].insert.queued = units[i].sleep.queued = units[i].commit.queued = clock_ms();
	bm_session_execute(s, "INSERT INTO faults VALUES ($1)", 1, p1, on_stmt, &units[i].insert);
	bm_session_execute(s, "SELECT pg_sleep($1)", 1, p2, on_stmt, &units[i].sleep);
	bm_session_commit(s, on_commit, &units[i]);
	bm_session_close(s);
}

static void
queue_auto(int i)
{
	char		id[16];
	const char *p[1] = {id};

	snprintf(id, sizeof(id), "%d", AUTO_BASE + i);
	autos[i].queued = clock_ms();
	bm_engine_execute(engine, "INSERT INTO faults VALUES ($1)", 1, p, on_auto, &autos[i]);
}

/* sleep ms, a little more or less */
static void
pause_ms(int ms)
{
	usleep((useconds_t) (ms / 2 + rand() % (ms + 1)) * 1000);
}

/* the driver: faults at random moments, in a child process, until killed */
static void
drive_faults(fproxy *fp, unsigned seed, bool restart)
{
	PGconn	   *killer = bmt_check_conn();
	int			step;

	srand(seed);
	for (step = 0;; step++)
	{
		int			what = rand() % 6;

		pause_ms(400);
		if (step == 6)
		{
			/* longer than the silence guard of a unit on the wire */
			fproxy_mode(fp, FP_BLACKHOLE);
			sleep(9);
			fproxy_mode(fp, FP_NORMAL);
			continue;
		}
		if (step == 10 && restart)
		{
			PQfinish(killer);
			if (system("pg_ctlcluster \"$PGVERSION\" regress restart >/dev/null 2>&1") != 0)
				_exit(2);
			killer = bmt_check_conn();
			continue;
		}
		switch (what)
		{
			case 0:
				fproxy_mode(fp, FP_CUT);
				break;
			case 1:
				fproxy_mode(fp, FP_DELAY);
				pause_ms(400);
				fproxy_mode(fp, FP_NORMAL);
				break;
			case 2:
				fproxy_mode(fp, FP_BLACKHOLE);
				pause_ms(1500);
				fproxy_mode(fp, FP_NORMAL);
				break;
			default:
				PQclear(PQexec(killer, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
							   "WHERE application_name = 'bm_faults' ORDER BY random() LIMIT 1"));
				if (PQstatus(killer) != CONNECTION_OK)
					PQreset(killer);
				break;
		}
	}
}

/* what the table says of one callback: 0, or 1 for a callback that lied */
static int
check_call(const call *c, long present, int64_t *worst, int *unknown, int *committed, int *failed)
{
	if (c->calls != 1)
		return 1;
	if (c->waited > *worst)
		*worst = c->waited;
	switch (c->code)
	{
		case BM_OK:
			(*committed)++;
			return present != 1;
		case BM_ERR_OUTCOME_UNKNOWN:
			(*unknown)++;
			return 0;
		default:
			(*failed)++;
			return present != 0;
	}
}

/* one round of chaos; free_moment > 0 frees the engine that many callbacks after the first commit */
static void
round_of_faults(const char *name, long free_moment, unsigned seed)
{
	PGconn	   *check = bmt_check_conn();
	const char *throwaway = getenv("BM_THROWAWAY_CLUSTER");
	bm_engine_options opts = {.pool_size = 4, .connect_timeout_ms = CONNECT_TIMEOUT_MS,
	.statement_timeout_ms = STATEMENT_TIMEOUT_MS, .application_name = "bm_faults"};
	char		url[1024],
				msg[256];
	bm_error	err;
	fproxy		fp;
	pid_t		driver;
	int			i,
				lies = 0,
				unknown = 0,
				committed = 0,
				failed = 0,
				twice = 0;
	int64_t		worst = 0;

	memset(units, 0, sizeof(units));
	memset(autos, 0, sizeof(autos));
	callbacks = 0;
	freed = false;
	free_at = free_moment;
	first_commit = 0;
	bmt_exec(check, "DROP TABLE IF EXISTS faults; CREATE TABLE faults (id int)");
	fproxy_start(&fp, check);
	fproxy_conninfo(&fp, check, url, sizeof(url));
	engine = bm_engine_create(url, &opts, &err);
	if (engine == NULL)
		tap_bail(err.message);
	maker = bm_sessionmaker_create(engine, NULL);
	driver = fork();
	if (driver == 0)
	{
		drive_faults(&fp, seed, throwaway && strcmp(throwaway, "1") == 0);
		_exit(0);
	}
	for (i = 0; i < NCHAINS; i++)
		queue_unit(i);
	for (i = 0; i < NAUTOCHAINS; i++)
		queue_auto(i);
	if (freed || bm_engine_run(engine) != 0)
		tap_bail("bm_engine_run failed");
	if (!freed)
		bm_engine_free(engine);
	kill(driver, SIGKILL);
	waitpid(driver, NULL, 0);
	fproxy_stop(&fp);
	PQfinish(check);
	/* nothing may commit behind the check's back: the engine's backends are gone */
	check = bmt_check_conn();
	while (bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bm_faults'") > 0)
		usleep(20000);

	for (i = 0; i < NUNITS; i++)
	{
		char		sql[96];
		long		present;
		int			before = lies;

		if (!units[i].queued)
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM faults WHERE id = %d", i);
		present = bmt_long(check, sql);
		lies += check_call(&units[i].commit, present, &worst, &unknown, &committed, &failed);
		/* a statement's own BM_OK says nothing of the commit; its failure does */
		if (units[i].insert.calls != 1 || units[i].sleep.calls != 1)
			lies++;
		else
		{
			if (units[i].insert.code != BM_OK && units[i].insert.code != BM_ERR_OUTCOME_UNKNOWN)
				lies += present != 0;
			if (units[i].sleep.code != BM_OK && units[i].sleep.code != BM_ERR_OUTCOME_UNKNOWN)
				lies += present != 0;
		}
		if (lies > before)
			printf("# unit %d: insert %s, sleep %s, commit %s, %ld row(s)\n", i,
				   bmt_code(units[i].insert.code), bmt_code(units[i].sleep.code),
				   bmt_code(units[i].commit.code), present);
	}
	for (i = 0; i < NAUTOS; i++)
	{
		char		sql[96];
		long		present;
		int			before = lies;

		if (autos[i].queued == 0)
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM faults WHERE id = %d", AUTO_BASE + i);
		present = bmt_long(check, sql);
		lies += check_call(&autos[i], present, &worst, &unknown, &committed, &failed);
		if (lies > before)
			printf("# autocommit %d: %s, %ld row(s)\n", i, bmt_code(autos[i].code), present);
	}
	twice = (int) bmt_long(check, "SELECT count(*) FROM (SELECT id FROM faults GROUP BY id HAVING count(*) > 1) d");
	printf("# %s (seed %u): %d committed, %d failed for sure, %d unknown, %ld callbacks\n",
		   name, seed, committed, failed, unknown, callbacks);
	snprintf(msg, sizeof(msg), "%s: every callback's code agrees with the table", name);
	tap_ok(lies == 0, msg, "%d callback(s) disagree (see above)", lies);
	snprintf(msg, sizeof(msg), "%s: no row is there twice", name);
	TAP_INT_EQ(twice, 0, msg);
	snprintf(msg, sizeof(msg), "%s: no callback waits longer than the timeouts allow", name);
	tap_ok(worst <= bound_ms(), msg, "the longest wait was %lld ms, over %d ms", (long long) worst, bound_ms());
	snprintf(msg, sizeof(msg), "%s: work committed in spite of the faults", name);
	tap_ok(committed > 0, msg, "nothing committed");
	bmt_exec(check, "DROP TABLE faults");
	PQfinish(check);
}

int
main(void)
{
	unsigned	seed = (unsigned) time(NULL);
	const char *slow = getenv("BMT_SLOW");

	bmt_guard(300);
	if (slow && atoi(slow) > 1)
	{
		nunits /= atoi(slow);
		nautos /= atoi(slow);
	}
	printf("# seed %u\n", seed);
	srand(seed);
	round_of_faults("faults", 0, seed);
	srand(seed + 1);
	round_of_faults("faults with a free", 1 + rand() % nunits, seed + 1);
	return tap_done();
}
