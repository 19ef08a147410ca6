/*
 * http.h
 *	  HTTP requests through libcurl's multi interface, driven by a libuv loop:
 *	  the loop watches the sockets curl names and fires curl's timer.
 */
#ifndef BOT_HTTP_H
#define BOT_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

typedef struct http_client http_client;
typedef struct http_request http_request;

/*
 * Called exactly once per request: when it completes (rc CURLE_OK and the
 * HTTP status), when it fails (rc names the failure), or when it is
 * cancelled (rc CURLE_ABORTED_BY_CALLBACK).  body is NUL-terminated and
 * valid during the call only.
 */
typedef void (*http_done_cb) (void *arg, CURLcode rc, long status,
							  const char *body, size_t len);

http_client *http_client_create(uv_loop_t *loop);

/* Cancels every request still running (each gets its callback), then frees. */
void		http_client_free(http_client *c);

/* POST a JSON body; NULL only when out of memory or curl refuses the handle. */
http_request *http_post_json(http_client *c, const char *url, const char *json,
							 long timeout_ms, http_done_cb cb, void *arg);

/* Stop a request; its callback runs now, with CURLE_ABORTED_BY_CALLBACK. */
void		http_cancel(http_request *r);

#endif							/* BOT_HTTP_H */
