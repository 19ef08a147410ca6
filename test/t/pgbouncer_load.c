/*
 * pgbouncer_load.c
 *	  A client process for test/t/pgbouncer.t: many sessions with
 *	  parameters through one engine, a few at a time, and what each one's
 *	  callbacks said.
 *
 *	  pgbouncer_load URL CACHE TIMEOUT_MS load TAG SESSIONS
 *	    Session i (key TAG * 1000000 + i) inserts its key into pb_a and pb_b,
 *	    reads pb_a's count of it back (1) and commits; every fourth also
 *	    inserts it into pb_c with bm_engine_execute.  Prints "commit KEY" for
 *	    a session whose every callback said BM_OK, "auto KEY" for such an
 *	    autocommit statement, "fail NAME SQLSTATE MESSAGE" for every callback
 *	    that did not.
 *	  pgbouncer_load URL CACHE TIMEOUT_MS sleep SECONDS
 *	    pg_sleep(SECONDS) once with bm_engine_execute and once in a session,
 *	    on one connection (in session mode a pooler with one server
 *	    connection serves it): prints "auto NAME SQLSTATE" and
 *	    "session NAME SQLSTATE".
 *	  pgbouncer_load URL CACHE TIMEOUT_MS batch COUNT SYNC_EACH
 *	    COUNT autocommit inserts into pb_u (unique k) queued at once, so that
 *	    they share Syncs unless SYNC_EACH (autocommit_sync_each) is 1: key i,
 *	    except that the one in the middle inserts key 0 again (a unique
 *	    violation); prints "auto KEY" or "fail auto:KEY ..." for each.
 *	  CACHE is bm_engine_options.statement_cache_size, TIMEOUT_MS its
 *	  statement_timeout_ms.  Exits 0 unless it could not run.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basemodel.h>

/* sessions open at once */
#define IN_FLIGHT 16

/* one session (or its autocommit insert): its key and what its callbacks said */
typedef struct Unit
{
	long		key;
	char		keytext[24];
	const char *params[2];
	int			failures;		/* callbacks that did not say BM_OK */
	int			pending;		/* callbacks still to come */
} Unit;

/* the maker of every session, this process's key prefix, sessions started and to start */
static bm_sessionmaker *maker;
static long tag,
			started,
			total;
static const char *tagtext;

/* print a failed callback */
static void
report(const char *what, const bm_error *err)
{
	printf("fail %s %s %s %s\n", what, bm_error_name(err->code), err->sqlstate[0] ? err->sqlstate : "-",
		   err->message);
}

static void start_next(void);

/* one callback of a unit came: when it is the last, the unit's outcome */
static void
unit_step(Unit *u, const char *what, const bm_error *err)
{
	if (err->code != BM_OK)
	{
		u->failures++;
		report(what, err);
	}
	if (--u->pending > 0)
		return;
	if (u->failures == 0)
		printf("commit %ld\n", u->key);
	free(u);
	start_next();
}

/* an INSERT of the unit answered */
static void
on_insert(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) s;
	(void) res;
	unit_step(arg, "insert", err);
}

/* the unit's read-back answered: its own row, once */
static void
on_select(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	Unit	   *u = arg;
	const char *count = res && bm_result_nrows(res) == 1 ? bm_result_value(res, 0, 0) : NULL;

	(void) s;
	if (res && (count == NULL || strcmp(count, "1") != 0))
	{
		u->failures++;
		printf("fail select BM_OK - the session did not read back its own row once\n");
	}
	unit_step(u, "select", err);
}

/* the unit's commit answered: the session is done */
static void
on_commit(bm_session *s, const bm_error *err, void *arg)
{
	unit_step(arg, "commit", err);
	bm_session_close(s);
}

/* the autocommit insert answered */
static void
on_auto(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	Unit	   *u = arg;
	char		what[32];

	(void) s;
	(void) res;
	snprintf(what, sizeof(what), "auto:%ld", u->key);
	if (err->code == BM_OK)
		printf("auto %ld\n", u->key);
	else
		report(what, err);
	free(u);
}

