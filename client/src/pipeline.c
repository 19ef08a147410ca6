/*
 * pipeline.c
 *	  The protocol layer of one connection in pipeline mode: what goes on the
 *	  wire for a session's unit of work or an autocommit statement (BEGIN,
 *	  automatic prepares, Sync, the cleanup after a failure), and what each
 *	  result the server sends back means for the request it answers.  It
 *	  never waits: pool.c and loop.c decide when the socket is ready.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NOT_RUN_MESSAGE "statement not run: an earlier statement of the transaction failed"

/* queue what the connection expects back; a NULL return means out of memory */
static Op *
op_push(Conn *c, OpKind kind, Request *req)
{
	bm_engine  *e = c->engine;
	Op		   *op = e->free_ops;

	if (op)
	{
		e->free_ops = op->next;
		e->nfree_ops--;
		memset(op, 0, sizeof(*op));
	}
	else if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->kind = kind;
	op->req = req;
	if (c->ops_tail)
		c->ops_tail->next = op;
	else
	{
		c->ops_head = op;
		c->progress_at = now_ms();
	}
	c->ops_tail = op;
	c->nops++;
	c->wrote = true;
	if (kind != OP_SYNC)
		c->batch_open = true;
	return op;
}

static Op *
op_pop(Conn *c)
{
	Op		   *op = c->ops_head;

	c->ops_head = op->next;
	if (c->ops_head == NULL)
		c->ops_tail = NULL;
	c->nops--;
	return op;
}

static void
op_free(Conn *c, Op *op)
{
	bm_engine  *e = c->engine;

	PQclear(op->res);
	if (e->nfree_ops < FREE_LIST_MAX)
	{
		op->next = e->free_ops;
		e->free_ops = op;
		e->nfree_ops++;
	}
	else
		free(op);
}

void
pipeline_drop_ops(Conn *c)
{
	while (c->ops_head)
		op_free(c, op_pop(c));
}

/*
 * No memory for an Op: what is on the wire can no longer be matched with its
 * answers, so the connection goes; a request not queued on it yet is failed
 * here, since the connection's failure cannot reach it.
 */
static void
lost_nomem(Conn *c, Request *req)
{
	bm_engine  *e = c->engine;

	pool_conn_lost(c, BM_ERR_NOMEM, "out of memory");
	if (req && req->state != REQ_DONE)
		request_fail(e, req, BM_ERR_NOMEM, "out of memory");
}

/* a send failed or memory ran out: the connection cannot be trusted any more */
static bool
send_failed(Conn *c, int ok)
{
	if (ok)
		return false;
	pool_conn_lost(c, BM_ERR_CONNECTION, PQerrorMessage(c->pg));
	return true;
}

static bool
send_simple(Conn *c, OpKind kind, Request *req, const char *sql)
{
	if (op_push(c, kind, req) == NULL)
	{
		lost_nomem(c, req);
		return false;
	}
	return !send_failed(c, PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0));
}

static bool
send_sync(Conn *c, SyncKind kind, Request *req)
{
	Op		   *op = op_push(c, OP_SYNC, req);

	if (op == NULL)
	{
		lost_nomem(c, req);
		return false;
	}
	op->sync = kind;
	c->batch_open = false;
	c->seg++;
	c->engine->stats.syncs++;
	return !send_failed(c, PQpipelineSync(c->pg));
}

/*
 * The server is about to drop every statement we prepared (DISCARD ALL):
 * forget the names, including those whose Parse is still unanswered.
 */
static void
forget_statements(Conn *c)
{
	Op		   *op;

	for (op = c->ops_head; op; op = op->next)
		op->stmt = NULL;
	stmtcache_reset(&c->cache);
}

/*
 * One statement, prepared on first use.  The Parse travels in the same batch
 * as its first Bind/Execute, so a miss costs no round trip.  A statement whose
 * Parse was sent before an earlier Sync and is not confirmed yet may have
 * been skipped by an error, so it runs unnamed rather than risk a missing name.
 */
