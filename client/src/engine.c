/*
 * engine.c
 *	  The coordinator: the life of a request from the call that accepts it
 *	  to its one callback (in the order its owner queued it), the pump that
 *	  hands queued work to the pools' connections through proto (read-only
 *	  sessions to the replicas' when one is reachable), applying what
 *	  proto, the pools and sessions report (answers, failed units, lost
 *	  connections, failed connection attempts), and freeing with work
 *	  pending.  It owns every queue.  Calls session, pool, proto and util;
 *	  loop.c and api.c call it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

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

/*
 * The bytes a request of this kind with these parameters takes, counted no
 * further than limit (once past it, the result is only known to be larger).
 */
static size_t
request_size(ReqKind kind, int nparams, const char *const *params, size_t limit)
{
	size_t		size = sizeof(Request) + (size_t) (nparams + 7) / 8;
	int			i;

	if (kind == REQ_COPY_IN || kind == REQ_COPY_OUT)
		size += sizeof(CopyIO);
	for (i = 0; i < nparams && size <= limit; i++)
		if (params[i])
			size += strnlen(params[i], limit) + 1;
	return size;
}

/* request_size of a request made, from the parameters it holds */
static size_t
request_stored_size(const Request *req, size_t limit)
{
	const char *p = request_param_text(req);
	size_t		size = (size_t) (p - (const char *) req);
	int			k;

	if (req->kind == REQ_COPY_IN || req->kind == REQ_COPY_OUT)
		size += sizeof(CopyIO);
	for (k = 0; k < req->nparams && size <= limit; k++)
		if (request_param_set(req, k))
		{
			size_t		len = strnlen(p, limit) + 1;

			size += len;
			p += len;
		}
	return size;
}

/* the largest request a slab holds */
#define REQ_SLAB_MAX (sizeof(Request) + (REQ_SIZE_CLASSES - 1) * REQ_CLASS_STEP)

/* the size class of a request of size bytes, REQ_SIZE_CLASSES: too large (malloc'd) */
static size_t
request_class(size_t size)
{
	if (size > REQ_SLAB_MAX)
		return REQ_SIZE_CLASSES;
	return (size - sizeof(Request) + REQ_CLASS_STEP - 1) / REQ_CLASS_STEP;
}

/* give a request's memory back to its size class's slab, or to malloc */
static void
request_release(Request *req)
{
	if (request_class(request_stored_size(req, REQ_SLAB_MAX)) < REQ_SIZE_CLASSES)
		slab_free(req);
	else
		free(req);
}

/*
 * A request, with copies of its parameters in the same allocation (its size
 * class follows from them, so they never change); the SQL text is interned
 * in the engine's table (the caller's copy need not outlive the call).
 */
Request *
request_new(bm_engine *e, ReqKind kind, const char *sql, int nparams, const char *const *params)
{
	size_t		size = request_size(kind, nparams, params, PTRDIFF_MAX);
	size_t		cls = request_class(size);
	Request    *req;
	char	   *p;
	int			i;

	if (cls < REQ_SIZE_CLASSES)
	{
		if ((req = slab_alloc(&e->req_slabs[cls])) != NULL)
			memset(req, 0, size);
	}
	else
		req = calloc(1, size);
	if (req == NULL)
		goto nomem;
	req->kind = kind;
	req->nparams = nparams;
	p = request_param_text(req);
	for (i = 0; i < nparams; i++)
	{
		size_t		len;

		if (params[i] == NULL)
			continue;
		len = strlen(params[i]) + 1;
		REQUEST_PARAM_BITS(req)[i / 8] |= 1 << (i % 8);
		memcpy(p, params[i], len);
		p += len;
	}
	if (sql && (req->sql = sqltext_get(&e->texts, sql)) == NULL)
	{
		request_release(req);
		goto nomem;
	}
	return req;

nomem:
	set_last_error(BM_ERR_NOMEM, "out of memory");
	return NULL;
}

/* the engine's slabs, empty: requests by size class, sessions */
void
engine_init_slabs(bm_engine *e)
{
	int			i;

	for (i = 0; i < REQ_SIZE_CLASSES; i++)
		slab_init(&e->req_slabs[i], sizeof(Request) + (size_t) i * REQ_CLASS_STEP);
	slab_init(&e->session_slab, sizeof(bm_session));
}

