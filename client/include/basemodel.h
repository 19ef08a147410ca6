/*
 * basemodel.h
 *	  The public interface of libbasemodel, the C client of basemodel: an
 *	  engine (a pool of non-blocking libpq connections in pipeline mode), a
 *	  session maker, and async sessions whose statements are pipelined.
 *
 * Rules that hold for the whole interface:
 * - Every accepted bm_session_execute, bm_session_copy_in, bm_session_copy_out,
 *	 bm_session_commit, bm_session_rollback and bm_engine_execute (the call
 *	 returned 0) gets exactly one callback,
 *	 with a result or an error, in the order it was queued (per session; and
 *	 among all bm_engine_execute calls of one engine), whatever happens: SQL
 *	 error, lost connection, server restart, timeout, bm_engine_free.
 * - Callbacks run only from the engine's loop (bm_engine_run, or the
 *	 bm_engine_on_* entry points an event loop calls), never from inside the
 *	 call that queued the work.  A callback may call any function here,
 *	 bm_engine_free included (the free is finished when the callback returns).
 * - A call that fails returns -1 (or NULL) and leaves the reason in
 *	 bm_last_error(); misuse is BM_ERR_USAGE and never crashes.
 * - One statement per execute ("SELECT 1; SELECT 2" is refused with
 *	 BM_ERR_USAGE), with parameters of less than 1 GiB in all.  COPY,
 *	 LISTEN/UNLISTEN and transaction control (BEGIN, START, COMMIT, END,
 *	 ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION) are refused
 *	 with BM_ERR_USAGE: sessions are the transactions, bm_session_savepoint,
 *	 _rollback_to and _release their savepoints, and COPY runs through
 *	 bm_session_copy_in and bm_session_copy_out.
 * - The one exception to "exactly one callback": bm_session_stream calls
 *	 back once per row, then exactly once more at the end (the end result or
 *	 the error), in the session's order like any other call.
 * - What a code says about a commit: BM_OK committed; BM_ERR_SQL,
 *	 BM_ERR_ABORTED, BM_ERR_CONNECTION, BM_ERR_TIMEOUT and BM_ERR_CLOSED did
 *	 not (the transaction, or the autocommit statement, was rolled back or
 *	 never ran); only BM_ERR_OUTCOME_UNKNOWN may go either way.  Once a
 *	 session's COMMIT is on the wire, every one of its unit's callbacks still
 *	 unanswered when the connection is lost (or the server stops answering,
 *	 or the engine is freed) gets BM_ERR_OUTCOME_UNKNOWN.  A rollback of a
 *	 transaction that cannot have committed is BM_OK, also when its
 *	 connection is lost.
 * - The bm_result and bm_error given to a callback are valid only during the
 *	 callback; copy what you keep (bm_result_copy keeps a whole result).
 * - Threads: an engine, its sessionmakers, sessions and results belong to the
 *	 thread that created the engine.  Several engines in several threads work.
 */
#ifndef BASEMODEL_CLIENT_H
#define BASEMODEL_CLIENT_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the version of this header: MAJOR.MINOR.PATCH, as in the VERSION file */
#define BM_VERSION_MAJOR 0
#define BM_VERSION_MINOR 1
#define BM_VERSION_PATCH 0
#define BM_VERSION "0.1.0"
/* BM_VERSION_NUMBER >= BM_MAKE_VERSION(0, 2, 0) tests for 0.2.0 or later at compile time */
#define BM_MAKE_VERSION(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define BM_VERSION_NUMBER BM_MAKE_VERSION(BM_VERSION_MAJOR, BM_VERSION_MINOR, BM_VERSION_PATCH)

/* version of the library that runs (BM_VERSION when it was built), "MAJOR.MINOR.PATCH" */
const char *bm_version(void);

