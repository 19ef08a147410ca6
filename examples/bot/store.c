/*
 * store.c
 *	  The bot's SQL.  The tables hold ordinary columns only: id, created_at
 *	  and updated_at come from basemodel.register, so the database keeps them
 *	  whoever writes the rows.  Each update is one unit of work
 *	  (bm_sessionmaker_run) whose statements and commit go out in one round
 *	  trip, run again by the library after a deadlock, a serialization
 *	  failure or a connection lost before the commit; bot.updates.update_id
 *	  is UNIQUE, so an update delivered twice (after a crash) fails on its
 *	  first statement and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static const char *const schema_sql[] = {
	"SET LOCAL client_min_messages = warning",	/* no "already exists, skipping" */
	"CREATE EXTENSION IF NOT EXISTS basemodel",
	"CREATE SCHEMA IF NOT EXISTS bot",
	"CREATE TABLE IF NOT EXISTS bot.users ("
	" tg_id bigint NOT NULL UNIQUE,"
	" is_bot boolean NOT NULL DEFAULT false,"
	" first_name text NOT NULL,"
	" last_name text,"
	" username text,"
	" language_code text)",
	"CREATE TABLE IF NOT EXISTS bot.chats ("
	" tg_id bigint NOT NULL UNIQUE,"
	" type text NOT NULL,"
	" title text,"
	" username text,"
	" first_name text)",
	"CREATE TABLE IF NOT EXISTS bot.messages ("
	" chat_tg_id bigint NOT NULL REFERENCES bot.chats (tg_id),"
	" message_id bigint NOT NULL,"
	" user_tg_id bigint REFERENCES bot.users (tg_id),"
	" update_id bigint NOT NULL,"
	" content text NOT NULL,"
	" text text,"
	" sent_at timestamptz NOT NULL,"
	" edited_at timestamptz,"
	" UNIQUE (chat_tg_id, message_id))",
	"CREATE INDEX IF NOT EXISTS messages_user_tg_id_idx ON bot.messages (user_tg_id)",
	"CREATE TABLE IF NOT EXISTS bot.updates ("
	" update_id bigint NOT NULL UNIQUE,"
	" kind text NOT NULL,"
	" chat_tg_id bigint,"
	" message_id bigint,"
	" reply_text text,"
	" reply_state text NOT NULL DEFAULT 'none'"
	"  CHECK (reply_state IN ('none', 'pending', 'sending', 'sent', 'failed', 'unknown')),"
	" problem text,"
	" raw jsonb)",
	"CREATE INDEX IF NOT EXISTS updates_unfinished_idx ON bot.updates (update_id)"
	" WHERE reply_state IN ('pending', 'sending')",
	/* language_code is kept for replies in the user's language, never shown by /me */
	"SELECT basemodel.register('bot.users', hidden => '{language_code}')",
	"SELECT basemodel.register('bot.chats')",
	"SELECT basemodel.register('bot.messages')",
	"SELECT basemodel.register('bot.updates')",
};

static const char sql_insert_update[] =
"INSERT INTO bot.updates (update_id, kind, chat_tg_id, message_id, reply_text, reply_state)"
" VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::text IS NULL THEN 'none' ELSE 'pending' END)";

/* The WHERE keeps an unchanged user or chat from being rewritten on every message. */
static const char sql_upsert_user[] =
"INSERT INTO bot.users AS u (tg_id, is_bot, first_name, last_name, username, language_code)"
" VALUES ($1, $2, $3, $4, $5, $6)"
" ON CONFLICT (tg_id) DO UPDATE SET is_bot = EXCLUDED.is_bot, first_name = EXCLUDED.first_name,"
" last_name = EXCLUDED.last_name, username = EXCLUDED.username, language_code = EXCLUDED.language_code"
" WHERE (u.is_bot, u.first_name, u.last_name, u.username, u.language_code) IS DISTINCT FROM"
" (EXCLUDED.is_bot, EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.username, EXCLUDED.language_code)";

static const char sql_upsert_chat[] =
"INSERT INTO bot.chats AS c (tg_id, type, title, username, first_name)"
" VALUES ($1, $2, $3, $4, $5)"
" ON CONFLICT (tg_id) DO UPDATE SET type = EXCLUDED.type, title = EXCLUDED.title,"
" username = EXCLUDED.username, first_name = EXCLUDED.first_name"
" WHERE (c.type, c.title, c.username, c.first_name) IS DISTINCT FROM"
" (EXCLUDED.type, EXCLUDED.title, EXCLUDED.username, EXCLUDED.first_name)";

