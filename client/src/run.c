/*
 * run.c
 *	  bm_sessionmaker_run: a unit of work run again when another attempt may
 *	  succeed where this one failed: the server's serialization failure
 *	  (40001) or deadlock (40P01), or a connection lost before the COMMIT
 *	  could run.  A commit whose outcome is unknown, or any other failure, is
 *	  reported, never retried.  Each attempt is a fresh session; between
 *	  attempts a short randomized backoff waits on an engine timer, never in
 *	  a sleep.  Part of the engine layer: it queues work through the public
 *	  calls of api.c and waits on the engine's timers.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* one call of bm_sessionmaker_run, from the call to its done callback */
typedef struct Run
{
	Timer		timer;			/* starts the next attempt */
	bm_sessionmaker maker;		/* a copy: the caller's may be freed during the run */
	bm_work_fn	work;
	bm_done_cb	done;
	void	   *arg;
	int			max_attempts;
	int			attempt;		/* attempts started */
	ErrorBuf	gave_up;		/* why work returned -1, while its rollback runs */
} Run;

/* the run is over: done once with err (s may be NULL), then the run goes */
static void
finish(Run *run, bm_session *s, const bm_error *err)
{
	if (run->done)
		run->done(s, err, run->arg);
	err_clear(&run->gave_up);
	free(run);
}

/* the failure may not happen again: the server asks for a retry, or nothing reached COMMIT */
static bool
retryable(const bm_error *err)
{
	if (err->code == BM_ERR_CONNECTION)
		return true;
	return err->code == BM_ERR_SQL &&
		(strcmp(err->sqlstate, "40001") == 0 || strcmp(err->sqlstate, "40P01") == 0);
}

/*
 * Milliseconds to wait after `failed` attempts: random in [b/2, b] where b
 * is 10 ms doubling up to 1 s, so that units that collided do not collide
 * again in step.
 */
static int64_t
backoff_ms(int failed)
{
	static __thread uint64_t state;
	int			base = failed >= 7 ? 1000 : 10 << (failed - 1);

	if (state == 0)
		state = ((uint64_t) now_ms() * 6364136223846793005ULL) ^ (uintptr_t) &state ^ 1;
	/* xorshift64: plenty for spreading retries */
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return base / 2 + (int64_t) (state % (uint64_t) (base / 2 + 1));
}

/* the attempt's COMMIT is answered: the outcome, or another attempt */
static void
committed(bm_session *s, const bm_error *err, void *arg)
{
	Run		   *run = arg;
	bm_engine  *e = s->engine;

	if (err->code == BM_OK || !retryable(err) || run->attempt >= run->max_attempts ||
		e->closing || e->free_requested)
	{
		finish(run, s, err);
		return;
	}
	run->timer.at = now_ms() + backoff_ms(run->attempt);
	engine_add_timer(e, &run->timer);
}

/* work gave up and its statements are rolled back: done with its reason */
static void
rolled_back(bm_session *s, const bm_error *err, void *arg)
{
	Run		   *run = arg;
	bm_error	why;

	(void) err;
	err_public(&run->gave_up, &why);
	finish(run, s, &why);
}

/*
 * One attempt: a fresh session, work's statements, and the COMMIT, queued
 * at once so that the unit is one round trip.  The session is closed as
 * soon as the COMMIT is queued, so that a statement callback cannot add to
 * a unit that is already on its way (its execute is refused).
 */
static void
attempt_start(Timer *t, bool closing)
{
	static const bm_error closed = {.code = BM_ERR_CLOSED,
	.message = "the engine was freed before the unit of work finished"};
	static const bm_error ended = {.code = BM_ERR_USAGE,
	.message = "bm_sessionmaker_run: the work function must not commit or roll back (the run does)"};
	static const bm_error ok = {.code = BM_OK, .message = ""};
	Run		   *run = (Run *) t;
	bm_session *s;
	const bm_error *err;
	bm_error	why;

	if (closing)
	{
		finish(run, NULL, &closed);
		return;
	}
	run->attempt++;
	if ((s = bm_session_open(&run->maker)) == NULL)
	{
		finish(run, NULL, bm_last_error());
		return;
	}
	s->attempt = run->attempt;
	set_last_error(BM_ERR_USAGE, "bm_sessionmaker_run: the work function gave up (returned -1)");
	if (run->work(s, run->arg) != 0)
	{
		err = bm_last_error();
		err_set(&run->gave_up, err->code, err->sqlstate, err->message, err->detail, err->hint);
		if (s->api_open && bm_session_rollback(s, rolled_back, run) == 0)
		{
			bm_session_close(s);
			return;
		}
		err_public(&run->gave_up, &why);
		err = &why;
	}
	else if (s->api_unit != 0)
		err = &ended;
	else if (!s->api_open)
		err = &ok;				/* nothing to commit */
	else if (bm_session_commit(s, committed, run) == 0)
	{
		bm_session_close(s);
		return;
	}
	else
		err = bm_last_error();
	finish(run, s, err);
	bm_session_close(s);
}

BM_EXPORT int
bm_sessionmaker_run(bm_sessionmaker *m, bm_work_fn work, bm_done_cb done, void *arg,
					int max_attempts)
{
	Run		   *run;

	if (m == NULL || work == NULL)
	{
		set_last_error(BM_ERR_USAGE, "bm_sessionmaker_run: %s is NULL",
					   m == NULL ? "sessionmaker" : "work");
		return -1;
	}
	if (max_attempts < 1)
	{
		set_last_error(BM_ERR_USAGE, "bm_sessionmaker_run: max_attempts is %d; it must be at least 1",
					   max_attempts);
		return -1;
	}
	if (check_engine(m->engine) != 0)
		return -1;
	if ((run = calloc(1, sizeof(*run))) == NULL)
	{
		set_last_error(BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	run->maker = *m;
	run->work = work;
	run->done = done;
	run->arg = arg;
	run->max_attempts = max_attempts;
	/* work is a callback: it runs from the loop, never inside this call */
	run->timer.fire = attempt_start;
	run->timer.at = now_ms();
	engine_add_timer(m->engine, &run->timer);
	return 0;
}

BM_EXPORT int
bm_session_attempt(const bm_session *s)
{
	return s ? s->attempt : 0;
}
