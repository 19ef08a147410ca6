/*
 * session.c
 *	  Session makers and sessions: units of work (BEGIN implied before the
 *	  first statement, ended by commit or rollback), their queue of requests,
 *	  what a failure does to the rest of the unit, waiting for a connection,
 *	  and closing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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
	m->next = e->makers;
	if (e->makers)
		e->makers->prev = m;
	e->makers = m;
	return m;
}

BM_EXPORT void
bm_sessionmaker_free(bm_sessionmaker *m)
{
	bm_engine  *e;

	if (m == NULL)
		return;
	e = m->engine;
	if (m->prev)
		m->prev->next = m->next;
	else
		e->makers = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m);
}

BM_EXPORT bm_session *
bm_session_open(bm_sessionmaker *m)
{
	static const char *const levels[] = {
		"", " ISOLATION LEVEL READ COMMITTED", " ISOLATION LEVEL REPEATABLE READ",
		" ISOLATION LEVEL SERIALIZABLE"
	};
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
	s = calloc(1, sizeof(*s));
	if (s == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->engine = e;
	s->failed_unit = -1;
	snprintf(s->begin_sql, sizeof(s->begin_sql), "BEGIN%s%s",
			 levels[m->opts.isolation], m->opts.read_only ? " READ ONLY" : "");
	s->next = e->sessions;
	if (e->sessions)
		e->sessions->prev = s;
	e->sessions = s;
	return s;
}

BM_EXPORT bm_engine *
bm_session_engine(const bm_session *s)
{
	return s ? s->engine : NULL;
}

void
session_enqueue_wait(bm_session *s)
{
	bm_engine  *e = s->engine;

	if (s->waiting || s->conn)
		return;
	s->waiting = true;
	s->wait_next = NULL;
	if (e->wait_tail)
		e->wait_tail->wait_next = s;
	else
		e->wait_head = s;
	e->wait_tail = s;
	engine_kick(e);
}

/* answer a request of a failed unit without sending it */
static void
complete_locally(bm_session *s, Request *req, const ErrorBuf *direct)
{
	char		msg[600];

	switch (req->kind)
	{
		case REQ_EXEC:
			if (direct)
				err_copy(&req->err, direct);
			else
			{
				snprintf(msg, sizeof(msg),
						 "statement not run: an earlier statement of the transaction failed (%s)",
						 s->failure.message ? s->failure.message : "");
				err_set(&req->err, BM_ERR_ABORTED, NULL, msg, NULL, NULL);
			}
			break;
		case REQ_COMMIT:
			/* the commit reports what failed the transaction */
			err_copy(&req->err, direct ? direct : &s->failure);
			break;
		case REQ_ROLLBACK:
			break;
	}
	request_done(s->engine, req);
}

/*
 * The session's current unit failed: answer its unsent requests now (the
 * first with the error itself when it caused none on the wire), and have the
 * connection end the aborted pipeline and roll back.
 */
void
session_fail(bm_session *s, const ErrorBuf *why, bool first_gets_it)
{
	long		unit;

	if (s->conn)
		unit = s->wire_unit;
	else if (s->unsent_head)
		unit = s->unsent_head->unit;
	else
		return;
	if (s->failed_unit == unit)
		return;
	s->failed_unit = unit;
	err_copy(&s->failure, why);
	while (s->unsent_head && s->unsent_head->unit == unit)
	{
		Request    *req = s->unsent_head;

		s->unsent_head = req->send_next;
		if (s->unsent_head == NULL)
			s->unsent_tail = NULL;
		req->send_next = NULL;
		complete_locally(s, req, first_gets_it ? why : NULL);
		first_gets_it = false;
	}
	if (s->conn)
	{
		Conn	   *c = s->conn;

		if (!c->unit_end_sent)
		{
			c->unit_end_sent = true;
			c->need_fail_sync = true;
		}
		c->need_cleanup = true;
		engine_kick(s->engine);
	}
}

/* no connection could be made for the waiting session's unit */
void
session_connect_failed(bm_session *s, const ErrorBuf *why)
{
	session_fail(s, why, true);
	if (s->unsent_head)
		session_enqueue_wait(s);
	if (s->closed)
		s->engine->reap_needed = true;
}

static void
session_queue(bm_session *s, Request *req)
{
	bm_engine  *e = s->engine;

	req->session = s;
	if (s->tail)
		s->tail->next = req;
	else
		s->head = req;
	s->tail = req;
	s->nundelivered++;
	e->pending++;
	if (req->unit == s->failed_unit)
	{
		complete_locally(s, req, NULL);
		engine_kick(e);
		return;
	}
	if (s->unsent_tail)
		s->unsent_tail->send_next = req;
	else
		s->unsent_head = req;
	s->unsent_tail = req;
	if (s->conn == NULL)
		session_enqueue_wait(s);
	engine_kick(e);
}

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

BM_EXPORT int
bm_session_execute(bm_session *s, const char *sql, int nparams, const char *const *params,
				   bm_result_cb cb, void *arg)
{
	Request    *req;

	if (check_session(s, "bm_session_execute") != 0 ||
		check_statement(sql, nparams, params) != 0)
		return -1;
	req = request_new(REQ_EXEC, sql, nparams, params);
	if (req == NULL)
		return -1;
	req->rcb = cb;
	req->arg = arg;
	req->unit = s->api_unit;
	s->api_open = true;
	session_queue(s, req);
	return 0;
}

static int
end_unit(bm_session *s, ReqKind kind, bm_done_cb cb, void *arg, bool internal)
{
	Request    *req = request_new(kind, NULL, 0, NULL);

	if (req == NULL)
		return -1;
	req->dcb = cb;
	req->arg = arg;
	req->internal = internal;
	req->unit = s->api_unit++;
	s->api_open = false;
	session_queue(s, req);
	return 0;
}

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
	return end_unit(s, REQ_COMMIT, cb, arg, false);
}

BM_EXPORT int
bm_session_rollback(bm_session *s, bm_done_cb cb, void *arg)
{
	if (check_open(s, "bm_session_rollback") != 0)
		return -1;
	return end_unit(s, REQ_ROLLBACK, cb, arg, false);
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
	if (s->api_open && end_unit(s, REQ_ROLLBACK, NULL, NULL, true) != 0)
	{
		/* out of memory: the pool's cleanup cannot run, so drop the connection */
		s->api_open = false;
		if (s->conn)
			pool_conn_lost(s->conn, BM_ERR_NOMEM, "out of memory");
	}
	e->reap_needed = true;
	engine_kick(e);
}

/* free closed sessions nothing refers to (all of them when the engine goes) */
void
session_reap(bm_engine *e, bool all)
{
	bm_session *s = e->sessions;

	e->reap_needed = false;
	while (s)
	{
		bm_session *next = s->next;

		if (all || (s->closed && s->nundelivered == 0 && s->conn == NULL && !s->waiting))
		{
			if (s->prev)
				s->prev->next = s->next;
			else
				e->sessions = s->next;
			if (s->next)
				s->next->prev = s->prev;
			err_clear(&s->failure);
			free(s);
		}
		s = next;
	}
}
