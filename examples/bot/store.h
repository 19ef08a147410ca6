/*
 * store.h
 *	  The bot's data in PostgreSQL, through libbasemodel: the schema, one
 *	  session per update, and the reply bookkeeping that keeps a reply from
 *	  being sent twice.
 */
#ifndef BOT_STORE_H
#define BOT_STORE_H

#include <basemodel.h>

#include "update.h"

typedef enum store_outcome
{
	STORE_OK,					/* committed */
	STORE_DUPLICATE,			/* this update_id was stored before: nothing changed */
	STORE_RETRY,				/* not stored, for a reason that may pass (connection, timeout) */
	STORE_REJECTED				/* not stored: the database refuses this data */
} store_outcome;

/* reply: the reply the transaction committed (NULL: none); problem: one line when not OK */
typedef void (*store_done_cb) (void *arg, store_outcome outcome, const char *reply,
							   const char *problem);

/* Create the schema if it is missing (one transaction); done gets STORE_OK or a failure. */
int			store_setup(bm_sessionmaker *m, store_done_cb cb, void *arg);

/*
 * Store update U in one session, all statements pipelined with the commit:
 * record the update (its id is the bot's offset), upsert the user and the
 * chat, insert or edit the message, run the command and record its reply
 * as "pending".  reply is the reply worked out in C (echo, greeting), or
 * NULL when the command's SQL makes it or there is none.
 */
int			store_update(bm_sessionmaker *m, const bot_update *u, const char *reply,
						 store_done_cb cb, void *arg);

/* Store U as "rejected" with PROBLEM, and its JSON when with_raw. */
int			store_rejected(bm_sessionmaker *m, const bot_update *u, const char *problem,
						   int with_raw, store_done_cb cb, void *arg);

/* The SQL of the reply bookkeeping and the summary, for bm_engine_execute. */
extern const char store_sql_next_offset[];
extern const char store_sql_unfinished_replies[];
extern const char store_sql_mark_sending[];
extern const char store_sql_mark[];
extern const char store_sql_forget_unknown[];
extern const char store_sql_counts[];

#endif							/* BOT_STORE_H */
