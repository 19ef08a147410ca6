/*
 * telegram.h
 *	  Calls to the Telegram Bot API (or anything that speaks it, such as the
 *	  stand-in): one JSON request, one classified answer.
 */
#ifndef BOT_TELEGRAM_H
#define BOT_TELEGRAM_H

#include <jansson.h>

#include "http.h"

typedef enum tg_status
{
	TG_OK,						/* "ok": true; result holds the answer */
	TG_RETRY,					/* not done, safe to repeat: 5xx, 429, no connection */
	TG_UNKNOWN,					/* may or may not have been done: timeout, reset */
	TG_REJECTED,				/* refused for good: 4xx other than 429 */
	TG_CANCELLED				/* we stopped it */
} tg_status;

typedef struct tg_answer
{
	tg_status	status;
	json_t	   *result;			/* TG_OK: the "result" member, borrowed */
	const char *problem;		/* otherwise: one line saying what went wrong */
	double		retry_after;	/* seconds the API asked us to wait, or 0 */
} tg_answer;

typedef void (*tg_cb) (void *arg, const tg_answer *answer);

typedef struct tg_client tg_client;

tg_client  *tg_client_create(http_client *http, const char *api_url, const char *token);
void		tg_client_free(tg_client *t);

/*
 * Call METHOD with PARAMS (a JSON object, stolen); the callback runs exactly
 * once.  Returns the request so that it can be cancelled, NULL when out of
 * memory (the callback has then run with TG_RETRY).
 */
http_request *tg_call(tg_client *t, const char *method, json_t *params,
					  long timeout_ms, tg_cb cb, void *arg);

#endif							/* BOT_TELEGRAM_H */