static bool
send_exec(Conn *c, Request *req)
{
	StmtCache  *sc = &c->cache;
	bool		cacheable = sc->capacity > 0 && !sql_resets_statements(req->sql->text);
	StmtEntry  *se = cacheable ? stmtcache_lookup(sc, req->sql) : NULL;
	const char *const *params = (const char *const *) REQUEST_PARAMS(req);

	if (!cacheable && sc->count > 0)
		forget_statements(c);
	if (se && (se->confirmed || se->seg == c->seg))
		stmtcache_touch(sc, se);
	else if (se == NULL && cacheable)
	{
		if (sc->count >= sc->capacity)
		{
			StmtEntry  *victim = stmtcache_victim(sc);
			char		sql[64];

			if (victim)
			{
				snprintf(sql, sizeof(sql), "DEALLOCATE %s", victim->name);
				stmtcache_remove(sc, victim);
				if (!send_simple(c, OP_DEALLOCATE, NULL, sql))
				{
					/* req is off its queue and not on the wire: fail it here */
					if (req->state != REQ_DONE)
						request_fail(c->engine, req, BM_ERR_CONNECTION, "connection lost");
					return false;
				}
			}
		}
		if (sc->count < sc->capacity &&
			(se = stmtcache_add(sc, req->sql, c->seg)) != NULL)
		{
			Op		   *op = op_push(c, OP_PREPARE, req);

			if (op == NULL)
			{
				stmtcache_remove(sc, se);
				lost_nomem(c, req);
				return false;
			}
			op->stmt = se;
			c->engine->stats.prepares++;
			if (send_failed(c, PQsendPrepare(c->pg, se->name, req->sql->text, 0, NULL)))
				return false;
		}
	}
	else
		se = NULL;

	if (op_push(c, OP_EXEC, req) == NULL)
	{
		lost_nomem(c, req);
		return false;
	}
	req->state = REQ_SENT;
	if (se)
		return !send_failed(c, PQsendQueryPrepared(c->pg, se->name, req->nparams,
												   params, NULL, NULL, 0));
	return !send_failed(c, PQsendQueryParams(c->pg, req->sql->text, req->nparams, NULL,
											 params, NULL, NULL, 0));
}

/* one autocommit statement: its own implicit transaction, ended by a Sync */
void
pipeline_send_auto(Conn *c, Request *req)
{
	c->nauto++;
	if (send_exec(c, req))
		send_sync(c, SYNC_AUTO, req);
}

/*
 * Whatever the session holding the connection has queued for the unit on
 * the wire, plus the Syncs and ROLLBACK that clean up after a failure.
 */
void
pipeline_send_session(Conn *c)
{
	bm_session *s = c->owner;
	Request    *req;

	if (c->need_fail_sync)
	{
		c->need_fail_sync = false;
		if (!send_sync(c, SYNC_FAIL, NULL))
			return;
	}
	if (c->send_cleanup)
	{
		c->send_cleanup = false;
		if (!send_simple(c, OP_CLEANUP, NULL, "ROLLBACK") || !send_sync(c, SYNC_CLEANUP, NULL))
			return;
	}
	while (c->state == CONN_READY && c->owner == s && !c->unit_end_sent &&
		   (req = s->unsent_head) != NULL && req->unit == s->wire_unit)
	{
		if (!c->begun)
		{
			c->begun = true;
			if (!send_simple(c, OP_BEGIN, NULL, s->begin_sql))
				return;
		}
		s->unsent_head = req->send_next;
		if (s->unsent_head == NULL)
			s->unsent_tail = NULL;
		req->send_next = NULL;
		req->state = REQ_SENT;
		if (req->kind == REQ_EXEC)
		{
			if (!send_exec(c, req))
				return;
		}
		else
		{
			c->unit_end_sent = true;
			if (!send_simple(c, OP_END, req, req->kind == REQ_COMMIT ? "COMMIT" : "ROLLBACK") ||
				!send_sync(c, SYNC_END, req))
				return;
		}
	}
}

/*
 * Close the batch: a Flush request makes the server answer what has no Sync
 * after it yet (a session waiting for a SELECT before it commits), then the
 * bytes go out.  One batch is one round trip.
 */
void
pipeline_end_batch(Conn *c)
{
	if (c->state != CONN_READY)
		return;
	if (c->batch_open)
	{
		c->batch_open = false;
		if (send_failed(c, PQsendFlushRequest(c->pg)))
			return;
	}
	if (c->wrote)
	{
		c->wrote = false;
		c->engine->stats.round_trips++;
		pipeline_write(c);
	}
}

