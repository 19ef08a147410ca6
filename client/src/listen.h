/*
 * listen.h
 *	  The listen connection: one libpq connection of its own, outside the
 *	  pool, for LISTEN.  Opened when the first channel is listened to,
 *	  closed after the last is unlistened, connected again (with the pool's
 *	  backoff) after it is lost, when every channel is listened to again and
 *	  marked for a gap callback.  Notifications stay in libpq's list until
 *	  the engine takes them, one at a time, from the loop.  Beside pool:
 *	  calls util only; the engine delivers what it reports.
 */
#ifndef BM_LISTEN_H
#define BM_LISTEN_H

#include "util.h"

/* the longest channel name: the server's identifiers (NAMEDATALEN - 1) */
#define LISTEN_MAX_CHANNEL 63

typedef enum ListenState
{
	LISTEN_CLOSED,				/* no connection */
	LISTEN_CONNECTING,
	LISTEN_READY
} ListenState;

typedef struct ListenChannel
{
	DLink		link;			/* the Listener's list */
	bm_notify_cb cb;
	void	   *arg;
	bool		wanted;			/* the program listens to it */
	bool		listened;		/* the server confirmed LISTEN on this connection */
	bool		sent;			/* in the command on the wire */
	bool		sent_listen;	/* that command LISTENs it (else UNLISTENs) */
	bool		was_listened;	/* listened on a connection that was lost */
	bool		gap;			/* a gap callback is due */
	char		name[];
} ListenChannel;

typedef struct Listener
{
	const char *const *keywords;	/* the pool's connection parameters */
	const char *const *values;
	int			connect_timeout_ms;
	NoticeQueue *notices;
	const bm_ev_hooks *hooks;	/* the attached loop's, NULL: none */
	ListenState state;
	PGconn	   *pg;
	PostgresPollingStatusType poll;
	int64_t		connect_deadline;	/* 0: none */
	int64_t		retry_at;		/* no attempt before this, 0: any time */
	int			backoff_ms;		/* wait after the next failure */
	bool		busy;			/* a command waits for its results */
	bool		command_failed;
	bool		out_pending;	/* PQflush said: more to write */
	DList		channels;		/* of ListenChannel (link) */
	int			watch_fd;
	int			watch_ev;
	bool		rewatch;
} Listener;

extern Listener *listen_create(const char *const *keywords, const char *const *values,
							   int connect_timeout_ms, NoticeQueue *notices,
							   const bm_ev_hooks *hooks);
extern void listen_free(Listener *l);
extern bool listen_add(Listener *l, const char *name, bm_notify_cb cb, void *arg);
extern bool listen_remove(Listener *l, const char *name);
extern bool listen_active(const Listener *l);
extern void listen_pump(Listener *l, int64_t now);
extern void listen_io(Listener *l, int events);
extern PGnotify *listen_next_notify(Listener *l, bm_notify_cb *cb, void **arg);
extern ListenChannel *listen_next_gap(Listener *l);
extern int64_t listen_next_deadline(const Listener *l);
extern int	listen_fd(const Listener *l);
extern int	listen_wanted_events(const Listener *l);
extern void listen_sync_watches(Listener *l);

#endif							/* BM_LISTEN_H */
