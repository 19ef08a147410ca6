/*
 * typed.c
 *	  Typed results and parameters, and the server's error fields: the
 *	  getters on int8, float8 and bool (and what they refuse: NULL, out of
 *	  range, another form, never a silent 0), column numbers by name and
 *	  type OIDs, bm_params round trips, and schema, table, column,
 *	  constraint and position of a unique violation, a not-null violation
 *	  and a syntax error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmtest.h"

/* what the getters make of the one row of a query, checked in the callback */
static void
check_getters(bm_session *s, const bm_result *r, const bm_error *err, void *arg)
{
	long long	i = 7;
	double		d = 7;
	int			b = 7;

	(void) s;
	(*(int *) arg)++;
	if (!tap_ok(err->code == BM_OK, "typed: the query runs", "got %s: %s", bmt_code(err->code), err->message))
		return;
	TAP_INT_EQ(bm_result_colnum(r, "big"), 0, "colnum: finds a column by name");
	TAP_INT_EQ(bm_result_colnum(r, "Mixed Case"), 5, "colnum: a quoted name, exactly");
	TAP_INT_EQ(bm_result_colnum(r, "mixed case"), -1, "colnum: names match case included");
	TAP_INT_EQ(bm_result_colnum(r, "nope"), -1, "colnum: -1 for a name no column has");
	TAP_INT_EQ(bm_result_colnum(r, NULL), -1, "colnum: -1 for NULL");
	TAP_INT_EQ(bm_result_coltype(r, 0), 20, "coltype: int8 is OID 20");
	TAP_INT_EQ(bm_result_coltype(r, 1), 701, "coltype: float8 is OID 701");
	TAP_INT_EQ(bm_result_coltype(r, 2), 16, "coltype: bool is OID 16");
	TAP_INT_EQ(bm_result_coltype(r, 99), 0, "coltype: 0 out of range");

	tap_ok(bm_result_int64(r, 0, 0, &i) == 0 && i == -9223372036854775807LL - 1,
		   "int64: reads the smallest int8", "got %lld", i);
	tap_ok(bm_result_double(r, 0, 1, &d) == 0 && d == 0.1, "double: reads 0.1 exactly", "got %.17g", d);
	tap_ok(bm_result_bool(r, 0, 2, &b) == 0 && b == 1, "bool: reads true as 1", "got %d", b);
	tap_ok(bm_result_bool(r, 0, 7, &b) == 0 && b == 0, "bool: reads false as 0", "got %d", b);
	tap_ok(bm_result_double(r, 0, 6, &d) == 0 && isinf(d) && d < 0, "double: reads -Infinity", "got %g", d);
	tap_ok(bm_result_double(r, 0, 8, &d) == 0 && isnan(d), "double: reads NaN", "got %g", d);
	tap_ok(bm_result_double(r, 0, 0, &d) == 0 && d == -9223372036854775808.0,
		   "double: reads an integer column too", "got %g", d);

	i = 7;
	tap_ok(bm_result_int64(r, 0, 3, &i) == -1 && i == 7 && bm_last_error()->code == BM_ERR_USAGE &&
		   strstr(bm_last_error()->message, "is NULL"),
		   "int64: NULL is -1 with a message, *out untouched", "got %lld, \"%s\"", i, bm_last_error()->message);
	tap_ok(bm_result_int64(r, 1, 0, &i) == -1 && i == 7 && strstr(bm_last_error()->message, "out of range"),
		   "int64: a row out of range is -1 with a message", "got \"%s\"", bm_last_error()->message);
	tap_ok(bm_result_int64(r, 0, -1, &i) == -1 && i == 7, "int64: a negative column is -1", "got %lld", i);
	tap_ok(bm_result_int64(r, 0, 4, &i) == -1 && i == 7 &&
		   strstr(bm_last_error()->message, "not a 64-bit integer") && strstr(bm_last_error()->message, "\"12x\""),
		   "int64: text that is not an integer is -1, naming the value", "got \"%s\"", bm_last_error()->message);
	tap_ok(bm_result_int64(r, 0, 1, &i) == -1 && i == 7, "int64: a float is not an integer", "got %lld", i);
	tap_ok(bm_result_int64(r, 0, 9, &i) == -1 && i == 7 && strstr(bm_last_error()->message, "not a 64-bit integer"),
		   "int64: a number past int8 is -1", "got \"%s\"", bm_last_error()->message);
	d = 7;
	tap_ok(bm_result_double(r, 0, 4, &d) == -1 && d == 7, "double: text that is not a number is -1, *out untouched",
		   "got %g", d);
	tap_ok(bm_result_double(r, 0, 10, &d) == -1 && strstr(bm_last_error()->message, "fits a double"),
		   "double: a number past a double is -1", "got \"%s\"", bm_last_error()->message);
	b = 7;
	tap_ok(bm_result_bool(r, 0, 0, &b) == -1 && b == 7 && strstr(bm_last_error()->message, "not a boolean"),
		   "bool: an integer is not a boolean", "got %d, \"%s\"", b, bm_last_error()->message);
	tap_ok(bm_result_bool(r, 0, 3, &b) == -1 && b == 7, "bool: NULL is -1", "got %d", b);
	tap_ok(bm_result_int64(NULL, 0, 0, &i) == -1, "int64: a NULL result is -1", "got 0");
}