void
pipeline_write(Conn *c)
{
	int			r = PQflush(c->pg);

	if (r < 0)
		pool_conn_lost(c, BM_ERR_CONNECTION, PQerrorMessage(c->pg));
	else
		c->out_pending = (r == 1);
}

static bool
result_failed(const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	return st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE;
}

/* errors that mean the session (backend) is gone, not that a statement failed */
static bool
connection_error(PGconn *pg, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(pg) == CONNECTION_BAD)
		return true;
	/* admin or crash shutdown; class 08 is not enough (08P01: wrong parameter count) */
	return state && strncmp(state, "57P0", 4) == 0;
}

/*
 * The server no longer has the statement we ran under a cached name: after a
 * schema change it refuses the old plan ("cached plan must not change result
 * type"), or someone deallocated the name.  Forget the entry so that the next
 * execution is prepared afresh under a new name (the server keeps a stale
 * statement until the connection ends: names are never reused).  The source
 * function tells these errors from others with the same SQLSTATE, in any
 * language.  True if the entry was forgotten.
 */
static bool
forget_stale_plan(Conn *c, Request *req, const PGresult *res)
{
	const char *func = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);
	StmtEntry  *se;

	if (c->cache.capacity == 0 || func == NULL ||
		(strcmp(func, "RevalidateCachedQuery") != 0 && strcmp(func, "FetchPreparedStatement") != 0))
		return false;
	se = stmtcache_lookup(&c->cache, req->sql);
	if (se == NULL || !se->confirmed)
		return false;
	stmtcache_remove(&c->cache, se);
	return true;
}

static void
exec_answered(Conn *c, Op *op)
{
	Request    *req = op->req;
	bm_engine  *e = c->engine;
	ExecStatusType st = op->res ? PQresultStatus(op->res) : PGRES_FATAL_ERROR;

	if (request_code(req) == BM_OK)
	{
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY)
		{
			req->res = op->res;
			op->res = NULL;
		}
		else if (st == PGRES_PIPELINE_ABORTED)
		{
			if (req->session && req->session->failed_unit == req->unit && req->session->failure.message)
			{
				char		msg[512];

				snprintf(msg, sizeof(msg), NOT_RUN_MESSAGE " (%s)", req->session->failure.message);
				err_set(request_error(req), BM_ERR_ABORTED, NULL, msg, NULL, NULL);
			}
			else
				err_set(request_error(req), BM_ERR_ABORTED, NULL, NOT_RUN_MESSAGE, NULL, NULL);
		}
		else if (op->res && result_failed(op->res))
		{
			err_from_pgresult(request_error(req), op->res, e->statement_timeout_ms);
			/* an autocommit statement did nothing: run it again, prepared afresh */
			if (forget_stale_plan(c, req, op->res) && req->session == NULL &&
				req->replays < e->pool_size && req->replays < UINT8_MAX)
			{
				req->replays++;
				req->replay = true;
			}
		}
		else
			err_set(request_error(req), BM_ERR_SQL, NULL,
					"unsupported result (basemodel runs one statement at a time, without COPY)",
					NULL, NULL);
	}
	if (req->session)
	{
		if (request_code(req) != BM_OK)
			session_fail(req->session, req->err, false);
		request_done(e, req);
	}
}

static void
sync_answered(Conn *c, Op *op)
{
	bm_engine  *e = c->engine;

	switch (op->sync)
	{
		case SYNC_AUTO:
			c->nauto--;
			if (op->req->replay)
				request_replay(e, op->req);
			else
				request_done(e, op->req);
			break;
		case SYNC_END:
			request_done(e, op->req);
			/* fall through */
		case SYNC_FAIL:
			if (c->need_cleanup)
			{
				c->need_cleanup = false;
				c->send_cleanup = true;
				engine_kick(e);
			}
			else if (op->sync == SYNC_END)
				pool_release(c);
			break;
		case SYNC_CLEANUP:
			pool_release(c);
			break;
	}
}

