/*
 * engine.c
 *	  The engine: checking the URL and options, the life of a request from
 *	  the call that accepts it to its one callback (in the order queued), the
 *	  pump that hands queued work to connections, autocommit statements
 *	  (bm_engine_execute), and freeing with work pending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1 (and the reason in bm_last_error) when the engine takes no more work */
int
check_engine(bm_engine *e)
{
	if (e == NULL)
	{
		set_last_error(BM_ERR_USAGE, "engine is NULL");
		return -1;
	}
	if (e->closing || e->free_requested)
	{
		set_last_error(BM_ERR_CLOSED, "engine is being freed");
		return -1;
	}
	return 0;
}

/* checks shared by every call that queues a statement */
int
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
	return 0;
}

/*
 * A request, with copies of its parameters in the same allocation; the SQL
 * text is interned in the engine's table (the caller's copy need not outlive
 * the call).
 */
Request *
request_new(bm_engine *e, ReqKind kind, const char *sql, int nparams, const char *const *params)
{
	size_t		size = sizeof(Request) + (size_t) nparams * sizeof(char *);
	size_t		cls;
	Request    *req;
	char	   *p;
	int			i;

	for (i = 0; i < nparams; i++)
		if (params[i])
			size += strlen(params[i]) + 1;
	cls = (size - sizeof(Request) + 15) / 16;
	if (cls < REQ_SIZE_CLASSES && e->free_reqs[cls])
	{
		req = e->free_reqs[cls];
		e->free_reqs[cls] = req->next;
		e->nfree_reqs[cls]--;
		memset(req, 0, sizeof(Request) + (size_t) nparams * sizeof(char *));
	}
	else if (cls < REQ_SIZE_CLASSES)
		req = calloc(1, sizeof(Request) + cls * 16);
	else
		req = calloc(1, size);
	if (req == NULL)
		goto nomem;
	req->size_class = cls < REQ_SIZE_CLASSES ? cls : REQ_UNPOOLED;
	if (sql && (req->sql = sqltext_get(&e->texts, sql)) == NULL)
	{
		free(req);
		goto nomem;
	}
	req->kind = kind;
	req->nparams = nparams;
	p = (char *) (REQUEST_PARAMS(req) + nparams);
	for (i = 0; i < nparams; i++)
	{
		size_t		len;

		if (params[i] == NULL)
			continue;
		len = strlen(params[i]) + 1;
		REQUEST_PARAMS(req)[i] = p;
		memcpy(p, params[i], len);
		p += len;
	}
	return req;

nomem:
	set_last_error(BM_ERR_NOMEM, "out of memory");
	return NULL;
}

/* what a request reports when there was no memory for its own error */
static const ErrorBuf nomem_error = {.code = BM_ERR_NOMEM};

/*
 * The request's error, made on its first failure, for err_set and friends to
 * fill in.  NULL when out of memory: the request then fails with
 * BM_ERR_NOMEM (err_set and the rest ignore a NULL).
 */
ErrorBuf *
request_error(Request *req)
{
	if (req->err == NULL && (req->err = calloc(1, sizeof(ErrorBuf))) == NULL)
		req->err = (ErrorBuf *) &nomem_error;
	return req->err == &nomem_error ? NULL : req->err;
}

static void
request_free(bm_engine *e, Request *req)
{
	PQclear(req->res);
	if (req->err != &nomem_error)
	{
		err_clear(req->err);
		free(req->err);
	}
	sqltext_release(&e->texts, req->sql);
	if (req->size_class != REQ_UNPOOLED && e->nfree_reqs[req->size_class] < FREE_LIST_MAX)
	{
		req->next = e->free_reqs[req->size_class];
		e->free_reqs[req->size_class] = req;
		e->nfree_reqs[req->size_class]++;
	}
	else
		free(req);
}

/* give the recycled requests and ops back to malloc */
void
engine_free_lists(bm_engine *e)
{
	int			i;

	for (i = 0; i < REQ_SIZE_CLASSES; i++)
	{
		while (e->free_reqs[i])
		{
			Request    *req = e->free_reqs[i];

			e->free_reqs[i] = req->next;
			free(req);
		}
		e->nfree_reqs[i] = 0;
	}
	while (e->free_ops)
	{
		Op		   *op = e->free_ops;

		e->free_ops = op->next;
		free(op);
	}
	e->nfree_ops = 0;
}

