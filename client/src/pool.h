/*
 * pool.h
 *	  The pool layer: a Pool of connections to one server (its conninfo, its
 *	  size, the retry backoff), and all connection I/O: connecting without
 *	  blocking, libpq's wire for proto, reading answers into proto, writing,
 *	  timeouts, and the sockets an attached loop watches.  It calls proto and
 *	  util only, never sessions or engine queues: what happened comes back as
 *	  return values and ProtoEvents for the engine to apply.  A Pool is an
 *	  object of its own, so that a second one (replicas) needs no new engine
 *	  fields: an engine holds its main Pool and, with a read_url, a Pool of
 *	  replicas.
 */
#ifndef BM_POOL_H
#define BM_POOL_H

#include <pthread.h>
#include <stdio.h>

#include "proto.h"

typedef enum ConnState
{
	CONN_EMPTY,
	CONN_CONNECTING,
	CONN_READY
} ConnState;

typedef struct Pool Pool;

/* where a connection is in a COPY's data (out of pipeline mode) */
typedef enum CopyPhase
{
	COPY_NONE,					/* no data flowing: answers are read as usual */
	COPY_IN,					/* the server takes data (COPY FROM STDIN) */
	COPY_OUT					/* the server sends data (COPY TO STDOUT) */
} CopyPhase;

/* bytes a COPY FROM STDIN reads from its source at a time */
#define COPY_CHUNK (64 * 1024)

typedef struct Conn
{
	Pool	   *pool;
	ConnState	state;
	PGconn	   *pg;
	PostgresPollingStatusType poll;
	int64_t		connect_deadline;	/* ms on the monotonic clock, 0: none */
	bool		out_pending;	/* PQflush said: more to write */
	bool		read_this_turn; /* input read since the loop last woke: alive */
	void	   *holder;			/* the engine's: who holds it; the pool only tests for NULL
								 * (the engine clears it before the connection is dropped) */
	/* what the event loop watches */
	int			watch_fd;
	int			watch_ev;
	bool		rewatch;		/* socket may have changed: re-register */
	char		lost_message[512];	/* of the last lost event */
	long		serial;			/* which connection of this slot: one more at each attempt */
	int			cancels;		/* cancel requests in flight: no new work meanwhile */
	Proto		proto;
	CopyPhase	copy;			/* a COPY's data phase */
	char	   *copy_buf;		/* COPY_CHUNK bytes for COPY FROM STDIN, while it runs */
	char	   *first_settings; /* the reported settings when it connected */
	bool		server_fatal;	/* the server said FATAL: it is closing the connection */
	int			host;			/* of a multi-host URL, the one this attempt tries */
	bool		big_out;		/* a parameter of BIG_SEND bytes or more is queued to go */
	bool		flushing;		/* a flusher thread owns pg until it writes to flush_pipe */
	int			flush_pipe[2];	/* the flusher's "done" (read end watched by the loop) */
	int			flush_result;	/* the flusher's PQflush: 0 sent, -1 failed */
	pthread_t	flusher;
} Conn;

/*
 * Queued output at least this large (one big parameter) is sent by a thread
 * in blocking mode: libpq's non-blocking flush moves the unsent rest to the
 * front of its buffer after every partial write, quadratic in the size.
 */
#define BIG_SEND (1024 * 1024)

struct Pool
{
	const char **keywords;		/* connection parameters for PQconnectStartParams */
	const char **values;
	int			size;
	int			connect_timeout_ms;
	int			statement_timeout_ms;
	Conn	   *conns;
	int64_t		retry_at;		/* no connection attempt before this (ms), 0: any time */
	int			backoff_ms;		/* wait after the next failed attempt */
	FILE	   *trace;
	const bm_ev_hooks *hooks;	/* the attached loop's, NULL: none */
	long		connects;		/* connections established */
	long		disconnects;	/* connections dropped */
	NoticeQueue notices;		/* of every connection, for the engine to deliver */
	bool		writable;		/* target_session_attrs asks for a writable server */
	bool		standby;		/* target_session_attrs asks for a standby */
	int			nhosts;			/* hosts of a multi-host URL, tried one by one; 1: one */
	const char ***host_values;	/* per host: values with that host alone; NULL when one */
};

/* what a connection attempt did */
typedef enum ConnectResult
{
	CONNECT_PENDING,			/* still in progress (or nothing started) */
	CONNECT_READY,				/* a connection is ready for work */
	CONNECT_FAILED,				/* an attempt failed; another connection is ready */
	CONNECT_HOPELESS			/* an attempt failed and no connection is ready */
} ConnectResult;

extern Pool *pool_create(const char *url, const char *default_attrs, const bm_engine_options *o,
						 int size, int cache_size, SqlTable *texts, int *code, char *why, size_t whylen);
extern void pool_free(Pool *p);
extern void pool_close_all(Pool *p);
extern ConnectResult pool_grow(Pool *p, int demand, ErrorBuf *why);
extern ConnectResult pool_connect_poll(Conn *c, ErrorBuf *why);
extern ConnectResult pool_connect_timeout(Conn *c, int64_t now, ErrorBuf *why);
extern bool pool_answer_overdue(const Conn *c, int64_t now, char *msg, size_t len);
extern Conn *pool_pick(Pool *p, bool unframed, bool *dropped);
extern void pool_drop(Conn *c);
extern bool pool_consume(Conn *c);
extern bool pool_next_event(Conn *c, ProtoEvent *ev);
extern bool pool_write(Conn *c);
extern bool pool_flushing(const Conn *c);
extern bool pool_broken(const Conn *c);
extern const char *pool_error(const Conn *c);
extern int64_t pool_next_deadline(const Pool *p);
extern int	pool_fd(const Conn *c);
extern int	pool_wanted_events(const Conn *c);
extern void pool_new_turn(Pool *p);
extern void pool_sync_watches(Pool *p);
extern void pool_trace(Pool *p, FILE *f);
extern void pool_add_stats(const Pool *p, bm_engine_stats *out);
extern PGcancel *pool_running_cancel(const Conn *c);
extern bool pool_leave_pipeline(Conn *c);
extern bool pool_enter_pipeline(Conn *c);
extern char *pool_copy_buffer(Conn *c);
extern int	pool_copy_put(Conn *c, const char *data, long len);
extern bool pool_copy_end(Conn *c, const char *abort_message);
extern long pool_copy_get(Conn *c, char **data);

#endif							/* BM_POOL_H */