/* error codes of bm_error.code */
enum
{
	BM_OK = 0,					/* no error */
	BM_ERR_SQL,					/* the server rejected the statement (see sqlstate) */
	BM_ERR_CONNECTION,			/* the connection failed or was lost; surely not committed */
	BM_ERR_ABORTED,				/* not run: an earlier statement of the transaction failed */
	BM_ERR_TIMEOUT,				/* connect or statement timeout; surely not committed */
	BM_ERR_CLOSED,				/* the engine was freed before the work finished; surely not committed */
	BM_ERR_USAGE,				/* the call was misused (bad argument, wrong state) */
	BM_ERR_NOMEM,				/* out of memory */
	BM_ERR_OUTCOME_UNKNOWN		/* the answer was lost after COMMIT (or an autocommit statement) was sent: it may or may not have committed */
};

/* the symbolic name of an error code ("BM_ERR_SQL"), "BM_ERR_UNKNOWN" if none */
const char *bm_error_name(int code);

/* an engine: a pool of connections to one database */
typedef struct bm_engine bm_engine;
/* a factory of sessions that share options */
typedef struct bm_sessionmaker bm_sessionmaker;
/* a unit-of-work session: one transaction at a time on one connection */
typedef struct bm_session bm_session;
/* the rows or command status of one statement */
typedef struct bm_result bm_result;

/* what went wrong; strings are valid during the callback (or until the next failing call) */
typedef struct bm_error
{
	int			code;			/* BM_OK or one of BM_ERR_* */
	char		sqlstate[6];	/* five-character SQLSTATE, "" unless the server sent one */
	const char *message;		/* never NULL when code != BM_OK */
	const char *detail;			/* server's DETAIL, or NULL */
	const char *hint;			/* server's HINT, or NULL */
	const char *schema_name;	/* schema of the object the error is about, or NULL */
	const char *table_name;		/* table of the error (a constraint's, a column's), or NULL */
	const char *column_name;	/* column of the error (a not-null violation's), or NULL */
	const char *constraint_name;	/* constraint the statement violated, or NULL */
	int			position;		/* 1-based character in the statement where the error is, 0 if none */
	const char *severity;		/* a notice's severity ("NOTICE", "WARNING", "INFO", ...), NULL otherwise */
} bm_error;

/* called once per statement: res on success (err->code == BM_OK), else NULL */
typedef void (*bm_result_cb) (bm_session *s, const bm_result *res, const bm_error *err, void *arg);
/* called once per commit or rollback: err->code == BM_OK on success */
typedef void (*bm_done_cb) (bm_session *s, const bm_error *err, void *arg);

/* options of bm_engine_create; zeroes (or NULL) mean the defaults */
typedef struct bm_engine_options
{
	int			pool_size;		/* connections at most (up to 10000); 0: default 4 */
	int			connect_timeout_ms; /* per connection attempt, per host of a multi-host URL; 0: the URL's connect_timeout, else none */
	int			statement_timeout_ms;	/* per statement, as the server's statement_timeout, set inside each transaction (a connection silent for that long per query it waits on, plus that + 1 s, is dropped); 0: none */
	const char *application_name;	/* NULL: the URL's, else "basemodel" */
	int			statement_cache_size;	/* prepared statements per connection (up to 1000000); 0: default 256; -1: none, every statement unnamed (the setting behind PgBouncer in transaction or statement mode) */
	const char *read_url;		/* replicas for read-only sessions (libpq URL or conninfo, several hosts allowed; target_session_attrs defaults to standby); NULL: read-only sessions use the main pool */
	int			read_pool_size; /* connections to replicas at most (up to 10000); 0: pool_size */
	int			autocommit_sync_each;	/* 1: every bm_engine_execute statement has a Sync of its own, none framed in a batch (the setting behind PgBouncer in statement mode); 0: statements queued at once share one */
} bm_engine_options;

/* transaction isolation level of a session's transactions */
typedef enum bm_isolation
{
	BM_ISOLATION_DEFAULT = 0,	/* the server's default_transaction_isolation */
	BM_ISOLATION_READ_COMMITTED,	/* READ COMMITTED */
	BM_ISOLATION_REPEATABLE_READ,	/* REPEATABLE READ */
	BM_ISOLATION_SERIALIZABLE	/* SERIALIZABLE */
} bm_isolation;