static void
ready_push(bm_engine *e, Request *req)
{
	req->next = NULL;
	if (e->ready_tail)
		e->ready_tail->next = req;
	else
		e->ready_head = req;
	e->ready_tail = req;
}

/*
 * The request is answered.  Its callback is due once every request queued
 * before it by the same owner has been answered too.
 */
void
request_done(bm_engine *e, Request *req)
{
	Request   **head,
			  **tail;

	req->state = REQ_DONE;
	if (req->session)
	{
		head = &req->session->head;
		tail = &req->session->tail;
	}
	else
	{
		head = &e->auto_head;
		tail = &e->auto_tail;
	}
	while (*head && (*head)->state == REQ_DONE)
	{
		Request    *r = *head;

		*head = r->next;
		if (*head == NULL)
			*tail = NULL;
		ready_push(e, r);
	}
}

void
request_fail(bm_engine *e, Request *req, int code, const char *message)
{
	if (request_code(req) == BM_OK)
	{
		PQclear(req->res);
		req->res = NULL;
		err_set(request_error(req), code, NULL, message, NULL, NULL);
	}
	request_done(e, req);
}

/* an autocommit statement that did nothing goes back to the front of the unsent queue */
void
request_replay(bm_engine *e, Request *req)
{
	req->replay = false;
	req->state = REQ_QUEUED;
	if (req->err != NULL && req->err != &nomem_error)
	{
		err_clear(req->err);
		free(req->err);
	}
	req->err = NULL;
	req->send_next = e->auto_unsent_head;
	e->auto_unsent_head = req;
	if (e->auto_unsent_tail == NULL)
		e->auto_unsent_tail = req;
	engine_kick(e);
}

/* run one request's callback, then free it */
static void
deliver(bm_engine *e, Request *req)
{
	static const ErrorBuf ok = {0};
	bm_session *s = req->session;
	bm_error	err;
	bm_result	res;

	if (!req->internal)
	{
		err_public(req->err ? req->err : &ok, &err);
		e->depth++;
		if (req->kind == REQ_EXEC)
		{
			if (req->cb.result)
			{
				res.pg = req->res;
				res.affected = req->res ? AFFECTED_UNREAD : -1;
				req->cb.result(s, err.code == BM_OK ? &res : NULL, &err, req->arg);
			}
		}
		else if (req->cb.done)
			req->cb.done(s, &err, req->arg);
		e->depth--;
	}
	if (s)
	{
		s->nundelivered--;
		if (s->closed)
			e->reap_needed = true;
	}
	e->pending--;
	request_free(e, req);
}

/* something changed: the loop must run the pump soon */
void
engine_kick(bm_engine *e)
{
	e->pump_needed = true;
	if (e->attached && !e->busy && e->depth == 0 && !e->closing && e->timer_ms != 0)
	{
		e->timer_ms = 0;
		e->hooks.schedule_timer(e->hooks.data, 0);
	}
}

bool
engine_has_work(bm_engine *e)
{
	return e->pending > 0 || e->ready_head != NULL;
}

/* hand queued work to connections and send it, one batch per connection */
static void
pump(bm_engine *e)
{
	Conn	   *c;
	int			i;

	while (e->auto_unsent_head && (c = pool_pick(e, false)) != NULL)
	{
		Request    *req = e->auto_unsent_head;

		e->auto_unsent_head = req->send_next;
		if (e->auto_unsent_head == NULL)
			e->auto_unsent_tail = NULL;
		req->send_next = NULL;
		pipeline_send_auto(c, req);
	}
	while (e->wait_head && (c = pool_pick(e, true)) != NULL)
	{
		bm_session *s = e->wait_head;

		e->wait_head = s->wait_next;
		if (e->wait_head == NULL)
			e->wait_tail = NULL;
		s->wait_next = NULL;
		s->waiting = false;
		pool_acquire(c, s);
	}
	pool_grow(e);
	for (i = 0; i < e->pool_size; i++)
	{
		c = &e->conns[i];
		if (c->state == CONN_READY && c->owner)
			pipeline_send_session(c);
		pipeline_end_batch(c);
	}
}

