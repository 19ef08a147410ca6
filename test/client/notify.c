/*
 * notify.c
 *	  Notifications that reach a pooled connection anyway (a LISTEN run
 *	  inside a function; LISTEN itself is refused at the call) are dropped as
 *	  they come: the client's heap does not grow with them.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

#define NOTIFICATIONS 30000		/* of 1 kB each */

/* bytes the program has from malloc now */
static long
heap_in_use(void)
{
	return (long) mallinfo2().uordblks;
}

int
main(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e;
	PGconn	   *check;
	bmt_rec		listen = {0},
				r[3] = {{0}};
	long		before,
				growth;
	int			i;
	char		sql[200];

	bmt_guard(120);
	check = bmt_check_conn();
	e = bmt_engine(&opts);
	bm_engine_execute(e, "DO $$BEGIN EXECUTE 'LISTEN bm_notify_test'; END$$", 0, NULL, bmt_result_cb, &listen);
	bm_engine_run(e);
	BMT_REC_IS(listen, BM_OK, "notify: a LISTEN inside a function runs");
	before = heap_in_use();
	snprintf(sql, sizeof(sql), "SELECT pg_notify('bm_notify_test', i || repeat('x', 1000)) "
			 "FROM generate_series(1, %d) i", NOTIFICATIONS);
	bmt_exec(check, sql);
	/* the listener sends them before it answers what comes next */
	for (i = 0; i < 3; i++)
	{
		bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &r[i]);
		bm_engine_run(e);
		BMT_REC_IS(r[i], BM_OK, "notify: statements run while notifications arrive");
	}
	growth = heap_in_use() - before;
	if (getenv("BMT_SLOW") == NULL)
		tap_ok(growth < 8 * 1024 * 1024, "notify: 30 MB of notifications leave the heap within 8 MB",
			   "the heap grew by %ld bytes", growth);
	else
		tap_ok(true, "notify: heap growth # SKIP not measured under valgrind or sanitizers (their allocators keep freed memory)", "");
	bm_engine_free(e);
	PQfinish(check);
	return tap_done();
}