/* give the slabs' chunks back once nothing in them is used any more */
void
engine_free_slabs(bm_engine *e)
{
	int			i;

	for (i = 0; i < REQ_SIZE_CLASSES; i++)
		slab_destroy(&e->req_slabs[i]);
	slab_destroy(&e->session_slab);
}

/* a called-back request goes */
static void
request_free(bm_engine *e, Request *req)
{
	request_clear_result(req);
	request_clear_error(req);
	sqltext_release(&e->texts, req->sql);
	request_release(req);
}

/* the answered requests at the head of an owner's FIFO: their callbacks are due */
static void
collect(bm_engine *e, Queue *fifo)
{
	Request    *req;

	while ((req = QUEUE_HEAD(fifo, Request, link)) != NULL && req->state == REQ_DONE)
	{
		queue_pop(fifo);
		queue_push(&e->ready, &req->link);
	}
}

/*
 * The request is answered.  Its callback is due once every request queued
 * before it by the same owner has been answered too.
 */
static void
request_done(bm_engine *e, Request *req)
{
	req->state = REQ_DONE;
	collect(e, req->session ? &req->session->requests : &e->auto_reqs);
}

/*
 * The request fails with code (unless it failed already), then is done.  A
 * rollback never fails this way: its transaction cannot commit any more.
 */
static void
request_fail(bm_engine *e, Request *req, int code, const char *message)
{
	if (request_code(req) == BM_OK && req->kind != REQ_ROLLBACK)
		err_set(request_error(req), code, NULL, message, NULL, NULL);
	request_done(e, req);
}

/*
 * An autocommit statement that did nothing goes back to the front of the
 * unsent queue, behind those put back before it and not sent since: the
 * statements a failure made the server skip go again in their order.
 */
