/*
 * cancel.c
 *	  Cancel requests in threads of their own (see cancel.h).  A request is
 *	  shared by the engine's thread, which reports it done once, and its
 *	  cancel thread: whichever lets go of it last frees it, so a request
 *	  still on its way when the engine is freed finishes on its own.  Calls
 *	  util only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cancel.h"

struct CancelJob
{
	CancelJob  *next;			/* the Canceller's list (the engine's thread only) */
	PGcancel   *cancel;
	void	   *tag;			/* the engine's: whom the request is for */
	long		serial;			/* the engine's: which connection of that slot */
	int			wake_fd;		/* the thread's own copy of the eventfd */
	atomic_int	refs;			/* 2 while both the engine and the thread hold it */
	atomic_bool done;
};

/* let go of a request; the last holder frees it */
static void
job_release(CancelJob *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	PQfreeCancel(j->cancel);
	close(j->wake_fd);
	free(j);
}

/*
 * The cancel thread: send the request (PQcancel waits for the server to
 * close the connection, so the backend has been signalled when it
 * returns), then wake the loop.  Signals stay with the program's threads.
 */
static void *
cancel_main(void *arg)
{
	CancelJob  *j = arg;
	sigset_t	all;
	char		errbuf[256];
	uint64_t	one = 1;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* a failed request leaves the statement running: nothing else to do */
	(void) PQcancel(j->cancel, errbuf, sizeof(errbuf));
	atomic_store(&j->done, true);
	if (write(j->wake_fd, &one, sizeof(one)) < 0)
	{
		/* the counter cannot overflow at one per request; the loop reads it */
	}
	job_release(j);
	return NULL;
}

/*
 * Send the cancel request pc (taken over, also on failure) in a thread of
 * its own; tag and serial come back from cancel_next_done.  False when no
 * thread (or eventfd) could be made: the request is not sent.
 */
bool
cancel_start(Canceller *cn, PGcancel *pc, void *tag, long serial)
{
	CancelJob  *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t	thread;
	int			rc;

	if (!cn->open && (cn->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0)
		cn->open = true;
	if (j == NULL || !cn->open || (j->wake_fd = fcntl(cn->wake_fd, F_DUPFD_CLOEXEC, 0)) < 0)
	{
		PQfreeCancel(pc);
		free(j);
		return false;
	}
	j->cancel = pc;
	j->tag = tag;
	j->serial = serial;
	atomic_init(&j->refs, 2);
	atomic_init(&j->done, false);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &attr, cancel_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0)
	{
		atomic_store(&j->refs, 1);
		job_release(j);
		return false;
	}
	j->next = cn->jobs;
	cn->jobs = j;
	return true;
}

/*
 * A request that finished (sent, or failed to be): true with its tag and
 * serial, once per request; false when none has finished since.
 */
bool
cancel_next_done(Canceller *cn, void **tag, long *serial)
{
	CancelJob **p;
	uint64_t	count;

	if (!cn->open || (read(cn->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN))
		return false;
	for (p = &cn->jobs; *p; p = &(*p)->next)
	{
		CancelJob  *j = *p;

		if (!atomic_load(&j->done))
			continue;
		*p = j->next;
		*tag = j->tag;
		*serial = j->serial;
		job_release(j);
		return true;
	}
	return false;
}

/*
 * The engine goes: wait up to wait_ms for the requests on their way (so
 * that a program exiting right after bm_engine_free still cancels), then
 * leave the rest to their threads.
 */
void
cancel_shutdown(Canceller *cn, int wait_ms)
{
	int64_t		deadline = now_ms() + wait_ms;
	CancelJob  *j;

	while (cn->open)
	{
		struct pollfd pfd = {.fd = cn->wake_fd, .events = POLLIN};
		int64_t		left = deadline - now_ms();
		bool		all_done = true;

		for (j = cn->jobs; j; j = j->next)
			all_done = all_done && atomic_load(&j->done);
		if (all_done || left <= 0)
			break;
		if (poll(&pfd, 1, (int) left) > 0)
		{
			uint64_t	count;

			if (read(cn->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				break;
		}
	}
	while ((j = cn->jobs) != NULL)
	{
		cn->jobs = j->next;
		job_release(j);
	}
	if (cn->open)
		close(cn->wake_fd);
	cn->open = false;
}
