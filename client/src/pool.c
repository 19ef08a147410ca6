/*
 * pool.c
 *	  A pool of connections to one server: its conninfo (checked up front),
 *	  starting connections lazily without blocking (PQconnectStartParams /
 *	  PQconnectPoll) with a backoff between failed attempts, picking one for
 *	  work, timing them out, and all their I/O: libpq's wire for proto,
 *	  reading answers into proto, writing, and the sockets an attached loop
 *	  watches.  It never touches sessions or the engine's queues: what
 *	  happened goes back up as return values and ProtoEvents.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pool.h"

/*
 * libpq checks these values only when it connects; we connect lazily, so a
 * typo would surface much later.  Check the enumerated ones and ports now.
 */
static const char *
check_value(const char *keyword, const char *val)
{
	static const struct
	{
		const char *keyword;
		const char *allowed;
	}			enums[] = {
		{"sslmode", ",disable,allow,prefer,require,verify-ca,verify-full,"},
		{"gssencmode", ",disable,prefer,require,"},
		{"channel_binding", ",disable,prefer,require,"},
		{"target_session_attrs", ",any,read-write,read-only,primary,standby,prefer-standby,"},
	};
	size_t		i;

	for (i = 0; i < sizeof(enums) / sizeof(enums[0]); i++)
	{
		char		probe[64];

		if (strcmp(keyword, enums[i].keyword) != 0)
			continue;
		snprintf(probe, sizeof(probe), ",%s,", val);
		if (strchr(val, ',') || strlen(val) > 40 || strstr(enums[i].allowed, probe) == NULL)
			return enums[i].allowed;
	}
	if (strcmp(keyword, "port") == 0)
	{
		const char *p;

		for (p = val; *p; p++)
			if ((*p < '0' || *p > '9') && *p != ',')
				return "a number (or a comma-separated list of numbers)";
	}
	return NULL;
}

/* what target_session_attrs asks for: a pool drops a connection whose server is not that any more */
static void
pool_target(Pool *p, const char *attrs)
{
	p->writable = strcmp(attrs, "read-write") == 0 || strcmp(attrs, "primary") == 0;
	p->standby = strcmp(attrs, "standby") == 0;
}

/* parse and check the URL: 0, or -1 (a bad URL or value) or -2 (out of memory) with the problem in why */
static int
build_conninfo(Pool *p, const char *url, const bm_engine_options *o, char *why, size_t whylen)
{
	PQconninfoOption *opts,
			   *opt;
	char	   *errmsg = NULL;
	int			n = 0,
				i = 0;
	const char *appname = o->application_name;

	opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL)
	{
		snprintf(why, whylen, "invalid connection URL or string: %s",
				 errmsg ? errmsg : "out of memory");
		if (errmsg)
		{
			size_t		l = strlen(why);

			while (l > 0 && why[l - 1] == '\n')
				why[--l] = '\0';
		}
		PQfreemem(errmsg);
		return -1;
	}
	for (opt = opts; opt->keyword; opt++)
	{
		const char *allowed;

		if (opt->val == NULL)
			continue;
		n++;
		if ((allowed = check_value(opt->keyword, opt->val)) != NULL)
		{
			/* the lists of allowed values are ",a,b,": show "a,b" */
			snprintf(why, whylen, "invalid value \"%s\" for connection option \"%s\" (allowed: %.*s)",
					 opt->val, opt->keyword,
					 (int) strlen(allowed) - (allowed[0] == ',' ? 2 : 0), allowed + (allowed[0] == ',' ? 1 : 0));
			PQconninfoFree(opts);
			return -1;
		}
		if (strcmp(opt->keyword, "application_name") == 0 && appname == NULL)
			appname = opt->val;
		/* such a pool drops a connection whose server changed role */
		if (strcmp(opt->keyword, "target_session_attrs") == 0)
			pool_target(p, opt->val);
		/* libpq enforces connect_timeout only when it blocks; we enforce it */
		if (strcmp(opt->keyword, "connect_timeout") == 0 && p->connect_timeout_ms == 0)
			p->connect_timeout_ms = atoi(opt->val) > 0 ? atoi(opt->val) * 1000 : 0;
	}
	if (appname == NULL)
		appname = "basemodel";

	p->keywords = calloc(n + 2, sizeof(char *));
	p->values = calloc(n + 2, sizeof(char *));
	if (p->keywords == NULL || p->values == NULL)
		goto nomem;
	for (opt = opts; opt->keyword; opt++)
	{
		if (opt->val == NULL || strcmp(opt->keyword, "application_name") == 0)
			continue;
		p->keywords[i] = strdup(opt->keyword);
		p->values[i] = strdup(opt->val);
		if (p->keywords[i] == NULL || p->values[i++] == NULL)
			goto nomem;
	}
	p->keywords[i] = strdup("application_name");
	p->values[i] = strdup(appname);
	if (p->keywords[i] == NULL || p->values[i++] == NULL)
		goto nomem;
	PQconninfoFree(opts);
	return 0;

