/*
 * blackhole.c
 *	  A server that accepts connections and never answers (a listener on
 *	  loopback that the test starts): sessions queued over time while no
 *	  connection can be made all get their callbacks within a bound derived
 *	  from the timeouts, the next host of a multi-host URL is tried when the
 *	  first one never answers, and connections get short TCP keepalives
 *	  unless the URL sets them.  A small poll loop of the test's own drives
 *	  the engine, so that it can queue work while the engine waits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bmtest.h"

#define MAXFD 1024
#define NSESSIONS 200
#define CONNECT_TIMEOUT_MS 2000
#define STATEMENT_TIMEOUT_MS 1000
/* the longest wait between attempts (pool.c's BACKOFF_MAX_MS) */
#define BACKOFF_MS 1000
/* no unbounded wait: three times the theory, so that a slow machine passes */
#define BOUND_MS (3 * (CONNECT_TIMEOUT_MS + BACKOFF_MS))

/* the bound, stretched for the valgrind and sanitizer runs (BMT_SLOW) */
static int
bound_ms(void)
{
	const char *slow = getenv("BMT_SLOW");

	return BOUND_MS * (slow && atoi(slow) > 1 ? atoi(slow) : 1);
}

/* what the test's loop watches */
typedef struct loop
{
	int			events[MAXFD];
	long		timer_ms;
	int			keepidle;		/* TCP_KEEPIDLE of the last socket added, -1: none */
} loop;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a socket the engine watches: remember its keepalive setting */
static void
watch(loop *l, int fd, int ev, bool on)
{
	int			v = -1;
	socklen_t	len = sizeof(v);

	if (fd < 0 || fd >= MAXFD)
		tap_bail("socket number out of the test loop's range");
	if (on)
	{
		l->events[fd] |= ev;
		if (getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len) == 0)
			l->keepidle = v;
	}
	else
		l->events[fd] &= ~ev;
}

static void
add_read(void *d, int fd)
{
	watch(d, fd, BM_EV_READ, true);
}

static void
del_read(void *d, int fd)
{
	watch(d, fd, BM_EV_READ, false);
}

static void
add_write(void *d, int fd)
{
	watch(d, fd, BM_EV_WRITE, true);
}

static void
del_write(void *d, int fd)
{
	watch(d, fd, BM_EV_WRITE, false);
}

static void
schedule_timer(void *d, long ms)
{
	((loop *) d)->timer_ms = ms;
}

/* one turn: wait at most max_ms for the engine's sockets or timer */
static void
turn(bm_engine *e, loop *l, int max_ms)
{
	static struct pollfd fds[MAXFD];
	int			n = 0,
				i,
				wait = max_ms;
	int64_t		start = now_ms();

	for (i = 0; i < MAXFD; i++)
	{
		if (l->events[i] == 0)
			continue;
		fds[n].fd = i;
		fds[n].events = ((l->events[i] & BM_EV_READ) ? POLLIN : 0) |
			((l->events[i] & BM_EV_WRITE) ? POLLOUT : 0);
		fds[n++].revents = 0;
	}
	if (l->timer_ms >= 0 && l->timer_ms < wait)
		wait = (int) l->timer_ms;
	poll(fds, n, wait);
	for (i = 0; i < n; i++)
		if (fds[i].revents)
			bm_engine_on_ready(e, fds[i].fd,
							   ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ? BM_EV_READ : 0) |
							   ((fds[i].revents & POLLOUT) ? BM_EV_WRITE : 0));
	if (l->timer_ms >= 0)
	{
		l->timer_ms -= now_ms() - start;
		if (l->timer_ms <= 0)
		{
			l->timer_ms = -1;
			bm_engine_on_timer(e);
		}
	}
}

/* an engine driven by the test's loop */
static bm_engine *
attached_engine(const char *url, const bm_engine_options *opts, loop *l)
{
	bm_ev_hooks h = {l, add_read, del_read, add_write, del_write, schedule_timer, NULL};
	bm_error	err;
	bm_engine  *e = bm_engine_create(url, opts, &err);

	if (e == NULL)
		tap_bail(err.message);
	memset(l, 0, sizeof(*l));
	l->timer_ms = -1;
	l->keepidle = -1;
	if (bm_engine_attach(e, &h) != 0)
		tap_bail("bm_engine_attach failed");
	return e;
}

/* a TCP port on loopback that completes the handshake (listen backlog) but never speaks */
static int
silent_listener(int *port)
{
	struct sockaddr_in addr = {0};
	socklen_t	len = sizeof(addr);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(fd, 1024) != 0 ||
		getsockname(fd, (struct sockaddr *) &addr, &len) != 0)
		tap_bail("cannot make a listening socket");
	*port = ntohs(addr.sin_port);
	return fd;
}

/* one session's callbacks, with the time they came */
typedef struct timed
{
	int64_t		queued;
	int			calls;
	int64_t		last;
	int			code;
} timed;

static int	callbacks = 0;

static void
timed_result(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	timed	   *t = arg;

	(void) s;
	(void) res;
	t->calls++;
	t->last = now_ms();
	t->code = err->code;
	callbacks++;
}

static void
timed_done(bm_session *s, const bm_error *err, void *arg)
{
	timed_result(s, NULL, err, arg);
}

/*
 * The first two sessions a second apart, so that the two connection
 * attempts they start are out of step (each slot retries after its own
 * failure, and one is always under way when the other fails), then the
 * rest at once, while the server never answers.
 */
static int64_t
queue_time(int i)
{
	return i < 2 ? 1000 * i : 1100;
}

