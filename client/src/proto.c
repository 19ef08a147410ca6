/*
 * proto.c
 *	  The protocol layer of one connection in pipeline mode: what goes on the
 *	  wire for a session's unit of work or an autocommit statement (BEGIN,
 *	  automatic prepares, Sync, the cleanup after a failure, the reset before
 *	  the connection goes back to the pool), and what each answer the server
 *	  sends back means for the request it answers.
 *
 *	  No socket and no engine: messages go out through the Proto's wire
 *	  table, answers come in through proto_feed as values, and what they mean
 *	  for the layers above comes back as a ProtoEvent.  Calls util only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* what a request reports when there was no memory for its own error */
static const ErrorBuf nomem_error = {.code = BM_ERR_NOMEM};

/*
 * The request's error, made on its first failure (its answer, if any, goes:
 * a failed request has none), for err_set and friends to fill in.  NULL when
 * out of memory: the request then fails with BM_ERR_NOMEM (err_set and the
 * rest ignore a NULL).
 */
ErrorBuf *
request_error(Request *req)
{
	if (!req->failed)
	{
		PQclear(request_result(req));
		if ((req->ans.err = calloc(1, sizeof(ErrorBuf))) == NULL)
			req->ans.err = (ErrorBuf *) &nomem_error;
		req->failed = true;
	}
	return req->ans.err == &nomem_error ? NULL : req->ans.err;
}

/* the request is back to no error and no answer (sent again, or freed) */
void
request_clear_error(Request *req)
{
	if (!req->failed)
		return;
	if (req->ans.err != &nomem_error)
	{
		err_clear(req->ans.err);
		free(req->ans.err);
	}
	req->ans.res = NULL;
	req->failed = false;
}

/* the request's answer goes (a failed request keeps its error) */
void
request_clear_result(Request *req)
{
	PGresult   *res = request_result(req);

	if (res)
	{
		PQclear(res);
		req->ans.res = NULL;
	}
}

/*
 * Answer a request the server skipped, or that will never be sent, because
 * an earlier statement of its transaction failed with WHY (NULL or empty:
 * unknown).
 */
void
request_not_run(Request *req, const char *why)
{
	char		msg[512];

	if (why == NULL || why[0] == '\0')
	{
		err_set(request_error(req), BM_ERR_ABORTED, NULL, NOT_RUN_MESSAGE, NULL, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), NOT_RUN_MESSAGE " (%s)", why);
	err_set(request_error(req), BM_ERR_ABORTED, NULL, msg, NULL, NULL);
}

/* a Proto with an empty statement cache of cache_size names; -1: out of memory */
int
proto_init(Proto *p, const ProtoWire *wire, void *wire_ctx, int cache_size,
		   SqlTable *texts)
{
	memset(p, 0, sizeof(*p));
	p->wire = wire;
	p->wire_ctx = wire_ctx;
	return stmtcache_init(&p->cache, cache_size, texts);
}

/*
 * Every transaction the Proto sends (a unit, an autocommit statement) runs
 * under a statement timeout of ms (0: the server's own), set with
 * set_config(..., true) inside it: local to that transaction, it cannot
 * outlive it on a server connection that a pooler hands to other clients,
 * and needs no startup parameter (PgBouncer refuses "options").
 */
void
proto_set_statement_timeout(Proto *p, int ms)
{
	p->statement_timeout_ms = ms;
	p->timeout_sql[0] = '\0';
	if (ms > 0)
		snprintf(p->timeout_sql, sizeof(p->timeout_sql),
				 "SELECT pg_catalog.set_config('statement_timeout', '%d', true)", ms);
}

/* queue what the connection expects back; a NULL return means out of memory */
static Op *
op_push(Proto *p, OpKind kind, Request *req)
{
	Op		   *op = QUEUE_POP(&p->free_ops, Op, link);

	if (op)
	{
		p->nfree_ops--;
		memset(op, 0, sizeof(*op));
	}
	else if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->kind = kind;
	op->req = req;
	if (queue_empty(&p->ops))
		p->progress_at = now_ms();
	queue_push(&p->ops, &op->link);
	p->nops++;
	p->wrote = true;
	if (kind != OP_SYNC)
		p->batch_open = true;
	return op;
}

/* the op whose answer is due next, off the queue */
static Op *
op_pop(Proto *p)
{
	p->nops--;
	return QUEUE_POP(&p->ops, Op, link);
}

/* an op is answered: its result goes, the op is kept for reuse */
static void
op_free(Proto *p, Op *op)
{
	PQclear(op->ans.res);
	if (p->nfree_ops < OP_FREE_MAX)
	{
		queue_push_front(&p->free_ops, &op->link);
		p->nfree_ops++;
	}
	else
		free(op);
}

/* the connection is gone (or new): nothing is on the wire, nothing prepared */
void
proto_reset(Proto *p)
{
	Op		   *op;

	while ((op = QUEUE_POP(&p->ops, Op, link)) != NULL)
		op_free(p, op);
	p->nops = 0;
	stmtcache_reset(&p->cache);
	p->nauto = p->auto_open = p->nframed = 0;
	p->frame_begun = false;
	p->batch_open = p->wrote = false;
	p->seg = 0;
	p->in_unit = false;
	p->begun = p->unit_end_sent = p->unit_failed = p->commit_sent = false;
	p->need_fail_sync = p->need_cleanup = p->send_cleanup = false;
	p->copy = NULL;
	err_clear(&p->failure);
	p->dirt = p->reset_leaves = 0;
	p->reset_due = p->end_answered = false;
	err_clear(&p->reset_failure);
	p->savepoints = false;
	p->rollbacks_to = 0;
}

