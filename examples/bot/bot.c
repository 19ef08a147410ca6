/*
 * bot.c
 *	  A Telegram bot on basemodel: long-polls getUpdates, stores each update
 *	  in one pipelined session, answers only after the commit, and never
 *	  answers one update twice.  libcurl (multi) and libbasemodel share one
 *	  libuv loop.
 *
 *	  Environment: BOT_TOKEN (required), BOT_API_URL (default
 *	  https://api.telegram.org), DATABASE_URL (required), BOT_POLL_TIMEOUT
 *	  (seconds a getUpdates call may wait for news, default 30).
 *
 *	  Standard output is the conversation as a person reads it, and a summary
 *	  when the bot stops; standard error gets one line per problem.
 *
 *	  The life of an update: fetched -> stored (one session: the update with
 *	  its reply, marked "pending", the user, the chat, the message) ->
 *	  "sending" (autocommit, before the HTTP call) -> "sent".  A bot that
 *	  stops anywhere resumes right: after getUpdates' offset (the highest
 *	  stored update_id + 1), sending what is still "pending", and not
 *	  repeating what was "sending" (it may have reached the chat).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basemodel.h>
#include <basemodel/adapters/libuv.h>
#include <jansson.h>
#include <uv.h>

#include "http.h"
#include "store.h"
#include "telegram.h"
#include "update.h"

#define BACKOFF_FIRST 0.5		/* seconds */
#define BACKOFF_MAX 30.0
#define SEND_TIMEOUT_MS 15000L
#define SEND_ATTEMPTS 6

typedef struct bot bot;

/* One reply on its way out; replies to one chat leave in order. */
typedef struct reply_job
{
	struct reply_job *next;
	bot		   *b;
	char		update_id[BOT_ID_LEN];
	long long	chat_id;
	long long	reply_to;
	char	   *text;
	char	   *heard;			/* transcript of what it answers; NULL after a restart */
	char	   *chat_label;
	int			started;		/* being marked, sent or retried */
	int			attempts;
	uv_timer_t *retry;			/* armed while waiting to try again */
	int			mark_unknown;	/* a mark as "sending" may have committed (BM_ERR_OUTCOME_UNKNOWN) */
} reply_job;

struct bot
{
	uv_loop_t  *loop;
	bm_engine  *engine;
	bm_sessionmaker *maker;
	http_client *http;
	tg_client  *tg;
	char	   *username;		/* the bot's own, from getMe */
	int			poll_timeout;	/* seconds */

	long long	offset;			/* next update_id to ask for */
	bot_update *batch;			/* the last getUpdates answer, handled in order */
	size_t		nbatch;
	size_t		next;
	int			storing;		/* a session is in flight */
	int			rejected_tries; /* fallbacks tried for batch[next] */

	reply_job  *replies;		/* queued or in flight, FIFO */
	int			db_pending;		/* bookkeeping statements not answered yet */

	http_request *poll;
	uv_timer_t	poll_timer;
	uv_timer_t	store_timer;
	double		poll_backoff;
	double		store_backoff;
	uv_signal_t sigint;
	uv_signal_t sigterm;
	int			starting;		/* schema, resume or getMe not done yet */
	int			stopping;
	int			finishing;		/* summary asked for */
	int			exit_code;

	long		handled;		/* updates stored in this run */
	long		duplicates;
	long		replies_sent;
	long		replies_lost;	/* failed or unknown */
	double		session_started;	/* when the session in flight was queued */
	double		busy;			/* seconds from queueing sessions to their commits */
};

static void poll_updates(bot *b);
static void process_next(bot *b);
static void pump_replies(bot *b);
static void maybe_finish(bot *b);
static void get_me(bot *b);
static void on_poll_due(uv_timer_t *t);

/* One line on stderr per problem, written at once so that lines never mix. */
static void
bot_log(const char *fmt,...)
{
	char		line[1024];
	va_list		ap;
	int			n;

	memcpy(line, "bot: ", 5);
	va_start(ap, fmt);
	n = vsnprintf(line + 5, sizeof(line) - 6, fmt, ap);
	va_end(ap);
	n = n < 0 ? 5 : n + 5 > (int) sizeof(line) - 2 ? (int) sizeof(line) - 2 : n + 5;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}