nomem:
	PQconninfoFree(opts);
	snprintf(why, whylen, "out of memory");
	return -2;
}

/*
 * A connection parameter the URL did not set gets value (the read pool's
 * target_session_attrs); false when out of memory.
 */
static bool
default_param(Pool *p, const char *keyword, const char *value)
{
	const char **keywords,
			  **values;
	int			n;

	for (n = 0; p->keywords[n]; n++)
		if (strcmp(p->keywords[n], keyword) == 0)
			return true;
	if (strcmp(keyword, "target_session_attrs") == 0)
		pool_target(p, value);
	keywords = realloc(p->keywords, (n + 2) * sizeof(char *));
	if (keywords)
		p->keywords = keywords;
	values = realloc(p->values, (n + 2) * sizeof(char *));
	if (values)
		p->values = values;
	if (keywords == NULL || values == NULL)
		return false;
	keywords[n + 1] = values[n + 1] = NULL;
	if ((values[n] = strdup(value)) == NULL)
		return false;
	if ((keywords[n] = strdup(keyword)) == NULL)
	{
		free((char *) values[n]);
		values[n] = NULL;
		return false;
	}
	return true;
}

/* the connection parameters go */
static void
free_conninfo(Pool *p)
{
	int			i;

	for (i = 0; p->keywords && p->keywords[i]; i++)
	{
		free((char *) p->keywords[i]);
		free((char *) p->values[i]);
	}
	/* a failed strdup may leave a value without its keyword */
	if (p->values && p->keywords)
		free((char *) p->values[i]);
	free(p->keywords);
	free(p->values);
}

/* libpq's wire for proto: ctx is the Conn */
static bool
wire_prepare(void *ctx, const char *name, const char *sql)
{
	return PQsendPrepare(((Conn *) ctx)->pg, name, sql, 0, NULL) == 1;
}

/* a statement by name (prepared) or with its text (unnamed) */
static bool
wire_query(void *ctx, const char *name, const char *sql, int nparams, const char *const *params)
{
	Conn	   *c = ctx;
	PGconn	   *pg = c->pg;
	size_t		bytes = 0;
	int			i;

	for (i = 0; i < nparams && bytes < BIG_SEND; i++)
		if (params[i])
			bytes += strnlen(params[i], BIG_SEND);
	if (bytes >= BIG_SEND)
		c->big_out = true;
	if (name)
		return PQsendQueryPrepared(pg, name, nparams, params, NULL, NULL, 0) == 1;
	return PQsendQueryParams(pg, sql, nparams, NULL, params, NULL, NULL, 0) == 1;
}

/* a Sync message */
static bool
wire_sync(void *ctx)
{
	return PQpipelineSync(((Conn *) ctx)->pg) == 1;
}

/* a Flush message: the server answers what it has so far */
static bool
wire_flush(void *ctx)
{
	return PQsendFlushRequest(((Conn *) ctx)->pg) == 1;
}

/* the current query's rows come one result each */
static bool
wire_single_row(void *ctx)
{
	return PQsetSingleRowMode(((Conn *) ctx)->pg) == 1;
}

static const ProtoWire libpq_wire = {wire_prepare, wire_query, wire_sync, wire_flush, wire_single_row};

/*
 * A pool of size connections, none started; default_attrs: the
 * target_session_attrs unless the URL sets it (NULL: libpq's).  NULL with
 * *code and why when it cannot be.
 */
Pool *
pool_create(const char *url, const char *default_attrs, const bm_engine_options *o,
			int size, int cache_size, SqlTable *texts, int *code, char *why, size_t whylen)
{
	Pool	   *p = calloc(1, sizeof(*p));
	int			i,
				rc;

	*code = BM_ERR_NOMEM;
	snprintf(why, whylen, "out of memory");
	if (p == NULL)
		return NULL;
	p->size = size;
	p->connect_timeout_ms = o->connect_timeout_ms;
	p->statement_timeout_ms = o->statement_timeout_ms;
	if ((rc = build_conninfo(p, url, o, why, whylen)) < 0)
	{
		*code = rc == -1 ? BM_ERR_USAGE : BM_ERR_NOMEM;
		pool_free(p);
		return NULL;
	}
	/* before the hosts are split: each host's parameters carry it */
	if (default_attrs && !default_param(p, "target_session_attrs", default_attrs))
	{
		pool_free(p);
		return NULL;
	}
	if (conninfo_add_keepalives(&p->keywords, &p->values) == 0)
		p->host_values = conninfo_split_hosts(p->keywords, p->values, &p->nhosts);
	if (p->nhosts <= 0)
	{
		pool_free(p);
		return NULL;
	}
	if ((p->conns = calloc(size, sizeof(Conn))) == NULL)
	{
		pool_free(p);
		return NULL;
	}
	for (i = 0; i < size; i++)
	{
		Conn	   *c = &p->conns[i];

		c->pool = p;
		c->watch_fd = -1;
		if (proto_init(&c->proto, &libpq_wire, c, cache_size, texts) != 0)
		{
			pool_free(p);
			return NULL;
		}
		proto_set_statement_timeout(&c->proto, p->statement_timeout_ms);
		c->proto.max_replays = size;
	}
	return p;
}

