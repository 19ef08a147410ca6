/*
 * listen.c
 *	  The listen connection (see listen.h): connecting without blocking,
 *	  one simple-query command at a time that brings the server's LISTENs in
 *	  line with the program's channels ("LISTEN a; UNLISTEN b"), reading
 *	  notifications, and noticing the connection's loss.  Channel names are
 *	  quoted with PQescapeIdentifier, so any name is taken literally.  Calls
 *	  util only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen.h"

/* a listener with no channel and no connection; NULL when out of memory */
Listener *
listen_create(const char *const *keywords, const char *const *values, int connect_timeout_ms,
			  NoticeQueue *notices, const bm_ev_hooks *hooks)
{
	Listener   *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->keywords = keywords;
	l->values = values;
	l->connect_timeout_ms = connect_timeout_ms;
	l->notices = notices;
	l->hooks = hooks;
	l->watch_fd = -1;
	return l;
}

/* stop watching the socket; done before libpq closes it */
static void
unwatch(Listener *l)
{
	if (l->hooks && l->watch_fd >= 0)
		hook_events(l->hooks, l->watch_fd, l->watch_ev, 0);
	l->watch_fd = -1;
	l->watch_ev = 0;
}

/* close the connection; the server forgets its LISTENs with it */
static void
close_conn(Listener *l)
{
	ListenChannel *ch;

	unwatch(l);
	if (l->pg)
		PQfinish(l->pg);
	l->pg = NULL;
	l->state = LISTEN_CLOSED;
	l->busy = l->command_failed = l->out_pending = false;
	l->connect_deadline = 0;
	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
		ch->listened = ch->sent = false;
}

/* free the channels nobody listens to any more and the server no longer has */
static void
forget_unwanted(Listener *l)
{
	ListenChannel *ch = DLIST_FIRST(&l->channels, ListenChannel, link);

	while (ch)
	{
		ListenChannel *next = DLIST_NEXT(ch, ListenChannel, link);

		if (!ch->wanted && !ch->listened && !ch->sent)
		{
			dlist_remove(&l->channels, &ch->link);
			free(ch);
		}
		ch = next;
	}
}

/* the listener, its connection and its channels go */
void
listen_free(Listener *l)
{
	ListenChannel *ch;

	if (l == NULL)
		return;
	close_conn(l);
	while ((ch = DLIST_FIRST(&l->channels, ListenChannel, link)) != NULL)
	{
		dlist_remove(&l->channels, &ch->link);
		free(ch);
	}
	free(l);
}

/* the channel of that name, wanted or on its way out, or NULL */
static ListenChannel *
find(Listener *l, const char *name)
{
	ListenChannel *ch;

	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
		if (strcmp(ch->name, name) == 0)
			return ch;
	return NULL;
}

/* listen to name with cb (a channel listened to already gets the new cb); false: out of memory */
bool
listen_add(Listener *l, const char *name, bm_notify_cb cb, void *arg)
{
	ListenChannel *ch = find(l, name);

	if (ch == NULL)
	{
		size_t		len = strlen(name) + 1;

		if ((ch = calloc(1, sizeof(*ch) + len)) == NULL)
			return false;
		memcpy(ch->name, name, len);
		dlist_push(&l->channels, &ch->link);
	}
	ch->cb = cb;
	ch->arg = arg;
	ch->wanted = true;
	return true;
}

/* stop listening to name; false when it was not listened to */
bool
listen_remove(Listener *l, const char *name)
{
	ListenChannel *ch = find(l, name);

	if (ch == NULL || !ch->wanted)
		return false;
	ch->wanted = false;
	ch->gap = ch->was_listened = false;
	return true;
}

/* some channel is listened to: the listener keeps the loop running */
bool
listen_active(const Listener *l)
{
	ListenChannel *ch;

	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
		if (ch->wanted)
			return true;
	return false;
}

/*
 * The connection is lost or an attempt failed: the channels the server had
 * are marked for their gap callback, and the next attempt waits (none the
 * first time after a connection that worked).
 */
