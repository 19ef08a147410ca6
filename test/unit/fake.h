/*
 * fake.h
 *	  What the unit tests share: a fake wire that records what the protocol
 *	  layer sends (and can be told to fail), a Proto on it, requests, and
 *	  answers made as values.  No socket and no server: the tests build
 *	  client/src/proto.c and the utilities from source.
 */
#ifndef BM_TEST_FAKE_H
#define BM_TEST_FAKE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tap.h"

/* what went on the fake wire, one message a line */
typedef struct FakeWire
{
	char		log[8192];
	int			calls;
	int			fail_at;		/* the call (from 1) that fails, 0: none */
	bool		refuse_single_row;	/* single-row mode is refused, as libpq does for an aborted query */
} FakeWire;

/* record one message; false when this is the call told to fail */
static bool
fake_send(FakeWire *w, const char *fmt,...)
{
	size_t		len = strlen(w->log);
	va_list		ap;

	if (++w->calls == w->fail_at)
		return false;
	va_start(ap, fmt);
	vsnprintf(w->log + len, sizeof(w->log) - len, fmt, ap);
	va_end(ap);
	len = strlen(w->log);
	snprintf(w->log + len, sizeof(w->log) - len, "\n");
	return true;
}

/* a Parse */
static bool
fake_prepare(void *ctx, const char *name, const char *sql)
{
	return fake_send(ctx, "prepare %s %s", name, sql);
}

/* a statement by name, or ("-") unnamed with its text */
static bool
fake_query(void *ctx, const char *name, const char *sql, int nparams, const char *const *params)
{
	(void) params;
	if (name)
		return fake_send(ctx, "query %s (%d)", name, nparams);
	return fake_send(ctx, "query - %s (%d)", sql, nparams);
}

/* a Sync */
static bool
fake_sync(void *ctx)
{
	return fake_send(ctx, "sync");
}

/* a Flush */
static bool
fake_flush(void *ctx)
{
	return fake_send(ctx, "flush");
}

/* single-row mode for the current query */
static bool
fake_single_row(void *ctx)
{
	return fake_send(ctx, "single-row") && !((FakeWire *) ctx)->refuse_single_row;
}

static const ProtoWire fake_wire = {fake_prepare, fake_query, fake_sync, fake_flush, fake_single_row};

/* a Proto on a fake wire, and the SQL texts it refers to */
typedef struct Fixture
{
	FakeWire	wire;
	SqlTable	texts;
	Proto		p;
} Fixture;

/* what a request's session pointer is: proto only tests it for NULL */
static char fake_session_mem;
#define FAKE_SESSION ((bm_session *) &fake_session_mem)

/* a fresh Proto with a statement cache of cache_size names */
static void
fx_init(Fixture *fx, int cache_size)
{
	memset(fx, 0, sizeof(*fx));
	if (proto_init(&fx->p, &fake_wire, &fx->wire, cache_size, &fx->texts) != 0)
		tap_bail("out of memory");
	fx->p.max_replays = 4;
}

/* the Proto and the texts go; every request must be freed before */
static void
fx_free(Fixture *fx)
{
	proto_destroy(&fx->p);
	if (fx->texts.count != 0)
		tap_ok(false, "fixture: every SQL text is released", "%u SQL texts still referenced", fx->texts.count);
	sqltable_free(&fx->texts);
}

/* what the wire got since the last call, and forget it */
static const char *
fx_sent(Fixture *fx)
{
	static char copy[8192];

	snprintf(copy, sizeof(copy), "%s", fx->wire.log);
	fx->wire.log[0] = '\0';
	return copy;
}

/*
 * A request of a session's unit (in_unit) or an autocommit one, with room
 * behind it for the parameter bitmap of up to 64 parameters a test may set
 * (all NULL).
 */
static Request *
req_new(Fixture *fx, ReqKind kind, const char *sql, bool in_unit)
{
	Request    *req = calloc(1, sizeof(Request) + 8);

	if (req == NULL || (sql && (req->sql = sqltext_get(&fx->texts, sql)) == NULL))
		tap_bail("out of memory");
	req->kind = kind;
	req->session = in_unit ? FAKE_SESSION : NULL;
	return req;
}

static void
req_free(Fixture *fx, Request *req)
{
	request_clear_result(req);
	request_clear_error(req);
	sqltext_release(&fx->texts, req->sql);
	free(req);
}

/* an answer with this status and no error */
static Answer
ans(ExecStatusType status)
{
	Answer		a = {.status = status};

	return a;
}

/* a failed statement's answer */
static Answer
ans_error(const char *sqlstate, const char *message, const char *source)
{
	Answer		a = {.status = PGRES_FATAL_ERROR, .sqlstate = sqlstate, .message = message,
	.source = source};

	return a;
}

/* one result of the query at the head; the event it made */
static ProtoEvent
feed(Fixture *fx, Answer a)
{
	ProtoEvent	ev;

	if (!proto_feed(&fx->p, &a, &ev))
		tap_ok(false, "fixture: proto takes the answer", "an answer (status %s) was not taken",
			   PQresStatus(a.status));
	return ev;
}

/* the end of the head query's results (PQgetResult's NULL); the event it made */
static ProtoEvent
feed_end(Fixture *fx)
{
	ProtoEvent	ev;

	if (!proto_feed(&fx->p, NULL, &ev))
		memset(&ev, 0, sizeof(ev));
	return ev;
}

/* a whole query's answer: one result, then the end of its results */
static ProtoEvent
answer(Fixture *fx, Answer a)
{
	ProtoEvent	ev = feed(fx, a);

	if (!proto_event_empty(&ev))
		tap_ok(false, "fixture: a result makes no event before its query ends",
			   "a result (status %s) made an event before its query ended", PQresStatus(a.status));
	return feed_end(fx);
}

/* the answer to a Sync */
static ProtoEvent
answer_sync(Fixture *fx)
{
	return feed(fx, ans(PGRES_PIPELINE_SYNC));
}

/* the message a request's error has, "" for none */
static const char *
req_message(const Request *req)
{
	return request_failure(req) && request_failure(req)->message ? request_failure(req)->message : "";
}

#endif							/* BM_TEST_FAKE_H */