/* a copy of a unit's key and parameters, for its autocommit statement */
static Unit *
unit_new(long key)
{
	Unit	   *u = calloc(1, sizeof(*u));

	if (u == NULL)
		exit(2);
	u->key = key;
	snprintf(u->keytext, sizeof(u->keytext), "%ld", key);
	u->params[0] = u->keytext;
	u->params[1] = tagtext;
	return u;
}

/* open the next session, if any are left */
static void
start_next(void)
{
	bm_session *s;
	Unit	   *u;
	long		key;

	if (started >= total)
		return;
	key = tag * 1000000 + started++;
	u = unit_new(key);
	s = bm_session_open(maker);
	if (s == NULL ||
		bm_session_execute(s, "INSERT INTO pb_a (k, tag) VALUES ($1, $2)", 2, u->params, on_insert, u) != 0 ||
		bm_session_execute(s, "INSERT INTO pb_b (k) VALUES ($1)", 1, u->params, on_insert, u) != 0 ||
		bm_session_execute(s, "SELECT count(*) FROM pb_a WHERE k = $1", 1, u->params, on_select, u) != 0 ||
		bm_session_commit(s, on_commit, u) != 0)
	{
		fprintf(stderr, "cannot queue: %s\n", bm_last_error()->message);
		exit(2);
	}
	u->pending = 4;
	if (key % 4 == 0)
	{
		Unit	   *a = unit_new(key);

		if (bm_engine_execute(bm_session_engine(s), "INSERT INTO pb_c (k) VALUES ($1)", 1, a->params,
							  on_auto, a) != 0)
			exit(2);
	}
}

/* print what a pg_sleep longer than the timeout got */
static void
on_sleep(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	(void) res;
	printf("%s %s %s\n", (const char *) arg, bm_error_name(err->code), err->sqlstate[0] ? err->sqlstate : "-");
	if (s)
		bm_session_close(s);
}

int
main(int argc, char **argv)
{
	bm_engine_options opts = {.pool_size = 4};
	bm_error	err;
	bm_engine  *e;
	int			i;

	if (argc != 6 && argc != 7)
	{
		fprintf(stderr, "usage: pgbouncer_load URL CACHE TIMEOUT_MS load TAG SESSIONS | sleep SECONDS | batch COUNT SYNC_EACH\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[4], "sleep") == 0 || strcmp(argv[4], "batch") == 0)
		opts.pool_size = 1;
	if (strcmp(argv[4], "batch") == 0 && argc == 7)
		opts.autocommit_sync_each = atoi(argv[6]);
	opts.statement_cache_size = atoi(argv[2]);
	opts.statement_timeout_ms = atoi(argv[3]);
	e = bm_engine_create(argv[1], &opts, &err);
	if (e == NULL)
	{
		fprintf(stderr, "bm_engine_create: %s\n", err.message);
		return 2;
	}
	maker = bm_sessionmaker_create(e, NULL);
	if (strcmp(argv[4], "sleep") == 0)
	{
		const char *sql[] = {argv[5]};
		bm_session *s = bm_session_open(maker);

		bm_engine_execute(e, "SELECT pg_sleep($1::float8)", 1, sql, on_sleep, "auto");
		bm_session_execute(s, "SELECT pg_sleep($1::float8)", 1, sql, on_sleep, "session");
		bm_session_commit(s, NULL, NULL);
	}
	else if (strcmp(argv[4], "batch") == 0)
	{
		long		count = atol(argv[5]);

		for (i = 0; i < count; i++)
		{
			Unit	   *u = unit_new(i == count / 2 ? 0 : i);

			if (bm_engine_execute(e, "INSERT INTO pb_u (k) VALUES ($1)", 1, u->params, on_auto, u) != 0)
				exit(2);
		}
	}
	else
	{
		tag = atol(argv[5]);
		tagtext = argv[5];
		total = atol(argv[6]);
		for (i = 0; i < IN_FLIGHT; i++)
			start_next();
	}
	if (bm_engine_run(e) != 0)
	{
		fprintf(stderr, "bm_engine_run: %s\n", bm_last_error()->message);
		return 2;
	}
	bm_engine_free(e);
	return 0;
}
