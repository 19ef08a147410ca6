/*
 * update.h
 *	  One update from getUpdates, checked and taken apart with jansson into
 *	  what the bot stores and answers.
 */
#ifndef BOT_UPDATE_H
#define BOT_UPDATE_H

#include <jansson.h>

#define BOT_ID_LEN 24

typedef enum upd_kind
{
	UPD_MESSAGE,				/* a new message */
	UPD_EDIT,					/* edited_message */
	UPD_MALFORMED,				/* has an update_id, but not the shape the API documents */
	UPD_OTHER					/* a kind of update the bot does not handle */
} upd_kind;

typedef enum bot_command
{
	CMD_NONE,
	CMD_START,
	CMD_ME,
	CMD_STATS,
	CMD_FORGET
} bot_command;

/* Every const char * points into root, which the update holds a reference to. */
typedef struct bot_update
{
	json_t	   *root;
	long long	update_id;
	upd_kind	kind;
	const char *kind_name;		/* "message", "edited_message", "malformed", ... */
	char		problem[200];	/* UPD_MALFORMED: what is wrong, one line */

	char		update_id_text[BOT_ID_LEN];
	char		chat_id_text[BOT_ID_LEN];
	char		message_id_text[BOT_ID_LEN];
	char		date_text[BOT_ID_LEN];
	char		edit_date_text[BOT_ID_LEN];
	long long	chat_id;
	long long	message_id;
	const char *chat_type;
	const char *chat_title;
	const char *chat_username;
	const char *chat_first_name;

	int			has_user;
	char		user_id_text[BOT_ID_LEN];
	int			user_is_bot;
	const char *user_first_name;
	const char *user_last_name;
	const char *user_username;
	const char *user_language;

	const char *content;		/* "text", "sticker", "photo", ..., "other" */
	const char *text;			/* the text or the caption; NULL when none */
	const char *sticker_emoji;
	bot_command command;
} bot_update;

/*
 * Take ELEMENT (one entry of getUpdates' result) apart into U.  Returns 0,
 * with U->kind UPD_MALFORMED when the update has an id but a broken body;
 * returns -1, with U->problem set, when it has no usable update_id at all
 * (then it cannot be stored or confirmed).
 */
int			update_parse(json_t *element, const char *bot_username, bot_update *u);
void		update_release(bot_update *u);

#endif							/* BOT_UPDATE_H */