/* everything the Proto holds goes back to malloc */
void
proto_destroy(Proto *p)
{
	Op		   *op;

	proto_reset(p);
	while ((op = QUEUE_POP(&p->free_ops, Op, link)) != NULL)
		free(op);
	p->nfree_ops = 0;
	stmtcache_free(&p->cache);
}

/* a session's unit of work starts on this connection */
void
proto_begin_unit(Proto *p)
{
	p->in_unit = true;
	p->begun = p->unit_end_sent = p->unit_failed = p->commit_sent = false;
	p->need_fail_sync = p->need_cleanup = p->send_cleanup = false;
	p->end_answered = false;
	err_clear(&p->failure);
	p->savepoints = false;
	p->rollbacks_to = 0;
}

/* a statement with no parameters, through the unnamed statement */
static ProtoStatus
send_simple(Proto *p, OpKind kind, Request *req, const char *sql)
{
	if (op_push(p, kind, req) == NULL)
		return PROTO_NOMEM;
	return p->wire->query(p->wire_ctx, NULL, sql, 0, NULL) ? PROTO_OK : PROTO_WIRE_FAILED;
}

/* a Sync: the end of a segment of the pipeline, answered on its own */
static ProtoStatus
send_sync(Proto *p, SyncKind kind, Request *req)
{
	Op		   *op = op_push(p, OP_SYNC, req);

	if (op == NULL)
		return PROTO_NOMEM;
	op->sync = kind;
	p->batch_open = false;
	p->seg++;
	p->stats.syncs++;
	return p->wire->sync(p->wire_ctx) ? PROTO_OK : PROTO_WIRE_FAILED;
}

/*
 * The server is about to drop every statement we prepared (DISCARD ALL):
 * forget the names, including those whose Parse is still unanswered.
 */
static void
forget_statements(Proto *p)
{
	Op		   *op;

	for (op = QUEUE_HEAD(&p->ops, Op, link); op; op = QUEUE_NEXT(op, Op, link))
		op->stmt = NULL;
	stmtcache_reset(&p->cache);
}

/*
 * libpq sets single-row mode for the query it is working on, so a streamed
 * statement asks for it when it becomes the head of the queue: when it is
 * sent to an idle connection, or when the answers before it are all taken
 * (and libpq has not read any of its own).  After a failure in the unit
 * libpq has the statement's PIPELINE_ABORTED ready and refuses, rightly:
 * no row will come.  False: libpq refused otherwise.
 */
static bool
arm_head(Proto *p)
{
	Op		   *op = QUEUE_HEAD(&p->ops, Op, link);

	if (op == NULL || !op->one_row || op->armed)
		return true;
	op->armed = true;
	return p->wire->single_row(p->wire_ctx) || p->unit_failed;
}

/* values[k]: the text of the request's parameter k, NULL for SQL NULL */
void
request_param_values(const Request *req, const char **values)
{
	const char *p = request_param_text(req);
	int			k;

	for (k = 0; k < req->nparams; k++)
	{
		values[k] = request_param_set(req, k) ? p : NULL;
		if (values[k])
			p += strlen(p) + 1;
	}
}

/* a statement of at most this many parameters passes them on the stack */
#define PARAMS_ON_STACK 16

/*
 * One statement, prepared on first use.  The Parse travels in the same batch
 * as its first Bind/Execute, so a miss costs no round trip.  A statement whose
 * Parse was sent before an earlier Sync and is not confirmed yet may have
 * been skipped by an error, so it runs unnamed rather than risk a missing name.
 */
static ProtoStatus
send_exec(Proto *p, Request *req)
{
	StmtCache  *sc = &p->cache;
	bool		cacheable = sc->capacity > 0 && !sql_resets_statements(req->sql->text);
	StmtEntry  *se = cacheable ? stmtcache_lookup(sc, req->sql) : NULL;
	const char *stack_params[PARAMS_ON_STACK];
	const char **params;
	bool		sent;
	ProtoStatus st;
	Op		   *op;

	if (!cacheable && sc->count > 0)
		forget_statements(p);
	if (se && (se->confirmed || se->seg == p->seg))
		stmtcache_touch(sc, se);
	else if (se == NULL && cacheable)
	{
		StmtEntry  *victim = sc->count >= sc->capacity ? stmtcache_victim(sc) : NULL;

		if (victim)
		{
			char		sql[64];

			snprintf(sql, sizeof(sql), "DEALLOCATE %s", victim->name);
			stmtcache_remove(sc, victim);
			if ((st = send_simple(p, OP_DEALLOCATE, NULL, sql)) != PROTO_OK)
				return st;
		}
		if (sc->count < sc->capacity &&
			(se = stmtcache_add(sc, req->sql, p->seg)) != NULL)
		{
			if ((op = op_push(p, OP_PREPARE, req)) == NULL)
			{
				stmtcache_remove(sc, se);
				return PROTO_NOMEM;
			}
			op->stmt = se;
			p->stats.prepares++;
			if (!p->wire->prepare(p->wire_ctx, se->name, req->sql->text))
				return PROTO_WIRE_FAILED;
		}
	}
	else
		se = NULL;

	if ((op = op_push(p, OP_EXEC, req)) == NULL)
		return PROTO_NOMEM;
	op->one_row = req->kind == REQ_STREAM;
	req->state = REQ_SENT;
	params = req->nparams <= PARAMS_ON_STACK ? stack_params : malloc(req->nparams * sizeof(char *));
	if (params == NULL)
		return PROTO_NOMEM;
	request_param_values(req, params);
	sent = p->wire->query(p->wire_ctx, se ? se->name : NULL, req->sql->text, req->nparams, params);
	if (params != stack_params)
		free(params);
	if (!sent)
		return PROTO_WIRE_FAILED;
	return arm_head(p) ? PROTO_OK : PROTO_WIRE_FAILED;
}

