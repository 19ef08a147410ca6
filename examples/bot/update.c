/*
 * update.c
 *	  Checking one update against the shape the Bot API documents.  Nothing
 *	  in an update is trusted: a field of the wrong type makes the update
 *	  "malformed" (stored as it came, not answered) instead of crashing the
 *	  bot or being silently misread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "update.h"

/* Media kinds a message can carry instead of text, in the API's names. */
static const char *const media_kinds[] = {
	"sticker", "photo", "animation", "video", "video_note", "voice", "audio",
	"document", "location", "venue", "contact", "poll", "dice", NULL
};

/* Say what is wrong with FIELD ("chat.id", NULL for the message itself). */
static int
malformed(bot_update *u, const char *field, const char *what)
{
	snprintf(u->problem, sizeof(u->problem), "%s%s%s %s", u->kind_name, field ? "." : "",
			 field ? field : "", what);
	u->kind = UPD_MALFORMED;
	u->kind_name = "malformed";
	return 0;
}

/* An optional string member: NULL when absent, -1 when of another type. */
static int
opt_string(json_t *obj, const char *key, const char **out)
{
	json_t	   *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int
req_int(json_t *obj, const char *key, long long *out, char *text)
{
	json_t	   *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return -1;
	*out = (long long) json_integer_value(v);
	if (text)
		snprintf(text, BOT_ID_LEN, "%lld", *out);
	return 0;
}

static bot_command
parse_command(const char *text, const char *bot_username)
{
	static const struct
	{
		const char *name;
		bot_command cmd;
	}			commands[] = {
		{"start", CMD_START}, {"me", CMD_ME}, {"stats", CMD_STATS}, {"forget", CMD_FORGET}
	};
	size_t		len;
	const char *at;
	const char *end;

	if (text == NULL || text[0] != '/')
		return CMD_NONE;
	text++;
	end = text + strcspn(text, " \t\n");
	at = memchr(text, '@', end - text);
	len = (at ? at : end) - text;
	/* "/stats@other_bot" in a group is meant for another bot */
	if (at && (bot_username == NULL || (size_t) (end - at - 1) != strlen(bot_username) ||
			   strncasecmp(at + 1, bot_username, end - at - 1) != 0))
		return CMD_NONE;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == len && strncmp(text, commands[i].name, len) == 0)
			return commands[i].cmd;
	return CMD_NONE;
}

static int
parse_message(json_t *msg, bot_update *u, const char *bot_username)
{
	json_t	   *chat = json_object_get(msg, "chat");
	json_t	   *from = json_object_get(msg, "from");
	long long	ignored;

	if (!json_is_object(msg))
		return malformed(u, NULL, "is not an object");
	if (req_int(msg, "message_id", &u->message_id, u->message_id_text) < 0)
		return malformed(u, "message_id", "is not an integer");
	if (req_int(msg, "date", &ignored, u->date_text) < 0)
		return malformed(u, "date", "is not an integer");
	if (u->kind == UPD_EDIT && req_int(msg, "edit_date", &ignored, u->edit_date_text) < 0)
		return malformed(u, "edit_date", "is not an integer");
	if (!json_is_object(chat))
		return malformed(u, "chat", "is not an object");
	if (req_int(chat, "id", &u->chat_id, u->chat_id_text) < 0)
		return malformed(u, "chat.id", "is not an integer");
	if (opt_string(chat, "type", &u->chat_type) < 0 || u->chat_type == NULL)
		return malformed(u, "chat.type", "is not a string");
	if (opt_string(chat, "title", &u->chat_title) < 0 ||
		opt_string(chat, "username", &u->chat_username) < 0 ||
		opt_string(chat, "first_name", &u->chat_first_name) < 0)
		return malformed(u, "chat", "has a name that is not a string");
	if (from != NULL)
	{
		long long	user_id;

		if (!json_is_object(from))
			return malformed(u, "from", "is not an object");
		if (req_int(from, "id", &user_id, u->user_id_text) < 0)
			return malformed(u, "from.id", "is not an integer");
		if (opt_string(from, "first_name", &u->user_first_name) < 0 || u->user_first_name == NULL)
			return malformed(u, "from.first_name", "is not a string");
		if (opt_string(from, "last_name", &u->user_last_name) < 0 ||
			opt_string(from, "username", &u->user_username) < 0 ||
			opt_string(from, "language_code", &u->user_language) < 0)
			return malformed(u, "from", "has a name that is not a string");
		u->user_is_bot = json_is_true(json_object_get(from, "is_bot"));
		u->has_user = 1;
	}
	if (opt_string(msg, "text", &u->text) < 0)
		return malformed(u, "text", "is not a string");
	if (u->text)
		u->content = "text";
	else
	{
		u->content = "other";
		for (int i = 0; media_kinds[i]; i++)
			if (json_object_get(msg, media_kinds[i]))
			{
				u->content = media_kinds[i];
				break;
			}
		if (opt_string(msg, "caption", &u->text) < 0)
			return malformed(u, "caption", "is not a string");
		if (strcmp(u->content, "sticker") == 0 &&
			opt_string(json_object_get(msg, "sticker"), "emoji", &u->sticker_emoji) < 0)
			return malformed(u, "sticker.emoji", "is not a string");
	}
	if (u->kind == UPD_MESSAGE && strcmp(u->content, "text") == 0)
		u->command = parse_command(u->text, bot_username);
	return 0;
}

int
update_parse(json_t *element, const char *bot_username, bot_update *u)
{
	json_t	   *msg;
	const char *key;
	json_t	   *value;

	memset(u, 0, sizeof(*u));
	if (!json_is_object(element))
	{
		snprintf(u->problem, sizeof(u->problem), "an entry of getUpdates' result is not an object");
		return -1;
	}
	if (req_int(element, "update_id", &u->update_id, u->update_id_text) < 0)
	{
		snprintf(u->problem, sizeof(u->problem), "an entry of getUpdates' result has no integer update_id");
		return -1;
	}
	u->root = json_incref(element);

	if ((msg = json_object_get(element, "message")) != NULL)
	{
		u->kind = UPD_MESSAGE;
		u->kind_name = "message";
	}
	else if ((msg = json_object_get(element, "edited_message")) != NULL)
	{
		u->kind = UPD_EDIT;
		u->kind_name = "edited_message";
	}
	else
	{
		/* callback_query, channel_post, ...: stored, not handled */
		u->kind = UPD_OTHER;
		u->kind_name = "other";
		json_object_foreach(element, key, value)
		{
			if (strcmp(key, "update_id") != 0)
			{
				u->kind_name = key;
				break;
			}
		}
	}
	if (u->kind != UPD_OTHER)
		parse_message(msg, u, bot_username);
	return 0;
}

void
update_release(bot_update *u)
{
	json_decref(u->root);
	u->root = NULL;
}
