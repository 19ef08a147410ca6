/*
 * failover_driver.c
 *	  The client side of the replication tests (test/t/replicas.t,
 *	  test/t/patroni.t): runs units of work through libbasemodel until a stop
 *	  file appears and prints one line per unit, with the wall-clock time in
 *	  ms, so that the test script can tell what happened before and after it
 *	  stopped, started or promoted a server.
 *
 *	  failover_driver reads URL READ_URL READ_POOL_SIZE STOPFILE
 *	    each round: a read-only unit and a normal one, both
 *	    "SELECT pg_is_in_recovery(), current_setting('port')":
 *	    "ro|rw MS CODE RECOVERY PORT" (RECOVERY t/f, "-" on failure)
 *	  failover_driver writes URL SESSIONS STOPFILE
 *	    each round: SESSIONS units "INSERT INTO failover_rows (id) VALUES (ID);
 *	    COMMIT" with ids counting up from 1: "commit MS CODE ID MESSAGE"
 *	  Both end with "stats replica_sessions=N replica_fallbacks=N connects=N
 *	  disconnects=N".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basemodel.h"

/* wall-clock milliseconds, comparable with the test script's clock */
static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* one unit of work in flight and what it reports */
typedef struct Unit
{
	const char *kind;			/* "ro", "rw" or "commit" */
	long		id;
	char		recovery[8];
	char		port[16];
	int			code;			/* of the first failure, BM_OK if none */
	char		message[200];
} Unit;

/* the first failure of a unit is the one it reports */
static void
note_error(Unit *u, const bm_error *err)
{
	if (err->code == BM_OK || u->code != BM_OK)
		return;
	u->code = err->code;
	snprintf(u->message, sizeof(u->message), "%s%s%s", err->sqlstate, *err->sqlstate ? " " : "",
			 err->message ? err->message : "");
	for (char *p = u->message; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* where a read ran */
static void
on_where(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	Unit	   *u = arg;

	(void) s;
	note_error(u, err);
	if (res && bm_result_nrows(res) == 1)
	{
		snprintf(u->recovery, sizeof(u->recovery), "%s", bm_result_value(res, 0, 0));
		snprintf(u->port, sizeof(u->port), "%s", bm_result_value(res, 0, 1));
	}
}

/* an insert's answer: its failure, if any, is the unit's */
static void
on_insert(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	note_error(arg, err);
}

/* the unit is over: print its line */
static void
on_end(bm_session *s, const bm_error *err, void *arg)
{
	Unit	   *u = arg;

	note_error(u, err);
	if (strcmp(u->kind, "commit") == 0)
		printf("commit %lld %s %ld %s\n", wall_ms(), bm_error_name(u->code), u->id, u->message);
	else
		printf("%s %lld %s %s %s %s\n", u->kind, wall_ms(), bm_error_name(u->code),
			   u->code == BM_OK ? u->recovery : "-", u->code == BM_OK ? u->port : "-", u->message);
	bm_session_close(s);
}

/* queue one unit on a new session of maker m; false when the library refuses it */
static bool
start_unit(bm_sessionmaker *m, Unit *u, const char *sql, bm_result_cb cb)
{
	bm_session *s = bm_session_open(m);

	if (s == NULL)
		return false;
	if (bm_session_execute(s, sql, 0, NULL, cb, u) != 0 ||
		bm_session_commit(s, on_end, u) != 0)
	{
		bm_session_close(s);
		return false;
	}
	return true;
}

/* the stop file exists */
static bool
stop_requested(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* the closing line with the engine's counters */
static void
print_stats(bm_engine *e)
{
	bm_engine_stats st;

	bm_engine_get_stats(e, &st);
	printf("stats replica_sessions=%ld replica_fallbacks=%ld connects=%ld disconnects=%ld\n",
		   st.replica_sessions, st.replica_fallbacks, st.connects, st.disconnects);
}

/* the reads mode: read-only and normal units side by side */
static int
run_reads(const char *url, const char *read_url, int read_pool_size, const char *stopfile)
{
	static const char where[] = "SELECT pg_is_in_recovery(), current_setting('port')";
	bm_engine_options o = {.pool_size = 2, .connect_timeout_ms = 3000,
	.read_url = read_url, .read_pool_size = read_pool_size};
	bm_session_options ro = {.read_only = 1};
	bm_error	err;
	bm_engine  *e = bm_engine_create(url, &o, &err);
	bm_sessionmaker *mro,
			   *mrw;

	if (e == NULL)
	{
		fprintf(stderr, "bm_engine_create: %s\n", err.message);
		return 1;
	}
	mro = bm_sessionmaker_create(e, &ro);
	mrw = bm_sessionmaker_create(e, NULL);
	while (!stop_requested(stopfile))
	{
		Unit		r = {.kind = "ro"},
					w = {.kind = "rw"};

		if (!start_unit(mro, &r, where, on_where) || !start_unit(mrw, &w, where, on_where) ||
			bm_engine_run(e) != 0)
		{
			fprintf(stderr, "driver: %s\n", bm_last_error()->message);
			return 1;
		}
		usleep(20000);
	}
	print_stats(e);
	bm_engine_free(e);
	return 0;
}

/* the writes mode: rounds of concurrent commits with unique ids */
static int
run_writes(const char *url, int sessions, const char *stopfile)
{
	bm_engine_options o = {.pool_size = sessions, .connect_timeout_ms = 3000};
	bm_error	err;
	bm_engine  *e = bm_engine_create(url, &o, &err);
	bm_sessionmaker *m;
	Unit	   *units = calloc(sessions, sizeof(Unit));
	long		next_id = 1;

	if (e == NULL || units == NULL)
	{
		fprintf(stderr, "bm_engine_create: %s\n", e ? "out of memory" : err.message);
		return 1;
	}
	m = bm_sessionmaker_create(e, NULL);
	while (!stop_requested(stopfile))
	{
		for (int i = 0; i < sessions; i++)
		{
			char		sql[128];

			memset(&units[i], 0, sizeof(Unit));
			units[i].kind = "commit";
			units[i].id = next_id++;
			snprintf(sql, sizeof(sql), "INSERT INTO failover_rows (id) VALUES (%ld)", units[i].id);
			if (!start_unit(m, &units[i], sql, on_insert))
			{
				fprintf(stderr, "driver: %s\n", bm_last_error()->message);
				return 1;
			}
		}
		if (bm_engine_run(e) != 0)
		{
			fprintf(stderr, "driver: %s\n", bm_last_error()->message);
			return 1;
		}
		usleep(20000);
	}
	print_stats(e);
	bm_engine_free(e);
	free(units);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "reads") == 0)
		return run_reads(argv[2], argv[3], atoi(argv[4]), argv[5]);
	if (argc == 5 && strcmp(argv[1], "writes") == 0)
		return run_writes(argv[2], atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: failover_driver reads URL READ_URL READ_POOL_SIZE STOPFILE\n"
			"       failover_driver writes URL SESSIONS STOPFILE\n");
	return 2;
}
