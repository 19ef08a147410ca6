/*
 * engine.h
 *	  The engine layer: the one coordinator.  It owns every queue (the
 *	  requests of autocommit statements, the sessions waiting for a
 *	  connection, the answered requests whose callbacks are due), hands work
 *	  to its Pools' connections (the main one; replicas for read-only
 *	  sessions when there is a read_url) through proto, and applies what proto, pool
 *	  and sessions report.  engine.c is the coordinator, api.c the public
 *	  calls that queue work, events.c the server's events (notices, LISTEN,
 *	  cancel requests), run.c the retrying unit of work on top of them and
 *	  the engine's timers; loop.c, above, drives them.
 */
#ifndef BM_ENGINE_H
#define BM_ENGINE_H

#include "cancel.h"
#include "listen.h"
#include "pool.h"
#include "session.h"

#define BM_DEFAULT_POOL_SIZE 4
#define BM_DEFAULT_STATEMENT_CACHE 256
/* bounds that keep the arithmetic on them far from overflow */
#define BM_MAX_POOL_SIZE 10000
#define BM_MAX_STATEMENT_CACHE 1000000

/*
 * Requests come from the engine's slabs, one per size class, so that
 * thousands queued at once cost no malloc header each and a steady stream of
 * statements no malloc/free: class k holds sizeof(Request) + REQ_CLASS_STEP k
 * bytes (up to 56 bytes of parameters: a few short values); larger ones are
 * malloc'd.
 */
#define REQ_SIZE_CLASSES 8
#define REQ_CLASS_STEP SLAB_ALIGN

/*
 * A timer of the engine.  fire runs from the loop once the monotonic clock
 * reaches at, on the engine's stack like a callback; closing: the engine is
 * being freed and takes no more work.
 */
typedef struct Timer
{
	DLink		link;			/* the engine's list, earliest first */
	int64_t		at;				/* ms on the monotonic clock */
	void		(*fire) (struct Timer *t, bool closing);
} Timer;

struct bm_sessionmaker
{
	bm_engine  *engine;
	DLink		link;			/* the engine's list of makers */
	bm_session_options opts;
};

struct bm_engine
{
	Pool	   *pool;
	Pool	   *read_pool;		/* replicas for read-only sessions (read_url), NULL: none */
	DList		sessions;		/* of bm_session (link) */
	DList		makers;			/* of bm_sessionmaker (link) */
	Queue		wait;			/* of bm_session (wait_link): waiting for a connection */
	Queue		read_wait;		/* of bm_session (wait_link): read-only, waiting for a replica */
	bool		replicas_down;	/* no replica reachable: read-only sessions use the main pool */
	long		replica_sessions;	/* units run on the read pool */
	long		replica_fallbacks;	/* read-only units run on the main pool instead */
	Queue		auto_reqs;		/* of Request (link): autocommit, not yet called back */
	Queue		auto_unsent;	/* of Request (send_link): autocommit, not sent */
	bool		autocommit_sync_each;	/* the option: no autocommit statement is framed */
	Request    *replayed_last;	/* the last request put back at the front of auto_unsent */
	Queue		ready;			/* of Request (link): answered, callbacks due, in order */
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
	SqlTable	texts;			/* interned SQL of requests and statement caches */
	Slab		req_slabs[REQ_SIZE_CLASSES];	/* of Request, by size class */
	Slab		session_slab;	/* of bm_session */
	/* server events (events.c): notices, LISTEN, cancel requests */
	bm_notice_cb notice_cb;		/* NULL: notices are dropped */
	void	   *notice_arg;
	Listener   *listener;		/* NULL until the first bm_engine_listen */
	Canceller	cancels;
	bool		cancel_watched;	/* the attached loop watches cancels.wake_fd */
	DList		timers;			/* of Timer (link), earliest first */
};

/* the engine's pools: k = 0 the main one, 1 the replicas; NULL past the last */
static inline Pool *
engine_pool(const bm_engine *e, int k)
{
	return k == 0 ? e->pool : k == 1 ? e->read_pool : NULL;
}

/* engine.c */
extern int	check_engine(bm_engine *e);
extern void engine_init_slabs(bm_engine *e);
extern void engine_free_slabs(bm_engine *e);
extern Request *request_new(bm_engine *e, ReqKind kind, const char *sql, int nparams,
							const char *const *params);
extern void engine_queue_auto(bm_engine *e, Request *req);
extern void engine_queue_session(bm_engine *e, bm_session *s, Request *req);
extern void engine_conn_lost(bm_engine *e, Conn *c, int code, const char *message);
extern void engine_kick(bm_engine *e);
extern void engine_conn_io(bm_engine *e, Conn *c, int events);
extern void engine_check_timeouts(bm_engine *e, int64_t now);
extern int64_t engine_next_deadline(bm_engine *e);
extern bool engine_settle(bm_engine *e);
extern bool engine_has_work(bm_engine *e);
extern void engine_destroy(bm_engine *e);
extern void engine_add_timer(bm_engine *e, Timer *t);

/* copy.c: what one step of a COPY's data did */
typedef enum CopyStep
{
	COPY_STEP_WAIT,				/* wait for the socket (or the engine is being freed) */
	COPY_STEP_ANSWER,			/* the data is over: the COPY's answer is next */
	COPY_STEP_LOST				/* the connection must go */
} CopyStep;

extern CopyStep engine_copy_io(bm_engine *e, Conn *c, int *code, const char **message);

/* events.c */
extern bool events_deliver(bm_engine *e);
extern bool events_due(bm_engine *e);
extern bool events_active(bm_engine *e);
extern bool events_io(bm_engine *e, int fd, int events);
extern int64_t events_next_deadline(bm_engine *e);
extern int	events_poll_fds(bm_engine *e, int *fds, int *evs);
extern void events_sync_watches(bm_engine *e);

#endif							/* BM_ENGINE_H */