/*
 * After the loop has handled I/O: send what is queued, run the callbacks
 * that are due (they may queue more, which is sent in the same turn), free
 * closed sessions, and tell the loop what to watch next.
 */
void
engine_settle(bm_engine *e)
{
	int			i;

	while (!e->free_requested)
	{
		if (e->pump_needed)
		{
			e->pump_needed = false;
			pump(e);
		}
		if (e->ready_head == NULL)
		{
			if (!e->pump_needed)
				break;
			continue;
		}
		while (e->ready_head && !e->free_requested)
		{
			Request    *req = e->ready_head;

			e->ready_head = req->next;
			if (e->ready_head == NULL)
				e->ready_tail = NULL;
			deliver(e, req);
		}
	}
	if (e->free_requested)
		return;
	if (e->reap_needed)
		session_reap(e, false);
	for (i = 0; i < e->pool_size; i++)
		e->conns[i].read_this_turn = false;
	loop_sync_watches(e);
	loop_arm_timer(e);
}

/*
 * libpq checks these values only when it connects; we connect lazily, so a
 * typo would surface much later.  Check the enumerated ones and ports now.
 */
static const char *
check_value(const char *keyword, const char *val)
{
	static const struct
	{
		const char *keyword;
		const char *allowed;
	}			enums[] = {
		{"sslmode", ",disable,allow,prefer,require,verify-ca,verify-full,"},
		{"gssencmode", ",disable,prefer,require,"},
		{"channel_binding", ",disable,prefer,require,"},
		{"target_session_attrs", ",any,read-write,read-only,primary,standby,prefer-standby,"},
	};
	size_t		i;

	for (i = 0; i < sizeof(enums) / sizeof(enums[0]); i++)
	{
		char		probe[64];

		if (strcmp(keyword, enums[i].keyword) != 0)
			continue;
		snprintf(probe, sizeof(probe), ",%s,", val);
		if (strchr(val, ',') || strlen(val) > 40 || strstr(enums[i].allowed, probe) == NULL)
			return enums[i].allowed;
	}
	if (strcmp(keyword, "port") == 0)
	{
		const char *p;

		for (p = val; *p; p++)
			if ((*p < '0' || *p > '9') && *p != ',')
				return "a number (or a comma-separated list of numbers)";
	}
	return NULL;
}