/* the pool's memory; its connections are closed already */
void
pool_free(Pool *p)
{
	int			i;

	if (p == NULL)
		return;
	for (i = 0; p->conns && i < p->size; i++)
		proto_destroy(&p->conns[i].proto);
	free(p->conns);
	conninfo_free_hosts(p->host_values, p->nhosts);
	free_conninfo(p);
	notice_clear(&p->notices);
	free(p);
}

/*
 * Every notice goes to the pool's queue for the engine to deliver (never to
 * stderr).  A FATAL that comes while the connection is idle reaches libpq as
 * a notice too: the server is closing the connection (a restart,
 * pg_terminate_backend, idle_session_timeout).
 */
static void
conn_notice(void *arg, const PGresult *res)
{
	Conn	   *c = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
		c->server_fatal = true;
	notice_receive(&c->pool->notices, res);
}

/* stop watching a connection's socket; done before libpq closes it */
static void
unwatch(Conn *c)
{
	if (c->pool->hooks && c->watch_fd >= 0)
		hook_events(c->pool->hooks, c->watch_fd, c->watch_ev, 0);
	c->watch_fd = -1;
	c->watch_ev = 0;
}

/*
 * Wait for the flusher and take the connection back.  stop: end a flush that
 * may be stuck (the connection is being dropped) by shutting the socket down
 * under it, so that its blocking write fails at once.
 */
static void
end_flush(Conn *c, bool stop)
{
	if (stop)
		shutdown(PQsocket(c->pg), SHUT_RDWR);
	pthread_join(c->flusher, NULL);
	close(c->flush_pipe[0]);
	close(c->flush_pipe[1]);
	c->flushing = false;
	c->rewatch = true;
	c->big_out = false;
}

/* forget the libpq connection; the loop stops watching its socket first */
static void
conn_reset(Conn *c)
{
	if (c->flushing)
		end_flush(c, true);
	free(c->first_settings);
	c->first_settings = NULL;
	proto_reset(&c->proto);
	unwatch(c);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = CONN_EMPTY;
	c->out_pending = c->read_this_turn = c->server_fatal = false;
	c->connect_deadline = 0;
	c->cancels = 0;
	c->copy = COPY_NONE;
	free(c->copy_buf);
	c->copy_buf = NULL;
}

/* close every connection (the engine is going) */
void
pool_close_all(Pool *p)
{
	int			i;

	for (i = 0; i < p->size; i++)
		if (p->conns[i].state != CONN_EMPTY)
			conn_reset(&p->conns[i]);
}

/* a connection the engine gave up on (lost, or found dead) */
void
pool_drop(Conn *c)
{
	c->pool->disconnects++;
	conn_reset(c);
}

/*
 * The connection could not be made.  The next attempt waits, longer after
 * each failure, so that a server refusing connections is not hammered by a
 * busy loop.  When no connection is ready, why says what failed: the engine
 * then fails the work waiting for a connection.  Attempts still under way do
 * not count: attempts out of step would otherwise keep the work waiting for
 * as long as the server is unreachable.
 */
static ConnectResult start_connect(Pool *p, Conn *c, ErrorBuf *why);

static ConnectResult
connect_failed(Conn *c, int code, const char *sqlstate, const char *message, ErrorBuf *why)
{
	Pool	   *p = c->pool;
	int			i;

	conn_reset(c);
	/* a multi-host URL: the next host, at once (libpq moves on after any failure) */
	if (code != BM_ERR_NOMEM && c->host + 1 < p->nhosts)
	{
		c->host++;
		return start_connect(p, c, why);
	}
	c->host = 0;
	p->backoff_ms = backoff_next(p->backoff_ms);
	p->retry_at = now_ms() + p->backoff_ms;
	for (i = 0; i < p->size; i++)
		if (p->conns[i].state == CONN_READY)
			return CONNECT_FAILED;
	err_set(why, code, sqlstate, message, NULL, NULL);
	return CONNECT_HOPELESS;
}

/* the attempt failed: libpq's message, with the server's SQLSTATE if it sent one */
static ConnectResult
connect_refused(Conn *c, ErrorBuf *why)
{
	char		msg[1024],
				sqlstate[6];

	conninfo_refusal(c->pg, msg, sizeof(msg), sqlstate);
	return connect_failed(c, BM_ERR_CONNECTION, sqlstate[0] ? sqlstate : NULL, msg, why);
}