static const char sql_insert_message[] =
"INSERT INTO bot.messages (chat_tg_id, message_id, user_tg_id, update_id, content, text, sent_at)"
" VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7))";

/* An edit of a message the bot never saw (or was told to forget) stores it anew. */
static const char sql_edit_message[] =
"INSERT INTO bot.messages AS m (chat_tg_id, message_id, user_tg_id, update_id, content, text, sent_at, edited_at)"
" VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7), to_timestamp($8))"
" ON CONFLICT (chat_tg_id, message_id) DO UPDATE SET text = EXCLUDED.text, edited_at = EXCLUDED.edited_at";

static const char sql_reply_me[] =
"UPDATE bot.updates SET reply_state = 'pending', reply_text = coalesce("
" (SELECT basemodel.to_dict(u)::text FROM bot.users u WHERE u.tg_id = $2),"
" 'I do not know who you are: your messages come without a sender.')"
" WHERE update_id = $1 RETURNING reply_text";

static const char sql_reply_stats[] =
"UPDATE bot.updates SET reply_state = 'pending', reply_text = ("
" SELECT format('%s in this chat: %s.',"
"  CASE sum(n) WHEN 1 THEN '1 message' ELSE sum(n) || ' messages' END,"
"  string_agg(format('%s %s', who, n), ', ' ORDER BY n DESC, who))"
" FROM (SELECT coalesce(u.first_name, 'no sender') AS who, count(*) AS n"
"  FROM bot.messages m LEFT JOIN bot.users u ON u.tg_id = m.user_tg_id"
"  WHERE m.chat_tg_id = $2 GROUP BY u.tg_id, u.first_name) per_user)"
" WHERE update_id = $1 RETURNING reply_text";

static const char sql_reply_forget[] =
"WITH gone AS (DELETE FROM bot.messages WHERE user_tg_id = $2 RETURNING 1)"
" UPDATE bot.updates SET reply_state = 'pending', reply_text ="
" format('Done: I forgot %s of your messages, this one included.', (SELECT count(*) FROM gone))"
" WHERE update_id = $1 RETURNING reply_text";

static const char sql_insert_odd_update[] =
"INSERT INTO bot.updates (update_id, kind, problem, raw) VALUES ($1, $2, $3, $4::jsonb)";

const char	store_sql_next_offset[] =
"SELECT coalesce(max(update_id) + 1, 0) FROM bot.updates";

const char	store_sql_unfinished_replies[] =
"SELECT update_id, chat_tg_id, message_id, reply_text, reply_state FROM bot.updates"
" WHERE reply_state IN ('pending', 'sending') ORDER BY update_id";

/* Only the process that moves a reply from pending to sending may send it. */
const char	store_sql_mark_sending[] =
"UPDATE bot.updates SET reply_state = 'sending' WHERE update_id = $1 AND reply_state = 'pending'";

const char	store_sql_mark[] =
"UPDATE bot.updates SET reply_state = $2, problem = coalesce($3, problem) WHERE update_id = $1";

const char	store_sql_forget_unknown[] =
"UPDATE bot.updates SET reply_state = 'unknown',"
" problem = 'the bot stopped while sending this reply; it may have been delivered'"
" WHERE update_id = $1 AND reply_state = 'sending'";

const char	store_sql_counts[] =
"SELECT (SELECT count(*) FROM bot.users), (SELECT count(*) FROM bot.chats),"
" (SELECT count(*) FROM bot.messages), (SELECT count(*) FROM bot.updates),"
" (SELECT count(*) FROM bot.updates WHERE reply_state = 'sent')";

/* One statement of a unit: its SQL and text parameters (NULL: SQL NULL). */
typedef struct stmt
{
	const char *sql;
	int			nparams;
	const char *params[8];
} stmt;

/* One unit in flight: its statements, which is which, and its first failure. */
typedef struct store_ctx
{
	stmt	   *stmts;			/* queued again by each attempt */
	int			nstmts;
	store_done_cb cb;
	void	   *arg;
	int			seen;			/* statements answered so far */
	int			reply_stmt;		/* index of the statement whose RETURNING is the reply, or -1 */
	char	   *reply;			/* made by the SQL (RETURNING) */
	const char *c_reply;		/* or given by the caller */
	char	   *owned[2];		/* parameters this session owns, freed with it */
	int			failed_stmt;	/* index of the first failure, or -1 */
	int			err_code;
	char		sqlstate[6];
	char		problem[400];
} store_ctx;