/* parse and check the URL; NULL with the problem in *why */
static int
build_conninfo(bm_engine *e, const char *url, const bm_engine_options *o, char *why, size_t whylen)
{
	PQconninfoOption *opts,
			   *opt;
	char	   *errmsg = NULL;
	int			n = 0,
				i = 0;
	const char *appname = o->application_name;
	const char *user_options = NULL;
	char	   *options = NULL;

	opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL)
	{
		snprintf(why, whylen, "invalid connection URL or string: %s",
				 errmsg ? errmsg : "out of memory");
		if (errmsg)
		{
			size_t		l = strlen(why);

			while (l > 0 && why[l - 1] == '\n')
				why[--l] = '\0';
		}
		PQfreemem(errmsg);
		return -1;
	}
	for (opt = opts; opt->keyword; opt++)
	{
		const char *allowed;

		if (opt->val == NULL)
			continue;
		n++;
		if ((allowed = check_value(opt->keyword, opt->val)) != NULL)
		{
			/* the lists of allowed values are ",a,b,": show "a,b" */
			snprintf(why, whylen, "invalid value \"%s\" for connection option \"%s\" (allowed: %.*s)",
					 opt->val, opt->keyword,
					 (int) strlen(allowed) - (allowed[0] == ',' ? 2 : 0), allowed + (allowed[0] == ',' ? 1 : 0));
			PQconninfoFree(opts);
			return -1;
		}
		if (strcmp(opt->keyword, "application_name") == 0 && appname == NULL)
			appname = opt->val;
		if (strcmp(opt->keyword, "options") == 0)
			user_options = opt->val;
		/* libpq enforces connect_timeout only when it blocks; we enforce it */
		if (strcmp(opt->keyword, "connect_timeout") == 0 && e->connect_timeout_ms == 0)
			e->connect_timeout_ms = atoi(opt->val) > 0 ? atoi(opt->val) * 1000 : 0;
	}
	if (appname == NULL)
		appname = "basemodel";
	if (e->statement_timeout_ms > 0)
	{
		size_t		len = (user_options ? strlen(user_options) : 0) + 64;

		options = malloc(len);
		if (options)
			snprintf(options, len, "%s%s-c statement_timeout=%d",
					 user_options ? user_options : "", user_options ? " " : "",
					 e->statement_timeout_ms);
	}
	else if (user_options)
		options = strdup(user_options);

	e->keywords = calloc(n + 3, sizeof(char *));
	e->values = calloc(n + 3, sizeof(char *));
	if (e->keywords == NULL || e->values == NULL)
		goto nomem;
	for (opt = opts; opt->keyword; opt++)
	{
		if (opt->val == NULL || strcmp(opt->keyword, "application_name") == 0 ||
			strcmp(opt->keyword, "options") == 0)
			continue;
		e->keywords[i] = strdup(opt->keyword);
		e->values[i] = strdup(opt->val);
		if (e->keywords[i] == NULL || e->values[i++] == NULL)
			goto nomem;
	}
	e->keywords[i] = strdup("application_name");
	e->values[i] = strdup(appname);
	if (e->keywords[i] == NULL || e->values[i++] == NULL)
		goto nomem;
	if (options)
	{
		e->keywords[i] = strdup("options");
		e->values[i] = options;
		options = NULL;
		if (e->keywords[i++] == NULL)
			goto nomem;
	}
	PQconninfoFree(opts);
	return 0;

nomem:
	free(options);
	PQconninfoFree(opts);
	snprintf(why, whylen, "out of memory");
	return -2;
}

static void
free_conninfo(bm_engine *e)
{
	int			i;

	for (i = 0; e->keywords && e->keywords[i]; i++)
	{
		free((char *) e->keywords[i]);
		free((char *) e->values[i]);
	}
	/* a failed strdup may leave a value without its keyword */
	if (e->values && e->keywords)
		free((char *) e->values[i]);
	free(e->keywords);
	free(e->values);
}

static bm_engine *
create_failed(bm_engine *e, bm_error *err, int code, const char *message)
{
	if (e)
	{
		int			i;

		free_conninfo(e);
		for (i = 0; e->conns && i < e->pool_size; i++)
			free(e->conns[i].cache.buckets);
		free(e->conns);
		sqltable_free(&e->texts);
		free(e);
	}
	set_last_error(code, "%s", message);
	if (err)
		*err = *last_error_public();
	return NULL;
}