/* start one connection attempt */
static ConnectResult
start_connect(Pool *p, Conn *c, ErrorBuf *why)
{
	c->pg = PQconnectStartParams(p->keywords, p->host_values ? p->host_values[c->host] : p->values, 0);
	c->state = CONN_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	c->rewatch = true;
	c->connect_deadline = p->connect_timeout_ms > 0 ? now_ms() + p->connect_timeout_ms : 0;
	c->serial++;
	if (c->pg == NULL)
		return connect_failed(c, BM_ERR_NOMEM, NULL, "out of memory", why);
	PQsetNoticeReceiver(c->pg, conn_notice, c);
	/* the server's SQLSTATE of a refusal shows only in a verbose message */
	PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
	if (PQstatus(c->pg) == CONNECTION_BAD)
		return connect_refused(c, why);
	return CONNECT_PENDING;
}

/*
 * The settings a statement can change that the server reports to libpq
 * (ParameterStatus).  PostgreSQL 15 reports neither role nor search_path:
 * the statements' words tell those (sql_leaves).
 */
static const char *const reported_settings[] = {
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"IntervalStyle", "is_superuser", "session_authorization", "standard_conforming_strings",
	"TimeZone",
};

#define NREPORTED (sizeof(reported_settings) / sizeof(reported_settings[0]))

/* the reported settings, one after another with their NULs, malloc'd; NULL: out of memory */
static char *
settings_now(PGconn *pg)
{
	size_t		len = 0,
				i;
	char	   *buf,
			   *p;

	for (i = 0; i < NREPORTED; i++)
	{
		const char *v = PQparameterStatus(pg, reported_settings[i]);

		len += (v ? strlen(v) : 0) + 1;
	}
	if ((buf = malloc(len)) == NULL)
		return NULL;
	for (p = buf, i = 0; i < NREPORTED; i++)
	{
		const char *v = PQparameterStatus(pg, reported_settings[i]);

		len = v ? strlen(v) : 0;
		memcpy(p, v ? v : "", len + 1);
		p += len + 1;
	}
	return buf;
}

/* the server reports settings unlike those it had when the connection was made */
static bool
settings_changed(const Conn *c)
{
	const char *first = c->first_settings;
	size_t		i;

	for (i = 0; i < NREPORTED; i++)
	{
		const char *v = PQparameterStatus(c->pg, reported_settings[i]);

		if (strcmp(first, v ? v : "") != 0)
			return true;
		first += strlen(first) + 1;
	}
	return false;
}

/* the handshake is over: pipeline mode, and the connection takes work */
static ConnectResult
conn_ready(Conn *c, ErrorBuf *why)
{
	Pool	   *p = c->pool;

	c->connect_deadline = 0;
	if ((c->first_settings = settings_now(c->pg)) == NULL)
		return connect_failed(c, BM_ERR_NOMEM, NULL, "out of memory", why);
	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg))
	{
		char		msg[512];

		snprintf(msg, sizeof(msg), "cannot enter pipeline mode: %s", PQerrorMessage(c->pg));
		return connect_failed(c, BM_ERR_CONNECTION, NULL, msg, why);
	}
	PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
	if (p->trace)
	{
		PQtrace(c->pg, p->trace);
		PQsetTraceFlags(c->pg, PQTRACE_SUPPRESS_TIMESTAMPS);
	}
	c->state = CONN_READY;
	c->host = 0;
	p->retry_at = 0;
	p->backoff_ms = 0;
	p->connects++;
	return CONNECT_READY;
}

/* one step of the connection handshake; libpq may switch sockets in it */
ConnectResult
pool_connect_poll(Conn *c, ErrorBuf *why)
{
	c->poll = PQconnectPoll(c->pg);
	c->rewatch = true;
	switch (c->poll)
	{
		case PGRES_POLLING_OK:
			return conn_ready(c, why);
		case PGRES_POLLING_FAILED:
			return connect_refused(c, why);
		default:
			return CONNECT_PENDING;
	}
}

/* a connection attempt past its connect_timeout fails */
ConnectResult
pool_connect_timeout(Conn *c, int64_t now, ErrorBuf *why)
{
	char		msg[128];

	if (c->state != CONN_CONNECTING || c->connect_deadline == 0 || now < c->connect_deadline)
		return CONNECT_PENDING;
	snprintf(msg, sizeof(msg), "connection timed out after %d ms", c->pool->connect_timeout_ms);
	return connect_failed(c, BM_ERR_TIMEOUT, NULL, msg, why);
}

/*
 * An idle connection still up?  One the server closed while we were not
 * looking has its FATAL waiting (parsed by PQisBusy, it reaches
 * conn_notice), and the end of the stream, which a second read may be the
 * first to see.  Work that would go to it has not reached the server yet.
 */
