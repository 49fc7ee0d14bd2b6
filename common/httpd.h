/* A small HTTP server on libwebsockets and a libuv loop: the reader's
 * metrics, health and schema registry, and the pusher's HTTP endpoints next
 * to its WebSocket protocols.  Runs on the loop's thread only. */
#ifndef CDC_HTTPD_H
#define CDC_HTTPD_H

#include "buf.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define HTTPD_MAX_BODY (1024 * 1024)

typedef struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *query;  /* "a=1&b=2", "" when none */
    const char *body;   /* NUL-terminated; "" for none */
    size_t body_len;
} http_request_t;

typedef struct http_response {
    int status;
    const char *content_type; /* static string */
    buf_t body;
} http_response_t;

/* Fills resp for req.  Called on the loop thread. */
typedef void (*httpd_handler_fn)(void *arg, const http_request_t *req,
                                 http_response_t *resp);

/* Decides a WebSocket upgrade before it happens: returns 0 to let it
 * proceed, or an HTTP status to refuse it with (message in msg). */
typedef int (*httpd_upgrade_fn)(void *user, struct lws *wsi, char *msg,
                                size_t msglen);

typedef struct httpd_options {
    const char *listen; /* "host:port" */
    httpd_handler_fn handler;
    void *handler_arg;
    /* WebSocket connections: subprotocols (terminated by an entry with a
     * NULL name) and the callback that serves them.  A client that names no
     * subprotocol is served by ws_callback too, with a session of
     * ws_session_size bytes.  NULL for an HTTP-only server. */
    const struct lws_protocols *ws_protocols;
    lws_callback_function *ws_callback;
    size_t ws_session_size;
    size_t ws_rx_buffer_size; /* bytes read per receive callback */
    httpd_upgrade_fn upgrade_check;
    void *user;          /* for httpd_user() */
    int max_connections; /* 0: libwebsockets' default */
} httpd_options_t;

/* Creates the listening context on the loop.  Returns NULL and fills err
 * (with the address) when the address is malformed or cannot be bound. */
struct lws_context *httpd_start(uv_loop_t *loop, const httpd_options_t *opts,
                                char *err, size_t errlen);

/* The user pointer given in the options, for WebSocket protocol callbacks
 * (lws_get_context(wsi) gives the context). */
void *httpd_user(struct lws_context *ctx);

/* Closes every connection and frees the context.  Runs loop until
 * libwebsockets' handles are closed, so the caller closes its own handles
 * first (they close during the same run). */
void httpd_stop(struct lws_context *ctx, uv_loop_t *loop);

/* The HTTP protocol callback; exposed so that a program listing its own
 * protocols can put it first. */
int httpd_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len);

/* Splits "host:port"; false when malformed. */
bool httpd_parse_listen(const char *listen, char *host, size_t hostlen,
                        int *port);

/* Appends the value of query parameter name (not decoded) to out; false
 * when absent. */
bool httpd_query_param(const char *query, const char *name, buf_t *out);

#endif
