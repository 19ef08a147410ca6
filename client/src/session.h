/*
 * session.h
 *	  The session layer: a session's units of work (BEGIN implied before the
 *	  first statement, ended by commit or rollback), its queues of requests,
 *	  and what a failure does to the rest of its unit.  It calls proto and
 *	  util only; the engine moves sessions between its own queues and hands
 *	  them connections.
 */
#ifndef BM_SESSION_H
#define BM_SESSION_H

#include "proto.h"

struct Conn;

struct bm_session
{
	bm_engine  *engine;			/* the engine it belongs to */
	DLink		link;			/* the engine's list of sessions */
	QLink		wait_link;		/* the engine's queue of sessions waiting for a connection */
	Queue		requests;		/* of Request (link): not yet called back, in order */
	Queue		unsent;			/* of Request (send_link) */
	long		api_unit;		/* unit the next execute joins */
	long		wire_unit;		/* unit on the connection */
	long		failed_unit;	/* -1, or the unit that failed */
	ErrorBuf   *failure;		/* what failed failed_unit; NULL until a unit fails */
	struct Conn *conn;			/* the connection holding its unit (here only tested for NULL) */
	int			nundelivered;
	int			attempt;		/* of bm_sessionmaker_run, 0: opened by bm_session_open */
	/* flags last, packed together: thousands of sessions may wait at once */
	bool		waiting;		/* on the engine's wait queue (wait_link) */
	bool		closed;
	bool		read_only;		/* its units may run on the engine's read pool */
	bool		api_open;		/* an execute joined api_unit */
	uint8_t		isolation;		/* bm_isolation of its units (their BEGIN: session_begin) */
};

extern const char *session_begin_sql(const bm_session_options *opts);
extern const char *session_begin(const bm_session *s);
extern bool session_add(bm_session *s, Request *req);
extern void session_fail(bm_session *s, const ErrorBuf *why, bool first_gets_it);
extern void session_take_conn(bm_session *s, struct Conn *c);
extern Request *session_next_unsent(bm_session *s);
extern bool session_reapable(const bm_session *s);
extern void session_destroy(bm_session *s);

/* the session has requests that wait to be sent */
static inline bool
session_has_unsent(const bm_session *s)
{
	return !queue_empty(&s->unsent);
}

#endif							/* BM_SESSION_H */
