/*
 * proto.h
 *	  The protocol layer: one connection's state in pipeline mode, with no
 *	  socket and no engine.  A Proto sends through a table of wire functions
 *	  (ProtoWire: libpq's in pool.c, a fake in the unit tests), is handed
 *	  each answer as a value (Answer), and says what happened in an event
 *	  record (ProtoEvent) that the engine applies.  It calls only util.h.
 *
 *	  Requests are defined here because this is the lowest layer that reads
 *	  them: proto fills in a request's answer or error; the layers above
 *	  queue it (its links) and call it back.
 */
#ifndef BM_PROTO_H
#define BM_PROTO_H

#include "util.h"

typedef enum ReqKind
{
	REQ_EXEC,
	REQ_COMMIT,
	REQ_ROLLBACK,
	REQ_STREAM,					/* a statement whose rows come one by one */
	REQ_COPY_IN,				/* COPY ... FROM STDIN */
	REQ_COPY_OUT,				/* COPY ... TO STDOUT */
	REQ_ROW,					/* one row of a REQ_STREAM, delivered on its own */
	REQ_SAVEPOINT,				/* SAVEPOINT, ROLLBACK TO, RELEASE: sql holds the command */
	REQ_ROLLBACK_TO,
	REQ_RELEASE
} ReqKind;

typedef enum ReqState
{
	REQ_QUEUED,					/* accepted, not on the wire */
	REQ_SENT,					/* on the wire */
	REQ_DONE					/* answered; waits for its turn to call back */
} ReqState;

/*
 * Thousands may wait at once (every statement of every session opened ahead
 * of its connection), so a request is kept small: 56 bytes, then its
 * parameters, packed, in the same allocation (REQUEST_PARAM_BITS).
 */
typedef struct Request
{
	QLink		link;			/* owner's FIFO, then the ready list */
	bm_session *session;		/* NULL: autocommit (bm_engine_execute); proto only tests it */
	SqlText    *sql;			/* interned; holds a reference; NULL for an end */
	union
	{
		bm_result_cb result;	/* REQ_EXEC */
		bm_done_cb	done;		/* every other kind */
	}			cb;				/* NULL: none (an end the library queued itself) */
	void	   *arg;

	/*
	 * A request waits on its owner's queue of unsent requests only before it
	 * is sent or answered, so that link shares memory with the answer: a
	 * request is taken off the queue (queue_pop leaves ans.res NULL) before
	 * anything answers it.
	 */
	union
	{
		QLink		send_link;	/* owner's queue of unsent requests */
		union
		{
			PGresult   *res;	/* failed false: the answer, NULL until there is one */
			struct ErrorBuf *err;	/* failed true: what failed it */
		}			ans;		/* read through request_result and request_failure */
	};
	uint32_t	unit;			/* session's unit of work it belongs to, its low 32 bits */
	uint16_t	nparams;
	uint8_t		kind:4;			/* ReqKind */
	uint8_t		state:2;		/* ReqState */
	bool		replay:1;		/* autocommit: send again (a stale plan) once answered */
	bool		failed:1;		/* it failed (request_error): ans holds the error */
	uint8_t		replays;		/* times it was sent again */
} Request;

_Static_assert(REQ_RELEASE < 16 && REQ_DONE < 4, "ReqKind and ReqState fit Request's bit fields");

/*
 * A request's parameters follow it: a bit for each that is not NULL
 * ((nparams + 7) / 8 bytes), then the text of each of those with its NUL,
 * in order (request_param_values reads them).
 */
#define REQUEST_PARAM_BITS(req) ((uint8_t *) ((req) + 1))

/* where the request's parameters' text starts */
static inline char *
request_param_text(const Request *req)
{
	return (char *) REQUEST_PARAM_BITS(req) + (req->nparams + 7) / 8;
}

