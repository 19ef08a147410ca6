/*
 * notice.c
 *	  Notices (NOTICE, WARNING, INFO, ...) of every connection: libpq hands
 *	  them to notice_receive from inside its parsing, where no user code may
 *	  run, so they are copied into a NoticeQueue that the engine empties from
 *	  the loop.  With nobody listening (wanted is false) they are dropped,
 *	  never printed: the receiver replaces libpq's default, which writes to
 *	  stderr.  Calls util only.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the field of res, or NULL when the server sent none */
static const char *
field(const PGresult *res, int code)
{
	return PQresultErrorField(res, code);
}

/* length of s with its NUL, 0 for NULL */
static size_t
size_of(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* copy s into the buffer at *p, NULL for NULL */
static char *
put(char **p, const char *s)
{
	char	   *d = *p;
	size_t		n = size_of(s);

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	*p += n;
	return d;
}

/*
 * A libpq notice receiver (PQsetNoticeReceiver) for connections whose arg is
 * a NoticeQueue.  Errors that libpq passes this way (a FATAL that arrives on
 * an idle connection) are not notices: the connection's loss reports them.
 */
void
notice_receive(void *arg, const PGresult *res)
{
	NoticeQueue *q = arg;
	const char *severity = field(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *sqlstate = field(res, PG_DIAG_SQLSTATE);
	const char *message = field(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = field(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = field(res, PG_DIAG_MESSAGE_HINT);
	Notice	   *n;
	char	   *p;

	if (q == NULL || !q->wanted)
		return;
	if (severity == NULL)
		severity = field(res, PG_DIAG_SEVERITY);
	if (severity == NULL)
		severity = "NOTICE";
	if (strcmp(severity, "ERROR") == 0 || strcmp(severity, "FATAL") == 0 ||
		strcmp(severity, "PANIC") == 0)
		return;
	if (message == NULL)
		message = PQresultErrorMessage(res);
	n = malloc(sizeof(Notice) + size_of(severity) + size_of(message) + size_of(detail) +
			   size_of(hint));
	if (n == NULL)
		return;					/* a notice is advice: without memory it is lost */
	memset(n, 0, sizeof(*n));
	if (sqlstate)
		snprintf(n->sqlstate, sizeof(n->sqlstate), "%s", sqlstate);
	p = (char *) (n + 1);
	n->severity = put(&p, severity);
	n->message = put(&p, message);
	n->detail = put(&p, detail);
	n->hint = put(&p, hint);
	queue_push(&q->queue, &n->link);
}

/* the oldest notice, off the queue (free it with free), or NULL */
Notice *
notice_pop(NoticeQueue *q)
{
	return QUEUE_POP(&q->queue, Notice, link);
}

/* the notice as a callback reads it */
void
notice_public(const Notice *n, bm_error *out)
{
	memset(out, 0, sizeof(*out));
	out->code = BM_OK;
	memcpy(out->sqlstate, n->sqlstate, sizeof(out->sqlstate));
	out->message = n->message;
	out->detail = n->detail;
	out->hint = n->hint;
	out->severity = n->severity;
}

/* drop every queued notice */
void
notice_clear(NoticeQueue *q)
{
	Notice	   *n;

	while ((n = notice_pop(q)) != NULL)
		free(n);
}