/* options of bm_sessionmaker_create; NULL means all zero */
typedef struct bm_session_options
{
	int			read_only;		/* nonzero: transactions are READ ONLY, on a replica when the engine has a read_url and one is reachable (else on the main pool); a replica may lag: read your own writes in a normal session */
	bm_isolation isolation;		/* isolation level of each transaction */
} bm_session_options;

/* create an engine from a libpq URL or conninfo (NULL: $DATABASE_URL); connects lazily; NULL + err on failure */
bm_engine  *bm_engine_create(const char *url, const bm_engine_options *opts, bm_error *err);
/* read the answers that have arrived, call back all pending work (BM_ERR_OUTCOME_UNKNOWN if sent after its COMMIT, else BM_ERR_CLOSED, unless answered), close connections, free the engine, its sessions and makers; their handles are invalid afterwards.  From inside a callback it finishes when the callback returns: the callbacks of work queued before then run after this call returns */
void		bm_engine_free(bm_engine *e);
/* built-in poll loop: runs until no work is pending; 0, or -1 (bm_last_error) on misuse or a fatal error */
int			bm_engine_run(bm_engine *e);
/* run one statement in its own implicit transaction (autocommit); callbacks get s == NULL; 0 or -1 */
int			bm_engine_execute(bm_engine *e, const char *sql, int nparams,
							  const char *const *params, bm_result_cb cb, void *arg);

/* create a session maker on an engine (opts copied; NULL: defaults); NULL on failure */
bm_sessionmaker *bm_sessionmaker_create(bm_engine *e, const bm_session_options *opts);
/* free a session maker; its open sessions stay usable */
void		bm_sessionmaker_free(bm_sessionmaker *m);
/* open a session; it takes a connection at its first statement; NULL on failure */
bm_session *bm_session_open(bm_sessionmaker *m);
/* queue one statement (BEGIN is implied before the first); params are text, NULL for SQL NULL; 0 or -1 */
int			bm_session_execute(bm_session *s, const char *sql, int nparams,
							   const char *const *params, bm_result_cb cb, void *arg);
/* queue COMMIT of the open transaction (a failed one reports its failure instead); 0 or -1 */
int			bm_session_commit(bm_session *s, bm_done_cb cb, void *arg);
/* queue ROLLBACK of the open transaction; 0 or -1 */
int			bm_session_rollback(bm_session *s, bm_done_cb cb, void *arg);
/* queue one statement whose rows come one by one: cb once per row (a one-row result), then once more with a 0-row result (BM_OK) or the error; memory stays bounded; 0 or -1 */
int			bm_session_stream(bm_session *s, const char *sql, int nparams,
							  const char *const *params, bm_result_cb cb, void *arg);
/* COPY ... FROM STDIN's data source: put up to cap bytes in buf and return how many, 0 at the end, -1 to abort the COPY */
typedef long (*bm_copy_read_cb) (char *buf, long cap, void *arg);
/* COPY ... TO STDOUT's data sink: take len bytes (one row), return 0, or -1 to abort the COPY */
typedef int (*bm_copy_write_cb) (const char *data, long len, void *arg);
/* queue COPY ... FROM STDIN in the session's transaction, its data from read; cb once at the end (bm_result_affected: rows); 0 or -1 */
int			bm_session_copy_in(bm_session *s, const char *copy_sql, bm_copy_read_cb read,
							   void *read_arg, bm_result_cb cb, void *arg);
/* queue COPY ... TO STDOUT in the session's transaction, its data to write; cb once at the end (bm_result_affected: rows); 0 or -1 */
int			bm_session_copy_out(bm_session *s, const char *copy_sql, bm_copy_write_cb write,
								void *write_arg, bm_result_cb cb, void *arg);
/* close: queued work still gets its callbacks, an uncommitted transaction is rolled back; s may be freed as soon as the loop runs again, so do not use it after this call (a second close or execute before then is refused with BM_ERR_USAGE) */
void		bm_session_close(bm_session *s);
/* the engine a session belongs to */
bm_engine  *bm_session_engine(const bm_session *s);