static double
now_seconds(void)
{
	return uv_hrtime() / 1e9;
}

static double
next_backoff(double *backoff, double asked)
{
	double		wait = *backoff > 0 ? *backoff : BACKOFF_FIRST;

	*backoff = wait * 2 > BACKOFF_MAX ? BACKOFF_MAX : wait * 2;
	return asked > wait ? asked : wait;
}

/* --- the database's bookkeeping statements -------------------------------- */

typedef void (*exec_cb) (bot *b, const bm_result *res, const bm_error *err, void *arg);

typedef struct exec_ctx
{
	bot		   *b;
	exec_cb		cb;
	void	   *arg;
} exec_ctx;

static void
on_exec(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	exec_ctx	ctx = *(exec_ctx *) arg;

	(void) s;
	free(arg);
	ctx.b->db_pending--;
	if (err && err->code == BM_OK)
		err = NULL;
	if (ctx.cb)
		ctx.cb(ctx.b, err ? NULL : res, err, ctx.arg);
	else if (err)
		bot_log("bookkeeping statement failed: %s", err->message);
	maybe_finish(ctx.b);
}

/* Run one autocommit statement; cb (may be NULL) runs once, also on failure. */
static void
db_exec(bot *b, const char *sql, int nparams, const char *const *params, exec_cb cb, void *arg)
{
	exec_ctx   *ctx = malloc(sizeof(*ctx));

	if (ctx)
	{
		*ctx = (exec_ctx) {b, cb, arg};
		if (bm_engine_execute(b->engine, sql, nparams, params, on_exec, ctx) == 0)
		{
			b->db_pending++;
			return;
		}
		free(ctx);
	}
	{
		const bm_error *err = bm_last_error();
		bm_error	oom = {.code = BM_ERR_NOMEM, .message = "out of memory"};

		if (cb)
			cb(b, NULL, err ? err : &oom, arg);
		else
			bot_log("cannot run a bookkeeping statement: %s", err ? err->message : "out of memory");
	}
}

static void
mark_reply(bot *b, const char *update_id, const char *state, const char *problem)
{
	const char *params[3] = {update_id, state, problem};

	db_exec(b, store_sql_mark, 3, params, NULL, NULL);
}

/* --- the transcript --------------------------------------------------------- */

static char *
chat_label(const bot_update *u)
{
	char	   *s = NULL;

	if (u->chat_title)
		s = strdup(u->chat_title);
	else if (asprintf(&s, "%s, private", u->chat_first_name ? u->chat_first_name :
					  u->chat_username ? u->chat_username : "someone") < 0)
		s = NULL;
	return s;
}

static char *
heard_line(const bot_update *u)
{
	char	   *s = NULL;
	const char *who = u->has_user ? u->user_first_name : "(no sender)";
	int			rc;

	if (strcmp(u->content, "text") == 0)
		rc = asprintf(&s, "%s: %s", who, u->text);
	else if (u->sticker_emoji)
		rc = asprintf(&s, "%s: [sticker %s]", who, u->sticker_emoji);
	else
		rc = asprintf(&s, "%s: [%s]%s%s", who, u->content, u->text ? " " : "", u->text ? u->text : "");
	return rc < 0 ? NULL : s;
}

/* --- replies ------------------------------------------------------------------ */

static void
on_retry_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void
job_free(reply_job *j)
{
	if (j->retry)
		uv_close((uv_handle_t *) j->retry, on_retry_timer_closed);
	free(j->text);
	free(j->heard);
	free(j->chat_label);
	free(j);
}

static void
job_done(reply_job *j)
{
	bot		   *b = j->b;
	reply_job **p;

	for (p = &b->replies; *p; p = &(*p)->next)
		if (*p == j)
		{
			*p = j->next;
			break;
		}
	job_free(j);
	pump_replies(b);
	maybe_finish(b);
}

