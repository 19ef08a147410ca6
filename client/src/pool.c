/*
 * pool.c
 *	  The engine's connections: starting them lazily without blocking
 *	  (PQconnectStartParams/PQconnectPoll), handing them to sessions and
 *	  autocommit statements, timing them out, and replacing lost ones.  A lost
 *	  connection fails exactly the work that was on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void
quiet_notices(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

static bool
conn_live(const Conn *c)
{
	return c->state == CONN_READY || c->state == CONN_CONNECTING;
}

/* forget the libpq connection; the loop stops watching its socket first */
static void
conn_reset(Conn *c)
{
	pipeline_drop_ops(c);
	loop_unwatch(c);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	stmtcache_reset(&c->cache);
	c->state = CONN_EMPTY;
	c->owner = NULL;
	c->nauto = 0;
	c->batch_open = c->wrote = c->out_pending = false;
	c->begun = c->unit_end_sent = false;
	c->need_fail_sync = c->need_cleanup = c->send_cleanup = false;
	c->connect_deadline = 0;
	c->seg = 0;
}

void
pool_close(Conn *c)
{
	if (c->state != CONN_EMPTY)
		conn_reset(c);
}

/* the connection could not be made: if it was the last hope, fail the waiters */
static void
connect_failed(Conn *c, int code, const char *message)
{
	bm_engine  *e = c->engine;
	ErrorBuf	eb = {0};
	int			i;

	conn_reset(c);
	engine_kick(e);
	for (i = 0; i < e->pool_size; i++)
		if (conn_live(&e->conns[i]))
			return;

	err_set(&eb, code, NULL, message, NULL, NULL);
	while (e->auto_unsent_head)
	{
		Request    *req = e->auto_unsent_head;

		e->auto_unsent_head = req->send_next;
		req->send_next = NULL;
		err_copy(&req->err, &eb);
		request_done(e, req);
	}
	e->auto_unsent_tail = NULL;
	{
		bm_session *waiting = e->wait_head;

		e->wait_head = e->wait_tail = NULL;
		while (waiting)
		{
			bm_session *s = waiting;

			waiting = s->wait_next;
			s->wait_next = NULL;
			s->waiting = false;
			session_connect_failed(s, &eb);
		}
	}
	err_clear(&eb);
}

void
pool_start_connect(bm_engine *e, Conn *c)
{
	c->pg = PQconnectStartParams(e->keywords, e->values, 0);
	c->state = CONN_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	c->rewatch = true;
	c->connect_deadline = e->connect_timeout_ms > 0 ? now_ms() + e->connect_timeout_ms : 0;
	if (c->pg == NULL)
	{
		connect_failed(c, BM_ERR_NOMEM, "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
	if (PQstatus(c->pg) == CONNECTION_BAD)
	{
		char		msg[512];

		snprintf(msg, sizeof(msg), "cannot connect: %s", PQerrorMessage(c->pg));
		connect_failed(c, BM_ERR_CONNECTION, msg);
	}
}

static void
conn_ready(Conn *c)
{
	bm_engine  *e = c->engine;

	c->connect_deadline = 0;
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg))
	{
		char		msg[512];

		snprintf(msg, sizeof(msg), "cannot enter pipeline mode: %s", PQerrorMessage(c->pg));
		connect_failed(c, BM_ERR_CONNECTION, msg);
		return;
	}
	if (e->trace)
	{
		PQtrace(c->pg, e->trace);
		PQsetTraceFlags(c->pg, PQTRACE_SUPPRESS_TIMESTAMPS);
	}
	c->state = CONN_READY;
	e->stats.connects++;
	engine_kick(e);
}

/* one step of the connection handshake; libpq may switch sockets in it */
void
pool_connect_poll(Conn *c)
{
	char		msg[512];

	c->poll = PQconnectPoll(c->pg);
	c->rewatch = true;
	switch (c->poll)
	{
		case PGRES_POLLING_OK:
			conn_ready(c);
			break;
		case PGRES_POLLING_FAILED:
			snprintf(msg, sizeof(msg), "cannot connect: %s", PQerrorMessage(c->pg));
			connect_failed(c, BM_ERR_CONNECTION, msg);
			break;
		default:
			break;
	}
}

/*
 * Fail everything the connection carried with `code`: the server answers a
 * batch only at its end, so after a timeout nobody knows which statement
 * hung, and all of them timed out.  The session holding it loses its
 * transaction.
 */
void
pool_conn_lost(Conn *c, int code, const char *message)
{
	bm_engine  *e = c->engine;
	bm_session *s = c->owner;
	ErrorBuf	eb = {0};
	Op		   *op;
	char		buf[512];

	snprintf(buf, sizeof(buf), "%s", message && *message ? message : "connection lost");
	err_set(&eb, code, NULL, buf, NULL, NULL);
	for (op = c->ops_head; op; op = op->next)
	{
		Request    *req = op->req;

		if (req == NULL || req->state == REQ_DONE)
			continue;
		if (req->err.code == BM_OK)
			err_set(&req->err, code, NULL, buf, NULL, NULL);
		request_done(e, req);
	}
	if (s)
	{
		session_fail(s, &eb, false);
		s->conn = NULL;
		c->owner = NULL;
		if (s->unsent_head)
			session_enqueue_wait(s);
		e->reap_needed = true;
	}
	err_clear(&eb);
	e->stats.disconnects++;
	conn_reset(c);
	engine_kick(e);
}