/* queue SAVEPOINT name (an identifier, quoted for you; BEGIN is implied before the first); 0 or -1 */
int			bm_session_savepoint(bm_session *s, const char *name, bm_done_cb cb, void *arg);
/* queue ROLLBACK TO SAVEPOINT name: after a failed statement the transaction is usable again from here; 0 or -1 */
int			bm_session_rollback_to(bm_session *s, const char *name, bm_done_cb cb, void *arg);
/* queue RELEASE SAVEPOINT name; 0 or -1 */
int			bm_session_release(bm_session *s, const char *name, bm_done_cb cb, void *arg);

/* a unit of work for bm_sessionmaker_run: queue the unit's statements on s (no commit), return 0, or -1 to give up */
typedef int (*bm_work_fn) (bm_session *s, void *arg);
/* run work in a session of its own and commit; on 40001, 40P01 or a lost connection (never once COMMIT may have run) roll back, wait a few ms and run it again, up to max_attempts; done once with the outcome; 0 or -1 */
int			bm_sessionmaker_run(bm_sessionmaker *m, bm_work_fn work, bm_done_cb done, void *arg,
								int max_attempts);
/* which attempt of bm_sessionmaker_run the session serves: 1 for the first, 0 for a session of bm_session_open */
int			bm_session_attempt(const bm_session *s);

/* number of rows */
int			bm_result_nrows(const bm_result *r);
/* number of columns */
int			bm_result_ncols(const bm_result *r);
/* name of column col, NULL if out of range */
const char *bm_result_colname(const bm_result *r, int col);
/* value in text form; NULL for SQL NULL or out of range */
const char *bm_result_value(const bm_result *r, int row, int col);
/* 1 if the value is SQL NULL (or out of range), else 0 */
int			bm_result_isnull(const bm_result *r, int row, int col);
/* number of the column named name (exactly, case included), -1 if none */
int			bm_result_colnum(const bm_result *r, const char *name);
/* type OID of column col (20 int8, 701 float8, 16 bool, ...), 0 if out of range */
unsigned int bm_result_coltype(const bm_result *r, int col);
/* the value as an integer into *out: 0, or -1 (bm_last_error) when NULL, out of range or not an integer */
int			bm_result_int64(const bm_result *r, int row, int col, long long *out);
/* the value as a double into *out: 0, or -1 (bm_last_error) when NULL, out of range or not a number */
int			bm_result_double(const bm_result *r, int row, int col, double *out);
/* the value as a boolean (1 or 0) into *out: 0, or -1 (bm_last_error) when NULL, out of range or not a boolean */
int			bm_result_bool(const bm_result *r, int row, int col, int *out);
/* rows affected by INSERT/UPDATE/DELETE/MERGE/SELECT/COPY..., -1 if the command reports none */
long		bm_result_affected(const bm_result *r);
/* an owned copy of a result, to keep it after the callback; NULL when out of memory */
bm_result  *bm_result_copy(const bm_result *r);
/* free a copy made by bm_result_copy */
void		bm_result_free(bm_result *r);

/* most parameters a bm_params holds */
#define BM_PARAMS_MAX 32

/* a statement's parameters built without snprintf: pass p.n and p.values to an execute (values are copied there) */
typedef struct bm_params
{
	int			n;				/* parameters added so far */
	const char *values[BM_PARAMS_MAX];	/* text form of each, NULL for SQL NULL */
	char		text[BM_PARAMS_MAX][32];	/* where numbers and booleans are written */
} bm_params;

/* empty the parameters */
void		bm_params_init(bm_params *p);
/* add an integer; 0, or -1 (BM_ERR_USAGE) when p is full */
int			bm_params_int64(bm_params *p, long long v);
/* add a double (exact: it reads back as the same double; NaN and infinities as PostgreSQL spells them); 0 or -1 */
int			bm_params_double(bm_params *p, double v);
/* add a boolean (nonzero: true); 0 or -1 */
int			bm_params_bool(bm_params *p, int v);
/* add a text value, NULL for SQL NULL (not copied: it must live until the execute); 0 or -1 */
int			bm_params_text(bm_params *p, const char *v);

/* the error of this thread's last call that returned -1 or NULL */
const bm_error *bm_last_error(void);
/* for an adapter refusing a call: make message this thread's last error, BM_ERR_USAGE; returns -1 */
int			bm_usage_error(const char *message);

