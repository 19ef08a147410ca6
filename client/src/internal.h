/*
 * internal.h
 *	  Declarations shared by the files of libbasemodel and hidden from users.
 *
 * The objects: an engine owns a pool of Conns, the sessions and session
 * makers made from it, and the queues of Requests (one per accepted
 * execute/commit/rollback).  A Request lives in its owner's FIFO (a session,
 * or the engine for autocommit statements) from the call that accepts it
 * until its callback has run; while it is on the wire, the Conn's queue of
 * Ops (one per expected libpq result) points at it.
 */
#ifndef BM_INTERNAL_H
#define BM_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "basemodel.h"

/* marks a function the public header declares: everything else is hidden */
#define BM_EXPORT __attribute__((visibility("default")))

#define BM_DEFAULT_POOL_SIZE 4
#define BM_DEFAULT_STATEMENT_CACHE 256
/* bounds that keep the arithmetic on them far from overflow */
#define BM_MAX_POOL_SIZE 10000
#define BM_MAX_STATEMENT_CACHE 1000000
#define BM_STR_(x) #x
#define BM_STR(x) BM_STR_(x)

typedef struct Conn Conn;
typedef struct Op Op;
typedef struct Request Request;

/* an error with owned strings, turned into a bm_error for callbacks */
typedef struct ErrorBuf
{
	int			code;
	char		sqlstate[6];
	char	   *message;
	char	   *detail;
	char	   *hint;
} ErrorBuf;

/* error.c */
extern void err_set(ErrorBuf *eb, int code, const char *sqlstate,
					const char *message, const char *detail, const char *hint);