/* what one finished query (all its results in op->res) means */
static void
op_answered(Conn *c, Op *op)
{
	bm_session *s = c->owner;
	Request    *req = op->req;
	ErrorBuf	eb = {0};

	switch (op->kind)
	{
		case OP_BEGIN:
			if (result_failed(op->res) && s)
			{
				err_from_pgresult(&eb, op->res, c->engine->statement_timeout_ms);
				session_fail(s, &eb, false);
				err_clear(&eb);
			}
			break;
		case OP_PREPARE:
			/* no stmt: a DISCARD ALL sent after the Parse dropped it */
			if (op->res && PQresultStatus(op->res) == PGRES_COMMAND_OK)
			{
				if (op->stmt)
					op->stmt->confirmed = true;
			}
			else
			{
				if (op->stmt)
					stmtcache_remove(&c->cache, op->stmt);
				if (result_failed(op->res) && request_code(req) == BM_OK)
				{
					err_from_pgresult(request_error(req), op->res, c->engine->statement_timeout_ms);
					if (req->session)
						session_fail(req->session, req->err, false);
				}
			}
			break;
		case OP_EXEC:
			exec_answered(c, op);
			break;
		case OP_END:
			if (request_code(req) != BM_OK)
				break;
			if (op->res && PQresultStatus(op->res) == PGRES_PIPELINE_ABORTED)
			{
				if (req->kind == REQ_COMMIT && s)
					err_copy(request_error(req), &s->failure);
			}
			else if (result_failed(op->res))
			{
				err_from_pgresult(request_error(req), op->res, c->engine->statement_timeout_ms);
				if (s)
					session_fail(s, req->err, false);
				/* a COMMIT that fails (a deferred check) has ended the transaction */
				if (req->kind == REQ_COMMIT)
					c->need_cleanup = false;
			}
			break;
		case OP_CLEANUP:
		case OP_DEALLOCATE:
		case OP_SYNC:
			break;
	}
}

/*
 * Read what arrived and hand each finished query to op_answered.  In
 * pipeline mode a query's results end with a NULL from PQgetResult; a Sync's
 * answer is a single PGRES_PIPELINE_SYNC.
 */
void
pipeline_read(Conn *c)
{
	bm_engine  *e = c->engine;

	if (!PQconsumeInput(c->pg))
	{
		pool_conn_lost(c, BM_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	/* bytes arriving are progress, also in the middle of a long result */
	c->progress_at = now_ms();
	c->read_this_turn = true;
	while (c->state == CONN_READY && c->ops_head && !PQisBusy(c->pg))
	{
		PGresult   *res = PQgetResult(c->pg);
		Op		   *op = c->ops_head;

		if (res && PQresultStatus(res) == PGRES_FATAL_ERROR && connection_error(c->pg, res))
		{
			char		msg[512];

			snprintf(msg, sizeof(msg), "connection lost: %s", PQresultErrorMessage(res));
			PQclear(res);
			pool_conn_lost(c, BM_ERR_CONNECTION, msg);
			return;
		}
		if (op->kind == OP_SYNC)
		{
			/*
			 * An error at the implicit commit of an autocommit statement
			 * (a deferred constraint) arrives ahead of the Sync's answer when
			 * the statement's own result was taken first, and a NULL ends it
			 * like any query's results.  Any other NULL here means libpq has
			 * nothing more for now.
			 */
			if (res == NULL)
			{
				if (op->res == NULL)
					break;
				PQclear(op->res);
				op->res = NULL;
				continue;
			}
			if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			{
				if (op->req && request_code(op->req) == BM_OK && result_failed(res))
					err_from_pgresult(request_error(op->req), res, e->statement_timeout_ms);
				PQclear(op->res);
				op->res = res;
				continue;
			}
			PQclear(res);
			op = op_pop(c);
			sync_answered(c, op);
			op_free(c, op);
			continue;
		}
		if (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC)
		{
			/* can't happen: our queue of ops and libpq's disagree */
			PQclear(res);
			pool_conn_lost(c, BM_ERR_CONNECTION, "internal error: pipeline out of step; connection dropped");
			return;
		}
		if (res != NULL)
		{
			/* keep the first result, unless a later one is an error */
			if (op->res == NULL)
				op->res = res;
			else if (result_failed(res))
			{
				PQclear(op->res);
				op->res = res;
			}
			else
				PQclear(res);
			continue;
		}
		op = op_pop(c);
		op_answered(c, op);
		op_free(c, op);
	}
	if (c->state == CONN_READY && PQstatus(c->pg) == CONNECTION_BAD)
		pool_conn_lost(c, BM_ERR_CONNECTION, PQerrorMessage(c->pg));
}