/*
 * Put back what the statements sent since the last reset may have left (the
 * dirt), in a segment of its own behind everything sent so far, so that it
 * travels in the same write.  The connection takes no work until its Sync is
 * answered; a step that fails closes it (unless the unit before it failed:
 * reset_answered).  State no statement undoes (LEAVES_CLOSE) is not reset:
 * the connection is closed once idle.
 */
static ProtoStatus
send_reset(Proto *p)
{
	static const struct
	{
		uint8_t		leaves;
		const char *sql;
	}			steps[] = {
		{LEAVES_BLOCK, "ROLLBACK"},
		{LEAVES_SETTINGS, "SET SESSION AUTHORIZATION DEFAULT"},
		{LEAVES_SETTINGS, "RESET ROLE"},
		{LEAVES_SETTINGS, "RESET ALL"},
		{LEAVES_CURSORS, "CLOSE ALL"},
		{LEAVES_LISTEN, "UNLISTEN *"},
		{LEAVES_LOCKS, "SELECT pg_catalog.pg_advisory_unlock_all()"},
		{LEAVES_TEMP, "DISCARD TEMP"},
		{LEAVES_PREPARED, "DEALLOCATE ALL"},
	};
	ProtoStatus st;
	size_t		i;

	p->reset_due = false;
	if (p->dirt == 0 || (p->dirt & LEAVES_CLOSE))
		return PROTO_OK;
	/* DEALLOCATE ALL drops our statements too: the cache forgets them */
	if (p->dirt & LEAVES_PREPARED)
		forget_statements(p);
	p->reset_leaves = p->dirt;
	p->dirt = 0;
	err_clear(&p->reset_failure);
	p->stats.resets++;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((p->reset_leaves & steps[i].leaves) &&
			(st = send_simple(p, OP_RESET, NULL, steps[i].sql)) != PROTO_OK)
			return st;
	return send_sync(p, SYNC_RESET, NULL);
}

/* the batch of framed autocommit statements ends: they share this Sync */
static ProtoStatus
close_auto_batch(Proto *p)
{
	if (p->auto_open == 0)
		return PROTO_OK;
	p->auto_open = 0;
	return send_sync(p, SYNC_AUTO, NULL);
}

/*
 * An autocommit statement framed as BEGIN, the statement timeout, the
 * statement, COMMIT, with no Sync of its own: the statements of a batch
 * share one, so the server flushes once per batch instead of once per
 * statement.  Each still commits (its COMMIT) or fails on its own; an error
 * makes the server skip the rest of the batch up to the Sync, and the
 * statements it skipped are sent again (auto_end_answered).
 */
static ProtoStatus
send_framed(Proto *p, Request *req)
{
	ProtoStatus st;

	if (p->auto_open >= AUTO_BATCH_MAX && (st = close_auto_batch(p)) != PROTO_OK)
		return st;
	p->auto_open++;
	p->nframed++;
	if ((st = send_simple(p, OP_BEGIN, req, "BEGIN")) != PROTO_OK)
		return st;
	if (p->timeout_sql[0] && (st = send_simple(p, OP_TIMEOUT, req, p->timeout_sql)) != PROTO_OK)
		return st;
	if ((st = send_exec(p, req)) != PROTO_OK)
		return st;
	return send_simple(p, OP_AUTO_END, req, "COMMIT");
}

/*
 * One autocommit statement.  When more follow in the same write (more), or
 * framed statements are on the wire, a frameable statement is framed and
 * joins the batch (send_framed).  Otherwise it runs in its own implicit
 * transaction, ended by a Sync, with the statement timeout set first in the
 * same transaction (except for a statement that must run alone in it,
 * VACUUM, which then runs without), and the reset behind it when it may
 * leave state.  A statement that is not frameable goes only where
 * proto_takes_unframed.  On failure the connection must go; req may then not
 * be on the wire.
 */
ProtoStatus
proto_send_auto(Proto *p, Request *req, bool more)
{
	ProtoStatus st;

	p->nauto++;
	if ((more || p->nframed > 0) && request_frameable(req))
		return send_framed(p, req);
	if ((st = close_auto_batch(p)) != PROTO_OK)
		return st;
	if (p->timeout_sql[0] && !sql_runs_alone(req->sql->text) &&
		(st = send_simple(p, OP_TIMEOUT, req, p->timeout_sql)) != PROTO_OK)
		return st;
	p->dirt |= req->sql->leaves;
	if ((st = send_exec(p, req)) != PROTO_OK)
		return st;
	if ((st = send_sync(p, SYNC_AUTO, req)) != PROTO_OK)
		return st;
	return send_reset(p);
}

/*
 * After a failure in the unit: the Sync that ends the aborted pipeline, the
 * ROLLBACK and the reset behind it.  And a reset that is due (found needed
 * once the connection was idle).
 */
