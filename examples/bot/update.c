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

static int
malformed(bot_update *u, const char *fmt, const char *field)
{
	u->kind = UPD_MALFORMED;
	u->kind_name = "malformed";
	snprintf(u->problem, sizeof(u->problem), fmt, field);
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
		return malformed(u, "%s is not an object", u->kind_name);
	if (req_int(msg, "message_id", &u->message_id, u->message_id_text) < 0)
		return malformed(u, "%s.message_id is not an integer", u->kind_name);
	if (req_int(msg, "date", &ignored, u->date_text) < 0)
		return malformed(u, "%s.date is not an integer", u->kind_name);
	if (u->kind == UPD_EDIT && req_int(msg, "edit_date", &ignored, u->edit_date_text) < 0)
		return malformed(u, "%s.edit_date is not an integer", u->kind_name);
	if (!json_is_object(chat))
		return malformed(u, "%s.chat is not an object", u->kind_name);
	if (req_int(chat, "id", &u->chat_id, u->chat_id_text) < 0)
		return malformed(u, "%s.chat.id is not an integer", u->kind_name);
	if (opt_string(chat, "type", &u->chat_type) < 0 || u->chat_type == NULL)
		return malformed(u, "%s.chat.type is not a string", u->kind_name);
	if (opt_string(chat, "title", &u->chat_title) < 0 ||
		opt_string(chat, "username", &u->chat_username) < 0 ||
		opt_string(chat, "first_name", &u->chat_first_name) < 0)
		return malformed(u, "%s.chat has a name that is not a string", u->kind_name);
	if (from != NULL)
	{
		long long	user_id;

		if (!json_is_object(from))
			return malformed(u, "%s.from is not an object", u->kind_name);
		if (req_int(from, "id", &user_id, u->user_id_text) < 0)
			return malformed(u, "%s.from.id is not an integer", u->kind_name);
		if (opt_string(from, "first_name", &u->user_first_name) < 0 || u->user_first_name == NULL)
			return malformed(u, "%s.from.first_name is not a string", u->kind_name);
		if (opt_string(from, "last_name", &u->user_last_name) < 0 ||
			opt_string(from, "username", &u->user_username) < 0 ||
			opt_string(from, "language_code", &u->user_language) < 0)
			return malformed(u, "%s.from has a name that is not a string", u->kind_name);
		u->user_is_bot = json_is_true(json_object_get(from, "is_bot"));
		u->has_user = 1;
	}
	if (opt_string(msg, "text", &u->text) < 0)
		return malformed(u, "%s.text is not a string", u->kind_name);
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
			return malformed(u, "%s.caption is not a string", u->kind_name);
		if (strcmp(u->content, "sticker") == 0 &&
			opt_string(json_object_get(msg, "sticker"), "emoji", &u->sticker_emoji) < 0)
			return malformed(u, "%s.sticker.emoji is not a string", u->kind_name);
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
