/*
 * refused.c
 *	  What is refused at the call, with BM_ERR_USAGE and a message that says
 *	  why, before anything reaches the server (the engine's connection stays
 *	  as it was): several statements in one text, LISTEN and UNLISTEN, and a
 *	  parameter of 1 GiB, which the server would take as a broken message and
 *	  answer by closing the connection.  And the server's error for a wrong
 *	  number of parameters, reported without the library's statement names.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bmtest.h"

#define CHUNK ((size_t) 1 << 20)

/*
 * A string of n (a multiple of 1 MiB) 'x' bytes without n bytes of memory:
 * one 1 MiB file of 'x' mapped over and over, then a page of zeroes for
 * its end.  munmap(*base, *maplen) gives it back.
 */
static char *
huge_string(size_t n, size_t *maplen)
{
	int			fd = memfd_create("x", 0);
	char	   *one,
			   *base;
	size_t		i;

	*maplen = n + 4096;
	if (fd < 0 || ftruncate(fd, CHUNK) != 0)
		tap_bail("cannot make a memory file");
	one = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	base = mmap(NULL, *maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (one == MAP_FAILED || base == MAP_FAILED)
		tap_bail("cannot map memory");
	memset(one, 'x', CHUNK);
	munmap(one, CHUNK);
	for (i = 0; i < n / CHUNK; i++)
		if (mmap(base + i * CHUNK, CHUNK, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
			tap_bail("cannot map memory");
	if (mmap(base + n, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		tap_bail("cannot map memory");
	close(fd);
	return base;
}

/* both calls that queue a statement refuse sql with BM_ERR_USAGE and a message containing `says` */
static void
refused_both(bm_engine *e, bm_session *s, const char *sql, int nparams, const char *const *params,
			 const char *says, const char *name)
{
	bmt_rec		r = {0};
	int			rc;
	char		full[300];
	const char *how[] = {"bm_engine_execute", "bm_session_execute"};
	int			i;

	for (i = 0; i < 2; i++)
	{
		rc = i == 0 ? bm_engine_execute(e, sql, nparams, params, bmt_result_cb, &r)
			: bm_session_execute(s, sql, nparams, params, bmt_result_cb, &r);
		snprintf(full, sizeof(full), "%s: %s refuses it with BM_ERR_USAGE, saying \"%s\"", name, how[i], says);
		tap_ok(rc == -1 && bm_last_error()->code == BM_ERR_USAGE && strstr(bm_last_error()->message, says),
			   full, "expected -1 and BM_ERR_USAGE saying \"%s\", got %d and %s: %s", says, rc,
			   bm_error_name(bm_last_error()->code), bm_last_error()->message);
	}
	TAP_INT_EQ(r.calls, 0, "refused: no callback comes for a refused call");
}

/* one statement through the engine, recorded */
static void
run_one(bm_engine *e, const char *sql, int nparams, const char *const *params, bmt_rec *r)
{
	bm_engine_execute(e, sql, nparams, params, bmt_result_cb, r);
	bm_engine_run(e);
}

/* each refusal, then statements with semicolons that are one statement, on one connection */
static void
test_refused(void)
{
	bm_engine_options opts = {.pool_size = 1};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		before = {0},
				after = {0},
				semi = {0},
				fn = {0},
				lit = {0},
				c = {0};
	bm_engine_stats st;
	size_t		maplen;
	char	   *gib = huge_string((size_t) 1 << 30, &maplen);
	const char *one_gib[] = {gib};
	const char *halves[] = {gib + (CHUNK * 512), gib + (CHUNK * 512), "1"};

	run_one(e, "SELECT 1", 0, NULL, &before);
	BMT_REC_IS(before, BM_OK, "refused: the engine works before");

	refused_both(e, s, "SELECT 1; SELECT 2", 0, NULL, "more than one statement", "several statements");
	refused_both(e, s, "INSERT INTO nowhere VALUES (1);\n-- then\nDELETE FROM nowhere", 0, NULL,
				 "more than one statement", "several statements across lines");
	refused_both(e, s, "LISTEN bm_channel", 0, NULL, "LISTEN", "LISTEN");
	refused_both(e, s, "unlisten *", 0, NULL, "LISTEN", "UNLISTEN");
	refused_both(e, s, "SELECT length($1)", 1, one_gib, "parameter 1 is 1073741824 bytes",
				 "a parameter of 1 GiB");
	refused_both(e, s, "SELECT length($1) + length($2) + $3::int", 3, halves, "parameters 1 to 2 total",
				 "two parameters of 512 MiB");
	munmap(gib, maplen);

	/* one statement with semicolons that do not end it runs */
	run_one(e, "SELECT 'a;b' AS \"c;d\";  -- the end; really", 0, NULL, &semi);
	BMT_REC_IS(semi, BM_OK, "one statement: semicolons in a literal, an identifier, a comment, and a trailing one");
	TAP_STR_EQ(semi.value, "a;b", "one statement: its value");
	run_one(e, "SELECT $q$;$q$ || $$;$$ || E'\\';'", 0, NULL, &lit);
	TAP_STR_EQ(lit.value, ";;';", "one statement: semicolons in dollar quotes and an escape string");
	bm_session_execute(s, "CREATE FUNCTION pg_temp.two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
					   0, NULL, bmt_result_cb, &fn);
	bm_session_rollback(s, bmt_done_cb, &c);
	bm_engine_run(e);
	BMT_REC_IS(fn, BM_OK, "one statement: a function body with BEGIN ATOMIC ... END");

	run_one(e, "SELECT 2", 0, NULL, &after);
	BMT_REC_IS(after, BM_OK, "refused: the engine works after");
	bm_engine_get_stats(e, &st);
	tap_ok(st.connects == 1 && st.disconnects == 0, "refused: nothing reached the server, the connection stayed",
		   "expected 1 connect and 0 disconnects, got %ld and %ld", st.connects, st.disconnects);
	bm_engine_free(e);
}

/* a wrong number of parameters: said in the caller's terms, prepared or not */
static void
test_parameter_count(int cache)
{
	bm_engine_options opts = {.pool_size = 1, .statement_cache_size = cache};
	bm_engine  *e = bmt_engine(&opts);
	const char *params[] = {"1", "2"};
	bmt_rec		few = {0},
				many = {0};
	char		name[120];

	run_one(e, "SELECT $1::int + $2::int", 1, params, &few);
	run_one(e, "SELECT 1", 2, params, &many);
	snprintf(name, sizeof(name), "parameter count (statement_cache_size %d): too few is BM_ERR_SQL", cache);
	BMT_REC_IS(few, BM_ERR_SQL, name);
	snprintf(name, sizeof(name), "parameter count (statement_cache_size %d): the message counts them", cache);
	TAP_STR_EQ(few.message, "the statement takes 2 parameters, but 1 were given (nparams)", name);
	snprintf(name, sizeof(name), "parameter count (statement_cache_size %d): too many", cache);
	TAP_STR_EQ(many.message, "the statement takes 0 parameters, but 2 were given (nparams)", name);
	snprintf(name, sizeof(name), "parameter count (statement_cache_size %d): no statement name of ours", cache);
	tap_ok(strstr(few.message, "bm_") == NULL && strstr(many.message, "bm_") == NULL &&
		   strstr(many.message, "prepared statement") == NULL, name, "got \"%s\" and \"%s\"",
		   few.message, many.message);
	bm_engine_free(e);
}

int
main(void)
{
	bmt_guard(120);
	test_refused();
	test_parameter_count(0);
	test_parameter_count(-1);
	return tap_done();
}