/* parameter k of the request is not NULL */
static inline bool
request_param_set(const Request *req, int k)
{
	return (REQUEST_PARAM_BITS(req)[k / 8] >> (k % 8)) & 1;
}

/* a COPY's side of the data, after its request (which has no parameters) */
typedef struct CopyIO
{
	bm_copy_read_cb read;		/* REQ_COPY_IN */
	bm_copy_write_cb write;		/* REQ_COPY_OUT */
	void	   *arg;
	bool		aborted;		/* read or write said -1 (or the direction was wrong) */
} CopyIO;

#define REQUEST_COPY(req) ((CopyIO *) ((req) + 1))

/* the request's callback takes a result (a statement, a row, a COPY), not a done */
static inline bool
request_has_result(const Request *req)
{
	return req->kind != REQ_COMMIT && req->kind != REQ_ROLLBACK && req->kind != REQ_SAVEPOINT &&
		req->kind != REQ_ROLLBACK_TO && req->kind != REQ_RELEASE;
}

/* the request is a COPY (it leaves pipeline mode for its data) */
static inline bool
request_is_copy(const Request *req)
{
	return req->kind == REQ_COPY_IN || req->kind == REQ_COPY_OUT;
}

/* what failed the request, NULL while it has not failed */
static inline const ErrorBuf *
request_failure(const Request *req)
{
	return req->failed ? req->ans.err : NULL;
}

/* the request's answer, NULL when it failed, has none or waits to be sent */
static inline PGresult *
request_result(const Request *req)
{
	return req->failed || req->state == REQ_QUEUED ? NULL : req->ans.res;
}

/* the request's answer is res (it has not failed) */
static inline void
request_set_result(Request *req, PGresult *res)
{
	req->ans.res = res;
}

/* BM_OK, or the code of what failed the request */
static inline int
request_code(const Request *req)
{
	return req->failed ? req->ans.err->code : BM_OK;
}

/* a request of a failed unit that never ran (proto and session both answer such) */
#define NOT_RUN_MESSAGE "statement not run: an earlier statement of the transaction failed"

extern ErrorBuf *request_error(Request *req);
extern void request_clear_error(Request *req);
extern void request_clear_result(Request *req);
extern void request_not_run(Request *req, const char *why);
extern void request_param_values(const Request *req, const char **values);

/*
 * One answer from the server, as values: its status, the error fields that
 * matter (pointing into res, or anywhere that outlives the answer), and the
 * PGresult itself, which the Proto takes over (NULL is allowed).
 */
typedef struct Answer
{
	ExecStatusType status;
	const char *sqlstate;
	const char *message;		/* the primary message, or libpq's whole one */
	const char *detail;
	const char *hint;
	const char *source;			/* the server function that raised the error */
	PGresult   *res;
	bool		settings_changed;	/* a Sync's answer: the server reports settings
									 * unlike the connection's first */
	const char *schema_name;	/* the fields naming what the error is about */
	const char *table_name;
	const char *column_name;
	const char *constraint_name;
	const char *position;		/* decimal text, as the server sends it */
} Answer;

/* how a Proto puts messages on the wire; each returns false when it failed */
typedef struct ProtoWire
{
	bool		(*prepare) (void *ctx, const char *name, const char *sql);
	/* name NULL: the unnamed statement, parsed with the query */
	bool		(*query) (void *ctx, const char *name, const char *sql,
						  int nparams, const char *const *params);
	bool		(*sync) (void *ctx);
	bool		(*flush) (void *ctx);
	/* the query now current in libpq returns its rows one result each */
	bool		(*single_row) (void *ctx);
} ProtoWire;