static void
print_exchange(reply_job *j, const char *answer)
{
	const char *label = j->chat_label;

	char		fallback[48];

	if (j->chat_label == NULL)
	{
		snprintf(fallback, sizeof(fallback), "chat %lld", j->chat_id);
		label = fallback;
	}
	if (j->heard)
		printf("[%s] %s\n", label, j->heard);
	else
		printf("[%s] (a message handled before the restart)\n", label);
	printf("[%s]     bot: %s\n", label, answer);
	fflush(stdout);
}

static void job_start(reply_job *j);

static void
on_retry_due(uv_timer_t *t)
{
	reply_job  *j = t->data;

	uv_timer_stop(t);
	j->started = 0;
	pump_replies(j->b);
}

static void
on_sent(void *arg, const tg_answer *a)
{
	reply_job  *j = arg;
	bot		   *b = j->b;

	switch (a->status)
	{
		case TG_OK:
			b->replies_sent++;
			mark_reply(b, j->update_id, "sent", NULL);
			print_exchange(j, j->text);
			job_done(j);
			return;
		case TG_RETRY:
			if (++j->attempts < SEND_ATTEMPTS && !b->stopping)
			{
				double		wait = BACKOFF_FIRST * (1 << j->attempts);

				if (a->retry_after > wait)
					wait = a->retry_after;
				bot_log("reply to update %s: %s; trying again in %.1f s", j->update_id, a->problem, wait);
				/* not delivered: back to "pending", so a restart would send it */
				mark_reply(b, j->update_id, "pending", NULL);
				if (j->retry == NULL && (j->retry = malloc(sizeof(uv_timer_t))) != NULL)
				{
					uv_timer_init(b->loop, j->retry);
					j->retry->data = j;
				}
				if (j->retry)
				{
					uv_timer_start(j->retry, on_retry_due, (uint64_t) (wait * 1000), 0);
					return;
				}
			}
			bot_log("reply to update %s: %s; giving up for now, it stays pending", j->update_id, a->problem);
			mark_reply(b, j->update_id, "pending", a->problem);
			job_done(j);
			return;
		case TG_REJECTED:
			b->replies_lost++;
			bot_log("reply to update %s refused: %s", j->update_id, a->problem);
			mark_reply(b, j->update_id, "failed", a->problem);
			print_exchange(j, "(reply refused by the API)");
			job_done(j);
			return;
		case TG_UNKNOWN:
			b->replies_lost++;
			bot_log("reply to update %s: %s; it may have been delivered, so it is not sent again",
					j->update_id, a->problem);
			mark_reply(b, j->update_id, "unknown", a->problem);
			job_done(j);
			return;
		case TG_CANCELLED:
			/* only when the bot is torn down: the state stays "sending" */
			job_done(j);
			return;
	}
}

static void
send_reply(reply_job *j)
{
	json_t	   *params = json_pack("{s:I, s:s, s:{s:I, s:b}}",
								   "chat_id", (json_int_t) j->chat_id, "text", j->text,
								   "reply_parameters", "message_id", (json_int_t) j->reply_to,
								   "allow_sending_without_reply", 1);

	if (params == NULL)
	{
		tg_answer	a = {.status = TG_RETRY, .problem = "cannot build sendMessage (text is not UTF-8?)"};

		j->attempts = SEND_ATTEMPTS;
		on_sent(j, &a);
		return;
	}
	tg_call(j->b->tg, "sendMessage", params, SEND_TIMEOUT_MS, on_sent, j);
}