ProtoStatus
proto_send_cleanup(Proto *p)
{
	ProtoStatus st;

	if (p->need_fail_sync)
	{
		p->need_fail_sync = false;
		if ((st = send_sync(p, SYNC_FAIL, NULL)) != PROTO_OK)
			return st;
	}
	if (p->send_cleanup)
	{
		p->send_cleanup = false;
		if ((st = send_simple(p, OP_CLEANUP, NULL, "ROLLBACK")) != PROTO_OK)
			return st;
		if ((st = send_sync(p, SYNC_CLEANUP, NULL)) != PROTO_OK)
			return st;
		return send_reset(p);
	}
	return p->reset_due ? send_reset(p) : PROTO_OK;
}

/* the unit's BEGIN, and its statement timeout, before its first request */
ProtoStatus
proto_send_begin(Proto *p, const char *begin_sql)
{
	ProtoStatus st;

	if (p->begun)
		return PROTO_OK;
	p->begun = true;
	/* a failure in the unit must not skip autocommit statements, nor theirs the unit */
	if ((st = close_auto_batch(p)) != PROTO_OK)
		return st;
	if ((st = send_simple(p, OP_BEGIN, NULL, begin_sql)) != PROTO_OK || !p->timeout_sql[0])
		return st;
	return send_simple(p, OP_TIMEOUT, NULL, p->timeout_sql);
}

/*
 * A request of a unit that failed after a SAVEPOINT, with its end and no
 * ROLLBACK TO on the wire: the server skips everything up to the next Sync,
 * and only a ROLLBACK TO (sent normally) can make the unit usable again.
 * Anything else is answered here: a statement as not run; the end of the
 * unit with the failure (a rollback with success), closing the aborted
 * pipeline with a Sync after which the cleanup ROLLBACK goes.  The caller
 * finds req done.
 */
static ProtoStatus
answer_suspended(Proto *p, Request *req)
{
	req->state = REQ_DONE;
	switch (req->kind)
	{
		case REQ_COMMIT:
			err_copy(request_error(req), &p->failure);
			/* fall through */
		case REQ_ROLLBACK:
			p->unit_end_sent = true;
			p->need_cleanup = true;
			return send_sync(p, SYNC_FAIL, NULL);
		default:
			request_not_run(req, p->failure.message);
			return PROTO_OK;
	}
}

/*
 * One request of the unit: a statement, a savepoint command, or the
 * COMMIT/ROLLBACK that ends it (with the reset behind it when the unit's
 * statements may leave state), or a COPY.  A ROLLBACK TO goes after a Sync
 * of its own, so that an error before it makes the server skip only up to
 * there: the statements after it run whether or not something before it
 * failed, in the same round trip.  libpq runs no COPY in pipeline mode, so a
 * COPY starts as a Sync (the transaction stays open): once it is answered,
 * so is everything before, and the connection can leave pipeline mode (the
 * event copy_due).  Nothing more is sent until the COPY is over.
 */
ProtoStatus
proto_send_unit(Proto *p, Request *req)
{
	ProtoStatus st;

	req->state = REQ_SENT;
	if (p->unit_failed && !p->unit_end_sent && p->rollbacks_to == 0 && req->kind != REQ_ROLLBACK_TO)
		return answer_suspended(p, req);
	if (req->kind == REQ_EXEC || req->kind == REQ_STREAM)
	{
		p->dirt |= req->sql->leaves;
		return send_exec(p, req);
	}
	if (request_is_copy(req))
	{
		p->copy = req;
		return send_sync(p, SYNC_COPY, req);
	}
	switch (req->kind)
	{
		case REQ_SAVEPOINT:
			p->savepoints = true;
			return send_simple(p, OP_SAVEPOINT, req, req->sql->text);
		case REQ_ROLLBACK_TO:
			p->rollbacks_to++;
			if ((st = send_sync(p, SYNC_SAVEPOINT, NULL)) != PROTO_OK)
				return st;
			return send_simple(p, OP_SAVEPOINT, req, req->sql->text);
		case REQ_RELEASE:
			return send_simple(p, OP_SAVEPOINT, req, req->sql->text);
		default:
			break;
	}
	p->unit_end_sent = true;
	if ((st = send_simple(p, OP_END, req, req->kind == REQ_COMMIT ? "COMMIT" : "ROLLBACK")) != PROTO_OK)
		return st;
	/* the server runs a COMMIT as soon as it reads it, Sync or not */
	p->commit_sent = req->kind == REQ_COMMIT;
	if ((st = send_sync(p, SYNC_END, req)) != PROTO_OK)
		return st;
	return send_reset(p);
}

/*
 * The COPY, out of pipeline mode now: its statement alone, ended by libpq's
 * own Sync (the answers to it come as for any query, the data in between
 * through the pool).
 */
ProtoStatus
proto_send_copy(Proto *p)
{
	Request    *req = p->copy;

	if (op_push(p, OP_COPY, req) == NULL)
		return PROTO_NOMEM;
	/* no Flush message: outside pipeline mode libpq ends the query with a Sync */
	p->batch_open = false;
	p->seg++;
	return p->wire->query(p->wire_ctx, NULL, req->sql->text, 0, NULL) ? PROTO_OK : PROTO_WIRE_FAILED;
}

/*
 * Close the batch: the Sync of the framed autocommit statements, or a Flush
 * request that makes the server answer what has no Sync after it yet (a
 * session waiting for a SELECT before it commits).  *write: the batch has
 * bytes to write (one batch is one round trip).
 */