/* ops: what a connection expects back, in order */
typedef enum OpKind
{
	OP_BEGIN,
	OP_PREPARE,
	OP_EXEC,
	OP_END,						/* COMMIT or ROLLBACK of a session */
	OP_CLEANUP,					/* ROLLBACK after a failure */
	OP_DEALLOCATE,
	OP_SYNC,
	OP_COPY,					/* a COPY, sent outside pipeline mode */
	OP_RESET,					/* a step of the reset on release */
	OP_TIMEOUT,					/* the statement timeout, local to the transaction */
	OP_SAVEPOINT,				/* SAVEPOINT, ROLLBACK TO or RELEASE of a session */
	OP_AUTO_END					/* the COMMIT of an autocommit statement framed in a batch */
} OpKind;

typedef enum SyncKind
{
	SYNC_AUTO,					/* ends one autocommit statement (req) or a batch of framed ones */
	SYNC_END,					/* ends a session's unit (after COMMIT/ROLLBACK) */
	SYNC_FAIL,					/* ends the aborted pipeline after a failure */
	SYNC_CLEANUP,				/* ends the cleanup ROLLBACK */
	SYNC_COPY,					/* before a COPY: everything before it is answered */
	SYNC_RESET,					/* ends the reset on release */
	SYNC_SAVEPOINT				/* before a ROLLBACK TO: an error earlier skips only to here */
} SyncKind;

typedef struct Op
{
	QLink		link;
	OpKind		kind;
	SyncKind	sync;
	bool		answered;		/* ans holds a result */
	Request    *req;
	StmtEntry  *stmt;
	Answer		ans;
	bool		one_row;		/* a streamed statement: single-row mode once current */
	bool		armed;			/* single-row mode was asked for */
} Op;

/* what one connection's protocol layer has sent, over the engine's life (never reset) */
typedef struct ProtoStats
{
	long		round_trips;	/* batches closed with something to write */
	long		syncs;
	long		prepares;
	long		resets;			/* resets on release sent */
} ProtoStats;

typedef struct Proto
{
	const ProtoWire *wire;
	void	   *wire_ctx;
	Queue		ops;			/* of Op, in the order the answers come */
	int			nops;
	int			nauto;			/* autocommit statements on the wire */
	int			auto_open;		/* framed autocommit statements since the last Sync */
	int			nframed;		/* framed autocommit statements on the wire */
	Queue		free_ops;		/* recycled, at most OP_FREE_MAX */
	int			nfree_ops;
	bool		batch_open;		/* sent messages that no Sync or Flush ends */
	bool		wrote;			/* sent something since the last flush */
	long		seg;			/* Syncs sent so far */
	int64_t		progress_at;	/* last time the server answered something */
	/* the unit of work of the session holding the connection */
	bool		in_unit;
	bool		begun;
	bool		unit_end_sent;
	bool		need_fail_sync;
	bool		need_cleanup;
	bool		send_cleanup;
	bool		unit_failed;
	ErrorBuf	failure;		/* what failed the unit first */
	bool		commit_sent;	/* the unit's COMMIT is on the wire */
	int			statement_timeout_ms;	/* a 57014 under it is BM_ERR_TIMEOUT */
	char		timeout_sql[96];	/* sets it for one transaction; "" when none */
	int			max_replays;	/* of an autocommit statement with a stale plan */
	ProtoStats	stats;
	StmtCache	cache;
	Request    *copy;			/* the COPY from its Sync to its end: nothing else is sent */
	/* the reset on release: what was sent may have left state behind */
	uint8_t		dirt;			/* LEAVES_* of what was sent since the last reset */
	uint8_t		reset_leaves;	/* what the reset on the wire puts back, 0: none */
	bool		reset_due;		/* a reset waits to be sent (proto_send_cleanup) */
	bool		end_answered;	/* the unit's end is answered; it is over once reset */
	ErrorBuf	reset_failure;	/* what failed the reset on the wire */
	bool		savepoints;		/* the unit on the wire has sent a SAVEPOINT */
	int			rollbacks_to;	/* ROLLBACK TOs on the wire, not answered yet */
	bool		frame_begun;	/* the BEGIN of the framed statement being answered ran */
} Proto;

/* framed autocommit statements that share one Sync at most */
#define AUTO_BATCH_MAX 100