static void
on_marked_sending(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	reply_job  *j = arg;

	if (err)
	{
		bot_log("reply to update %s: cannot mark it as sending: %s; trying again later", j->update_id,
				err->message);
		/* the mark may have committed: the next try tells (it finds the reply no longer pending) */
		if (err->code == BM_ERR_OUTCOME_UNKNOWN)
			j->mark_unknown = 1;
		j->attempts++;
		if (j->retry == NULL && (j->retry = malloc(sizeof(uv_timer_t))) != NULL)
		{
			uv_timer_init(b->loop, j->retry);
			j->retry->data = j;
		}
		if (j->retry && !b->stopping)
			uv_timer_start(j->retry, on_retry_due, (uint64_t) (next_backoff(&b->store_backoff, 0) * 1000), 0);
		else
			job_done(j);
		return;
	}
	if (bm_result_affected(res) != 1 && j->mark_unknown)
	{
		/* our own earlier mark did commit; the reply was not sent, since that needs a mark answered */
		bot_log("reply to update %s: the mark of unknown outcome had committed; sending it", j->update_id);
		j->mark_unknown = 0;
	}
	else if (bm_result_affected(res) != 1)
	{
		bot_log("reply to update %s is no longer pending; not sending it", j->update_id);
		job_done(j);
		return;
	}
	send_reply(j);
}

static void
job_start(reply_job *j)
{
	const char *params[1] = {j->update_id};

	j->started = 1;
	db_exec(j->b, store_sql_mark_sending, 1, params, on_marked_sending, j);
}

/* Start every reply whose chat has no earlier reply still on its way. */
static void
pump_replies(bot *b)
{
	for (reply_job *j = b->replies; j; j = j->next)
	{
		int			blocked = 0;

		if (j->started)
			continue;
		for (reply_job *k = b->replies; k != j; k = k->next)
			if (k->chat_id == j->chat_id)
				blocked = 1;
		if (!blocked)
			job_start(j);
	}
}

static void
queue_reply(bot *b, const char *update_id, long long chat_id, long long reply_to,
			const char *text, char *heard, char *label)
{
	reply_job  *j = calloc(1, sizeof(*j));
	reply_job **p;

	if (j == NULL || (j->text = strdup(text)) == NULL)
	{
		bot_log("out of memory queueing the reply to update %s; it stays pending", update_id);
		free(j);
		free(heard);
		free(label);
		return;
	}
	j->b = b;
	snprintf(j->update_id, sizeof(j->update_id), "%s", update_id);
	j->chat_id = chat_id;
	j->reply_to = reply_to;
	j->heard = heard;
	j->chat_label = label;
	for (p = &b->replies; *p; p = &(*p)->next)
		;
	*p = j;
	pump_replies(b);
}

/* --- updates ------------------------------------------------------------------ */

/* The reply the bot works out without the database, or NULL. */
static char *
reply_in_c(const bot_update *u)
{
	char	   *s = NULL;

	if (u->kind != UPD_MESSAGE)
		return NULL;
	if (strcmp(u->content, "text") != 0)
	{
		if (asprintf(&s, "I can only read text, but I kept your %s%s%s.", u->content,
					 u->sticker_emoji ? " " : "", u->sticker_emoji ? u->sticker_emoji : "") < 0)
			return NULL;
		return s;
	}
	switch (u->command)
	{
		case CMD_START:
			if (asprintf(&s, "Hello, %s! I keep what you tell me in PostgreSQL. "
						 "Try /me, /stats or /forget.",
						 u->has_user ? u->user_first_name : "there") < 0)
				return NULL;
			return s;
		case CMD_NONE:
			return strdup(u->text);
		default:
			return NULL;		/* the SQL of /me, /stats, /forget makes it */
	}
}

static void
batch_free(bot *b)
{
	for (size_t i = 0; i < b->nbatch; i++)
		update_release(&b->batch[i]);
	free(b->batch);
	b->batch = NULL;
	b->nbatch = b->next = 0;
}

static void
advance(bot *b, bot_update *u)
{
	if (u->update_id >= b->offset)
		b->offset = u->update_id + 1;
	b->next++;
	b->rejected_tries = 0;
	b->store_backoff = 0;
}

/*
 * A stored reply (a row of store_sql_unfinished_replies) goes out; a row the
 * typed getters refuse (a NULL id) is logged and stays in the table.
 */