/* what a unit owns goes with it */
static void
free_ctx(store_ctx *ctx)
{
	free(ctx->stmts);
	free(ctx->reply);
	free(ctx->owned[0]);
	free(ctx->owned[1]);
	free(ctx);
}

static void
note_error(store_ctx *ctx, int stmt, const bm_error *err)
{
	if (ctx->failed_stmt >= 0 && ctx->err_code != BM_ERR_ABORTED)
		return;
	/* "aborted" only says an earlier statement failed; keep looking for the cause */
	if (ctx->failed_stmt >= 0 && err->code == BM_ERR_ABORTED)
		return;
	ctx->failed_stmt = stmt;
	ctx->err_code = err->code;
	memcpy(ctx->sqlstate, err->sqlstate, sizeof(ctx->sqlstate));
	ctx->sqlstate[5] = '\0';
	snprintf(ctx->problem, sizeof(ctx->problem), "%s%s%s%s",
			 err->message ? err->message : bm_error_name(err->code),
			 err->sqlstate[0] ? " (SQLSTATE " : "", err->sqlstate, err->sqlstate[0] ? ")" : "");
	/* one line: cut at the first newline */
	ctx->problem[strcspn(ctx->problem, "\n")] = '\0';
}

static void
on_statement(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	store_ctx  *ctx = arg;
	int			stmt = ctx->seen++;

	(void) s;
	if (err && err->code != BM_OK)
	{
		note_error(ctx, stmt, err);
		return;
	}
	if (stmt == ctx->reply_stmt && res && bm_result_nrows(res) == 1 && !bm_result_isnull(res, 0, 0))
		ctx->reply = strdup(bm_result_value(res, 0, 0));
}

static void
on_commit(bm_session *s, const bm_error *err, void *arg)
{
	store_ctx  *ctx = arg;
	store_outcome outcome = STORE_OK;

	if (err && err->code != BM_OK)
		note_error(ctx, ctx->seen, err);
	if (ctx->failed_stmt >= 0)
	{
		if (ctx->err_code == BM_ERR_SQL && ctx->failed_stmt == 0 && strcmp(ctx->sqlstate, "23505") == 0)
			outcome = STORE_DUPLICATE;
		else if (ctx->err_code == BM_ERR_SQL &&
				 (strncmp(ctx->sqlstate, "22", 2) == 0 || strncmp(ctx->sqlstate, "23", 2) == 0))
			outcome = STORE_REJECTED;	/* data the database will never take */
		else

			/*
			 * A connection, a timeout, or BM_ERR_OUTCOME_UNKNOWN: the update
			 * may have been stored after all.  Storing it again then fails
			 * on its update_id (STORE_DUPLICATE), and its reply is sent only
			 * if it is still pending: never twice.
			 */
			outcome = STORE_RETRY;
	}
	(void) s;
	ctx->cb(ctx->arg, outcome, outcome != STORE_OK ? NULL : ctx->reply ? ctx->reply : ctx->c_reply,
			outcome == STORE_OK ? NULL : ctx->problem);
	free_ctx(ctx);
}

static store_ctx *
new_ctx(store_done_cb cb, void *arg)
{
	store_ctx  *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->cb = cb;
	ctx->arg = arg;
	ctx->reply_stmt = -1;
	ctx->failed_stmt = -1;
	return ctx;
}

/*
 * One attempt of a unit: its statements, with the counts of the previous
 * attempt (whose callbacks have all run) forgotten.  bm_sessionmaker_run
 * commits; a refused call (out of memory, misuse) gives up, and the unit's
 * done callback tells the caller to retry.
 */
static int
queue_unit(bm_session *s, void *arg)
{
	store_ctx  *ctx = arg;

	ctx->seen = 0;
	ctx->failed_stmt = -1;
	free(ctx->reply);
	ctx->reply = NULL;
	for (int i = 0; i < ctx->nstmts; i++)
		if (bm_session_execute(s, ctx->stmts[i].sql, ctx->stmts[i].nparams, ctx->stmts[i].params,
							   on_statement, ctx) < 0)
			return -1;
	return 0;
}