ProtoStatus
proto_end_batch(Proto *p, bool *write)
{
	ProtoStatus st;

	*write = false;
	if ((st = close_auto_batch(p)) != PROTO_OK)
		return st;
	if (p->batch_open)
	{
		p->batch_open = false;
		if (!p->wire->flush(p->wire_ctx))
			return PROTO_WIRE_FAILED;
	}
	if (p->wrote)
	{
		p->wrote = false;
		p->stats.round_trips++;
		*write = true;
	}
	return PROTO_OK;
}

/* the op's query failed, or ended without any result */
static bool
op_failed(const Op *op)
{
	return !op->answered || status_failed(op->ans.status);
}

/*
 * A failed statement's error.  A cancel by our own statement_timeout (set on
 * the server from the engine's option) is a timeout, not an SQL error.
 */
static void
answer_error(const Proto *p, ErrorBuf *eb, const Answer *a)
{
	const char *msg = a->message;
	int			code = BM_ERR_SQL;

	if (msg == NULL || *msg == '\0')
		msg = "statement failed";
	if (p->statement_timeout_ms > 0 && a->sqlstate && strcmp(a->sqlstate, "57014") == 0 &&
		strstr(msg, "statement timeout") != NULL)
		code = BM_ERR_TIMEOUT;
	err_set(eb, code, a->sqlstate, msg, a->detail, a->hint);
	err_set_fields(eb, a->schema_name, a->table_name, a->column_name, a->constraint_name,
				   a->position ? atoi(a->position) : 0);
}

static void unit_abandon(Proto *p, ProtoEvent *ev);

/*
 * The unit on the wire failed (first time only): the pipeline after the
 * failure is aborted, so it needs its own Sync unless the unit's end was
 * sent, then a ROLLBACK.  The event tells the session.  A unit that has
 * sent a SAVEPOINT and not its end waits instead: the session's next
 * requests may roll back to it (proto_send_unit answers the others).
 */
static void
unit_fail(Proto *p, const ErrorBuf *why, ProtoEvent *ev)
{
	if (!p->in_unit || p->unit_failed)
		return;
	p->unit_failed = true;
	err_copy(&p->failure, why);
	unit_abandon(p, ev);
}

/*
 * The failed unit ends: the Sync and the ROLLBACK that clean up are due, and
 * the session hears of it.  Not yet while a ROLLBACK TO may still make it
 * usable: one on the wire, or one the session may queue next (a SAVEPOINT
 * was sent and the unit's end was not).
 */