/* counters of an engine's traffic, for tests and monitoring */
typedef struct bm_engine_stats
{
	long		round_trips;	/* batches written to a connection, each followed by waiting for replies */
	long		syncs;			/* Sync messages sent (one per transaction end, batch of autocommit statements, or statement sent alone) */
	long		prepares;		/* statements prepared (cache misses) */
	long		connects;		/* connections established */
	long		disconnects;	/* connections lost or closed after an error */
	long		resets;			/* connections reset before going back to the pool (pipelined) */
	long		replica_sessions;	/* read-only units of work run on the read pool (read_url) */
	long		replica_fallbacks;	/* read-only units of work run on the main pool because no replica was reachable */
} bm_engine_stats;

/* copy the engine's counters into *out */
void		bm_engine_get_stats(const bm_engine *e, bm_engine_stats *out);
/* write libpq's protocol trace of every connection (now and later) to f, NULL to stop; 0 or -1 */
int			bm_engine_trace(bm_engine *e, FILE *f);

/* a notice of any connection (NOTICE, WARNING, INFO, ...): notice->code is BM_OK, severity says which */
typedef void (*bm_notice_cb) (bm_engine *e, const bm_error *notice, void *arg);
/* call cb from the loop for every notice of every connection (NULL: drop them, the default; never printed); 0 or -1 */
int			bm_engine_on_notice(bm_engine *e, bm_notice_cb cb, void *arg);

/* a notification on a listened channel; payload NULL and backend_pid 0: the listen connection was re-established and notifications may have been missed */
typedef void (*bm_notify_cb) (bm_engine *e, const char *channel, const char *payload, int backend_pid, void *arg);
/* LISTEN on channel (any name of 1 to 63 bytes, quoted for you) on a connection of its own; a channel listened to again gets the new cb; 0 or -1 */
int			bm_engine_listen(bm_engine *e, const char *channel, bm_notify_cb cb, void *arg);
/* UNLISTEN channel; after the last one the listen connection is closed; 0, or -1 (also when the channel was not listened to) */
int			bm_engine_unlisten(bm_engine *e, const char *channel);
/* cancel what the session has running on the server: 1 if a cancel request was sent, 0 if nothing was running, -1 on misuse */
int			bm_session_cancel(bm_session *s);

/*
 * Event-loop hooks, in the style of hiredis's adapters.  An adapter fills in
 * bm_ev_hooks and attaches it; from then on the engine tells the loop which
 * sockets to watch and when to call back, and the program runs its own loop
 * instead of bm_engine_run.  Sockets change across reconnects: once a socket
 * is watched for neither reading nor writing it may be closed at once, and a
 * new socket may come back under the same number.
 */
#define BM_EV_READ	1			/* socket readable */
#define BM_EV_WRITE 2			/* socket writable */

/* the loop's side of the contract; data is passed back to every hook */
typedef struct bm_ev_hooks
{
	void	   *data;			/* the adapter's own state */
	void		(*add_read) (void *data, int fd);	/* start watching fd for reading */
	void		(*del_read) (void *data, int fd);	/* stop watching fd for reading */
	void		(*add_write) (void *data, int fd);	/* start watching fd for writing */
	void		(*del_write) (void *data, int fd);	/* stop watching fd for writing */
	void		(*schedule_timer) (void *data, long ms);	/* call bm_engine_on_timer in ms (0: soon); -1: cancel */
	void		(*cleanup) (void *data);	/* the engine is freed: release everything */
} bm_ev_hooks;

/* attach an event loop (hooks copied); 0, or -1 if one is attached already or the loop is running */
int			bm_engine_attach(bm_engine *e, const bm_ev_hooks *hooks);
/* the loop saw fd ready for events (BM_EV_READ | BM_EV_WRITE) */
void		bm_engine_on_ready(bm_engine *e, int fd, int events);
/* the loop's timer fired */
void		bm_engine_on_timer(bm_engine *e);

#ifdef __cplusplus
}
#endif

#endif							/* BASEMODEL_CLIENT_H */