static void
queue_stored_reply(bot *b, const bm_result *res, int row)
{
	const char *id = bm_result_value(res, row, bm_result_colnum(res, "update_id"));
	long long	chat_id,
				message_id;

	if (bm_result_int64(res, row, bm_result_colnum(res, "chat_tg_id"), &chat_id) != 0 ||
		bm_result_int64(res, row, bm_result_colnum(res, "message_id"), &message_id) != 0)
	{
		bot_log("update %s: its stored reply cannot be sent: %s", id, bm_last_error()->message);
		return;
	}
	queue_reply(b, id, chat_id, message_id, bm_result_value(res, row, bm_result_colnum(res, "reply_text")),
				NULL, NULL);
}

static void
on_looked_up(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	char	   *update_id = arg;

	if (err)
		bot_log("update %s: cannot look up its reply: %s", update_id, err->message);
	else if (bm_result_nrows(res) == 1 &&
			 strcmp(bm_result_value(res, 0, bm_result_colnum(res, "reply_state")), "pending") == 0)
		queue_stored_reply(b, res, 0);
	free(update_id);
}

static void on_stored(void *arg, store_outcome outcome, const char *reply, const char *problem);

static void
on_store_due(uv_timer_t *t)
{
	bot		   *b = t->data;

	uv_timer_stop(t);
	process_next(b);
}

static void
store_later(bot *b)
{
	uv_timer_start(&b->store_timer, on_store_due, (uint64_t) (next_backoff(&b->store_backoff, 0) * 1000), 0);
}

static void
on_stored(void *arg, store_outcome outcome, const char *reply, const char *problem)
{
	bot		   *b = arg;
	bot_update *u = &b->batch[b->next];

	b->storing = 0;
	switch (outcome)
	{
		case STORE_OK:
			b->handled++;
			b->busy += now_seconds() - b->session_started;
			if (u->kind == UPD_MALFORMED)
				bot_log("update %s is malformed (%s); stored, not answered", u->update_id_text, u->problem);
			else if (b->rejected_tries > 0)
				bot_log("update %s stored as rejected", u->update_id_text);
			else if (reply)
				queue_reply(b, u->update_id_text, u->chat_id, u->message_id, reply,
							heard_line(u), chat_label(u));
			else if (u->kind == UPD_EDIT)
			{
				char	   *label = chat_label(u);

				printf("[%s] %s edited a message: %s\n", label ? label : "?",
					   u->has_user ? u->user_first_name : "someone", u->text ? u->text : "");
				fflush(stdout);
				free(label);
			}
			advance(b, u);
			break;
		case STORE_DUPLICATE:
			{
				char	   *id = strdup(u->update_id_text);
				const char *params[1] = {id};

				b->duplicates++;
				bot_log("update %s was stored before; not storing or answering it again", u->update_id_text);
				if (id)
					db_exec(b, "SELECT update_id, chat_tg_id, message_id, reply_text, reply_state"
							" FROM bot.updates WHERE update_id = $1", 1, params, on_looked_up, id);
				advance(b, u);
				break;
			}
		case STORE_RETRY:
			bot_log("update %s not stored: %s; trying again", u->update_id_text, problem);
			if (!b->stopping)
			{
				store_later(b);
				return;
			}
			break;
		case STORE_REJECTED:
			if (b->rejected_tries >= 2)
			{
				bot_log("update %s cannot be stored at all (%s); skipping it", u->update_id_text, problem);
				advance(b, u);
				break;
			}
			bot_log("update %s refused by the database (%s); storing it as rejected", u->update_id_text,
					problem);
			b->rejected_tries++;
			b->storing = 1;
			if (store_rejected(b->maker, u, problem, b->rejected_tries == 1, on_stored, b) < 0)
			{
				b->storing = 0;
				store_later(b);
			}
			return;
	}
	process_next(b);
}

static void
process_next(bot *b)
{
	bot_update *u;
	char	   *reply;
	int			rc;

	if (b->storing)
		return;
	if (b->stopping || b->next >= b->nbatch)
	{
		batch_free(b);
		if (b->stopping)
			maybe_finish(b);
		else
			poll_updates(b);
		return;
	}
	u = &b->batch[b->next];
	reply = reply_in_c(u);
	b->storing = 1;
	b->session_started = now_seconds();
	rc = store_update(b->maker, u, reply, on_stored, b);
	free(reply);
	if (rc < 0)
	{
		b->storing = 0;
		store_later(b);
	}
}

