/*
 * session.c
 *	  The session layer alone: a failed unit answers its unsent requests
 *	  without sending them (the first with the error itself when nothing of
 *	  the unit reached the wire), its commit reports the failure, requests
 *	  queued into it later are answered at once, and the next unit is not
 *	  touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "tap.h"

static SqlTable texts;

/* a request of unit `unit`, added to the session */
static Request *
add(bm_session *s, ReqKind kind, long unit, bool *sent)
{
	Request    *req = calloc(1, sizeof(Request));

	if (req == NULL || (kind == REQ_EXEC && (req->sql = sqltext_get(&texts, "SELECT 1")) == NULL))
		tap_bail("out of memory");
	req->kind = kind;
	req->unit = (uint32_t) unit;
	/* as the API queues: a request joins the open unit or ends the one before */
	if (s->api_unit < unit)
		s->api_unit = unit;
	*sent = session_add(s, req);
	return req;
}

static void
req_free(Request *req)
{
	request_clear_error(req);
	sqltext_release(&texts, req->sql);
	free(req);
}

/* the message of a request's error, "" for none */
static const char *
message(const Request *req)
{
	return request_failure(req) && request_failure(req)->message ? request_failure(req)->message : "";
}

/* a unit that fails on the wire: what was not sent of it is answered here */
static void
test_fail_on_wire(void)
{
	bm_session	s = {.failed_unit = -1};
	ErrorBuf	why = {0};
	Request    *r[5];
	bool		sent[5];
	int			i;

	r[0] = add(&s, REQ_EXEC, 0, &sent[0]);
	r[1] = add(&s, REQ_EXEC, 0, &sent[1]);
	r[2] = add(&s, REQ_COMMIT, 0, &sent[2]);
	r[3] = add(&s, REQ_EXEC, 1, &sent[3]);
	tap_ok(sent[0] && sent[1] && sent[2] && sent[3], "on the wire: requests of a healthy session wait to be sent",
		   "one was answered at once");
	session_take_conn(&s, (struct Conn *) &s);
	TAP_INT_EQ(s.wire_unit, 0, "on the wire: the connection takes the first unit");
	tap_ok(session_next_unsent(&s) == r[0], "on the wire: the first request is next", "another came");
	queue_pop(&s.unsent);		/* r[0] is on the wire */
	err_set(&why, BM_ERR_SQL, "23505", "duplicate key value", NULL, NULL);
	session_fail(&s, &why, false);
	tap_ok(r[1]->state == REQ_DONE && request_code(r[1]) == BM_ERR_ABORTED &&
		   strcmp(message(r[1]), NOT_RUN_MESSAGE " (duplicate key value)") == 0,
		   "on the wire: an unsent statement of the unit is answered BM_ERR_ABORTED, proto's not-run message naming the failure",
		   "got state %d code %d \"%s\"", r[1]->state, request_code(r[1]), message(r[1]));
	tap_ok(r[2]->state == REQ_DONE && request_code(r[2]) == BM_ERR_SQL &&
		   strcmp(message(r[2]), "duplicate key value") == 0,
		   "on the wire: the unit's commit reports the failure", "got code %d \"%s\"",
		   request_code(r[2]), message(r[2]));
	tap_ok(r[0]->state != REQ_DONE && r[3]->state != REQ_DONE && session_has_unsent(&s),
		   "on the wire: the statement on the wire and the next unit are not touched", "one was answered");
	tap_ok(session_next_unsent(&s) == NULL, "on the wire: nothing more of the failed unit is sent",
		   "a request of the failed unit is next");
	r[4] = add(&s, REQ_EXEC, 0, &sent[4]);
	tap_ok(!sent[4] && r[4]->state == REQ_DONE && request_code(r[4]) == BM_ERR_ABORTED,
		   "on the wire: a statement queued into the failed unit later is answered at once",
		   "sent %d state %d code %d", sent[4], r[4]->state, request_code(r[4]));
	session_fail(&s, &why, false);
	TAP_INT_EQ(s.nundelivered, 5, "on the wire: a second failure of the unit changes nothing");
	for (i = 0; i < 5; i++)
		req_free(r[i]);
	err_clear(&why);
	session_destroy(&s);
}