static void
request_replay(bm_engine *e, Request *req)
{
	req->replay = false;
	/* no answer is kept: the unsent queue's link takes its place */
	request_clear_result(req);
	request_clear_error(req);
	req->state = REQ_QUEUED;
	if (e->replayed_last)
		queue_insert_after(&e->auto_unsent, &e->replayed_last->send_link, &req->send_link);
	else
		queue_push_front(&e->auto_unsent, &req->send_link);
	e->replayed_last = req;
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

	err_public(req->failed ? request_failure(req) : &ok, &err);
	e->depth++;
	if (request_has_result(req))
	{
		if (req->cb.result)
		{
			res.pg = request_result(req);
			res.affected = res.pg ? AFFECTED_UNREAD : -1;
			req->cb.result(s, err.code == BM_OK ? &res : NULL, &err, req->arg);
		}
	}
	else if (req->cb.done)
		req->cb.done(s, &err, req->arg);
	e->depth--;
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

/* requests wait for their callbacks, or timers to fire */
bool
engine_has_work(bm_engine *e)
{
	return e->pending > 0 || !queue_empty(&e->ready) || e->timers.first != NULL;
}

/* t fires from the loop at t->at; the list stays sorted (new timers are mostly the latest) */
void
engine_add_timer(bm_engine *e, Timer *t)
{
	Timer	   *before = DLIST_LAST(&e->timers, Timer, link);

	while (before && before->at > t->at)
		before = DLIST_PREV(before, Timer, link);
	if (before == NULL)
		dlist_push(&e->timers, &t->link);
	else
	{
		t->link.prev = &before->link;
		t->link.next = before->link.next;
		if (before->link.next)
			before->link.next->prev = &t->link;
		else
			e->timers.last = &t->link;
		before->link.next = &t->link;
	}
	engine_kick(e);
}

/* the timers due by now fire, earliest first */
static void
fire_timers(bm_engine *e, int64_t now)
{
	Timer	   *t;

	while (!e->free_requested && (t = DLIST_FIRST(&e->timers, Timer, link)) != NULL && t->at <= now)
	{
		dlist_remove(&e->timers, &t->link);
		e->depth++;
		t->fire(t, false);
		e->depth--;
	}
}

/*
 * The session waits for a connection for its next unit: a replica's when it
 * is read-only and one is reachable.
 */
static void
enqueue_wait(bm_engine *e, bm_session *s)
{
	if (s->waiting || s->conn)
		return;
	s->waiting = true;
	queue_push(s->read_only && e->read_pool && !e->replicas_down ? &e->read_wait : &e->wait,
			   &s->wait_link);
	engine_kick(e);
}

/* an accepted autocommit statement (bm_engine_execute) */
void
engine_queue_auto(bm_engine *e, Request *req)
{
	queue_push(&e->auto_reqs, &req->link);
	queue_push(&e->auto_unsent, &req->send_link);
	e->pending++;
	engine_kick(e);
}

/* an accepted request of a session: sent when the session holds a connection */
void
engine_queue_session(bm_engine *e, bm_session *s, Request *req)
{
	e->pending++;
	if (!session_add(s, req))
		collect(e, &s->requests);
	else if (s->conn == NULL)
		enqueue_wait(e, s);
	engine_kick(e);
}

/* the session's unit failed: what it answered without sending is done */
static void
fail_unit(bm_engine *e, bm_session *s, const ErrorBuf *why, bool first_gets_it)
{
	session_fail(s, why, first_gets_it);
	collect(e, &s->requests);
}

/* the session holding c lets go of it: its unit is over, or the connection gone */
static void
let_go(bm_engine *e, Conn *c)
{
	bm_session *s = c->holder;

	c->holder = NULL;
	if (s == NULL)
		return;
	s->conn = NULL;
	if (session_has_unsent(s))
		enqueue_wait(e, s);
	if (s->closed)
		e->reap_needed = true;
}

/*
 * A request still unanswered on a connection lost with `code` and `message`
 * fails, unless it already has its answer, with what its outcome may be
 * (proto_lost_code): a rollback succeeds, what may have committed is
 * BM_ERR_OUTCOME_UNKNOWN, the rest keeps `code`; in a unit that had failed
 * for good, with what the server would have answered (the unit's failure,
 * or not run).
 */
static void
fail_unanswered(bm_engine *e, Conn *c, Request *req, int code, const char *message)
{
	int			lost = proto_lost_code(&c->proto, req, code);
	char		buf[700];

	if (request_code(req) == BM_OK && !proto_answer_lost_in_failed_unit(&c->proto, req) &&
		lost != BM_OK)
	{
		if (lost == BM_ERR_OUTCOME_UNKNOWN)
		{
			snprintf(buf, sizeof(buf), "outcome unknown: %s, after %s was sent; it may or may not have committed",
					 message, req->session ? "the transaction's COMMIT" : "the statement");
			message = buf;
		}
		err_set(request_error(req), lost, NULL, message, NULL, NULL);
	}
	request_done(e, req);
}

/*
 * Fail everything the connection carried with `code`: the server answers a
 * batch only at its end, so after a timeout nobody knows which statement
 * hung, and all of them timed out.  The session holding it loses its
 * transaction.
 */
void
engine_conn_lost(bm_engine *e, Conn *c, int code, const char *message)
{
	bm_session *s = c->holder;
	ErrorBuf	eb = {0};
	Request    *req;
	char		buf[512];

	snprintf(buf, sizeof(buf), "%s", message && *message ? message : "connection lost");
	err_set(&eb, code, NULL, buf, NULL, NULL);
	while ((req = proto_take_unanswered(&c->proto)) != NULL)
	{
		/* behind a failed framed statement: it did not run, it goes again */
		if (request_code(req) == BM_OK && proto_lost_skipped(&c->proto, req))
			request_replay(e, req);
		else
			fail_unanswered(e, c, req, code, buf);
	}
	if (s)
	{
		fail_unit(e, s, &eb, false);
		let_go(e, c);
		e->reap_needed = true;
	}
	err_clear(&eb);
	pool_drop(c);
	engine_kick(e);
}

/*
 * What a connection attempt did: any change is a reason to pump; when no
 * connection is left alive, the work waiting for one fails with why.
 */
static void
after_connect(bm_engine *e, ConnectResult r, ErrorBuf *why)
{
	Queue		waiting;
	Request    *req;
	bm_session *s;

	if (r == CONNECT_PENDING)
		return;
	engine_kick(e);
	if (r != CONNECT_HOPELESS)
		return;
	e->replayed_last = NULL;
	while ((req = QUEUE_POP(&e->auto_unsent, Request, send_link)) != NULL)
	{
		err_copy(request_error(req), why);
		request_done(e, req);
	}
	waiting = queue_take(&e->wait);
	while ((s = QUEUE_POP(&waiting, bm_session, wait_link)) != NULL)
	{
		s->waiting = false;
		fail_unit(e, s, why, true);
		if (session_has_unsent(s))
			enqueue_wait(e, s);
		if (s->closed)
			e->reap_needed = true;
	}
	err_clear(why);
}

/*
 * What a connection attempt to a replica did.  When none is reachable the
 * read-only sessions waiting for one take the main pool's connections
 * instead (never failing for that alone), until an attempt, made at the
 * pool's backoff, reaches one again.
 */
static void
after_replica_connect(bm_engine *e, ConnectResult r, ErrorBuf *why)
{
	bm_session *s;

	if (r == CONNECT_PENDING)
		return;
	engine_kick(e);
	if (r == CONNECT_READY)
		e->replicas_down = false;
	if (r != CONNECT_HOPELESS)
		return;
	e->replicas_down = true;
	while ((s = QUEUE_POP(&e->read_wait, bm_session, wait_link)) != NULL)
		queue_push(&e->wait, &s->wait_link);
	err_clear(why);
}

/* what a connection attempt of pool p did */
static void
connected(bm_engine *e, const Pool *p, ConnectResult r, ErrorBuf *why)
{
	if (p == e->read_pool)
		after_replica_connect(e, r, why);
	else
		after_connect(e, r, why);
}

/*
 * A send through proto failed: the connection goes, and req, when it was
 * not on the wire yet (so that the connection's failure cannot reach it),
 * fails here.  True when the send went well.
 */
static bool
sent(bm_engine *e, Conn *c, ProtoStatus st, Request *req)
{
	char		msg[512];
	int			code = st == PROTO_NOMEM ? BM_ERR_NOMEM : BM_ERR_CONNECTION;

	if (st == PROTO_OK)
		return true;
	snprintf(msg, sizeof(msg), "%s", st == PROTO_NOMEM ? "out of memory" : pool_error(c));
	engine_conn_lost(e, c, code, msg);
	if (req && req->state != REQ_DONE)
		request_fail(e, req, code, code == BM_ERR_NOMEM ? msg : "connection lost");
	return false;
}

/*
 * Whatever the session holding the connection has queued for the unit on
 * the wire, after the Syncs and ROLLBACK that clean up after a failure.
 */
static void
send_session(bm_engine *e, Conn *c)
{
	bm_session *s = c->holder;
	Proto	   *p = &c->proto;
	Request    *req;
	ProtoStatus st;

	/* a cancel request on its way could hit anything sent now */
	if (c->cancels > 0 || pool_flushing(c))
		return;
	if (!sent(e, c, proto_send_cleanup(p), NULL))
		return;
	while (c->state == CONN_READY && c->holder == s && !p->unit_end_sent && p->copy == NULL &&
		   (req = session_next_unsent(s)) != NULL)
	{
		if (!sent(e, c, proto_send_begin(p, session_begin(s)), NULL))
			return;
		queue_pop(&s->unsent);
		st = proto_send_unit(p, req);
		/* answered without being sent: see answer_suspended */
		if (req->state == REQ_DONE)
			request_done(e, req);
		if (!sent(e, c, st, req))
			return;
	}
}

/* write queued bytes; a failure drops the connection */
static void
write_out(bm_engine *e, Conn *c)
{
	if (!pool_write(c))
		engine_conn_lost(e, c, BM_ERR_CONNECTION, pool_error(c));
}

/* close the connection's batch and send it */
static void
end_batch(bm_engine *e, Conn *c)
{
	bool		write;

	if (c->state != CONN_READY || pool_flushing(c))
		return;
	if (sent(e, c, proto_end_batch(&c->proto, &write), NULL) && write)
		write_out(e, c);
}

/*
 * A connection of pool p for work, replacing any found dead on the way;
 * unframed: for a unit or an autocommit statement that is not framed (see
 * pool_pick).
 */
static Conn *
pick(bm_engine *e, Pool *p, bool unframed)
{
	bool		dropped = false;
	Conn	   *c = pool_pick(p, unframed, &dropped);

	if (dropped)
		engine_kick(e);
	return c;
}

/* the waiting session s takes connection c for its next unit */
static void
hand_over(bm_session *s, Conn *c)
{
	s->waiting = false;
	c->holder = s;
	session_take_conn(s, c);
	proto_begin_unit(&c->proto);
}

/*
 * Read-only sessions take the replicas' free connections; the read pool
 * grows for those still waiting.  While no replica is reachable one attempt
 * is made whenever the pool's backoff allows, so that read-only sessions
 * move back as soon as a replica answers again.
 */
static void
pump_replicas(bm_engine *e)
{
	ErrorBuf	why = {0};
	bm_session *s;
	Conn	   *c;
	int			demand = e->replicas_down ? 1 : 0;

	while ((s = QUEUE_HEAD(&e->read_wait, bm_session, wait_link)) != NULL &&
		   (c = pick(e, e->read_pool, true)) != NULL)
	{
		queue_pop(&e->read_wait);
		e->replica_sessions++;
		hand_over(s, c);
	}
	for (s = QUEUE_HEAD(&e->read_wait, bm_session, wait_link); s; s = QUEUE_NEXT(s, bm_session, wait_link))
		demand++;
	after_replica_connect(e, pool_grow(e->read_pool, demand, &why), &why);
}

/* hand queued work to connections and send it, one batch per connection */
static void
pump(bm_engine *e)
{
	ErrorBuf	why = {0};
	Request    *req;
	bm_session *s;
	Conn	   *c;
	Pool	   *p;
	int			demand = 0,
				i,
				k;
	bool		frame = !e->autocommit_sync_each && queue_empty(&e->wait);

	/*
	 * More to send: the statements share a Sync (see proto_send_auto).  Not
	 * with autocommit_sync_each, and not while a session waits for a
	 * connection: framed statements would keep it off every connection for
	 * as long as they keep coming, while it may follow statements sent alone.
	 */
	while ((req = QUEUE_HEAD(&e->auto_unsent, Request, send_link)) != NULL &&
		   (c = pick(e, e->pool, !request_frameable(req) || !frame)) != NULL)
	{
		queue_pop(&e->auto_unsent);
		if (req == e->replayed_last)
			e->replayed_last = NULL;
		sent(e, c, proto_send_auto(&c->proto, req, frame && !queue_empty(&e->auto_unsent)), req);
	}
	if (e->read_pool)
		pump_replicas(e);
	while ((s = QUEUE_HEAD(&e->wait, bm_session, wait_link)) != NULL &&
		   (c = pick(e, e->pool, true)) != NULL)
	{
		queue_pop(&e->wait);
		if (s->read_only && e->read_pool)
			e->replica_fallbacks++;
		hand_over(s, c);
	}
	for (s = QUEUE_HEAD(&e->wait, bm_session, wait_link); s; s = QUEUE_NEXT(s, bm_session, wait_link))
		demand++;
	if (!queue_empty(&e->auto_unsent))
		demand++;
	after_connect(e, pool_grow(e->pool, demand, &why), &why);
	for (k = 0; (p = engine_pool(e, k)) != NULL; k++)
		for (i = 0; i < p->size; i++)
		{
			c = &p->conns[i];
			if (c->state == CONN_READY && c->holder)
				send_session(e, c);
			else if (c->state == CONN_READY && c->proto.reset_due && !pool_flushing(c))
				sent(e, c, proto_send_cleanup(&c->proto), NULL);
			end_batch(e, c);
		}
}

/*
 * A row of a streamed statement: its callback is due after everything the
 * session queued before the statement (answered already: the rows come
 * after their answers), so it joins the ready queue now.  Out of memory, the
 * statement fails at its end and later rows are dropped.
 */
static void
stream_row(bm_engine *e, Request *of, PGresult *row)
{
	Request    *req;

	if (request_code(of) != BM_OK || (req = request_new(e, REQ_ROW, NULL, 0, NULL)) == NULL)
	{
		PQclear(row);
		if (request_code(of) == BM_OK)
			err_set(request_error(of), BM_ERR_NOMEM, NULL, "out of memory", NULL, NULL);
		return;
	}
	req->session = of->session;
	req->unit = of->unit;
	req->cb.result = of->cb.result;
	req->arg = of->arg;
	request_set_result(req, row);
	req->state = REQ_DONE;
	of->session->nundelivered++;
	e->pending++;
	queue_push(&e->ready, &req->link);
}

/* everything before the COPY is answered: out of pipeline mode, and the COPY goes */
static void
copy_start(bm_engine *e, Conn *c)
{
	char		msg[600];

	if (!pool_leave_pipeline(c))
	{
		snprintf(msg, sizeof(msg), "internal error: cannot leave pipeline mode for COPY: %s", pool_error(c));
		engine_conn_lost(e, c, BM_ERR_CONNECTION, msg);
		return;
	}
	if (sent(e, c, proto_send_copy(&c->proto), NULL))
		engine_kick(e);
}

/* the COPY is answered: back to pipeline mode for the rest of the unit */
static void
copy_over(bm_engine *e, Conn *c)
{
	char		msg[600];

	if (!pool_enter_pipeline(c))
	{
		snprintf(msg, sizeof(msg), "internal error: cannot enter pipeline mode after COPY: %s", pool_error(c));
		engine_conn_lost(e, c, BM_ERR_CONNECTION, msg);
		return;
	}
	engine_kick(e);
}

/* apply what one answer did (fields in the order ProtoEvent gives) */
static void
apply(bm_engine *e, Conn *c, const ProtoEvent *ev)
{
	bm_session *s = c->holder;

	if (ev->row_of)
		stream_row(e, ev->row_of, ev->row);
	if (ev->unit_failed && s)
	{
		fail_unit(e, s, &c->proto.failure, false);
		engine_kick(e);
	}
	if (ev->done)
		request_done(e, ev->done);
	if (ev->replay)
		request_replay(e, ev->replay);
	if (ev->cleanup_due)
		engine_kick(e);
	if (ev->unit_over)
	{
		let_go(e, c);
		engine_kick(e);
	}
	if (ev->copy_due)
		copy_start(e, c);
	if (ev->copy_over && c->state == CONN_READY)
		copy_over(e, c);
	if (ev->lost && c->state == CONN_READY)
		engine_conn_lost(e, c, ev->lost, ev->lost_message);
}

/*
 * Apply what each answer read so far did; then see whether libpq lost the
 * connection.  When the last framed autocommit statement on it is answered,
 * the sessions and unframed statements that wait for such a connection may
 * go (no event of proto says so).
 */
static void
take_answers(bm_engine *e, Conn *c)
{
	ProtoEvent	ev;
	bool		framed = !proto_takes_unframed(&c->proto);

	while (pool_next_event(c, &ev))
		apply(e, c, &ev);
	if (framed && proto_takes_unframed(&c->proto))
		engine_kick(e);
	if (c->state == CONN_READY && pool_broken(c))
		engine_conn_lost(e, c, BM_ERR_CONNECTION, pool_error(c));
}

/* read what arrived and apply what each answer did */
static void
read_in(bm_engine *e, Conn *c)
{
	if (!pool_consume(c))
	{
		engine_conn_lost(e, c, BM_ERR_CONNECTION, pool_error(c));
		return;
	}
	take_answers(e, c);
}

/* a COPY's data moves (also when its phase began in this very read); then its answer */
static void
copy_io(bm_engine *e, Conn *c)
{
	int			code;
	const char *message;

	switch (engine_copy_io(e, c, &code, &message))
	{
		case COPY_STEP_WAIT:
			break;
		case COPY_STEP_ANSWER:
			if (!e->free_requested)
				take_answers(e, c);
			break;
		case COPY_STEP_LOST:
			engine_conn_lost(e, c, code, message);
			break;
	}
}

/* the loop says the connection's socket is ready for events */
void
engine_conn_io(bm_engine *e, Conn *c, int events)
{
	ErrorBuf	why = {0};
	bool		was_flushing = pool_flushing(c);

	if (c->state == CONN_CONNECTING)
		connected(e, c->pool, pool_connect_poll(c, &why), &why);
	else if (c->state == CONN_READY)
	{
		if (events & BM_EV_WRITE)
			write_out(e, c);
		if (c->state == CONN_READY && (events & BM_EV_READ))
			read_in(e, c);
		if (c->state == CONN_READY && c->out_pending)
			write_out(e, c);
		if (c->state == CONN_READY && c->copy != COPY_NONE)
			copy_io(e, c);
	}
	/* a flusher gave the connection back: what waited for it may go now */
	if (was_flushing && !(c->state == CONN_READY && pool_flushing(c)))
		engine_kick(e);
}

/* connection attempts and statements past their deadlines fail; due timers fire */
void
engine_check_timeouts(bm_engine *e, int64_t now)
{
	Pool	   *p;
	int			i,
				k;

	for (k = 0; (p = engine_pool(e, k)) != NULL; k++)
		for (i = 0; i < p->size; i++)
		{
			Conn	   *c = &p->conns[i];
			ErrorBuf	why = {0};
			char		msg[128];
			ConnectResult r = pool_connect_timeout(c, now, &why);

			if (r != CONNECT_PENDING)
				connected(e, p, r, &why);
			else if (pool_answer_overdue(c, now, msg, sizeof(msg)))
				engine_conn_lost(e, c, BM_ERR_TIMEOUT, msg);
		}
	fire_timers(e, now);
}

/* the earliest time the engine must look again, 0 if none */
int64_t
engine_next_deadline(bm_engine *e)
{
	int64_t		next = pool_next_deadline(e->pool);
	int64_t		retry = e->pool->retry_at;
	Timer	   *t = DLIST_FIRST(&e->timers, Timer, link);

	if (t && (next == 0 || t->at < next))
		next = t->at;
	/* work waits for the next connection attempt */
	if ((!queue_empty(&e->wait) || !queue_empty(&e->auto_unsent)) && retry > now_ms() &&
		(next == 0 || retry < next))
		next = retry;
	if (e->read_pool)
	{
		int64_t		rnext = pool_next_deadline(e->read_pool);

		retry = e->read_pool->retry_at;
		if (!queue_empty(&e->read_wait) && retry > now_ms() && (rnext == 0 || retry < rnext))
			rnext = retry;
		if (rnext && (next == 0 || rnext < next))
			next = rnext;
	}
	return next;
}

/* free closed sessions nothing refers to (all of them when the engine goes) */
static void
reap(bm_engine *e, bool all)
{
	bm_session *s = DLIST_FIRST(&e->sessions, bm_session, link);

	e->reap_needed = false;
	while (s)
	{
		bm_session *next = DLIST_NEXT(s, bm_session, link);

		if (all || session_reapable(s))
		{
			dlist_remove(&e->sessions, &s->link);
			session_destroy(s);
			slab_free(s);
		}
		s = next;
	}
}

/*
 * After the loop has handled I/O: send what is queued, run the callbacks
 * that are due (they may queue more, which is sent in the same turn) and
 * free closed sessions.  False when a callback freed the engine.
 */
bool
engine_settle(bm_engine *e)
{
	Request    *req;

	while (!e->free_requested)
	{
		if (e->pump_needed)
		{
			e->pump_needed = false;
			pump(e);
		}
		if (queue_empty(&e->ready))
		{
			if (!e->pump_needed)
				break;
			continue;
		}
		while (!e->free_requested && (req = QUEUE_POP(&e->ready, Request, link)) != NULL)
			deliver(e, req);
	}
	if (e->free_requested)
		return false;
	if (e->reap_needed)
		reap(e, false);
	pool_new_turn(e->pool);
	if (e->read_pool)
		pool_new_turn(e->read_pool);
	return true;
}

/*
 * A request the server answered keeps its answer (a COMMIT that committed is
 * never reported as failed); the others get BM_ERR_CLOSED.
 */
static void
deliver_closed(bm_engine *e, Request *req)
{
	if (req->state != REQ_DONE && req->kind != REQ_ROLLBACK)
	{
		err_set(request_error(req), BM_ERR_CLOSED, NULL, "the engine was freed before the statement finished",
				NULL, NULL);
	}
	deliver(e, req);
}

/* how long bm_engine_free waits for its cancel requests to reach the server, without a connect timeout */
#define CANCEL_WAIT_MS 1000

/* fn on every connection of every pool of the engine */
static void
each_conn(bm_engine *e, void (*fn) (bm_engine *e, Conn *c))
{
	Pool	   *p;
	int			i,
				k;

	for (k = 0; (p = engine_pool(e, k)) != NULL; k++)
		for (i = 0; i < p->size; i++)
			fn(e, &p->conns[i]);
}

/* take what the server has answered already, so that a commit that committed says so */
static void
read_arrived(bm_engine *e, Conn *c)
{
	if (c->state == CONN_READY && c->proto.nops > 0)
		read_in(e, c);
}

/*
 * A statement still running on the server would go on (holding its locks)
 * after its connection is closed, until it next writes to it: cancel it.
 */
static void
cancel_running(bm_engine *e, Conn *c)
{
	PGcancel   *pc = pool_running_cancel(c);

	if (pc)
		cancel_start(&e->cancels, pc, c, c->serial);
}

/*
 * Give up on what is still on the wire: BM_ERR_CLOSED where it surely did
 * not commit, else BM_ERR_OUTCOME_UNKNOWN.  Nothing is read after the cancel
 * requests went out, so what they did is never mistaken for an answer.
 */
static void
fail_on_wire(bm_engine *e, Conn *c)
{
	if (c->state == CONN_READY && c->proto.nops > 0)
		engine_conn_lost(e, c, BM_ERR_CLOSED, "the engine was freed before the statement finished");
}

/* stop watching the events' sockets and close the listen connection */
static void
close_events(bm_engine *e)
{
	listen_free(e->listener);
	e->listener = NULL;
	if (e->cancel_watched)
		e->hooks.del_read(e->hooks.data, e->cancels.wake_fd);
	e->cancel_watched = false;
}

/*
 * Take what the server has answered already, cancel what still runs there,
 * fail what is left on the wire, close every connection, then call back
 * every request still waiting for its callback: first the ones whose turn
 * had come (they come first in their owner's order), then each owner's
 * queue; then the timers fire, closing.
 * The cancel requests are waited for, a bounded time, at the end.
 */
void
engine_destroy(bm_engine *e)
{
	bm_sessionmaker *m;
	bm_session *s;
	Request    *req;
	Timer	   *t;

	e->closing = true;
	e->free_requested = true;
	e->depth++;
	each_conn(e, read_arrived);
	each_conn(e, cancel_running);
	each_conn(e, fail_on_wire);
	close_events(e);
	pool_close_all(e->pool);
	if (e->read_pool)
		pool_close_all(e->read_pool);
	/* off the unsent queues before they fail: the link holds the answer's place */
	while (queue_pop(&e->auto_unsent) != NULL)
		;
	for (s = DLIST_FIRST(&e->sessions, bm_session, link); s; s = DLIST_NEXT(s, bm_session, link))
		while (queue_pop(&s->unsent) != NULL)
			;
	e->replayed_last = NULL;
	while ((req = QUEUE_POP(&e->ready, Request, link)) != NULL)
		deliver_closed(e, req);
	for (s = DLIST_FIRST(&e->sessions, bm_session, link); s; s = DLIST_NEXT(s, bm_session, link))
		while ((req = QUEUE_POP(&s->requests, Request, link)) != NULL)
			deliver_closed(e, req);
	while ((req = QUEUE_POP(&e->auto_reqs, Request, link)) != NULL)
		deliver_closed(e, req);
	/* after the callbacks, which cannot add timers now that the engine is closing */
	while ((t = DLIST_FIRST(&e->timers, Timer, link)) != NULL)
	{
		dlist_remove(&e->timers, &t->link);
		t->fire(t, true);
	}
	e->depth--;
	reap(e, true);
	while ((m = DLIST_FIRST(&e->makers, bm_sessionmaker, link)) != NULL)
	{
		dlist_remove(&e->makers, &m->link);
		free(m);
	}
	if (e->attached && e->hooks.cleanup)
		e->hooks.cleanup(e->hooks.data);
	cancel_shutdown(&e->cancels, e->pool->connect_timeout_ms > 0 ? e->pool->connect_timeout_ms : CANCEL_WAIT_MS);
	pool_free(e->pool);
	pool_free(e->read_pool);
	engine_free_slabs(e);
	sqltable_free(&e->texts);
	free(e);
}
