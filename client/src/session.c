/*
 * session.c
 *	  A session's units of work and their queues: which requests wait to be
 *	  sent, which unit is on the wire, and what a failure does to the rest of
 *	  its unit (answered here, without being sent).  Requests answered here
 *	  are marked done; the engine, which called, moves them on.  Calls proto
 *	  and util only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "session.h"

/* what failed the session's failed unit (out of memory when it could not be kept) */
static const ErrorBuf *
session_failure(const bm_session *s)
{
	static const ErrorBuf nomem = {.code = BM_ERR_NOMEM, .message = "out of memory"};

	return s->failure ? s->failure : &nomem;
}

/*
 * A request's unit, in full: a request keeps its low 32 bits, and every
 * request still queued belongs to one of the last 2^32 units opened.
 */
static long
request_unit(const bm_session *s, const Request *req)
{
	return s->api_unit - (long) (uint32_t) ((uint32_t) s->api_unit - req->unit);
}

/* the BEGIN of every unit of a session made with these options (a constant) */
const char *
session_begin_sql(const bm_session_options *opts)
{
	/* by isolation level, then read_only: shared by every session */
	static const char *const begin_sql[][2] = {
		{"BEGIN", "BEGIN READ ONLY"},
		{"BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY"},
		{"BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"},
		{"BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"},
	};

	return begin_sql[opts->isolation][opts->read_only ? 1 : 0];
}

/* the BEGIN of the session's units */
const char *
session_begin(const bm_session *s)
{
	bm_session_options opts = {.isolation = s->isolation, .read_only = s->read_only};

	return session_begin_sql(&opts);
}

/* answer a request of a failed unit without sending it */
static void
complete_locally(bm_session *s, Request *req, const ErrorBuf *direct)
{
	switch (req->kind)
	{
		case REQ_EXEC:
		case REQ_STREAM:
		case REQ_COPY_IN:
		case REQ_COPY_OUT:
		case REQ_ROW:
		case REQ_SAVEPOINT:
		case REQ_ROLLBACK_TO:
		case REQ_RELEASE:
			if (direct)
				err_copy(request_error(req), direct);
			else
				request_not_run(req, session_failure(s)->message);
			break;
		case REQ_COMMIT:
			/* the commit reports what failed the transaction */
			err_copy(request_error(req), direct ? direct : session_failure(s));
			break;
		case REQ_ROLLBACK:
			break;
	}
	req->state = REQ_DONE;
}

/*
 * The session's current unit failed: answer its unsent requests now (the
 * first with the error itself when it caused none on the wire).
 */
void
session_fail(bm_session *s, const ErrorBuf *why, bool first_gets_it)
{
	Request    *req = QUEUE_HEAD(&s->unsent, Request, send_link);
	long		unit;

	if (s->conn)
		unit = s->wire_unit;
	else if (req)
		unit = request_unit(s, req);
	else
		return;
	if (s->failed_unit == unit)
		return;
	s->failed_unit = unit;
	if (s->failure == NULL)
		s->failure = calloc(1, sizeof(ErrorBuf));
	if (s->failure)
		err_copy(s->failure, why);
	while ((req = QUEUE_HEAD(&s->unsent, Request, send_link)) != NULL && request_unit(s, req) == unit)
	{
		queue_pop(&s->unsent);
		complete_locally(s, req, first_gets_it ? why : NULL);
		first_gets_it = false;
	}
}

/*
 * A new request of the session, last in its order.  False: its unit has
 * failed already, so it is answered (done) without being sent.
 */
bool
session_add(bm_session *s, Request *req)
{
	req->session = s;
	queue_push(&s->requests, &req->link);
	s->nundelivered++;
	if (request_unit(s, req) == s->failed_unit)
	{
		complete_locally(s, req, NULL);
		return false;
	}
	queue_push(&s->unsent, &req->send_link);
	return true;
}

/* the session's next unit goes on connection c */
void
session_take_conn(bm_session *s, struct Conn *c)
{
	s->conn = c;
	s->wire_unit = request_unit(s, QUEUE_HEAD(&s->unsent, Request, send_link));
}

/* the next request to send for the unit on the wire (not taken off), or NULL */
Request *
session_next_unsent(bm_session *s)
{
	Request    *req = QUEUE_HEAD(&s->unsent, Request, send_link);

	return (req && request_unit(s, req) == s->wire_unit) ? req : NULL;
}

/* nothing refers to the closed session any more: it may be freed */
bool
session_reapable(const bm_session *s)
{
	return s->closed && s->nundelivered == 0 && s->conn == NULL && !s->waiting;
}

/* what the session owns goes (the engine frees the session itself) */
void
session_destroy(bm_session *s)
{
	if (s->failure)
	{
		err_clear(s->failure);
		free(s->failure);
		s->failure = NULL;
	}
}