static void
on_updates(void *arg, const tg_answer *a)
{
	bot		   *b = arg;
	size_t		n;

	b->poll = NULL;
	if (a->status == TG_CANCELLED)
	{
		maybe_finish(b);
		return;
	}
	if (a->status != TG_OK || !json_is_array(a->result))
	{
		double		wait = next_backoff(&b->poll_backoff, a->retry_after);

		bot_log("%s; polling again in %.1f s", a->status == TG_OK ? "getUpdates: result is not an array" :
				a->problem, wait);
		uv_timer_start(&b->poll_timer, on_poll_due, (uint64_t) (wait * 1000), 0);
		return;
	}
	b->poll_backoff = 0;
	n = json_array_size(a->result);
	b->batch = calloc(n ? n : 1, sizeof(bot_update));
	if (b->batch == NULL)
	{
		bot_log("out of memory for %zu updates; polling again", n);
		uv_timer_start(&b->poll_timer, on_poll_due, 1000, 0);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		bot_update *u = &b->batch[b->nbatch];

		if (update_parse(json_array_get(a->result, i), b->username, u) < 0)
		{
			bot_log("%s; skipped", u->problem);
			continue;
		}
		if (u->update_id < b->offset)
		{
			/* the API sent again what the bot has confirmed: nothing to do */
			update_release(u);
			continue;
		}
		b->nbatch++;
	}
	process_next(b);
}

static void
poll_updates(bot *b)
{
	json_t	   *params;

	if (b->stopping)
	{
		maybe_finish(b);
		return;
	}
	params = json_pack("{s:I, s:i, s:[s, s]}", "offset", (json_int_t) b->offset, "timeout", b->poll_timeout,
					   "allowed_updates", "message", "edited_message");
	b->poll = tg_call(b->tg, "getUpdates", params, (b->poll_timeout + 15) * 1000L, on_updates, b);
}

/* --- timers: each calls on with the bot it belongs to ---------------------------- */

static void
on_poll_due(uv_timer_t *t)
{
	bot		   *b = t->data;

	uv_timer_stop(t);
	if (b->username)
		poll_updates(b);
	else
		get_me(b);
}

/* --- starting ------------------------------------------------------------------- */

static void
on_me(void *arg, const tg_answer *a)
{
	bot		   *b = arg;
	json_t	   *name = json_object_get(a->result, "username");

	b->poll = NULL;
	if (a->status == TG_CANCELLED)
	{
		b->starting = 0;
		maybe_finish(b);
		return;
	}
	if (a->status == TG_REJECTED)
	{
		bot_log("%s; is BOT_TOKEN right?", a->problem);
		b->exit_code = 1;
		b->starting = 0;
		b->stopping = 1;
		maybe_finish(b);
		return;
	}
	if (a->status != TG_OK || !json_is_string(name))
	{
		double		wait = next_backoff(&b->poll_backoff, a->retry_after);

		bot_log("%s; trying again in %.1f s", a->status == TG_OK ? "getMe: no username" : a->problem, wait);
		uv_timer_start(&b->poll_timer, on_poll_due, (uint64_t) (wait * 1000), 0);
		return;
	}
	b->poll_backoff = 0;
	b->username = strdup(json_string_value(name));
	b->starting = 0;
	printf("-- @%s is listening; asking for updates from %lld on\n", b->username, b->offset);
	fflush(stdout);
	pump_replies(b);
	poll_updates(b);
}

static void
get_me(bot *b)
{
	if (b->stopping)
	{
		b->starting = 0;
		maybe_finish(b);
		return;
	}
	b->poll = tg_call(b->tg, "getMe", json_object(), 30000L, on_me, b);
}