extern void err_from_pgresult(ErrorBuf *eb, const PGresult *res, int timeout_ms);
extern void err_from_conn(ErrorBuf *eb, int code, const char *prefix, PGconn *pg);
extern void err_copy(ErrorBuf *dst, const ErrorBuf *src);
extern void err_clear(ErrorBuf *eb);
extern void err_public(const ErrorBuf *eb, bm_error *out);
extern void set_last_error(int code, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern const bm_error *last_error_public(void);

/* result.c */
struct bm_result
{
	PGresult   *pg;
	long		affected;		/* AFFECTED_UNREAD: read pg's when asked */
};

#define AFFECTED_UNREAD LONG_MIN
extern long result_affected_of(const PGresult *res);

/*
 * stmtcache.c: SQL texts, interned per engine (one refcounted copy of each
 * distinct text however many requests and caches use it), and per-connection
 * names of prepared statements, bounded, LRU.
 */
typedef struct SqlText
{
	struct SqlText *hnext;
	uint32_t	hash;
	uint32_t	refs;
	char		text[];
} SqlText;

typedef struct SqlTable
{
	SqlText   **buckets;
	uint32_t	nbuckets;
	uint32_t	count;
	SqlText    *last;			/* the text asked for last, tried first */
} SqlTable;

extern SqlText *sqltext_get(SqlTable *st, const char *sql);
extern void sqltext_release(SqlTable *st, SqlText *t);
extern void sqltable_free(SqlTable *st);

typedef struct StmtEntry
{
	SqlText    *sql;			/* holds a reference */
	char		name[24];
	bool		confirmed;		/* the server answered the Parse */
	long		seg;			/* Sync segment the Parse was sent in */
	struct StmtEntry *hnext;
	struct StmtEntry *newer;
	struct StmtEntry *older;
} StmtEntry;

typedef struct StmtCache
{
	StmtEntry **buckets;
	int			nbuckets;
	int			count;
	int			capacity;
	long		next_id;
	StmtEntry  *newest;
	StmtEntry  *oldest;
	SqlTable   *texts;			/* the engine's, which the entries refer to */
} StmtCache;

extern int	stmtcache_init(StmtCache *sc, int capacity, SqlTable *texts);
extern void stmtcache_reset(StmtCache *sc);
extern StmtEntry *stmtcache_lookup(StmtCache *sc, const SqlText *sql);
extern StmtEntry *stmtcache_add(StmtCache *sc, SqlText *sql, long seg);
extern StmtEntry *stmtcache_victim(StmtCache *sc);
extern void stmtcache_touch(StmtCache *sc, StmtEntry *se);
extern void stmtcache_remove(StmtCache *sc, StmtEntry *se);

/* sqlwords.c */
extern bool sql_resets_statements(const char *sql);
extern const char *sql_refused(const char *sql);

/* requests */
typedef enum ReqKind
{
	REQ_EXEC,
	REQ_COMMIT,
	REQ_ROLLBACK
} ReqKind;

typedef enum ReqState
{
	REQ_QUEUED,					/* accepted, not on the wire */
	REQ_SENT,					/* on the wire */
	REQ_DONE					/* answered; waits for its turn to call back */
} ReqState;

/*
 * Thousands may wait at once (every statement of every session opened ahead
 * of its connection), so a request is kept small: 80 bytes, then its
 * parameters (nparams pointers and their text) in the same allocation.
 */
struct Request
{
	Request    *next;			/* owner's FIFO, then the ready list */
	Request    *send_next;		/* owner's queue of unsent requests */
	bm_session *session;		/* NULL: autocommit (bm_engine_execute) */
	long		unit;			/* session's unit of work it belongs to */
	SqlText    *sql;			/* interned; holds a reference; NULL for an end */
	union
	{
		bm_result_cb result;	/* REQ_EXEC */
		bm_done_cb	done;		/* REQ_COMMIT, REQ_ROLLBACK */
	}			cb;
	void	   *arg;
	PGresult   *res;			/* the answer, when it succeeded */
	ErrorBuf   *err;			/* NULL until something fails (request_error) */
	uint16_t	nparams;
	uint8_t		kind;			/* ReqKind */
	uint8_t		state;			/* ReqState */
	uint8_t		size_class;		/* its engine free list, REQ_UNPOOLED: none */
	bool		internal;		/* queued by the library: no callback */
	bool		replay;			/* autocommit: send again once its Sync is answered */
	uint8_t		replays;		/* times it was sent again */
};

/*
 * Freed requests and ops are kept for reuse, a bounded number per engine, so
 * that a steady stream of statements costs no malloc/free of the library's
 * own.  Requests are pooled by size: class k holds sizeof(Request) + 16 k
 * bytes (up to 48 bytes of parameters: a few short values).
 */
#define REQ_SIZE_CLASSES 4
#define REQ_UNPOOLED 255
#define FREE_LIST_MAX 512

#define REQUEST_PARAMS(req) ((char **) ((req) + 1))

/* BM_OK, or the code of what failed the request */
static inline int
request_code(const Request *req)
{
	return req->err ? req->err->code : BM_OK;
}

/* ops: what a connection expects back, in order */
typedef enum OpKind
{
	OP_BEGIN,
	OP_PREPARE,
	OP_EXEC,
	OP_END,						/* COMMIT or ROLLBACK of a session */
	OP_CLEANUP,					/* ROLLBACK after a failure */
	OP_DEALLOCATE,
	OP_SYNC
} OpKind;

typedef enum SyncKind
{
	SYNC_AUTO,					/* ends one autocommit statement */
	SYNC_END,					/* ends a session's unit (after COMMIT/ROLLBACK) */
	SYNC_FAIL,					/* ends the aborted pipeline after a failure */
	SYNC_CLEANUP				/* ends the cleanup ROLLBACK */
} SyncKind;

struct Op
{
	Op		   *next;
	OpKind		kind;
	SyncKind	sync;
	Request    *req;
	StmtEntry  *stmt;
	PGresult   *res;
};

typedef enum ConnState
{
	CONN_EMPTY,
	CONN_CONNECTING,
	CONN_READY
} ConnState;

struct Conn
{
	bm_engine  *engine;
	ConnState	state;
	PGconn	   *pg;
	PostgresPollingStatusType poll;
	int64_t		connect_deadline;	/* ms on the monotonic clock, 0: none */
	int64_t		progress_at;	/* last time the server answered something */
	Op		   *ops_head;
	Op		   *ops_tail;
	int			nops;
	int			nauto;			/* autocommit statements on the wire */
	bool		batch_open;		/* sent messages that no Sync or Flush ends */
	bool		wrote;			/* sent something since the last flush */
	bool		out_pending;	/* PQflush said: more to write */
	bool		read_this_turn; /* input read since the loop last woke: alive */
	long		seg;			/* Syncs sent so far */
	/* the session holding the connection, and its unit on the wire */
	bm_session *owner;
	bool		begun;
	bool		unit_end_sent;
	bool		need_fail_sync;
	bool		need_cleanup;
	bool		send_cleanup;
	/* what the event loop watches */
	int			watch_fd;
	int			watch_ev;
	bool		rewatch;		/* socket may have changed: re-register */
	StmtCache	cache;
};

struct bm_sessionmaker
{
	bm_engine  *engine;
	bm_sessionmaker *prev;
	bm_sessionmaker *next;
	bm_session_options opts;
};

struct bm_session
{
	bm_engine  *engine;
	bm_session *prev;			/* engine's list of sessions */
	bm_session *next;
	bm_session *wait_next;		/* engine's queue of sessions waiting for a connection */
	bool		waiting;
	bool		closed;
	const char *begin_sql;		/* a constant string */
	Request    *head;			/* requests not yet called back, in order */
	Request    *tail;
	Request    *unsent_head;
	Request    *unsent_tail;
	int			nundelivered;
	long		api_unit;		/* unit the next execute joins */
	bool		api_open;		/* an execute joined api_unit */
	long		wire_unit;		/* unit on the connection */
	long		failed_unit;	/* -1, or the unit that failed */
	ErrorBuf	failure;
	Conn	   *conn;
};

struct bm_engine
{
	const char **keywords;		/* connection parameters for PQconnectStartParams */
	const char **values;
	int			statement_timeout_ms;
	int			connect_timeout_ms;
	int			pool_size;
	int			cache_size;
	Conn	   *conns;
	bm_session *sessions;
	bm_sessionmaker *makers;
	bm_session *wait_head;
	bm_session *wait_tail;
	Request    *auto_head;		/* autocommit requests not yet called back */
	Request    *auto_tail;
	Request    *auto_unsent_head;
	Request    *auto_unsent_tail;
	Request    *ready_head;		/* answered requests whose callbacks are due, in order */
	Request    *ready_tail;
	long		pending;		/* accepted requests not yet called back */
	int			depth;			/* > 0 while the engine is on the stack of a loop entry */
	bool		free_requested;
	bool		closing;
	bool		running;		/* inside bm_engine_run */
	bool		busy;			/* inside a loop entry point */
	bool		pump_needed;
	bool		reap_needed;
	bool		attached;
	bm_ev_hooks hooks;
	long		timer_ms;		/* what the loop's timer is armed for, -1: nothing */
	int64_t		retry_at;		/* no connection attempt before this (ms), 0: any time */
	int			backoff_ms;		/* wait after the next failed attempt */
	FILE	   *trace;
	bm_engine_stats stats;
	SqlTable	texts;			/* interned SQL of requests and statement caches */
	Request    *free_reqs[REQ_SIZE_CLASSES];	/* linked by next */
	int			nfree_reqs[REQ_SIZE_CLASSES];
	Op		   *free_ops;
	int			nfree_ops;
};

/* engine.c */
extern int64_t now_ms(void);
extern Request *request_new(bm_engine *e, ReqKind kind, const char *sql, int nparams,
							const char *const *params);
extern ErrorBuf *request_error(Request *req);
extern void request_done(bm_engine *e, Request *req);
extern void request_fail(bm_engine *e, Request *req, int code, const char *message);
extern void request_replay(bm_engine *e, Request *req);
extern void engine_kick(bm_engine *e);
extern void engine_settle(bm_engine *e);
extern bool engine_has_work(bm_engine *e);
extern void engine_destroy(bm_engine *e);
extern void engine_free_lists(bm_engine *e);
extern int	check_engine(bm_engine *e);
extern int	check_statement(const char *sql, int nparams, const char *const *params);

/* session.c */
extern void session_fail(bm_session *s, const ErrorBuf *why, bool first_gets_it);
extern void session_enqueue_wait(bm_session *s);
extern void session_reap(bm_engine *e, bool all);
extern void session_connect_failed(bm_session *s, const ErrorBuf *why);

/* pool.c */
extern void pool_start_connect(bm_engine *e, Conn *c);
extern void pool_connect_poll(Conn *c);
extern void pool_conn_lost(Conn *c, int code, const char *message);
extern void pool_close(Conn *c);
extern void pool_release(Conn *c);
extern void pool_acquire(Conn *c, bm_session *s);
extern Conn *pool_pick(bm_engine *e, bool for_session);
extern void pool_grow(bm_engine *e);
extern void pool_check_timeouts(bm_engine *e, int64_t now);
extern int64_t pool_next_deadline(bm_engine *e);
extern int	pool_wanted_events(Conn *c);

/* pipeline.c */
extern void pipeline_send_session(Conn *c);
extern void pipeline_send_auto(Conn *c, Request *req);
extern void pipeline_end_batch(Conn *c);
extern void pipeline_read(Conn *c);
extern void pipeline_write(Conn *c);
extern void pipeline_drop_ops(Conn *c);

/* loop.c */
extern void loop_sync_watches(bm_engine *e);
extern void loop_unwatch(Conn *c);
extern void loop_arm_timer(bm_engine *e);

#endif							/* BM_INTERNAL_H */
