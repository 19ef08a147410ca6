/*
 * telegram.c
 *	  One Bot API call = one HTTP POST of a JSON object to
 *	  {api}/bot{token}/{method}; the answer is {"ok": true, "result": ...} or
 *	  {"ok": false, "error_code": N, "description": "..."}.  Here each answer
 *	  is sorted into what the caller must do next: use it, retry it, give up,
 *	  or (when a request may have been carried out) not repeat it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

struct tg_client
{
	http_client *http;
	char	   *base;			/* "{api}/bot{token}/" */
};

typedef struct tg_call_ctx
{
	tg_cb		cb;
	void	   *arg;
	char		method[32];
} tg_call_ctx;

tg_client *
tg_client_create(http_client *http, const char *api_url, const char *token)
{
	tg_client  *t = calloc(1, sizeof(*t));
	size_t		n;

	if (t == NULL)
		return NULL;
	t->http = http;
	n = strlen(api_url);
	while (n > 0 && api_url[n - 1] == '/')
		n--;
	if (asprintf(&t->base, "%.*s/bot%s/", (int) n, api_url, token) < 0)
	{
		free(t);
		return NULL;
	}
	return t;
}

void
tg_client_free(tg_client *t)
{
	if (t == NULL)
		return;
	free(t->base);
	free(t);
}

/* Is this curl failure one where the request cannot have reached the API? */
static int
never_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SSL_CONNECT_ERROR;
}

static void
on_http_done(void *arg, CURLcode rc, long status, const char *body, size_t len)
{
	tg_call_ctx *ctx = arg;
	tg_answer	a = {0};
	char		problem[512];
	json_t	   *root = NULL;
	json_error_t jerr;

	a.problem = problem;
	problem[0] = '\0';
	if (rc == CURLE_ABORTED_BY_CALLBACK)
	{
		a.status = TG_CANCELLED;
		snprintf(problem, sizeof(problem), "%s: cancelled", ctx->method);
	}
	else if (rc != CURLE_OK)
	{
		a.status = never_sent(rc) ? TG_RETRY : TG_UNKNOWN;
		snprintf(problem, sizeof(problem), "%s: %s", ctx->method, curl_easy_strerror(rc));
	}
	else if ((root = json_loadb(body, len, 0, &jerr)) == NULL || !json_is_object(root))
	{
		/* a proxy's error page, or a broken answer: the API did not act on it */
		a.status = status >= 500 || status == 429 ? TG_RETRY : TG_UNKNOWN;
		snprintf(problem, sizeof(problem), "%s: HTTP %ld with a body that is not a JSON object (%s)",
				 ctx->method, status, root ? "not an object" : jerr.text);
	}
	else if (json_is_true(json_object_get(root, "ok")) && status == 200)
	{
		a.status = TG_OK;
		a.result = json_object_get(root, "result");
		a.problem = NULL;
	}
	else
	{
		json_t	   *code = json_object_get(root, "error_code");
		json_t	   *desc = json_object_get(root, "description");
		json_t	   *after = json_object_get(json_object_get(root, "parameters"), "retry_after");
		long		c = json_is_integer(code) ? (long) json_integer_value(code) : status;

		if (json_is_number(after))
			a.retry_after = json_number_value(after);
		a.status = c >= 500 || c == 429 ? TG_RETRY : TG_REJECTED;
		snprintf(problem, sizeof(problem), "%s: HTTP %ld, error %ld: %s", ctx->method, status, c,
				 json_is_string(desc) ? json_string_value(desc) : "(no description)");
	}
	ctx->cb(ctx->arg, &a);
	json_decref(root);
	free(ctx);
}

http_request *
tg_call(tg_client *t, const char *method, json_t *params, long timeout_ms, tg_cb cb, void *arg)
{
	tg_call_ctx *ctx = calloc(1, sizeof(*ctx));
	char	   *url = NULL;
	char	   *body = NULL;
	http_request *r = NULL;

	if (ctx && asprintf(&url, "%s%s", t->base, method) >= 0 &&
		(body = json_dumps(params, JSON_COMPACT)) != NULL)
	{
		ctx->cb = cb;
		ctx->arg = arg;
		snprintf(ctx->method, sizeof(ctx->method), "%s", method);
		r = http_post_json(t->http, url, body, timeout_ms, on_http_done, ctx);
	}
	else
	{
		free(url);
		url = NULL;
	}
	json_decref(params);
	free(url);
	free(body);
	if (r == NULL)
	{
		tg_answer	a = {.status = TG_RETRY, .problem = "out of memory starting an API call"};

		free(ctx);
		cb(arg, &a);
	}
	return r;
}
