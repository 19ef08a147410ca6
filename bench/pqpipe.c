/*
 * pqpipe.c
 *	  libpq alone, as a yardstick for bmbench: batches of DEPTH point selects
 *	  sent in pipeline mode on one connection, with a Sync after every
 *	  statement (each its own implicit transaction, as bm_engine_execute and
 *	  postgres.js do) or one Sync per batch (one implicit transaction, as
 *	  pgbench's \startpipeline ... \endpipeline).  No client library in
 *	  between, so what it measures is the server and the protocol.
 *
 *	  pqpipe DEPTH COUNT each|once
 *	  pqpipe 1 COUNT plain        one statement at a time outside pipeline
 *	                              mode (what pgbench -M prepared does)
 *
 * The database is $DATABASE_URL; ids are drawn from 1..$BM_BENCH_ROWS of
 * table bench_point.  Prints one key=value line, like bmbench.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "benchutil.h"


static void
die(PGconn *conn, const char *what)
{
	fprintf(stderr, "pqpipe: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	exit(1);
}

/* Read one statement's result (and the NULL that ends it). */
static void
read_select(PGconn *conn)
{
	PGresult   *res = PQgetResult(conn);

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		die(conn, "point select");
	PQclear(res);
	if (PQgetResult(conn) != NULL)
		die(conn, "more results than expected");
}

static void
read_sync(PGconn *conn)
{
	PGresult   *res = PQgetResult(conn);

	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		die(conn, "pipeline sync");
	PQclear(res);
}

int
main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	const char *rows_env = getenv("BM_BENCH_ROWS");
	long		rows = rows_env ? atol(rows_env) : 100000;
	long		depth,
				count,
				done = 0,
				syncs = 0;
	int			each;
	int			plain;
	PGconn	   *conn;
	PGresult   *res;
	double		t0,
				t;

	if (argc != 4 || (depth = atol(argv[1])) < 1 || (count = atol(argv[2])) < 1 ||
		(strcmp(argv[3], "each") != 0 && strcmp(argv[3], "once") != 0 &&
		 strcmp(argv[3], "plain") != 0) || rows < 1)
	{
		fprintf(stderr, "usage: pqpipe DEPTH COUNT each|once|plain\n");
		return 2;
	}
	each = strcmp(argv[3], "each") == 0;
	plain = strcmp(argv[3], "plain") == 0;
	conn = PQconnectdb(url ? url : "");
	if (PQstatus(conn) != CONNECTION_OK)
		die(conn, "connect");
	res = PQprepare(conn, "point", "SELECT id, v FROM bench_point WHERE id = $1", 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(conn, "prepare");
	PQclear(res);
	if (plain)
	{
		t0 = now();
		for (done = 0; done < count; done++)
		{
			char		buf[24];
			const char *params[1] = {format_id(buf, next_id(rows))};

			if (!PQsendQueryPrepared(conn, "point", 1, params, NULL, NULL, 0))
				die(conn, "send");
			read_select(conn);
		}
		t = now() - t0;
		printf("ops=%ld seconds=%.6f rate=%.1f syncs=%ld\n", done, t, done / t, done);
		PQfinish(conn);
		return 0;
	}
	if (!PQenterPipelineMode(conn))
		die(conn, "pipeline mode");

	t0 = now();
	while (done < count)
	{
		long		n = count - done < depth ? count - done : depth;

		for (long i = 0; i < n; i++)
		{
			char		buf[24];
			const char *params[1] = {format_id(buf, next_id(rows))};

			if (!PQsendQueryPrepared(conn, "point", 1, params, NULL, NULL, 0))
				die(conn, "send");
			if (each && !PQpipelineSync(conn))
				die(conn, "sync");
		}
		if (!each && !PQpipelineSync(conn))
			die(conn, "sync");
		if (PQflush(conn) != 0)
			die(conn, "flush");
		for (long i = 0; i < n; i++)
		{
			read_select(conn);
			if (each)
				read_sync(conn);
		}
		if (!each)
			read_sync(conn);
		syncs += each ? n : 1;
		done += n;
	}
	t = now() - t0;
	printf("ops=%ld seconds=%.6f rate=%.1f syncs=%ld\n", done, t, done / t, syncs);
	PQfinish(conn);
	return 0;
}