static bool
idle_conn_alive(Conn *c)
{
	int			i;

	/* read in this very turn (the next statement queued from a callback): parse what came */
	if (c->read_this_turn)
	{
		(void) PQisBusy(c->pg);
		return !c->server_fatal && PQstatus(c->pg) != CONNECTION_BAD;
	}
	for (i = 0; i < 2; i++)
	{
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
			return false;
		(void) PQisBusy(c->pg);
		if (c->server_fatal)
			return false;
	}
	return true;
}

/* the server reported parameter name as "on" */
static bool
server_says_on(PGconn *pg, const char *name)
{
	const char *v = PQparameterStatus(pg, name);

	return v && strcmp(v, "on") == 0;
}

/*
 * The server is no longer what the pool's target_session_attrs asked for.
 * For a writable pool: a hot standby, or a primary fenced with
 * default_transaction_read_only (what a write's 25006 on such a connection
 * means); for a pool of standbys: a standby that was promoted.  Servers
 * (14 and later) report both parameters when they change, before the next
 * ReadyForQuery; an older one that reports no in_hot_standby is not judged.
 */
static bool
server_changed_role(const Pool *p, PGconn *pg)
{
	if (p->writable)
		return server_says_on(pg, "in_hot_standby") || server_says_on(pg, "default_transaction_read_only");
	if (p->standby)
		return PQparameterStatus(pg, "in_hot_standby") != NULL && !server_says_on(pg, "in_hot_standby");
	return false;
}

/*
 * A free ready connection: for a session or an autocommit statement that
 * goes alone (unframed), the least busy one with no framed statement
 * unanswered (proto_takes_unframed); for another autocommit statement, the
 * one with the fewest autocommit statements.
 * An idle connection is checked first, so that one the server closed while
 * we were not looking (a restart) is replaced instead of failing new work
 * (*dropped: one was).  One whose server changed role (a switchover: the
 * primary of a writable pool became read-only, the standby of a pool of
 * standbys was promoted) is replaced too: libpq's target_session_attrs then
 * finds a server of the right kind.
 */
Conn *
pool_pick(Pool *p, bool unframed, bool *dropped)
{
	Conn	   *best = NULL;
	int			i;

	for (i = 0; i < p->size; i++)
	{
		Conn	   *c = &p->conns[i];

		if (c->state != CONN_READY || c->holder != NULL || !proto_takes_work(&c->proto) ||
			c->cancels > 0 || c->flushing || (unframed && !proto_takes_unframed(&c->proto)))
			continue;
		if (c->proto.nops == 0 && (!idle_conn_alive(c) || server_changed_role(p, c->pg)))
		{
			pool_drop(c);
			*dropped = true;
			continue;
		}
		if (best == NULL ||
			(unframed ? c->proto.nops < best->proto.nops : c->proto.nauto < best->proto.nauto))
			best = c;
	}
	return best;
}

/* autocommit statements on one connection beyond which another one helps */
#define BUSY_AUTOCOMMIT 64

/*
 * Start connections for the demand (units and statements that wait for
 * one), up to the pool size; and one more when every free connection is busy
 * with autocommit statements, so that a flood of them spreads over the pool.
 */
ConnectResult
pool_grow(Pool *p, int demand, ErrorBuf *why)
{
	ConnectResult result = CONNECT_PENDING;
	ErrorBuf	later = {0};
	int			supply = 0,
				i;
	bool		all_busy = false;

	for (i = 0; i < p->size; i++)
	{
		Conn	   *c = &p->conns[i];

		if (c->state == CONN_READY && c->holder == NULL)
		{
			all_busy = c->proto.nauto >= BUSY_AUTOCOMMIT;
			if (!all_busy)
				break;
		}
	}
	if (all_busy)
		demand++;
	if (demand == 0 || (p->retry_at && now_ms() < p->retry_at))
		return result;
	for (i = 0; i < p->size; i++)
		if (p->conns[i].state == CONN_CONNECTING)
			supply++;
	for (i = 0; i < p->size && supply < demand; i++)
	{
		if (p->conns[i].state == CONN_EMPTY)
		{
			/* the first hopeless failure is the one reported */
			ConnectResult r = start_connect(p, &p->conns[i],
											result == CONNECT_HOPELESS ? &later : why);

			supply++;
			if (r > result)
				result = r;
		}
	}
	err_clear(&later);
	return result;
}

/*
 * The client-side guard: how long the connection may stay silent.  The
 * server answers a batch only when it reaches a Sync (or a Flush), and each
 * statement on the way has its own statement_timeout, so the guard allows
 * one timeout for every query still unanswered, and one more with a second
 * for the network: the server's timeout always fires first.  Every byte
 * read restarts it (progress_at), and an answer shortens it.
 */
static int64_t
guard_ms(const Conn *c)
{
	return (int64_t) (c->proto.nops + 1) * c->pool->statement_timeout_ms + 1000;
}

