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

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "basemodel.h"

/* marks a function the public header declares: everything else is hidden */
#define BM_EXPORT __attribute__((visibility("default")))

#define BM_DEFAULT_POOL_SIZE 4
#define BM_DEFAULT_STATEMENT_CACHE 256

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
	long		affected;
};
extern long result_affected_of(const PGresult *res);

/* stmtcache.c: per-connection names of prepared statements, bounded, LRU */
typedef struct StmtEntry
{
	char	   *sql;
	uint32_t	hash;
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
} StmtCache;

extern int	stmtcache_init(StmtCache *sc, int capacity);
extern void stmtcache_reset(StmtCache *sc);
extern uint32_t stmtcache_hash(const char *sql);
extern StmtEntry *stmtcache_lookup(StmtCache *sc, const char *sql, uint32_t hash);
extern StmtEntry *stmtcache_add(StmtCache *sc, const char *sql, uint32_t hash, long seg);
extern StmtEntry *stmtcache_victim(StmtCache *sc);
extern void stmtcache_touch(StmtCache *sc, StmtEntry *se);
extern void stmtcache_remove(StmtCache *sc, StmtEntry *se);

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

struct Request
{
	Request    *next;			/* owner's FIFO, then the ready list */
	Request    *send_next;		/* owner's queue of unsent requests */
	ReqKind		kind;
	ReqState	state;
	bm_session *session;		/* NULL: autocommit (bm_engine_execute) */
	long		unit;			/* session's unit of work it belongs to */
	bool		internal;		/* queued by the library: no callback */
	char	   *sql;
	int			nparams;
	char	  **params;
	bm_result_cb rcb;
	bm_done_cb	dcb;
	void	   *arg;
	PGresult   *res;			/* the answer, when it succeeded */
	ErrorBuf	err;
};

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
	char		begin_sql[96];
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
	FILE	   *trace;
	bm_engine_stats stats;
};

/* engine.c */
extern int64_t now_ms(void);
extern Request *request_new(ReqKind kind, const char *sql, int nparams,
							const char *const *params);
extern void request_done(bm_engine *e, Request *req);
extern void request_fail(bm_engine *e, Request *req, int code, const char *message);
extern void engine_kick(bm_engine *e);
extern void engine_settle(bm_engine *e);
extern bool engine_has_work(bm_engine *e);
extern void engine_destroy(bm_engine *e);
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