/* bm_params: each kind sent and read back by the server */
static void
check_params(bm_session *s, const bm_result *r, const bm_error *err, void *arg)
{
	(void) s;
	(*(int *) arg)++;
	if (!tap_ok(err->code == BM_OK, "params: the query runs", "got %s: %s", bmt_code(err->code), err->message))
		return;
	TAP_STR_EQ(bm_result_value(r, 0, 0), "t", "params: int64 arrives as the same int8 (the smallest)");
	TAP_STR_EQ(bm_result_value(r, 0, 1), "t", "params: double arrives as the same float8 (0.1)");
	TAP_STR_EQ(bm_result_value(r, 0, 2), "t", "params: -Infinity and NaN arrive as PostgreSQL's");
	TAP_STR_EQ(bm_result_value(r, 0, 3), "t", "params: booleans arrive as true and false");
	TAP_STR_EQ(bm_result_value(r, 0, 4), "t", "params: a NULL text is SQL NULL, a text is itself");
}

/* an error's fields, recorded for checking after the loop */
typedef struct Fields
{
	int			calls;
	char		sqlstate[6];
	char		schema[64],
				table[64],
				column[64],
				constraint[64];
	int			position;
} Fields;

/* copy a field, "(null)" for NULL */
static void
field(char *dst, const char *src)
{
	snprintf(dst, 64, "%s", src ? src : "(null)");
}

static void
record_fields(bm_session *s, const bm_result *r, const bm_error *err, void *arg)
{
	Fields	   *f = arg;

	(void) s;
	(void) r;
	f->calls++;
	memcpy(f->sqlstate, err->sqlstate, 6);
	field(f->schema, err->schema_name);
	field(f->table, err->table_name);
	field(f->column, err->column_name);
	field(f->constraint, err->constraint_name);
	f->position = err->position;
}

static void
record_commit_fields(bm_session *s, const bm_error *err, void *arg)
{
	record_fields(s, NULL, err, arg);
}