/* no answer for too long on a connection with work: msg says so */
bool
pool_answer_overdue(const Conn *c, int64_t now, char *msg, size_t len)
{
	const Pool *p = c->pool;

	if (c->state != CONN_READY || c->proto.nops == 0 || p->statement_timeout_ms <= 0 ||
		now < c->proto.progress_at + guard_ms(c))
		return false;
	snprintf(msg, len, "statement timed out: no answer from the server for %lld ms",
			 (long long) (now - c->proto.progress_at));
	return true;
}

/* the earliest deadline of any connection, 0 if none */
int64_t
pool_next_deadline(const Pool *p)
{
	int64_t		next = 0;
	int			i;

	for (i = 0; i < p->size; i++)
	{
		const Conn *c = &p->conns[i];
		int64_t		d = 0;

		if (c->state == CONN_CONNECTING)
			d = c->connect_deadline;
		else if (c->state == CONN_READY && c->proto.nops > 0 && p->statement_timeout_ms > 0)
			d = c->proto.progress_at + guard_ms(c);
		if (d && (next == 0 || d < next))
			next = d;
	}
	return next;
}

/*
 * A notification (a LISTEN run inside a function: the statement itself is
 * refused) has no reader on a pooled connection: libpq would keep every one
 * for the connection's life, so it is dropped as soon as libpq has parsed it.
 */
static void
drop_notifications(Conn *c)
{
	PGnotify   *n;

	while ((n = PQnotifies(c->pg)) != NULL)
		PQfreemem(n);
}

/*
 * Read what arrived; false: the connection is broken (pool_error says why).
 * During a flush the loop watches the flusher's pipe instead: once it says
 * done, the connection is ours again and its input is read as usual.
 */
bool
pool_consume(Conn *c)
{
	char		done;

	if (c->flushing)
	{
		if (read(c->flush_pipe[0], &done, 1) != 1)
			return true;
		end_flush(c, false);
		if (c->flush_result < 0)
			return false;
		/* the statement reached the server now: its silence is counted from here */
		c->proto.progress_at = now_ms();
	}
	if (!PQconsumeInput(c->pg))
		return false;
	/* bytes arriving are progress, also in the middle of a long result */
	c->proto.progress_at = now_ms();
	c->read_this_turn = true;
	return true;
}

/*
 * Errors that mean the session (backend) is gone, not that a statement
 * failed: the connection is bad, or the error is FATAL (the server's, or a
 * pooler's such as PgBouncer's "transaction blocks not allowed in statement
 * pooling mode", which libpq hands to whatever query is current, though it
 * is not that statement's failure).
 */
static bool
connection_error(PGconn *pg, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (severity == NULL)
		severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
	if (PQstatus(pg) == CONNECTION_BAD ||
		(severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)))
		return true;
	/* admin or crash shutdown; class 08 is not enough (08P01: wrong parameter count) */
	return state && strncmp(state, "57P0", 4) == 0;
}

/* a PGresult as the values proto reads */
static void
answer_of(PGresult *res, Answer *a)
{
	memset(a, 0, sizeof(*a));
	a->res = res;
	a->status = PQresultStatus(res);
	if (status_failed(a->status))
	{
		a->sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		a->message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (a->message == NULL)
			a->message = PQresultErrorMessage(res);
		a->detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		a->hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		a->source = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);
		a->schema_name = PQresultErrorField(res, PG_DIAG_SCHEMA_NAME);
		a->table_name = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
		a->column_name = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
		a->constraint_name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
		a->position = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	}
}

/*
 * Hand what libpq has read to proto until something happens: true with *ev
 * to apply, false when nothing more can be read for now.  In pipeline mode
 * a query's results end with a NULL from PQgetResult; a Sync's answer is a
 * single PGRES_PIPELINE_SYNC.
 */
bool
pool_next_event(Conn *c, ProtoEvent *ev)
{
	while (c->state == CONN_READY && !c->flushing && c->proto.nops > 0 && c->copy == COPY_NONE &&
		   !PQisBusy(c->pg))
	{
		PGresult   *res = PQgetResult(c->pg);
		Answer		a;

		/* a COPY's data flows now; its answer comes once the data is through */
		if (res && (PQresultStatus(res) == PGRES_COPY_IN || PQresultStatus(res) == PGRES_COPY_OUT))
		{
			c->copy = PQresultStatus(res) == PGRES_COPY_IN ? COPY_IN : COPY_OUT;
			PQclear(res);
			return false;
		}
		if (res && PQresultStatus(res) == PGRES_FATAL_ERROR && connection_error(c->pg, res))
		{
			snprintf(c->lost_message, sizeof(c->lost_message), "connection lost: %s",
					 PQresultErrorMessage(res));
			PQclear(res);
			memset(ev, 0, sizeof(*ev));
			ev->lost = BM_ERR_CONNECTION;
			ev->lost_message = c->lost_message;
			return true;
		}
		if (res)
			answer_of(res, &a);
		/* the connection's last answer: what the server reported may need a reset */
		if (res && a.status == PGRES_PIPELINE_SYNC && c->proto.nops == 1)
			a.settings_changed = settings_changed(c);
		if (!proto_feed(&c->proto, res ? &a : NULL, ev))
			break;
		if (!proto_event_empty(ev))
			return true;
	}
	/* every read ends here: what came with the answers, or while idle */
	if (c->state == CONN_READY && !c->flushing)
		drop_notifications(c);
	return false;
}

