/*
 * copy.c
 *	  A COPY's data, moved between the user's read or write callback and the
 *	  connection while it is out of pipeline mode, a bounded amount per turn
 *	  of the loop so that other connections keep their share.  Part of the
 *	  engine layer (engine.c calls it when a connection is in a COPY's data
 *	  phase); calls pool, proto and util, and reports back with CopyStep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* chunks a COPY FROM STDIN reads and queues in one turn before the loop runs again */
#define COPY_CHUNKS_PER_TURN 16

/* what went wrong when a step returns COPY_STEP_LOST */
typedef struct CopyLoss
{
	int			code;
	const char *message;
} CopyLoss;

/* the connection goes with code and message */
static CopyStep
copy_lost(CopyLoss *loss, int code, const char *message)
{
	loss->code = code;
	loss->message = message;
	return COPY_STEP_LOST;
}

/* the COPY fails with our own error (the server's answer will not replace it) */
static void
copy_refused(Request *req, const char *sqlstate, const char *message)
{
	REQUEST_COPY(req)->aborted = true;
	if (request_code(req) == BM_OK)
		err_set(request_error(req), sqlstate ? BM_ERR_SQL : BM_ERR_USAGE, sqlstate, message, NULL, NULL);
}

/* the user's read callback fills buf: bytes, 0 at the end, -1 to abort (so does more than it may put) */
static long
call_read(bm_engine *e, CopyIO *io, char *buf)
{
	long		n;

	e->depth++;
	n = io->read(buf, COPY_CHUNK, io->arg);
	e->depth--;
	return n > COPY_CHUNK ? -1 : n;
}

/*
 * COPY FROM STDIN: read chunks from the source and queue them while the
 * socket takes them; a full socket waits for the loop to say it is
 * writable.  The end (or the abort) goes out as CopyDone (or CopyFail).
 */
static CopyStep
copy_in(bm_engine *e, Conn *c, Request *req, CopyLoss *loss)
{
	CopyIO	   *io = REQUEST_COPY(req);
	int			i;

	if (req->kind != REQ_COPY_IN && !io->aborted)
		copy_refused(req, NULL, "bm_session_copy_out ran a COPY FROM STDIN: use bm_session_copy_in");
	for (i = 0; i < COPY_CHUNKS_PER_TURN && c->copy == COPY_IN; i++)
	{
		char	   *buf = pool_copy_buffer(c);
		long		n;
		int			r;

		if (c->out_pending && !pool_write(c))
			return copy_lost(loss, BM_ERR_CONNECTION, pool_error(c));
		if (c->out_pending)
			break;
		if (buf == NULL)
			return copy_lost(loss, BM_ERR_NOMEM, "out of memory");
		n = io->aborted ? -1 : call_read(e, io, buf);
		if (e->free_requested)
			return COPY_STEP_WAIT;
		if (n <= 0)
		{
			if (!pool_copy_end(c, n == 0 ? NULL : "COPY aborted by the read callback"))
				return copy_lost(loss, BM_ERR_CONNECTION, c->lost_message);
			return COPY_STEP_WAIT;
		}
		if ((r = pool_copy_put(c, buf, n)) < 0)
			return copy_lost(loss, BM_ERR_CONNECTION, c->lost_message);
		if (r == 1)
			break;
	}
	return COPY_STEP_WAIT;
}

/*
 * COPY TO STDOUT: every complete row read so far goes to the write
 * callback (after an abort, or in the wrong direction, rows are read and
 * dropped: the server sends them all before its answer).
 */
static CopyStep
copy_out(bm_engine *e, Conn *c, Request *req, CopyLoss *loss)
{
	CopyIO	   *io = REQUEST_COPY(req);
	char	   *data;
	long		n;

	if (req->kind != REQ_COPY_OUT && !io->aborted)
		copy_refused(req, NULL, "bm_session_copy_in ran a COPY TO STDOUT: use bm_session_copy_out");
	while ((n = pool_copy_get(c, &data)) > 0)
	{
		int			r = 0;

		if (!io->aborted)
		{
			e->depth++;
			r = io->write(data, n, io->arg);
			e->depth--;
		}
		PQfreemem(data);
		if (e->free_requested)
			return COPY_STEP_WAIT;
		if (r != 0)
			copy_refused(req, "57014", "COPY to stdout aborted by the write callback");
	}
	if (n == -2)
		return copy_lost(loss, BM_ERR_CONNECTION, c->lost_message);
	return n == -1 ? COPY_STEP_ANSWER : COPY_STEP_WAIT;
}

/*
 * The connection is in a COPY's data: move some.  COPY_STEP_LOST: the
 * connection must go, with *code and *message.
 */
CopyStep
engine_copy_io(bm_engine *e, Conn *c, int *code, const char **message)
{
	Request    *req = c->proto.copy;
	CopyLoss	loss = {BM_OK, NULL};
	CopyStep	step = c->copy == COPY_IN ? copy_in(e, c, req, &loss) : copy_out(e, c, req, &loss);

	*code = loss.code;
	*message = loss.message;
	return step;
}
