/*
 * api.c
 *	  The public calls that make engines, session makers and sessions and
 *	  queue work on them: their checks (misuse is an error with a message in
 *	  bm_last_error, never a crash), then the engine takes over.  Part of the
 *	  engine layer: calls engine, session, pool and util.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/*
 * The server reads a Parse or Bind message of at most 1 GiB - 2 bytes
 * (PQ_LARGE_MESSAGE_LIMIT) and drops the connection on a longer one
 * ("invalid message length").  Room is left for the message's own fields
 * (names, counts, format codes); each parameter adds its 4-byte length.
 */
#define MAX_MESSAGE_PAYLOAD ((size_t) 0x3ffffffe - 64)

/* -1 (and why) when the statement's text or parameters would not fit in one message */
static int
check_sizes(const char *sql, int nparams, const char *const *params)
{
	size_t		total = 0;
	size_t		len = strlen(sql);
	int			i;

	if (len > MAX_MESSAGE_PAYLOAD)
	{
		set_last_error(BM_ERR_USAGE, "sql is %zu bytes; the server accepts less than 1 GiB in one statement",
					   len);
		return -1;
	}
	for (i = 0; i < nparams; i++)
	{
		len = params[i] ? strlen(params[i]) : 0;
		total += len + 4;
		if (len + 4 > MAX_MESSAGE_PAYLOAD)
		{
			set_last_error(BM_ERR_USAGE, "parameter %d is %zu bytes; the server accepts less than 1 GiB of parameters in one statement",
						   i + 1, len);
			return -1;
		}
		if (total > MAX_MESSAGE_PAYLOAD)
		{
			set_last_error(BM_ERR_USAGE, "parameters 1 to %d total %zu bytes; the server accepts less than 1 GiB of parameters in one statement",
						   i + 1, total);
			return -1;
		}
	}
	return 0;
}

/* checks shared by every call that queues a statement */
static int
check_statement(const char *sql, int nparams, const char *const *params)
{
	const char *why;

	if (sql == NULL)
	{
		set_last_error(BM_ERR_USAGE, "sql is NULL");
		return -1;
	}
	if (nparams < 0 || nparams > 65535)
	{
		set_last_error(BM_ERR_USAGE, "nparams is %d; it must be between 0 and 65535", nparams);
		return -1;
	}
	if (nparams > 0 && params == NULL)
	{
		set_last_error(BM_ERR_USAGE, "params is NULL but nparams is %d", nparams);
		return -1;
	}
	if ((why = sql_refused(sql)) != NULL)
	{
		set_last_error(BM_ERR_USAGE, "%s", why);
		return -1;
	}
	if (sql_has_several_statements(sql))
	{
		set_last_error(BM_ERR_USAGE,
					   "sql holds more than one statement; queue each one with its own execute");
		return -1;
	}
	return check_sizes(sql, nparams, params);
}

/* bm_engine_create's failure: what was made goes, the error is reported */
static bm_engine *
create_failed(bm_engine *e, bm_error *err, int code, const char *message)
{
	if (e)
	{
		engine_free_slabs(e);
		sqltable_free(&e->texts);
		free(e);
	}
	set_last_error(code, "%s", message);
	if (err)
		*err = *last_error_public();
	return NULL;
}

/* the capacity of each connection's statement cache: 0 (-1) prepares nothing */
static int
statement_cache(int option)
{
	return option == -1 ? 0 : option == 0 ? BM_DEFAULT_STATEMENT_CACHE : option;
}

/*
 * The pool of replicas for read-only sessions: read_url, standbys unless it
 * says otherwise (target_session_attrs); NULL with *code and why when it
 * cannot be.
 */
static Pool *
read_pool_create(bm_engine *e, const bm_engine_options *opts, char *why, size_t whylen, int *code)
{
	int			size = opts->read_pool_size ? opts->read_pool_size : e->pool->size;

	return pool_create(opts->read_url, "standby", opts, size, statement_cache(opts->statement_cache_size),
					   &e->texts, code, why, whylen);
}

