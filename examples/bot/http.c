/*
 * http.c
 *	  libcurl's multi interface on a libuv loop.  curl tells us which sockets
 *	  to watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
 *	  (CURLMOPT_TIMERFUNCTION); libuv does the watching, and every event goes
 *	  back to curl through curl_multi_socket_action.  Finished transfers are
 *	  collected with curl_multi_info_read and handed to their callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct http_client
{
	uv_loop_t  *loop;
	CURLM	   *multi;
	uv_timer_t	timer;
	http_request *requests;		/* running, doubly linked */
};

struct http_request
{
	http_client *client;
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *body;			/* what came back */
	size_t		len;
	size_t		cap;
	int			oom;
	http_done_cb cb;
	void	   *arg;
	http_request *prev;
	http_request *next;
};

/* One watched socket; freed in its close callback. */
typedef struct socket_watch
{
	uv_poll_t	poll;
	curl_socket_t fd;
	http_client *client;
} socket_watch;

static void check_done(http_client *c);

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	http_request *r = userp;
	size_t		n = size * nmemb;

	if (r->len + n + 1 > r->cap)
	{
		size_t		cap = r->cap ? r->cap : 4096;
		char	   *grown;

		while (cap < r->len + n + 1)
			cap *= 2;
		grown = realloc(r->body, cap);
		if (grown == NULL)
		{
			r->oom = 1;
			return 0;			/* curl fails the transfer with CURLE_WRITE_ERROR */
		}
		r->body = grown;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static void
unlink_request(http_request *r)
{
	http_client *c = r->client;

	if (r->prev)
		r->prev->next = r->next;
	else
		c->requests = r->next;
	if (r->next)
		r->next->prev = r->prev;
	curl_multi_remove_handle(c->multi, r->easy);
}

static void
finish(http_request *r, CURLcode rc)
{
	long		status = 0;

	unlink_request(r);
	if (rc == CURLE_OK)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	r->cb(r->arg, rc, status, r->body ? r->body : "", r->len);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

static void
check_done(http_client *c)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL)
	{
		http_request *r;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
		finish(r, msg->data.result);
	}
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
	socket_watch *w = handle->data;
	int			flags = 0;
	int			running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(w->client->multi, w->fd, flags, &running);
	check_done(w->client);
}

static void
on_watch_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *clientp, void *socketp)
{
	http_client *c = clientp;
	socket_watch *w = socketp;
	int			events = 0;

	(void) easy;
	if (what == CURL_POLL_REMOVE)
	{
		if (w)
		{
			uv_poll_stop(&w->poll);
			uv_close((uv_handle_t *) &w->poll, on_watch_closed);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL)
	{
		w = calloc(1, sizeof(*w));
		if (w == NULL)
			return -1;
		w->fd = fd;
		w->client = c;
		if (uv_poll_init_socket(c->loop, &w->poll, fd) != 0)
		{
			free(w);
			return -1;
		}
		w->poll.data = w;
		curl_multi_assign(c->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&w->poll, events, on_poll);
	return 0;
}

static void
on_timer(uv_timer_t *timer)
{
	http_client *c = timer->data;
	int			running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int
on_timer_change(CURLM *multi, long timeout_ms, void *clientp)
{
	http_client *c = clientp;

	(void) multi;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, (uint64_t) timeout_ms, 0);
	return 0;
}

http_client *
http_client_create(uv_loop_t *loop)
{
	http_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->multi = curl_multi_init();
	if (c->multi == NULL)
	{
		free(c);
		return NULL;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

static void
on_timer_closed(uv_handle_t *handle)
{
	free(handle->data);
}

void
http_client_free(http_client *c)
{
	if (c == NULL)
		return;
	while (c->requests)
		http_cancel(c->requests);
	curl_multi_cleanup(c->multi);
	uv_close((uv_handle_t *) &c->timer, on_timer_closed);
}

http_request *
http_post_json(http_client *c, const char *url, const char *json,
			   long timeout_ms, http_done_cb cb, void *arg)
{
	http_request *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->client = c;
	r->cb = cb;
	r->arg = arg;
	r->easy = curl_easy_init();
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* the body is small; do not wait for "100 Continue" */
	if (r->headers)
		r->headers = curl_slist_append(r->headers, "Expect:");
	if (r->easy == NULL || r->headers == NULL)
		goto fail;
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, json);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "basemodel-demo-bot/0.1");
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
		goto fail;
	r->next = c->requests;
	if (c->requests)
		c->requests->prev = r;
	c->requests = r;
	return r;

fail:
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r);
	return NULL;
}

void
http_cancel(http_request *r)
{
	finish(r, CURLE_ABORTED_BY_CALLBACK);
}