static void
lost(Listener *l, int64_t now)
{
	ListenChannel *ch;

	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
		if (ch->listened && ch->wanted)
			ch->was_listened = true;
	close_conn(l);
	l->retry_at = now + l->backoff_ms;
	l->backoff_ms = backoff_next(l->backoff_ms);
}

/* start a connection attempt */
static void
start_connect(Listener *l, int64_t now)
{
	l->pg = PQconnectStartParams(l->keywords, l->values, 0);
	l->state = LISTEN_CONNECTING;
	l->poll = PGRES_POLLING_WRITING;
	l->rewatch = true;
	l->connect_deadline = l->connect_timeout_ms > 0 ? now + l->connect_timeout_ms : 0;
	if (l->pg == NULL)
	{
		lost(l, now);
		return;
	}
	/* before libpq's default receiver can print anything on stderr */
	PQsetNoticeReceiver(l->pg, notice_receive, l->notices);
	if (PQstatus(l->pg) == CONNECTION_BAD)
		lost(l, now);
}

/* append s to the growing command; false: out of memory */
static bool
append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t		n = strlen(s);

	if (*len + n + 1 > *cap)
	{
		size_t		want = (*cap ? *cap * 2 : 256) + n;
		char	   *b = realloc(*buf, want);

		if (b == NULL)
			return false;
		*buf = b;
		*cap = want;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return true;
}

/*
 * One command for every channel whose state on the server differs from the
 * program's: "LISTEN "a"; UNLISTEN "b"".  A multi-statement simple query
 * runs as one implicit transaction: all of it takes effect, or none.
 */
static void
send_command(Listener *l, int64_t now)
{
	ListenChannel *ch;
	char	   *cmd = NULL;
	size_t		len = 0,
				cap = 0;
	bool		ok = true;

	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ok && ch; ch = DLIST_NEXT(ch, ListenChannel, link))
	{
		char	   *quoted;

		if (ch->wanted == ch->listened)
			continue;
		quoted = PQescapeIdentifier(l->pg, ch->name, strlen(ch->name));
		ok = quoted && append(&cmd, &len, &cap, ch->wanted ? "LISTEN " : "UNLISTEN ") &&
			append(&cmd, &len, &cap, quoted) && append(&cmd, &len, &cap, "; ");
		PQfreemem(quoted);
		ch->sent = true;
		ch->sent_listen = ch->wanted;
	}
	if (ok && cmd && PQsendQuery(l->pg, cmd) == 1)
	{
		int			r = PQflush(l->pg);

		l->busy = true;
		l->out_pending = r == 1;
		ok = r >= 0;
	}
	else if (cmd)
		ok = false;
	free(cmd);
	if (!ok)
		lost(l, now);
}

/*
 * Bring the listener in line with its channels: connect when one is wanted
 * (not before the backoff allows), close when none is, time out a slow
 * attempt, send what the server must change.
 */
void
listen_pump(Listener *l, int64_t now)
{
	if (!listen_active(l))
	{
		if (l->state != LISTEN_CLOSED)
			close_conn(l);
		forget_unwanted(l);
		return;
	}
	if (l->state == LISTEN_CLOSED && now >= l->retry_at)
		start_connect(l, now);
	else if (l->state == LISTEN_CONNECTING && l->connect_deadline && now >= l->connect_deadline)
		lost(l, now);
	else if (l->state == LISTEN_READY && !l->busy)
	{
		forget_unwanted(l);
		send_command(l, now);
	}
}

/* the handshake is done: non-blocking mode, then the command of every channel */
static void
connected(Listener *l, int64_t now)
{
	l->connect_deadline = 0;
	if (PQsetnonblocking(l->pg, 1) != 0)
	{
		lost(l, now);
		return;
	}
	l->state = LISTEN_READY;
	send_command(l, now);
}

/* the command's answer is complete: what it sent is now the server's state */
static void
command_done(Listener *l, int64_t now)
{
	ListenChannel *ch;

	l->busy = false;
	if (l->command_failed)
	{
		lost(l, now);
		return;
	}
	l->backoff_ms = 0;
	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
	{
		if (!ch->sent)
			continue;
		ch->sent = false;
		ch->listened = ch->sent_listen;
		if (ch->listened && ch->wanted && ch->was_listened)
			ch->gap = true;
		ch->was_listened = false;
	}
	forget_unwanted(l);
}