/* freed ops kept for reuse by one connection (each connection has its own list) */
#define OP_FREE_MAX 64

/* the status of a statement that failed */
static inline bool
status_failed(ExecStatusType st)
{
	return st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE;
}

typedef enum ProtoStatus
{
	PROTO_OK,
	PROTO_WIRE_FAILED,			/* a wire function failed: the connection goes */
	PROTO_NOMEM					/* no memory for an Op: the connection goes */
} ProtoStatus;

/* what one answer did; the engine applies the fields in this order */
typedef struct ProtoEvent
{
	bool		unit_failed;	/* the unit first failed: with proto's failure */
	Request    *done;			/* answered: its callback may be due */
	Request    *replay;			/* autocommit with a stale plan: queue it again */
	bool		cleanup_due;	/* the cleanup ROLLBACK or the reset waits to be sent */
	bool		unit_over;		/* the unit ended on the wire (and the connection is
								 * reset): the connection is free */
	int			lost;			/* BM_OK, or the code the connection is dropped with */
	const char *lost_message;
	Request    *row_of;			/* a streamed statement sent a row: row, now the engine's */
	PGresult   *row;
	Request    *copy_due;		/* everything before the COPY is answered: leave pipeline mode, send it */
	bool		copy_over;		/* the COPY ended: back to pipeline mode */
} ProtoEvent;

/*
 * The connection may take new work: no reset waits or is on the wire, it is
 * not to be closed, and no failed autocommit statement left its transaction
 * block aborted (the reset's ROLLBACK ends it).
 */
static inline bool
proto_takes_work(const Proto *p)
{
	return p->reset_leaves == 0 && !p->reset_due && !(p->dirt & (LEAVES_CLOSE | LEAVES_BLOCK));
}

/*
 * An autocommit statement that may be framed in a batch: it neither refuses
 * a transaction block nor leaves state that the reset behind it puts back.
 */
static inline bool
request_frameable(const Request *req)
{
	return req->sql->leaves == 0 && !req->sql->refuses_block;
}

/*
 * The connection may take work that must not follow framed autocommit
 * statements still unanswered (a unit, a statement that is not framed): if
 * one of them fails, the transaction block stays aborted until the ROLLBACK
 * that the failure makes due, and anything else sent before it would fail.
 */
static inline bool
proto_takes_unframed(const Proto *p)
{
	return p->nframed == 0;
}

static inline bool
proto_event_empty(const ProtoEvent *ev)
{
	return !ev->unit_failed && !ev->done && !ev->replay && !ev->cleanup_due &&
		!ev->unit_over && ev->lost == BM_OK && !ev->row_of && !ev->copy_due && !ev->copy_over;
}

extern int	proto_init(Proto *p, const ProtoWire *wire, void *wire_ctx, int cache_size,
					   SqlTable *texts);
extern void proto_destroy(Proto *p);
extern void proto_set_statement_timeout(Proto *p, int ms);
extern void proto_reset(Proto *p);
extern void proto_begin_unit(Proto *p);
extern ProtoStatus proto_send_auto(Proto *p, Request *req, bool more);
extern ProtoStatus proto_send_cleanup(Proto *p);
extern ProtoStatus proto_send_begin(Proto *p, const char *begin_sql);
extern ProtoStatus proto_send_unit(Proto *p, Request *req);
extern ProtoStatus proto_end_batch(Proto *p, bool *write);
extern ProtoStatus proto_send_copy(Proto *p);
extern bool proto_feed(Proto *p, const Answer *a, ProtoEvent *ev);
extern Request *proto_take_unanswered(Proto *p);
extern int	proto_lost_code(const Proto *p, const Request *req, int code);
extern bool proto_lost_skipped(const Proto *p, const Request *req);
extern bool proto_answer_lost_in_failed_unit(Proto *p, Request *req);

#endif							/* BM_PROTO_H */