BM_EXPORT bm_engine *
bm_engine_create(const char *url, const bm_engine_options *opts, bm_error *err)
{
	bm_engine_options defaults = {0};
	bm_engine  *e;
	char		why[600];
	int			code;

	if (opts == NULL)
		opts = &defaults;
	if (url == NULL)
	{
		url = getenv("DATABASE_URL");
		if (url == NULL || *url == '\0')
			return create_failed(NULL, err, BM_ERR_USAGE,
								 "no URL given and DATABASE_URL is not set");
	}
	if (opts->pool_size < 0 || opts->connect_timeout_ms < 0 ||
		opts->statement_timeout_ms < 0 || opts->statement_cache_size < -1 || opts->read_pool_size < 0)
		return create_failed(NULL, err, BM_ERR_USAGE,
							 "engine options must not be negative (pool_size, read_pool_size, timeouts; statement_cache_size may be -1)");
	if (opts->autocommit_sync_each != 0 && opts->autocommit_sync_each != 1)
		return create_failed(NULL, err, BM_ERR_USAGE, "autocommit_sync_each must be 0 or 1");
	if (opts->pool_size > BM_MAX_POOL_SIZE || opts->read_pool_size > BM_MAX_POOL_SIZE ||
		opts->statement_cache_size > BM_MAX_STATEMENT_CACHE)
		return create_failed(NULL, err, BM_ERR_USAGE,
							 opts->statement_cache_size > BM_MAX_STATEMENT_CACHE
							 ? "statement_cache_size is too large (at most " BM_STR(BM_MAX_STATEMENT_CACHE) ")"
							 : "pool_size and read_pool_size must be at most " BM_STR(BM_MAX_POOL_SIZE));
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return create_failed(NULL, err, BM_ERR_NOMEM, "out of memory");
	e->timer_ms = -1;
	e->autocommit_sync_each = opts->autocommit_sync_each == 1;
	engine_init_slabs(e);
	e->pool = pool_create(url, NULL, opts, opts->pool_size ? opts->pool_size : BM_DEFAULT_POOL_SIZE,
						  statement_cache(opts->statement_cache_size),
						  &e->texts, &code, why, sizeof(why));
	if (e->pool == NULL)
		return create_failed(e, err, code, why);
	if (opts->read_url && (e->read_pool = read_pool_create(e, opts, why, sizeof(why), &code)) == NULL)
	{
		pool_free(e->pool);
		return create_failed(e, err, code, why);
	}
	if (err)
		memset(err, 0, sizeof(*err));
	return e;
}

BM_EXPORT int
bm_engine_execute(bm_engine *e, const char *sql, int nparams, const char *const *params,
				  bm_result_cb cb, void *arg)
{
	Request    *req;

	if (check_engine(e) != 0 || check_statement(sql, nparams, params) != 0)
		return -1;
	req = request_new(e, REQ_EXEC, sql, nparams, params);
	if (req == NULL)
		return -1;
	req->cb.result = cb;
	req->arg = arg;
	engine_queue_auto(e, req);
	return 0;
}

BM_EXPORT void
bm_engine_free(bm_engine *e)
{
	if (e == NULL || e->closing)
		return;
	if (e->depth > 0 || e->busy)
	{
		/* inside a callback: finished when the loop unwinds */
		e->free_requested = true;
		return;
	}
	engine_destroy(e);
}

BM_EXPORT void
bm_engine_get_stats(const bm_engine *e, bm_engine_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return;
	pool_add_stats(e->pool, out);
	if (e->read_pool)
		pool_add_stats(e->read_pool, out);
	out->replica_sessions = e->replica_sessions;
	out->replica_fallbacks = e->replica_fallbacks;
}

BM_EXPORT int
bm_engine_trace(bm_engine *e, FILE *f)
{
	if (check_engine(e) != 0)
		return -1;
	pool_trace(e->pool, f);
	if (e->read_pool)
		pool_trace(e->read_pool, f);
	return 0;
}