/* run the statements as one unit of work, up to 3 attempts; on_commit ends it */
static int
run_session(bm_sessionmaker *m, store_ctx *ctx, const stmt *stmts, int n)
{
	if ((ctx->stmts = malloc(n * sizeof(stmt))) != NULL)
	{
		memcpy(ctx->stmts, stmts, n * sizeof(stmt));
		ctx->nstmts = n;
		if (bm_sessionmaker_run(m, queue_unit, on_commit, ctx, 3) == 0)
			return 0;
	}
	fprintf(stderr, "bot: cannot queue a session: %s\n",
			ctx->stmts ? bm_last_error()->message : "out of memory");
	free_ctx(ctx);
	return -1;
}

int
store_setup(bm_sessionmaker *m, store_done_cb cb, void *arg)
{
	stmt		stmts[sizeof(schema_sql) / sizeof(schema_sql[0])];
	int			n = sizeof(schema_sql) / sizeof(schema_sql[0]);
	store_ctx  *ctx = new_ctx(cb, arg);

	if (ctx == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		stmts[i] = (stmt) {schema_sql[i], 0, {NULL}};
	return run_session(m, ctx, stmts, n);
}

int
store_update(bm_sessionmaker *m, const bot_update *u, const char *reply,
			 store_done_cb cb, void *arg)
{
	stmt		stmts[6];
	int			n = 0;
	store_ctx  *ctx;

	if (u->kind == UPD_MALFORMED || u->kind == UPD_OTHER)
		return store_rejected(m, u, u->kind == UPD_MALFORMED ? u->problem : NULL, 1, cb, arg);

	ctx = new_ctx(cb, arg);
	if (ctx == NULL)
		return -1;
	/* each attempt queues the statements, after this call has returned: keep a copy */
	if (reply && (ctx->owned[0] = strdup(reply)) == NULL)
	{
		free(ctx);
		return -1;
	}
	ctx->c_reply = ctx->owned[0];
	stmts[n++] = (stmt) {sql_insert_update, 5,
		{u->update_id_text, u->kind_name, u->chat_id_text, u->message_id_text, ctx->owned[0]}};
	if (u->has_user)
		stmts[n++] = (stmt) {sql_upsert_user, 6,
			{u->user_id_text, u->user_is_bot ? "true" : "false", u->user_first_name,
			u->user_last_name, u->user_username, u->user_language}};
	stmts[n++] = (stmt) {sql_upsert_chat, 5,
		{u->chat_id_text, u->chat_type, u->chat_title, u->chat_username, u->chat_first_name}};
	if (u->kind == UPD_EDIT)
		stmts[n++] = (stmt) {sql_edit_message, 8,
			{u->chat_id_text, u->message_id_text, u->has_user ? u->user_id_text : NULL,
			u->update_id_text, u->content, u->text, u->date_text, u->edit_date_text}};
	else
		stmts[n++] = (stmt) {sql_insert_message, 7,
			{u->chat_id_text, u->message_id_text, u->has_user ? u->user_id_text : NULL,
			u->update_id_text, u->content, u->text, u->date_text}};

	if (reply == NULL && u->kind == UPD_MESSAGE)
	{
		const char *user = u->has_user ? u->user_id_text : NULL;
		const char *sql = u->command == CMD_ME ? sql_reply_me :
			u->command == CMD_STATS ? sql_reply_stats :
			u->command == CMD_FORGET ? sql_reply_forget : NULL;

		if (sql)
		{
			ctx->reply_stmt = n;
			stmts[n++] = (stmt) {sql, 2, {u->update_id_text,
				u->command == CMD_STATS ? u->chat_id_text : user}};
		}
	}
	return run_session(m, ctx, stmts, n);
}

int
store_rejected(bm_sessionmaker *m, const bot_update *u, const char *problem,
			   int with_raw, store_done_cb cb, void *arg)
{
	stmt		st = {sql_insert_odd_update, 4, {u->update_id_text,
		u->kind == UPD_MESSAGE || u->kind == UPD_EDIT ? "rejected" : u->kind_name,
	problem, NULL}};
	store_ctx  *ctx = new_ctx(cb, arg);

	if (ctx == NULL)
		return -1;
	if (problem)
		st.params[2] = ctx->owned[0] = strdup(problem);
	if (with_raw)
		st.params[3] = ctx->owned[1] = json_dumps(u->root, JSON_COMPACT);
	return run_session(m, ctx, &st, 1);
}