static void
test_queued_sessions(void)
{
	static timed stmt[NSESSIONS],
				commit[NSESSIONS];
	bm_engine_options opts = {.pool_size = 2, .connect_timeout_ms = CONNECT_TIMEOUT_MS,
	.statement_timeout_ms = STATEMENT_TIMEOUT_MS};
	int			port,
				fd = silent_listener(&port),
				queued = 0,
				i,
				all = 0,
				failed = 0;
	int64_t		start = now_ms(),
				worst = 0;
	char		url[200];
	loop		l;
	bm_engine  *e;
	bm_sessionmaker *m;

	snprintf(url, sizeof(url), "postgresql://nobody@127.0.0.1:%d/nothing?sslmode=disable", port);
	e = attached_engine(url, &opts, &l);
	m = bm_sessionmaker_create(e, NULL);
	/* a blackhole of 40 s; its end (connections refused) ends every wait anyway */
	while (callbacks < 2 * NSESSIONS && now_ms() - start < 40000)
	{
		while (queued < NSESSIONS && now_ms() - start >= queue_time(queued))
		{
			bm_session *s = bm_session_open(m);

			stmt[queued].queued = commit[queued].queued = now_ms();
			bm_session_execute(s, "SELECT 1", 0, NULL, timed_result, &stmt[queued]);
			bm_session_commit(s, timed_done, &commit[queued]);
			bm_session_close(s);
			queued++;
		}
		turn(e, &l, 20);
	}
	close(fd);
	while (callbacks < 2 * NSESSIONS && now_ms() - start < 60000)
		turn(e, &l, 100);
	for (i = 0; i < NSESSIONS; i++)
	{
		all += stmt[i].calls == 1 && commit[i].calls == 1;
		failed += stmt[i].code != BM_OK && commit[i].code != BM_OK;
		if (commit[i].calls && commit[i].last - commit[i].queued > worst)
			worst = commit[i].last - commit[i].queued;
		if (commit[i].calls == 0 || stmt[i].calls == 0)
			worst = INT32_MAX;
	}
	TAP_INT_EQ(all, NSESSIONS, "blackhole: every session queued while no connection can be made gets its callbacks");
	TAP_INT_EQ(failed, NSESSIONS, "blackhole: and fails");
	tap_ok(worst <= bound_ms(), "blackhole: no callback waits longer than the timeouts allow",
		   "the longest wait was %lld ms, over %d ms (connect_timeout_ms %d plus the backoff, three times over)",
		   (long long) worst, bound_ms(), CONNECT_TIMEOUT_MS);
	tap_ok(l.keepidle == 15, "keepalive: a connection gets TCP keepalives after 15 s of silence by default",
		   "TCP_KEEPIDLE is %d", l.keepidle);
	bm_engine_free(e);
}

/* the URL's own keepalive setting wins */
static void
test_keepalive_setting(void)
{
	bm_engine_options opts = {.pool_size = 1, .connect_timeout_ms = 200};
	int			port,
				fd = silent_listener(&port);
	char		url[200];
	loop		l;
	bm_engine  *e;
	bmt_rec		x = {0};

	snprintf(url, sizeof(url), "postgresql://nobody@127.0.0.1:%d/nothing?sslmode=disable&keepalives_idle=7", port);
	e = attached_engine(url, &opts, &l);
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &x);
	while (x.calls == 0)
		turn(e, &l, 100);
	TAP_INT_EQ(l.keepidle, 7, "keepalive: keepalives_idle in the URL sets it");
	BMT_REC_IS(x, BM_ERR_TIMEOUT, "keepalive: the attempt timed out");
	bm_engine_free(e);
	close(fd);
}

/* the first host never answers: the second one is tried, each with its own timeout */
static void
test_failover(void)
{
	PGconn	   *check = bmt_check_conn();
	bm_engine_options opts = {.pool_size = 1, .connect_timeout_ms = 500};
	int			port,
				fd = silent_listener(&port);
	char		url[1024];
	bm_error	err;
	bm_engine  *e;
	bmt_rec		x = {0};

	snprintf(url, sizeof(url), "host=127.0.0.1,%s port=%d,%s user=%s dbname=%s password=%s sslmode=disable",
			 PQhost(check), port, PQport(check), PQuser(check), PQdb(check), PQpass(check) ? PQpass(check) : "");
	e = bm_engine_create(url, &opts, &err);
	if (e == NULL)
		tap_bail(err.message);
	bm_engine_execute(e, "SELECT 42", 0, NULL, bmt_result_cb, &x);
	bm_engine_run(e);
	BMT_REC_IS(x, BM_OK, "failover: with the first host blackholed, the second one answers");
	TAP_STR_EQ(x.value, "42", "failover: with the statement's value");
	bm_engine_free(e);

	/* the same through the URL's connect_timeout */
	memset(&x, 0, sizeof(x));
	snprintf(url + strlen(url), sizeof(url) - strlen(url), " connect_timeout=1");
	e = bm_engine_create(url, NULL, &err);
	if (e == NULL)
		tap_bail(err.message);
	bm_engine_execute(e, "SELECT 42", 0, NULL, bmt_result_cb, &x);
	bm_engine_run(e);
	BMT_REC_IS(x, BM_OK, "failover: connect_timeout in the URL applies per host too");
	bm_engine_free(e);
	close(fd);
	PQfinish(check);
}

int
main(void)
{
	bmt_guard(120);
	test_failover();
	test_keepalive_setting();
	test_queued_sessions();
	return tap_done();
}