static void
on_unfinished(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	(void) arg;
	if (err)
	{
		bot_log("cannot read unfinished replies: %s; going on without them", err->message);
		get_me(b);
		return;
	}
	for (int i = 0; i < bm_result_nrows(res); i++)
	{
		const char *id = bm_result_value(res, i, bm_result_colnum(res, "update_id"));

		if (strcmp(bm_result_value(res, i, bm_result_colnum(res, "reply_state")), "sending") == 0)
		{
			const char *params[1] = {id};

			bot_log("reply to update %s was being sent when the bot stopped; not sending it again", id);
			db_exec(b, store_sql_forget_unknown, 1, params, NULL, NULL);
			continue;
		}
		queue_stored_reply(b, res, i);
	}
	get_me(b);
}

static void start(bot *b);

static void
on_start_due(uv_timer_t *t)
{
	start(t->data);
}

static void
on_offset(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	(void) arg;
	if (err || bm_result_int64(res, 0, 0, &b->offset) != 0)
	{
		bot_log("cannot read the last update_id: %s; trying again", err ? err->message : bm_last_error()->message);
		uv_timer_start(&b->store_timer, on_start_due, (uint64_t) (next_backoff(&b->store_backoff, 0) * 1000), 0);
		return;
	}
	b->store_backoff = 0;
	db_exec(b, store_sql_unfinished_replies, 0, NULL, on_unfinished, NULL);
}

static void
on_schema(void *arg, store_outcome outcome, const char *reply, const char *problem)
{
	bot		   *b = arg;

	(void) reply;
	if (outcome != STORE_OK)
	{
		double		wait = next_backoff(&b->store_backoff, 0);

		bot_log("cannot set up the schema: %s; trying again in %.1f s", problem, wait);
		if (b->stopping)
		{
			b->starting = 0;
			maybe_finish(b);
			return;
		}
		uv_timer_start(&b->store_timer, on_start_due, (uint64_t) (wait * 1000), 0);
		return;
	}
	db_exec(b, store_sql_next_offset, 0, NULL, on_offset, NULL);
}

static void
start(bot *b)
{
	uv_timer_stop(&b->store_timer);
	if (b->stopping)
	{
		b->starting = 0;
		maybe_finish(b);
		return;
	}
	if (store_setup(b->maker, on_schema, b) < 0)
		uv_timer_start(&b->store_timer, on_start_due, 1000, 0);
}

/* --- stopping ------------------------------------------------------------------- */

static void
on_counts(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	(void) arg;
	printf("-- stopped: %ld updates handled", b->handled);
	if (b->handled > 0 && b->busy > 0)
		printf(" in %.3f s of sessions (%.1f updates/s)", b->busy, b->handled / b->busy);
	printf(", %ld replies sent", b->replies_sent);
	if (b->duplicates)
		printf(", %ld duplicates ignored", b->duplicates);
	if (b->replies_lost)
		printf(", %ld replies failed", b->replies_lost);
	printf("\n");
	{
		bm_engine_stats st;

		bm_engine_get_stats(b->engine, &st);
		printf("-- database: %ld round trips, %ld transactions and autocommit statements, %ld statements prepared,"
			   " %ld connections made\n", st.round_trips, st.syncs, st.prepares, st.connects);
	}
	if (err)
		bot_log("cannot count rows: %s", err->message);
	else
		printf("-- rows: users %s, chats %s, messages %s, updates %s (replies sent in all: %s)\n",
			   bm_result_value(res, 0, 0), bm_result_value(res, 0, 1), bm_result_value(res, 0, 2),
			   bm_result_value(res, 0, 3), bm_result_value(res, 0, 4));
	fflush(stdout);
}

static void
on_handle_closed(uv_handle_t *h)
{
	(void) h;
}

static void
teardown(bot *b)
{
	bm_engine_free(b->engine);
	b->engine = NULL;
	http_client_free(b->http);
	b->http = NULL;
	uv_close((uv_handle_t *) &b->poll_timer, on_handle_closed);
	uv_close((uv_handle_t *) &b->store_timer, on_handle_closed);
	uv_close((uv_handle_t *) &b->sigint, on_handle_closed);
	uv_close((uv_handle_t *) &b->sigterm, on_handle_closed);
}

static void
on_final_counts(bot *b, const bm_result *res, const bm_error *err, void *arg)
{
	on_counts(b, res, err, arg);
	teardown(b);
}