/* the loop says the socket is ready for events */
void
listen_io(Listener *l, int events)
{
	int64_t		now = now_ms();

	if (l->state == LISTEN_CONNECTING)
	{
		l->poll = PQconnectPoll(l->pg);
		l->rewatch = true;
		if (l->poll == PGRES_POLLING_OK)
			connected(l, now);
		else if (l->poll == PGRES_POLLING_FAILED)
			lost(l, now);
		return;
	}
	if (l->state != LISTEN_READY)
		return;
	if ((events & BM_EV_WRITE) || l->out_pending)
	{
		int			r = PQflush(l->pg);

		if (r < 0)
		{
			lost(l, now);
			return;
		}
		l->out_pending = r == 1;
	}
	if (!(events & BM_EV_READ))
		return;
	if (!PQconsumeInput(l->pg))
	{
		lost(l, now);
		return;
	}
	while (l->busy && !PQisBusy(l->pg))
	{
		PGresult   *res = PQgetResult(l->pg);

		if (res == NULL)
		{
			command_done(l, now);
			break;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			l->command_failed = true;
		PQclear(res);
	}
	if (l->state == LISTEN_READY && PQstatus(l->pg) == CONNECTION_BAD)
		lost(l, now);
}

/*
 * The next notification on a channel still listened to, with its
 * channel's cb and arg (PQfreemem it after the callback), or NULL.
 */
PGnotify *
listen_next_notify(Listener *l, bm_notify_cb *cb, void **arg)
{
	PGnotify   *n;

	while (l->pg && (n = PQnotifies(l->pg)) != NULL)
	{
		ListenChannel *ch = find(l, n->relname);

		if (ch && ch->wanted)
		{
			*cb = ch->cb;
			*arg = ch->arg;
			return n;
		}
		PQfreemem(n);
	}
	return NULL;
}

/* the next channel whose gap callback is due (now marked as given), or NULL */
ListenChannel *
listen_next_gap(Listener *l)
{
	ListenChannel *ch;

	for (ch = DLIST_FIRST(&l->channels, ListenChannel, link); ch; ch = DLIST_NEXT(ch, ListenChannel, link))
		if (ch->gap && ch->wanted)
		{
			ch->gap = false;
			return ch;
		}
	return NULL;
}

/* when the listener must look again (a retry, a connect timeout), 0 if never */
int64_t
listen_next_deadline(const Listener *l)
{
	if (!listen_active(l))
		return 0;
	if (l->state == LISTEN_CLOSED)
		return l->retry_at ? l->retry_at : now_ms();
	if (l->state == LISTEN_CONNECTING)
		return l->connect_deadline;
	return 0;
}

/* the connection's socket, -1 if none */
int
listen_fd(const Listener *l)
{
	return (l->state != LISTEN_CLOSED && l->pg) ? PQsocket(l->pg) : -1;
}

/* the events (BM_EV_READ, BM_EV_WRITE) the connection waits for */
int
listen_wanted_events(const Listener *l)
{
	if (l->state == LISTEN_CONNECTING)
		return l->poll == PGRES_POLLING_READING ? BM_EV_READ :
			l->poll == PGRES_POLLING_WRITING ? BM_EV_WRITE : 0;
	if (l->state == LISTEN_READY)
		return BM_EV_READ | (l->out_pending ? BM_EV_WRITE : 0);
	return 0;
}

/* tell the attached loop what changed (after every PQconnectPoll the socket may be new) */
void
listen_sync_watches(Listener *l)
{
	int			fd = listen_fd(l);
	int			ev = fd >= 0 ? listen_wanted_events(l) : 0;
	const bm_ev_hooks *h = l->hooks;

	if (h == NULL)
		return;
	if (l->rewatch || fd != l->watch_fd)
	{
		unwatch(l);
		l->rewatch = false;
		l->watch_fd = fd;
	}
	if (fd >= 0 && ev != l->watch_ev)
	{
		hook_events(h, fd, l->watch_ev, ev);
		l->watch_ev = ev;
	}
}