/*
 * The flusher's socket waits: a write that finds no room for 10 ms returns
 * so that input is read, a read returns at once.  Each return costs a shift
 * of the rest of the buffer, so a server that reads does not cause them.
 */
static const struct timeval flush_send_wait = {0, 10000};
static const struct timeval flush_recv_wait = {0, 1000};

/*
 * The flusher.  libpq keeps its socket non-blocking and, in non-blocking
 * mode, shifts the unsent rest of its buffer after every partial write; with
 * the socket made blocking a write takes everything at once.  The timeouts
 * make a write that waits for a server busy sending return now and then, so
 * that libpq reads that input (as its blocking mode does) instead of both
 * sides waiting for each other.
 */
static void *
flush_all(void *arg)
{
	Conn	   *c = arg;
	int			fd = PQsocket(c->pg);
	int			flags = fcntl(fd, F_GETFL);
	struct timeval send_was,
				recv_was;
	socklen_t	len = sizeof(struct timeval);
	char		done = 1;
	int			r;

	getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_was, &len);
	len = sizeof(struct timeval);
	getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &recv_was, &len);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &flush_send_wait, sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &flush_recv_wait, sizeof(struct timeval));
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	while ((r = PQflush(c->pg)) == 1)
		;
	fcntl(fd, F_SETFL, flags);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_was, sizeof(struct timeval));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &recv_was, sizeof(struct timeval));
	c->flush_result = r;
	while (write(c->flush_pipe[1], &done, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

/*
 * Hand a big output to a flusher thread; until it is done the loop watches
 * its pipe and nothing else touches the connection.  false: no thread or
 * pipe to be had, the output goes the slow way.
 */
static bool
start_flush(Conn *c)
{
	if (pipe(c->flush_pipe) != 0)
		return false;
	fcntl(c->flush_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(c->flush_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(c->flush_pipe[1], F_SETFD, FD_CLOEXEC);
	if (pthread_create(&c->flusher, NULL, flush_all, c) != 0)
	{
		close(c->flush_pipe[0]);
		close(c->flush_pipe[1]);
		return false;
	}
	c->flushing = true;
	c->rewatch = true;
	return true;
}

/* write what is queued; false: the connection is broken */
bool
pool_write(Conn *c)
{
	int			r;

	if (c->flushing)
		return true;
	r = PQflush(c->pg);
	if (r < 0)
		return false;
	c->out_pending = (r == 1);
	if (!c->out_pending)
		c->big_out = false;
	else if (c->big_out && start_flush(c))
		c->out_pending = false;
	return true;
}

/* a flusher thread owns the connection: send nothing, read nothing */
bool
pool_flushing(const Conn *c)
{
	return c->flushing;
}

/* libpq says the connection is gone (a flusher's connection is its own until it is done) */
bool
pool_broken(const Conn *c)
{
	return !c->flushing && PQstatus(c->pg) == CONNECTION_BAD;
}

/* libpq's message for the connection's last failure */
const char *
pool_error(const Conn *c)
{
	return c->pg ? PQerrorMessage(c->pg) : "";
}

/* the connection's socket, -1 if none */
int
pool_fd(const Conn *c)
{
	if (c->flushing)
		return c->flush_pipe[0];
	return (c->state != CONN_EMPTY && c->pg) ? PQsocket(c->pg) : -1;
}

/* the events (BM_EV_READ, BM_EV_WRITE) the connection waits for */
int
pool_wanted_events(const Conn *c)
{
	switch (c->state)
	{
		case CONN_CONNECTING:
			if (c->poll == PGRES_POLLING_READING)
				return BM_EV_READ;
			if (c->poll == PGRES_POLLING_WRITING)
				return BM_EV_WRITE;
			return 0;
		case CONN_READY:
			if (c->flushing)
				return BM_EV_READ;
			/* a COPY FROM STDIN writes whenever the socket takes more */
			return BM_EV_READ | ((c->out_pending || c->copy == COPY_IN) ? BM_EV_WRITE : 0);
		case CONN_EMPTY:
			break;
	}
	return 0;
}

/* the loop woke up: what was read before is no proof of life any more */
void
pool_new_turn(Pool *p)
{
	int			i;

	for (i = 0; i < p->size; i++)
		p->conns[i].read_this_turn = false;
}

/*
 * Tell the attached loop what changed.  During a connection attempt libpq
 * may close a socket and open another under the same number, so the socket
 * is registered afresh after every PQconnectPoll.
 */
void
pool_sync_watches(Pool *p)
{
	int			i;

	if (p->hooks == NULL)
		return;
	for (i = 0; i < p->size; i++)
	{
		Conn	   *c = &p->conns[i];
		int			fd = pool_fd(c);
		int			ev = fd >= 0 ? pool_wanted_events(c) : 0;

		if (c->rewatch || fd != c->watch_fd)
		{
			unwatch(c);
			c->rewatch = false;
			c->watch_fd = fd;
		}
		if (fd >= 0 && ev != c->watch_ev)
		{
			hook_events(p->hooks, fd, c->watch_ev, ev);
			c->watch_ev = ev;
		}
	}
}

/* trace the protocol of every connection, now and later, to f (NULL: stop) */
void
pool_trace(Pool *p, FILE *f)
{
	int			i;

	p->trace = f;
	for (i = 0; i < p->size; i++)
	{
		Conn	   *c = &p->conns[i];

		if (c->state != CONN_READY)
			continue;
		if (f)
		{
			PQtrace(c->pg, f);
			PQsetTraceFlags(c->pg, PQTRACE_SUPPRESS_TIMESTAMPS);
		}
		else
			PQuntrace(c->pg);
	}
}

/* add the pool's counters and those of its connections' protocol layers to *out */
void
pool_add_stats(const Pool *p, bm_engine_stats *out)
{
	int			i;

	out->connects += p->connects;
	out->disconnects += p->disconnects;
	for (i = 0; i < p->size; i++)
	{
		const ProtoStats *ps = &p->conns[i].proto.stats;

		out->round_trips += ps->round_trips;
		out->syncs += ps->syncs;
		out->prepares += ps->prepares;
		out->resets += ps->resets;
	}
}

/*
 * What cancels the statement running on the connection (PQfreeCancel it),
 * or NULL when nothing of ours is on the wire there: an idle connection is
 * never sent a cancel, which could hit whoever uses it next.
 */
PGcancel *
pool_running_cancel(const Conn *c)
{
	if (c->state != CONN_READY || c->proto.nops == 0)
		return NULL;
	return PQgetCancel(c->pg);
}

/* everything before a COPY is answered: out of pipeline mode for it; false: libpq refused */
bool
pool_leave_pipeline(Conn *c)
{
	return PQexitPipelineMode(c->pg) == 1;
}

/* the COPY is over: back to pipeline mode; false: libpq refused */
bool
pool_enter_pipeline(Conn *c)
{
	free(c->copy_buf);
	c->copy_buf = NULL;
	return PQenterPipelineMode(c->pg) == 1;
}

/* COPY_CHUNK bytes for the data of a COPY FROM STDIN, NULL when out of memory */
char *
pool_copy_buffer(Conn *c)
{
	if (c->copy_buf == NULL)
		c->copy_buf = malloc(COPY_CHUNK);
	return c->copy_buf;
}

/* why a COPY call failed, for the lost event: libpq's message, or out of memory */
static void
copy_failed(Conn *c)
{
	const char *msg = PQerrorMessage(c->pg);

	snprintf(c->lost_message, sizeof(c->lost_message), "%s", *msg ? msg : "out of memory");
}

/*
 * Queue len bytes of a COPY FROM STDIN and write what the socket takes: 0,
 * or 1 when the socket is full (wait until it is writable: the bytes queued
 * are all libpq holds, so memory stays bounded), or -1 with lost_message.
 * libpq grows its buffer rather than refuse data, so its "not queued" (0)
 * means out of memory.
 */
int
pool_copy_put(Conn *c, const char *data, long len)
{
	if (PQputCopyData(c->pg, data, (int) len) != 1 || !pool_write(c))
	{
		copy_failed(c);
		return -1;
	}
	c->proto.progress_at = now_ms();
	return c->out_pending ? 1 : 0;
}

/*
 * The end of a COPY FROM STDIN's data, or (abort_message) its failure: the
 * server then fails the COPY with that message.  Its answer comes next.
 * False with lost_message when libpq could not queue it.
 */
bool
pool_copy_end(Conn *c, const char *abort_message)
{
	c->copy = COPY_NONE;
	if (PQputCopyEnd(c->pg, abort_message) != 1 || !pool_write(c))
	{
		copy_failed(c);
		return false;
	}
	return true;
}

/*
 * One row of a COPY TO STDOUT, from what was read: its length and *data (to
 * PQfreemem), or 0 when none is complete yet, or -1 at the end of the data
 * (its answer comes next), or -2 with lost_message.
 */
long
pool_copy_get(Conn *c, char **data)
{
	int			n = PQgetCopyData(c->pg, data, 1);

	if (n == -1)
		c->copy = COPY_NONE;
	else if (n == -2)
		copy_failed(c);
	return n;
}