/* When stopping and nothing is left in flight: print the summary, then let the loop end. */
static void
maybe_finish(bot *b)
{
	if (!b->stopping || b->finishing || b->engine == NULL)
		return;
	if (b->storing || b->starting || b->poll || b->db_pending > 0 || b->replies)
		return;
	b->finishing = 1;
	db_exec(b, store_sql_counts, 0, NULL, on_final_counts, NULL);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	bot		   *b = h->data;

	if (b->stopping)
	{
		bot_log("second %s: stopping now, without finishing", strsignal(signum));
		exit(1);
	}
	bot_log("%s: finishing what is in flight, then stopping", strsignal(signum));
	b->stopping = 1;
	/* what waits for a retry is not in flight: it is picked up at the next start */
	if (uv_is_active((uv_handle_t *) &b->poll_timer))
	{
		uv_timer_stop(&b->poll_timer);
		b->starting = 0;
	}
	if (!b->storing && uv_is_active((uv_handle_t *) &b->store_timer))
	{
		uv_timer_stop(&b->store_timer);
		batch_free(b);
		b->starting = 0;
	}
	for (reply_job **p = &b->replies; *p;)
	{
		reply_job  *j = *p;

		if (j->retry && uv_is_active((uv_handle_t *) j->retry))
		{
			*p = j->next;		/* "pending" in the database */
			job_free(j);
		}
		else
			p = &j->next;
	}
	if (b->poll)
		http_cancel(b->poll);	/* a long poll has nothing in flight to finish */
	else
		maybe_finish(b);
}

int
main(void)
{
	bot			b = {0};
	const char *token = getenv("BOT_TOKEN");
	const char *api = getenv("BOT_API_URL");
	const char *timeout = getenv("BOT_POLL_TIMEOUT");
	bm_engine_options opts = {
		.pool_size = 2,
		.connect_timeout_ms = 5000,
		.statement_timeout_ms = 10000,
		.application_name = "basemodel-demo-bot",
	};
	bm_error	err = {0};

	setvbuf(stdout, NULL, _IOLBF, 0);

	/* first of all, so that a stop asked for while starting is a clean one */
	b.loop = uv_default_loop();
	uv_signal_init(b.loop, &b.sigint);
	uv_signal_init(b.loop, &b.sigterm);
	b.sigint.data = b.sigterm.data = &b;
	uv_signal_start(&b.sigint, on_signal, SIGINT);
	uv_signal_start(&b.sigterm, on_signal, SIGTERM);
	if (token == NULL || token[0] == '\0')
	{
		bot_log("BOT_TOKEN is not set");
		return 2;
	}
	if (api == NULL || api[0] == '\0')
		api = "https://api.telegram.org";
	b.poll_timeout = timeout && atoi(timeout) >= 0 ? atoi(timeout) : 30;
	if (getenv("DATABASE_URL") == NULL)
	{
		bot_log("DATABASE_URL is not set");
		return 2;
	}
	b.engine = bm_engine_create(NULL, &opts, &err);
	if (b.engine == NULL)
	{
		bot_log("DATABASE_URL: %s", err.message ? err.message : "cannot create the engine");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		bot_log("cannot initialise libcurl");
		return 2;
	}
	if (bm_libuv_attach(b.engine, b.loop) != 0)
	{
		bot_log("cannot attach the engine to the libuv loop");
		return 2;
	}
	b.maker = bm_sessionmaker_create(b.engine, NULL);
	b.http = http_client_create(b.loop);
	b.tg = b.http ? tg_client_create(b.http, api, token) : NULL;
	if (b.maker == NULL || b.tg == NULL)
	{
		bot_log("out of memory");
		return 2;
	}
	uv_timer_init(b.loop, &b.poll_timer);
	uv_timer_init(b.loop, &b.store_timer);
	b.poll_timer.data = b.store_timer.data = &b;

	b.starting = 1;
	start(&b);
	uv_run(b.loop, UV_RUN_DEFAULT);

	tg_client_free(b.tg);
	free(b.username);
	uv_loop_close(b.loop);
	curl_global_cleanup();
	return b.exit_code;
}