int
main(void)
{
	bm_engine  *e;
	bm_sessionmaker *m;
	bm_session *s;
	PGconn	   *check;
	bm_params	p;
	int			getters = 0,
				params = 0,
				i,
				full;
	Fields		dup = {0},
				dup_commit = {0},
				notnull = {0},
				syntax = {0},
				ok = {0};

	bmt_guard(60);
	check = bmt_check_conn();
	bmt_exec(check, "DROP TABLE IF EXISTS typed; CREATE TABLE typed (id int8 CONSTRAINT typed_pk PRIMARY KEY, "
			 "name text NOT NULL)");
	bmt_exec(check, "INSERT INTO typed VALUES (1, 'one')");
	e = bmt_engine(NULL);
	m = bm_sessionmaker_create(e, NULL);
	s = bm_session_open(m);

	bm_engine_execute(e, "SELECT (-9223372036854775808)::int8 AS big, 0.1::float8, true, NULL::int8, '12x'::text, "
					  "1 AS \"Mixed Case\", '-Infinity'::float8, false, 'NaN'::float8, "
					  "'9223372036854775808'::text, '1e400'::text", 0, NULL, check_getters, &getters);

	bm_params_init(&p);
	bm_params_int64(&p, -9223372036854775807LL - 1);
	bm_params_double(&p, 0.1);
	bm_params_double(&p, -INFINITY);
	bm_params_double(&p, NAN);
	bm_params_bool(&p, 42);
	bm_params_bool(&p, 0);
	bm_params_text(&p, NULL);
	bm_params_text(&p, "x");
	bm_engine_execute(e, "SELECT $1::int8 = (-9223372036854775808)::int8, $2::float8 = 0.1::float8, "
					  "$3::float8 = '-Infinity' AND $4::float8 = 'NaN', $5::bool AND NOT $6::bool, "
					  "$7::text IS NULL AND $8 = 'x'", p.n, p.values, check_params, &params);

	bm_session_execute(s, "INSERT INTO typed VALUES (1, 'again')", 0, NULL, record_fields, &dup);
	bm_session_commit(s, record_commit_fields, &dup_commit);
	bm_engine_execute(e, "INSERT INTO typed VALUES (2, NULL)", 0, NULL, record_fields, &notnull);
	bm_engine_execute(e, "SELECT 1 FROM WHERE", 0, NULL, record_fields, &syntax);
	bm_engine_execute(e, "SELECT 1", 0, NULL, record_fields, &ok);
	TAP_INT_EQ(bm_engine_run(e), 0, "bm_engine_run returns 0");
	TAP_INT_EQ(getters, 1, "typed: the getters' callback ran");
	TAP_INT_EQ(params, 1, "params: the callback ran");

	TAP_STR_EQ(dup.sqlstate, "23505", "unique violation: 23505");
	TAP_STR_EQ(dup.constraint, "typed_pk", "unique violation: constraint_name names the constraint");
	TAP_STR_EQ(dup.table, "typed", "unique violation: table_name");
	TAP_STR_EQ(dup.schema, "public", "unique violation: schema_name");
	TAP_STR_EQ(dup.column, "(null)", "unique violation: no column_name");
	TAP_INT_EQ(dup.position, 0, "unique violation: position 0 (none)");
	TAP_STR_EQ(dup_commit.constraint, "typed_pk", "unique violation: the commit reporting it names the constraint too");
	TAP_STR_EQ(notnull.sqlstate, "23502", "not-null violation: 23502");
	TAP_STR_EQ(notnull.column, "name", "not-null violation: column_name names the column");
	TAP_STR_EQ(notnull.table, "typed", "not-null violation: table_name");
	TAP_STR_EQ(syntax.sqlstate, "42601", "syntax error: 42601");
	TAP_INT_EQ(syntax.position, 15, "syntax error: position is where WHERE starts (1-based)");
	TAP_STR_EQ(syntax.constraint, "(null)", "syntax error: no constraint_name");
	TAP_STR_EQ(ok.schema, "(null)", "success: every field is NULL");
	TAP_INT_EQ(ok.position, 0, "success: position 0");

	bm_params_init(&p);
	for (i = 0, full = 0; i < BM_PARAMS_MAX + 1; i++)
		full += bm_params_int64(&p, i) != 0;
	TAP_INT_EQ(full, 1, "params: adding past BM_PARAMS_MAX fails once");
	TAP_INT_EQ(p.n, BM_PARAMS_MAX, "params: and keeps BM_PARAMS_MAX");
	TAP_INT_EQ(bm_last_error()->code, BM_ERR_USAGE, "params: with BM_ERR_USAGE");

	bm_session_close(s);
	bm_engine_free(e);
	bmt_exec(check, "DROP TABLE typed");
	PQfinish(check);
	return tap_done();
}