static void
unit_abandon(Proto *p, ProtoEvent *ev)
{
	if (p->rollbacks_to > 0 || (p->savepoints && !p->unit_end_sent))
		return;
	if (!p->unit_end_sent)
	{
		p->unit_end_sent = true;
		p->need_fail_sync = true;
	}
	p->need_cleanup = true;
	ev->unit_failed = true;
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
forget_stale_plan(Proto *p, Request *req, const Answer *a)
{
	StmtEntry  *se;

	if (p->cache.capacity == 0 || a->source == NULL ||
		(strcmp(a->source, "RevalidateCachedQuery") != 0 &&
		 strcmp(a->source, "FetchPreparedStatement") != 0))
		return false;
	se = stmtcache_lookup(&p->cache, req->sql);
	if (se == NULL || !se->confirmed)
		return false;
	stmtcache_remove(&p->cache, se);
	return true;
}

/*
 * The server's error for a wrong number of parameters names the prepared
 * statement ("bind message supplies 1 parameters, but prepared statement
 * \"bm_2\" requires 0"): the name is ours, not the caller's, so say it in
 * the caller's terms.  Told by the function that raised it, in any language;
 * the count the statement takes is read from an English message only.
 */
static void
explain_parameter_count(Request *req, const Answer *a)
{
	char		msg[160];
	const char *requires;
	int			given,
				takes;

	if (a->source == NULL || strcmp(a->source, "exec_bind_message") != 0 ||
		a->sqlstate == NULL || strcmp(a->sqlstate, "08P01") != 0 ||
		a->message == NULL)
		return;
	requires = strstr(a->message, "\" requires ");
	if (sscanf(a->message, "bind message supplies %d parameters", &given) == 1 &&
		requires && sscanf(requires, "\" requires %d", &takes) == 1)
		snprintf(msg, sizeof(msg), "the statement takes %d parameters, but %d were given (nparams)",
				 takes, (int) req->nparams);
	else
		snprintf(msg, sizeof(msg), "the statement takes another number of parameters than the %d given (nparams)",
				 (int) req->nparams);
	err_set(request_error(req), BM_ERR_SQL, a->sqlstate, msg, a->detail, a->hint);
}

/*
 * A ROLLBACK TO that ran after the unit failed: the transaction is usable
 * again, and whatever follows it (the commit included) runs as if nothing
 * had failed.
 */
static void
unit_recover(Proto *p)
{
	p->unit_failed = false;
	p->need_cleanup = false;
	err_clear(&p->failure);
}

/* a SAVEPOINT, ROLLBACK TO or RELEASE is answered */
static void
savepoint_answered(Proto *p, Op *op, ProtoEvent *ev)
{
	Request    *req = op->req;

	if (req->kind == REQ_ROLLBACK_TO)
		p->rollbacks_to--;
	if (op->answered && op->ans.status == PGRES_PIPELINE_ABORTED)
		request_not_run(req, p->unit_failed ? p->failure.message : NULL);
	else if (op_failed(op))
	{
		answer_error(p, request_error(req), &op->ans);
		unit_fail(p, request_failure(req), ev);
	}
	else if (req->kind == REQ_ROLLBACK_TO && p->unit_failed)
		unit_recover(p);
	/* a ROLLBACK TO that did not recover the failed unit: it may end now */
	if (req->kind == REQ_ROLLBACK_TO && p->unit_failed)
		unit_abandon(p, ev);
	ev->done = req;
}

/*
 * The COMMIT of a framed autocommit statement is answered: the statement is
 * over.  It committed, or failed (at its COMMIT too: a deferred constraint,
 * which ends the transaction), or did not run at all, skipped by the server
 * after an earlier statement failed: then it goes again, as does one with a
 * stale plan.  A failure before the COMMIT leaves the transaction block
 * aborted: the connection takes no work until the reset's ROLLBACK ends it,
 * and what was sent behind it is skipped and goes again.
 */
static void
auto_end_answered(Proto *p, Op *op, ProtoEvent *ev)
{
	Request    *req = op->req;
	bool		skipped = op->answered && op->ans.status == PGRES_PIPELINE_ABORTED;

	p->nauto--;
	p->nframed--;
	/*
	 * Its BEGIN ran and its COMMIT did not (the statement failed, or a
	 * DEALLOCATE of ours before it): the block stays aborted until the
	 * reset's ROLLBACK.
	 */
	if (skipped && (p->frame_begun || request_code(req) != BM_OK))
		p->dirt |= LEAVES_BLOCK;
	p->frame_begun = false;
	if (request_code(req) == BM_OK && skipped)
		req->replay = true;
	else if (request_code(req) == BM_OK && op_failed(op))
		answer_error(p, request_error(req), &op->ans);
	if (req->replay)
	{
		request_clear_result(req);
		ev->replay = req;
	}
	else
		ev->done = req;
}

/* a statement's results are all in: its request's answer or error */
static void
exec_answered(Proto *p, Op *op, ProtoEvent *ev)
{
	Request    *req = op->req;
	ExecStatusType st = op->answered ? op->ans.status : PGRES_FATAL_ERROR;

	if (request_code(req) == BM_OK)
	{
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY)
		{
			request_set_result(req, op->ans.res);
			op->ans.res = NULL;
		}
		else if (st == PGRES_PIPELINE_ABORTED)
		{
			/*
			 * An autocommit statement skipped (framed, behind another's
			 * failure; or behind a failed DEALLOCATE of ours) did nothing:
			 * it goes again.
			 */
			if (req->session)
				request_not_run(req, p->unit_failed ? p->failure.message : NULL);
			else
				req->replay = true;
		}
		else if (op->answered && status_failed(st))
		{
			answer_error(p, request_error(req), &op->ans);
			explain_parameter_count(req, &op->ans);
			/* an autocommit statement did nothing: run it again, prepared afresh */
			if (forget_stale_plan(p, req, &op->ans) && req->session == NULL &&
				req->replays < p->max_replays && req->replays < UINT8_MAX)
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
			unit_fail(p, request_failure(req), ev);
		ev->done = req;
	}
}

/* the unit is over on the wire: the connection is free for other work */
static void
unit_over(Proto *p, ProtoEvent *ev)
{
	p->in_unit = false;
	ev->unit_over = true;
}

/* the connection is closed instead of going back to the pool, why says why */
static void
close_on_release(Proto *p, ProtoEvent *ev, const char *why)
{
	if (p->in_unit)
		unit_over(p, ev);
	ev->lost = BM_ERR_CONNECTION;
	ev->lost_message = why;
}

/*
 * An answer that may leave the connection idle: once nothing is on the wire
 * (and the unit holding it, if any, has ended), what its statements may have
 * left is reset first, or the connection is closed when no reset undoes it;
 * else it goes back to the pool.  after_reset: a reset was just answered, so
 * the engine learns that the connection takes work again.
 */
static void
release(Proto *p, ProtoEvent *ev, bool after_reset)
{
	if (p->nops > 0 || (p->in_unit && !p->end_answered))
		return;
	if (p->dirt & LEAVES_CLOSE)
		close_on_release(p, ev, "connection closed instead of going back to the pool: "
						 "a statement left state that no reset undoes (dblink, LOAD)");
	else if (p->dirt)
	{
		p->reset_due = true;
		ev->cleanup_due = true;
	}
	else if (p->in_unit || after_reset)
		unit_over(p, ev);
}

/* the unit's last answer is in: it is over once the connection is reset */
static void
unit_end(Proto *p, ProtoEvent *ev)
{
	p->end_answered = true;
	release(p, ev, false);
}

/*
 * The reset's Sync is answered.  Behind a unit that failed before its end,
 * the reset met the aborted transaction block and did nothing: it goes again
 * behind the cleanup ROLLBACK (a round trip the failure costs anyway).
 * Otherwise a step that failed, or settings the server still reports changed
 * after they were reset, close the connection: it is never handed on dirty.
 */
static void
reset_answered(Proto *p, ProtoEvent *ev)
{
	uint8_t		covered = p->reset_leaves;

	p->reset_leaves = 0;
	if (p->reset_failure.code != BM_OK && p->in_unit && p->unit_failed && !p->end_answered)
	{
		p->dirt |= covered;
		err_clear(&p->reset_failure);
	}
	else if (p->reset_failure.code != BM_OK)
		close_on_release(p, ev, p->reset_failure.message);
	else if ((covered & LEAVES_SETTINGS) && (p->dirt & LEAVES_SETTINGS))
		close_on_release(p, ev, "connection closed instead of going back to the pool: "
						 "the server reports changed settings after they were reset");
	else
		release(p, ev, true);
}

/* a Sync's answer: what it ended is over */
static void
sync_answered(Proto *p, Op *op, ProtoEvent *ev)
{
	switch (op->sync)
	{
		case SYNC_AUTO:
			/* a statement sent alone is answered here; a batch's were at their COMMIT */
			if (op->req)
			{
				p->nauto--;
				if (op->req->replay)
					ev->replay = op->req;
				else
					ev->done = op->req;
			}
			release(p, ev, false);
			break;
		case SYNC_END:
			ev->done = op->req;
			/* fall through */
		case SYNC_FAIL:
			if (p->need_cleanup)
			{
				p->need_cleanup = false;
				p->send_cleanup = true;
				ev->cleanup_due = true;
			}
			else if (op->sync == SYNC_END)
				unit_end(p, ev);
			break;
		case SYNC_CLEANUP:
			unit_end(p, ev);
			break;
		case SYNC_RESET:
			reset_answered(p, ev);
			break;
		case SYNC_COPY:
			if (p->unit_failed)
			{
				request_not_run(op->req, p->failure.message);
				ev->done = op->req;
				p->copy = NULL;
			}
			else
				ev->copy_due = op->req;
			break;
		case SYNC_SAVEPOINT:
			break;
	}
}

/* a step of the reset is answered: the first that did not succeed is kept */
static void
reset_step_answered(Proto *p, const Op *op)
{
	char		msg[600];

	if (p->reset_failure.code != BM_OK ||
		(op->answered && (op->ans.status == PGRES_COMMAND_OK || op->ans.status == PGRES_TUPLES_OK)))
		return;
	snprintf(msg, sizeof(msg), "connection closed instead of going back to the pool: its reset failed: %s",
			 op->answered && op->ans.message ? op->ans.message : "no answer");
	err_set(&p->reset_failure, BM_ERR_CONNECTION, op->answered ? op->ans.sqlstate : NULL, msg, NULL, NULL);
}

/* what one finished query (all its results in op->ans) means */
static void
op_answered(Proto *p, Op *op, ProtoEvent *ev)
{
	Request    *req = op->req;
	ErrorBuf	eb = {0};

	switch (op->kind)
	{
		case OP_TIMEOUT:
			/* an autocommit statement's fails it; a unit's fails the unit */
			if (op_failed(op) && req && request_code(req) == BM_OK)
			{
				answer_error(p, request_error(req), &op->ans);
				break;
			}
			/* fall through */
		case OP_BEGIN:
			/*
			 * A framed autocommit statement's BEGIN fails only behind one
			 * that failed (25P02): it goes again once the block is rolled
			 * back.  Otherwise its error is the statement's.
			 */
			if (op->kind == OP_BEGIN && req)
				p->frame_begun = op->answered && op->ans.status == PGRES_COMMAND_OK;
			if (op_failed(op) && req && request_code(req) == BM_OK && !(p->dirt & LEAVES_BLOCK))
				answer_error(p, request_error(req), &op->ans);
			else if (op_failed(op) && p->in_unit)
			{
				answer_error(p, &eb, &op->ans);
				unit_fail(p, &eb, ev);
				err_clear(&eb);
			}
			break;
		case OP_PREPARE:
			/* no stmt: a DISCARD ALL sent after the Parse dropped it */
			if (op->answered && op->ans.status == PGRES_COMMAND_OK)
			{
				if (op->stmt)
					op->stmt->confirmed = true;
			}
			else
			{
				if (op->stmt)
					stmtcache_remove(&p->cache, op->stmt);
				if (op_failed(op) && request_code(req) == BM_OK)
				{
					answer_error(p, request_error(req), &op->ans);
					if (req->session)
						unit_fail(p, request_failure(req), ev);
				}
			}
			break;
		case OP_EXEC:
			exec_answered(p, op, ev);
			break;
		case OP_COPY:
			exec_answered(p, op, ev);
			p->copy = NULL;
			ev->copy_over = true;
			break;
		case OP_SAVEPOINT:
			savepoint_answered(p, op, ev);
			break;
		case OP_END:
			if (request_code(req) != BM_OK)
				break;
			if (op->answered && op->ans.status == PGRES_PIPELINE_ABORTED)
			{
				if (req->kind == REQ_COMMIT && p->in_unit)
					err_copy(request_error(req), &p->failure);
			}
			else if (op_failed(op))
			{
				answer_error(p, request_error(req), &op->ans);
				unit_fail(p, request_failure(req), ev);
				/* a COMMIT that fails (a deferred check) has ended the transaction */
				if (req->kind == REQ_COMMIT)
					p->need_cleanup = false;
			}
			break;
		case OP_AUTO_END:
			auto_end_answered(p, op, ev);
			break;
		case OP_RESET:
			reset_step_answered(p, op);
			break;
		case OP_CLEANUP:
		case OP_DEALLOCATE:
		case OP_SYNC:
			break;
	}
}

/* after an op is answered: arm the next if it streams; true (proto_feed's answer) */
static bool
arm_or_lose(Proto *p, ProtoEvent *ev)
{
	if (!arm_head(p))
	{
		ev->lost = BM_ERR_CONNECTION;
		ev->lost_message = "internal error: libpq refused single-row mode for a streamed statement; connection dropped";
	}
	return true;
}

/*
 * One answer, in the order the server sends them: a result of the query at
 * the head of the queue, or (a NULL) the end of that query's results, or a
 * Sync's answer.  *ev says what it did.  False: nothing was taken (a NULL
 * that ends nothing: wait for more input).
 */
bool
proto_feed(Proto *p, const Answer *a, ProtoEvent *ev)
{
	Op		   *op = QUEUE_HEAD(&p->ops, Op, link);

	memset(ev, 0, sizeof(*ev));
	if (op == NULL || (a && op->kind != OP_SYNC && a->status == PGRES_PIPELINE_SYNC))
	{
		if (a == NULL)
			return false;
		/* can't happen: our queue of ops and libpq's disagree */
		PQclear(a->res);
		ev->lost = BM_ERR_CONNECTION;
		ev->lost_message = "internal error: pipeline out of step; connection dropped";
		return true;
	}
	if (op->kind == OP_SYNC)
	{
		/*
		 * An error at the implicit commit of an autocommit statement (a
		 * deferred constraint) arrives ahead of the Sync's answer when the
		 * statement's own result was taken first, and a NULL ends it like any
		 * query's results.  Any other NULL here means nothing more for now.
		 */
		if (a == NULL)
		{
			if (!op->answered)
				return false;
			PQclear(op->ans.res);
			memset(&op->ans, 0, sizeof(op->ans));
			op->answered = false;
			return true;
		}
		if (a->status != PGRES_PIPELINE_SYNC)
		{
			if (op->req && request_code(op->req) == BM_OK && status_failed(a->status))
				answer_error(p, request_error(op->req), a);
			PQclear(op->ans.res);
			op->ans = *a;
			op->answered = true;
			return true;
		}
		PQclear(a->res);
		if (a->settings_changed)
			p->dirt |= LEAVES_SETTINGS;
		op = op_pop(p);
		sync_answered(p, op, ev);
		op_free(p, op);
		return arm_or_lose(p, ev);
	}
	if (a != NULL && a->status == PGRES_SINGLE_TUPLE && op->one_row)
	{
		ev->row_of = op->req;
		ev->row = a->res;
		return true;
	}
	if (a != NULL)
	{
		/* keep the first result, unless a later one is an error */
		if (!op->answered)
		{
			op->ans = *a;
			op->answered = true;
		}
		else if (status_failed(a->status))
		{
			PQclear(op->ans.res);
			op->ans = *a;
		}
		else
			PQclear(a->res);
		return true;
	}
	op = op_pop(p);
	op_answered(p, op, ev);
	op_free(p, op);
	return arm_or_lose(p, ev);
}

/*
 * The connection is lost: the next request on the wire that has no answer
 * yet, for the caller to fail (or send again), NULL when there are no more.
 * The ops go, the rest of that request's with it (they follow it, with ops
 * of no request among them: a DEALLOCATE), so that it is handed out once.
 */
Request *
proto_take_unanswered(Proto *p)
{
	Op		   *op;

	Request    *req;

	while ((op = QUEUE_POP(&p->ops, Op, link)) != NULL)
	{
		req = op->req;
		p->nops--;
		op_free(p, op);
		if (req == NULL || req->state == REQ_DONE)
			continue;
		while ((op = QUEUE_HEAD(&p->ops, Op, link)) != NULL && (op->req == req || op->req == NULL))
		{
			queue_pop(&p->ops);
			p->nops--;
			op_free(p, op);
		}
		return req;
	}
	/* a COPY between its Sync's answer and its own op */
	req = p->copy;
	p->copy = NULL;
	return (req && req->state != REQ_DONE) ? req : NULL;
}

/*
 * An autocommit statement still unanswered on a connection lost after a
 * framed statement failed before its COMMIT (LEAVES_BLOCK): the server
 * skips everything up to the ROLLBACK that was never sent, so it did not
 * run and may go again.
 */
bool
proto_lost_skipped(const Proto *p, const Request *req)
{
	return req->session == NULL && (p->dirt & LEAVES_BLOCK) != 0;
}

/* the unit failed, and no ROLLBACK TO on the wire can make it usable again */
static bool
unit_failed_for_good(const Proto *p)
{
	return p->unit_failed && p->rollbacks_to == 0;
}

/*
 * The code a request still unanswered gets when its connection is lost with
 * `code` (a connection failure, the silence guard, the engine's free).  What
 * may have committed says so: an autocommit statement on the wire, and every
 * request of a unit whose COMMIT was sent, unless the unit had failed for
 * good first (the server then rolls it back; a ROLLBACK TO on the wire may
 * recover it, and the COMMIT behind it then runs).  A ROLLBACK on the wire
 * succeeds: the transaction cannot commit any more.  Anything else surely
 * did not commit and keeps `code`.
 */
int
proto_lost_code(const Proto *p, const Request *req, int code)
{
	if (req->kind == REQ_ROLLBACK && req->state == REQ_SENT)
		return BM_OK;
	if (req->state != REQ_SENT)
		return code;
	if (req->session == NULL || (p->commit_sent && !unit_failed_for_good(p)))
		return BM_ERR_OUTCOME_UNKNOWN;
	return code;
}

/*
 * A request still unanswered of a unit that had failed for good when its
 * connection was lost gets what its answer would have said: the COMMIT the
 * unit's failure, a statement "not run".  Whatever else the connection's
 * loss would say, the server could not run them.  false: not such a request
 * (a ROLLBACK among them: proto_lost_code answers it).
 */
bool
proto_answer_lost_in_failed_unit(Proto *p, Request *req)
{
	if (req->session == NULL || req->state != REQ_SENT || !p->in_unit ||
		!unit_failed_for_good(p) || req->kind == REQ_ROLLBACK)
		return false;
	if (req->kind == REQ_COMMIT)
		err_copy(request_error(req), &p->failure);
	else
		request_not_run(req, p->failure.message);
	return true;
}