BM_EXPORT bm_sessionmaker *
bm_sessionmaker_create(bm_engine *e, const bm_session_options *opts)
{
	bm_sessionmaker *m;

	if (check_engine(e) != 0)
		return NULL;
	if (opts && (opts->isolation < BM_ISOLATION_DEFAULT || opts->isolation > BM_ISOLATION_SERIALIZABLE))
	{
		set_last_error(BM_ERR_USAGE, "unknown isolation level %d", (int) opts->isolation);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	m->engine = e;
	if (opts)
		m->opts = *opts;
	dlist_push(&e->makers, &m->link);
	return m;
}

BM_EXPORT void
bm_sessionmaker_free(bm_sessionmaker *m)
{
	if (m == NULL)
		return;
	dlist_remove(&m->engine->makers, &m->link);
	free(m);
}

BM_EXPORT bm_session *
bm_session_open(bm_sessionmaker *m)
{
	bm_session *s;
	bm_engine  *e;

	if (m == NULL)
	{
		set_last_error(BM_ERR_USAGE, "sessionmaker is NULL");
		return NULL;
	}
	e = m->engine;
	if (check_engine(e) != 0)
		return NULL;
	s = slab_alloc(&e->session_slab);
	if (s == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->engine = e;
	s->failed_unit = -1;
	s->isolation = (uint8_t) m->opts.isolation;
	s->read_only = m->opts.read_only != 0;
	dlist_push(&e->sessions, &s->link);
	return s;
}

BM_EXPORT bm_engine *
bm_session_engine(const bm_session *s)
{
	return s ? s->engine : NULL;
}

/* -1 (and why in bm_last_error) unless the session takes work */
static int
check_session(bm_session *s, const char *what)
{
	if (s == NULL)
	{
		set_last_error(BM_ERR_USAGE, "%s: session is NULL", what);
		return -1;
	}
	if (s->closed)
	{
		set_last_error(BM_ERR_USAGE, "%s: session is closed", what);
		return -1;
	}
	return check_engine(s->engine);
}

/* queue a request of the open unit (opening one); it calls cb with its result */
static void
queue_in_unit(bm_session *s, Request *req, bm_result_cb cb, void *arg)
{
	req->cb.result = cb;
	req->arg = arg;
	req->unit = (uint32_t) s->api_unit;
	s->api_open = true;
	engine_queue_session(s->engine, s, req);
}

/* a statement of the session, plain (REQ_EXEC) or streamed (REQ_STREAM) */
static int
session_statement(bm_session *s, ReqKind kind, const char *what, const char *sql, int nparams,
				  const char *const *params, bm_result_cb cb, void *arg)
{
	Request    *req;

	if (check_session(s, what) != 0 || check_statement(sql, nparams, params) != 0)
		return -1;
	req = request_new(s->engine, kind, sql, nparams, params);
	if (req == NULL)
		return -1;
	queue_in_unit(s, req, cb, arg);
	return 0;
}

BM_EXPORT int
bm_session_execute(bm_session *s, const char *sql, int nparams, const char *const *params,
				   bm_result_cb cb, void *arg)
{
	return session_statement(s, REQ_EXEC, "bm_session_execute", sql, nparams, params, cb, arg);
}

BM_EXPORT int
bm_session_stream(bm_session *s, const char *sql, int nparams, const char *const *params,
				  bm_result_cb cb, void *arg)
{
	return session_statement(s, REQ_STREAM, "bm_session_stream", sql, nparams, params, cb, arg);
}

/* a COPY of the session, its data through read (REQ_COPY_IN) or write (REQ_COPY_OUT) */
static int
session_copy(bm_session *s, ReqKind kind, const char *what, const char *sql,
			 const CopyIO *io, bool have_io, bm_result_cb cb, void *arg)
{
	Request    *req;

	if (check_session(s, what) != 0)
		return -1;
	if (sql == NULL || !sql_is_copy(sql))
	{
		set_last_error(BM_ERR_USAGE, "%s: %s", what, sql ? "the statement is not a COPY" : "copy_sql is NULL");
		return -1;
	}
	if (!have_io)
	{
		set_last_error(BM_ERR_USAGE, "%s: the %s callback is NULL", what,
					   kind == REQ_COPY_IN ? "read" : "write");
		return -1;
	}
	req = request_new(s->engine, kind, sql, 0, NULL);
	if (req == NULL)
		return -1;
	*REQUEST_COPY(req) = *io;
	queue_in_unit(s, req, cb, arg);
	return 0;
}

BM_EXPORT int
bm_session_copy_in(bm_session *s, const char *copy_sql, bm_copy_read_cb read, void *read_arg,
				   bm_result_cb cb, void *arg)
{
	CopyIO		io = {.read = read, .arg = read_arg};

	return session_copy(s, REQ_COPY_IN, "bm_session_copy_in", copy_sql, &io, read != NULL, cb, arg);
}

BM_EXPORT int
bm_session_copy_out(bm_session *s, const char *copy_sql, bm_copy_write_cb write, void *write_arg,
					bm_result_cb cb, void *arg)
{
	CopyIO		io = {.write = write, .arg = write_arg};

	return session_copy(s, REQ_COPY_OUT, "bm_session_copy_out", copy_sql, &io, write != NULL, cb, arg);
}

/* queue the COMMIT or ROLLBACK that ends the open unit (cb NULL: no callback) */
static int
end_unit(bm_session *s, ReqKind kind, bm_done_cb cb, void *arg)
{
	Request    *req = request_new(s->engine, kind, NULL, 0, NULL);

	if (req == NULL)
		return -1;
	req->cb.done = cb;
	req->arg = arg;
	req->unit = (uint32_t) s->api_unit++;
	s->api_open = false;
	engine_queue_session(s->engine, s, req);
	return 0;
}

/* -1 (and why) unless the session has a unit open to end */
static int
check_open(bm_session *s, const char *what)
{
	if (check_session(s, what) != 0)
		return -1;
	if (!s->api_open)
	{
		set_last_error(BM_ERR_USAGE,
					   "%s: no transaction is open (nothing was executed since the last commit or rollback)",
					   what);
		return -1;
	}
	return 0;
}

BM_EXPORT int
bm_session_commit(bm_session *s, bm_done_cb cb, void *arg)
{
	if (check_open(s, "bm_session_commit") != 0)
		return -1;
	return end_unit(s, REQ_COMMIT, cb, arg);
}

BM_EXPORT int
bm_session_rollback(bm_session *s, bm_done_cb cb, void *arg)
{
	if (check_open(s, "bm_session_rollback") != 0)
		return -1;
	return end_unit(s, REQ_ROLLBACK, cb, arg);
}

/*
 * Queue a savepoint command (verb, then name quoted as an identifier) in the
 * open unit; SAVEPOINT may open one (BEGIN is implied before it).
 */
static int
savepoint_request(bm_session *s, ReqKind kind, const char *verb, const char *what,
				  const char *name, bm_done_cb cb, void *arg)
{
	Request    *req;
	char	   *sql,
			   *q;

	if ((kind == REQ_SAVEPOINT ? check_session(s, what) : check_open(s, what)) != 0)
		return -1;
	if (name == NULL || *name == '\0')
	{
		set_last_error(BM_ERR_USAGE, "%s: the savepoint name is %s", what, name ? "empty" : "NULL");
		return -1;
	}
	sql = malloc(strlen(verb) + 2 * strlen(name) + 4);
	if (sql == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	q = sql + sprintf(sql, "%s \"", verb);
	for (; *name; name++)
	{
		if (*name == '"')
			*q++ = '"';
		*q++ = *name;
	}
	strcpy(q, "\"");
	req = request_new(s->engine, kind, sql, 0, NULL);
	free(sql);
	if (req == NULL)
		return -1;
	req->cb.done = cb;
	req->arg = arg;
	req->unit = (uint32_t) s->api_unit;
	s->api_open = true;
	engine_queue_session(s->engine, s, req);
	return 0;
}

BM_EXPORT int
bm_session_savepoint(bm_session *s, const char *name, bm_done_cb cb, void *arg)
{
	return savepoint_request(s, REQ_SAVEPOINT, "SAVEPOINT", "bm_session_savepoint", name, cb, arg);
}

BM_EXPORT int
bm_session_rollback_to(bm_session *s, const char *name, bm_done_cb cb, void *arg)
{
	return savepoint_request(s, REQ_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT", "bm_session_rollback_to",
							 name, cb, arg);
}

BM_EXPORT int
bm_session_release(bm_session *s, const char *name, bm_done_cb cb, void *arg)
{
	return savepoint_request(s, REQ_RELEASE, "RELEASE SAVEPOINT", "bm_session_release", name, cb, arg);
}

/*
 * Queued work keeps its callbacks; an open unit gets a silent rollback.  The
 * memory goes when nothing refers to the session any more, never before the
 * loop runs again, so a call on a just-closed session is caught as misuse.
 */
BM_EXPORT void
bm_session_close(bm_session *s)
{
	bm_engine  *e;

	if (s == NULL || s->closed)
		return;
	e = s->engine;
	s->closed = true;
	if (e->closing)
		return;
	if (s->api_open && end_unit(s, REQ_ROLLBACK, NULL, NULL) != 0)
	{
		/* out of memory: the pool's cleanup cannot run, so drop the connection */
		s->api_open = false;
		if (s->conn)
			engine_conn_lost(e, s->conn, BM_ERR_NOMEM, "out of memory");
	}
	e->reap_needed = true;
	engine_kick(e);
}