BM_EXPORT bm_engine *
bm_engine_create(const char *url, const bm_engine_options *opts, bm_error *err)
{
	bm_engine_options defaults = {0};
	bm_engine  *e;
	char		why[600];
	int			i,
				rc;

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
		opts->statement_timeout_ms < 0 || opts->statement_cache_size < 0)
		return create_failed(NULL, err, BM_ERR_USAGE,
							 "engine options must not be negative (pool_size, timeouts, statement_cache_size)");
	if (opts->pool_size > BM_MAX_POOL_SIZE || opts->statement_cache_size > BM_MAX_STATEMENT_CACHE)
		return create_failed(NULL, err, BM_ERR_USAGE,
							 opts->pool_size > BM_MAX_POOL_SIZE
							 ? "pool_size is too large (at most " BM_STR(BM_MAX_POOL_SIZE) ")"
							 : "statement_cache_size is too large (at most " BM_STR(BM_MAX_STATEMENT_CACHE) ")");
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return create_failed(NULL, err, BM_ERR_NOMEM, "out of memory");
	e->pool_size = opts->pool_size ? opts->pool_size : BM_DEFAULT_POOL_SIZE;
	e->connect_timeout_ms = opts->connect_timeout_ms;
	e->statement_timeout_ms = opts->statement_timeout_ms;
	e->cache_size = opts->statement_cache_size ? opts->statement_cache_size : BM_DEFAULT_STATEMENT_CACHE;
	e->timer_ms = -1;
	rc = build_conninfo(e, url, opts, why, sizeof(why));
	if (rc < 0)
		return create_failed(e, err, rc == -1 ? BM_ERR_USAGE : BM_ERR_NOMEM, why);
	e->conns = calloc(e->pool_size, sizeof(Conn));
	if (e->conns == NULL)
		return create_failed(e, err, BM_ERR_NOMEM, "out of memory");
	for (i = 0; i < e->pool_size; i++)
	{
		e->conns[i].engine = e;
		e->conns[i].watch_fd = -1;
		if (stmtcache_init(&e->conns[i].cache, e->cache_size, &e->texts) != 0)
			return create_failed(e, err, BM_ERR_NOMEM, "out of memory");
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
	if (e->auto_tail)
		e->auto_tail->next = req;
	else
		e->auto_head = req;
	e->auto_tail = req;
	if (e->auto_unsent_tail)
		e->auto_unsent_tail->send_next = req;
	else
		e->auto_unsent_head = req;
	e->auto_unsent_tail = req;
	e->pending++;
	engine_kick(e);
	return 0;
}

/*
 * A request the server answered keeps its answer (a COMMIT that committed is
 * never reported as failed); the others get BM_ERR_CLOSED.
 */
static void
deliver_closed(bm_engine *e, Request *req)
{
	if (req->state != REQ_DONE)
	{
		PQclear(req->res);
		req->res = NULL;
		err_set(request_error(req), BM_ERR_CLOSED, NULL, "the engine was freed before the statement finished",
				NULL, NULL);
	}
	deliver(e, req);
}

/*
 * Close every connection, then call back every request still waiting for
 * its callback: first the ones whose turn had come (they come first in their
 * owner's order), then each owner's queue.
 */
void
engine_destroy(bm_engine *e)
{
	bm_session *s;
	int			i;

	e->closing = true;
	e->free_requested = true;
	e->depth++;
	for (i = 0; i < e->pool_size; i++)
		pool_close(&e->conns[i]);
	while (e->ready_head)
	{
		Request    *req = e->ready_head;

		e->ready_head = req->next;
		if (e->ready_head == NULL)
			e->ready_tail = NULL;
		deliver_closed(e, req);
	}
	for (s = e->sessions; s; s = s->next)
	{
		while (s->head)
		{
			Request    *req = s->head;

			s->head = req->next;
			if (s->head == NULL)
				s->tail = NULL;
			deliver_closed(e, req);
		}
	}
	while (e->auto_head)
	{
		Request    *req = e->auto_head;

		e->auto_head = req->next;
		if (e->auto_head == NULL)
			e->auto_tail = NULL;
		deliver_closed(e, req);
	}
	e->depth--;
	session_reap(e, true);
	while (e->makers)
	{
		bm_sessionmaker *m = e->makers;

		e->makers = m->next;
		free(m);
	}
	if (e->attached && e->hooks.cleanup)
		e->hooks.cleanup(e->hooks.data);
	for (i = 0; i < e->pool_size; i++)
		free(e->conns[i].cache.buckets);
	free(e->conns);
	engine_free_lists(e);
	sqltable_free(&e->texts);
	free_conninfo(e);
	free(e);
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
	if (e == NULL)
		memset(out, 0, sizeof(*out));
	else
		*out = e->stats;
}

BM_EXPORT int
bm_engine_trace(bm_engine *e, FILE *f)
{
	int			i;

	if (check_engine(e) != 0)
		return -1;
	e->trace = f;
	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];

		if (c->state != CONN_READY)
			continue;
		if (f)
		{
			PQtrace(c->pg, f);
			PQsetTraceFlags(c->pg, PQTRACE_SUPPRESS_TIMESTAMPS);
		}
		else
			PQuntrace(c->pg);
	}
	return 0;
}
