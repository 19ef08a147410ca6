/*
 * cancel.h
 *	  Cancel requests, off the loop.  libpq 15's PQcancel blocks (it opens a
 *	  connection to the server) and libpq keeps the backend's secret key to
 *	  itself, so each request runs PQcancel in a short-lived thread of its
 *	  own; the thread says it is done through an eventfd that the loop
 *	  watches.  Beside pool: calls util only.  The engine starts requests
 *	  and learns which finished.
 */
#ifndef BM_CANCEL_H
#define BM_CANCEL_H

#include "util.h"

typedef struct CancelJob CancelJob;

/* all zero: no request yet */
typedef struct Canceller
{
	bool		open;			/* wake_fd is made (at the first request) */
	int			wake_fd;		/* eventfd, readable when a request finished */
	CancelJob  *jobs;			/* started and not yet reported */
} Canceller;

extern bool cancel_start(Canceller *cn, PGcancel *pc, void *tag, long serial);
extern bool cancel_next_done(Canceller *cn, void **tag, long *serial);
extern void cancel_shutdown(Canceller *cn, int wait_ms);

#endif							/* BM_CANCEL_H */