/* no connection could be made: the first request gets the error itself */
static void
test_fail_waiting(void)
{
	bm_session	s = {.failed_unit = -1};
	ErrorBuf	why = {0};
	Request    *a,
			   *b,
			   *c;
	bool		sent;

	a = add(&s, REQ_EXEC, 0, &sent);
	b = add(&s, REQ_EXEC, 0, &sent);
	c = add(&s, REQ_ROLLBACK, 0, &sent);
	err_set(&why, BM_ERR_CONNECTION, NULL, "cannot connect: refused", NULL, NULL);
	session_fail(&s, &why, true);
	tap_ok(request_code(a) == BM_ERR_CONNECTION && request_code(b) == BM_ERR_ABORTED &&
		   request_code(c) == BM_OK && c->state == REQ_DONE && !session_has_unsent(&s),
		   "waiting: the first gets the error, the next is not run, the rollback succeeds",
		   "got %d %d %d", request_code(a), request_code(b), request_code(c));
	tap_ok(!session_reapable(&s), "waiting: an open session is not freed", "it would be");
	s.closed = true;
	s.nundelivered = 0;
	tap_ok(session_reapable(&s), "waiting: a closed session with nothing left is freed", "it would not be");
	req_free(a);
	req_free(b);
	req_free(c);
	err_clear(&why);
	session_destroy(&s);
}

/* a failure with no message (out of memory): the next statement says only that it did not run */
static void
test_fail_without_message(void)
{
	bm_session	s = {.failed_unit = -1};
	ErrorBuf	why = {0};
	Request    *a,
			   *b;
	bool		sent;

	a = add(&s, REQ_EXEC, 0, &sent);
	b = add(&s, REQ_EXEC, 0, &sent);
	err_set(&why, BM_ERR_NOMEM, NULL, NULL, NULL, NULL);
	session_fail(&s, &why, true);
	tap_ok(request_code(b) == BM_ERR_ABORTED && strcmp(message(b), NOT_RUN_MESSAGE) == 0,
		   "no message: the statement not run says so, with no empty reason after it",
		   "got code %d \"%s\"", request_code(b), message(b));
	req_free(a);
	req_free(b);
	err_clear(&why);
	session_destroy(&s);
}

/* a unit that failed before any SAVEPOINT reached the server: its savepoint calls are not run either */
static void
test_fail_savepoints(void)
{
	bm_session	s = {.failed_unit = -1};
	ErrorBuf	why = {0};
	Request    *r[4];
	bool		sent[4];
	int			i;

	r[0] = add(&s, REQ_SAVEPOINT, 0, &sent[0]);
	r[1] = add(&s, REQ_ROLLBACK_TO, 0, &sent[1]);
	err_set(&why, BM_ERR_CONNECTION, NULL, "could not connect", NULL, NULL);
	session_fail(&s, &why, true);
	r[2] = add(&s, REQ_RELEASE, 0, &sent[2]);
	r[3] = add(&s, REQ_COMMIT, 0, &sent[3]);
	tap_ok(r[0]->state == REQ_DONE && request_code(r[0]) == BM_ERR_CONNECTION,
		   "savepoints: the first request of a unit that never reached the server gets the error",
		   "got state %d code %d", r[0]->state, request_code(r[0]));
	tap_ok(r[1]->state == REQ_DONE && request_code(r[1]) == BM_ERR_ABORTED && !sent[2] &&
		   r[2]->state == REQ_DONE && request_code(r[2]) == BM_ERR_ABORTED,
		   "savepoints: a rollback_to and a release of the failed unit are answered as not run",
		   "got codes %d and %d", request_code(r[1]), request_code(r[2]));
	TAP_INT_EQ(request_code(r[3]), BM_ERR_CONNECTION, "savepoints: the commit reports the failure");
	for (i = 0; i < 4; i++)
		req_free(r[i]);
	err_clear(&why);
	session_destroy(&s);
}

int
main(void)
{
	bm_session_options ro = {.isolation = BM_ISOLATION_SERIALIZABLE, .read_only = 1};

	bm_session	rr = {.isolation = BM_ISOLATION_REPEATABLE_READ};

	TAP_STR_EQ(session_begin_sql(&ro), "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
			   "the BEGIN names the isolation level and READ ONLY");
	TAP_STR_EQ(session_begin(&rr), "BEGIN ISOLATION LEVEL REPEATABLE READ",
			   "a session's BEGIN follows from its isolation level and read_only");
	test_fail_on_wire();
	test_fail_waiting();
	test_fail_without_message();
	test_fail_savepoints();
	TAP_INT_EQ(texts.count, 0, "every SQL text is given back");
	sqltable_free(&texts);
	return tap_done();
}