void
pool_acquire(Conn *c, bm_session *s)
{
	c->owner = s;
	s->conn = c;
	s->wire_unit = s->unsent_head->unit;
	c->begun = false;
	c->unit_end_sent = false;
	c->need_fail_sync = c->need_cleanup = c->send_cleanup = false;
}

/* the session's unit is over on the wire: the connection is free again */
void
pool_release(Conn *c)
{
	bm_session *s = c->owner;

	c->owner = NULL;
	if (s)
	{
		s->conn = NULL;
		if (s->unsent_head)
			session_enqueue_wait(s);
		if (s->closed)
			c->engine->reap_needed = true;
	}
	engine_kick(c->engine);
}

/*
 * A free ready connection: for a session, the least busy one; for an
 * autocommit statement, the one with the fewest autocommit statements.
 * An idle connection is checked first, so that one the server closed while
 * we were not looking (a restart) is replaced instead of failing new work.
 */
Conn *
pool_pick(bm_engine *e, bool for_session)
{
	Conn	   *best = NULL;
	int			i;

	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];

		if (c->state != CONN_READY || c->owner != NULL)
			continue;
		if (c->nops == 0 &&
			(!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD))
		{
			pool_conn_lost(c, BM_ERR_CONNECTION, PQerrorMessage(c->pg));
			continue;
		}
		if (best == NULL ||
			(for_session ? c->nops < best->nops : c->nauto < best->nauto))
			best = c;
	}
	return best;
}

/* autocommit statements on one connection beyond which another one helps */
#define BUSY_AUTOCOMMIT 64

/*
 * Start connections for work that has none, up to the pool size; and one
 * more when every free connection is busy with autocommit statements, so that
 * a flood of them spreads over the pool.
 */
void
pool_grow(bm_engine *e)
{
	int			demand = 0,
				supply = 0,
				i;
	bm_session *s;
	bool		all_busy = false;

	for (s = e->wait_head; s; s = s->wait_next)
		demand++;
	if (e->auto_unsent_head)
		demand++;
	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];

		if (c->state == CONN_READY && c->owner == NULL)
		{
			all_busy = c->nauto >= BUSY_AUTOCOMMIT;
			if (!all_busy)
				break;
		}
	}
	if (all_busy)
		demand++;
	if (demand == 0)
		return;
	for (i = 0; i < e->pool_size; i++)
		if (e->conns[i].state == CONN_CONNECTING)
			supply++;
	for (i = 0; i < e->pool_size && supply < demand; i++)
	{
		if (e->conns[i].state == CONN_EMPTY)
		{
			supply++;
			pool_start_connect(e, &e->conns[i]);
		}
	}
}

/* the client-side guard: the server's statement_timeout should fire first */
static int64_t
guard_ms(const bm_engine *e)
{
	return 2 * (int64_t) e->statement_timeout_ms + 1000;
}

void
pool_check_timeouts(bm_engine *e, int64_t now)
{
	int			i;
	char		msg[128];

	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];

		if (c->state == CONN_CONNECTING && c->connect_deadline && now >= c->connect_deadline)
		{
			snprintf(msg, sizeof(msg), "connection timed out after %d ms", e->connect_timeout_ms);
			connect_failed(c, BM_ERR_TIMEOUT, msg);
		}
		else if (c->state == CONN_READY && c->nops > 0 && e->statement_timeout_ms > 0 &&
				 now >= c->progress_at + guard_ms(e))
		{
			snprintf(msg, sizeof(msg), "statement timed out: no answer from the server for %lld ms",
					 (long long) guard_ms(e));
			pool_conn_lost(c, BM_ERR_TIMEOUT, msg);
		}
	}
}

/* the earliest deadline of any connection, 0 if none */
int64_t
pool_next_deadline(bm_engine *e)
{
	int64_t		next = 0;
	int			i;

	for (i = 0; i < e->pool_size; i++)
	{
		Conn	   *c = &e->conns[i];
		int64_t		d = 0;

		if (c->state == CONN_CONNECTING)
			d = c->connect_deadline;
		else if (c->state == CONN_READY && c->nops > 0 && e->statement_timeout_ms > 0)
			d = c->progress_at + guard_ms(e);
		if (d && (next == 0 || d < next))
			next = d;
	}
	return next;
}

int
pool_wanted_events(Conn *c)
{
	switch (c->state)
	{
		case CONN_CONNECTING:
			if (c->poll == PGRES_POLLING_READING)
				return BM_EV_READ;
			if (c->poll == PGRES_POLLING_WRITING)
				return BM_EV_WRITE;
			return 0;
		case CONN_READY:
			return BM_EV_READ | (c->out_pending ? BM_EV_WRITE : 0);
		case CONN_EMPTY:
			break;
	}
	return 0;
}
