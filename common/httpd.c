/* HTTP/1.1 request handling on libwebsockets: GET and POST with a body of at
 * most HTTPD_MAX_BODY bytes, answered by one handler function. */
#include "httpd.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct httpd_state {
    httpd_handler_fn handler;
    void *handler_arg;
    lws_callback_function *ws_callback;
    httpd_upgrade_fn upgrade_check;
    void *user;
} httpd_state_t;

/* Kept small: the same session memory serves WebSocket connections of
 * clients that name no subprotocol. */
typedef struct http_session {
    char method[8];
    bool too_large;
    char *path;
    char *query;
    buf_t body;
    uint8_t *response; /* LWS_PRE bytes, then the body */
    size_t response_len;
} http_session_t;

static const struct {
    enum lws_token_indexes token;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},   {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},   {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_HEAD_URI, "HEAD"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
};

bool httpd_parse_listen(const char *listen, char *host, size_t hostlen,
                        int *port)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p;

    if (!colon || (size_t)(colon - listen) >= hostlen)
        return false;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || p < 0 || p > 65535)
        return false;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = (int)p;
    return true;
}

bool httpd_query_param(const char *query, const char *name, buf_t *out)
{
    size_t nlen = strlen(name);
    const char *p = query;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);

        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            buf_append(out, p + nlen + 1, len - nlen - 1);
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static void session_reset(http_session_t *s)
{
    buf_free(&s->body);
    free(s->response);
    free(s->path);
    free(s->query);
    s->path = s->query = NULL;
    s->response = NULL;
    s->response_len = 0;
    s->too_large = false;
}

/* Runs the handler and queues the response headers and body. */
static int respond(struct lws *wsi, http_session_t *s)
{
    httpd_state_t *st = lws_context_user(lws_get_context(wsi));
    uint8_t headers[LWS_PRE + 512];
    uint8_t *start = headers + LWS_PRE, *p = start;
    uint8_t *end = headers + sizeof(headers) - 1;
    http_response_t resp;
    http_request_t req;

    buf_init(&resp.body, 0);
    resp.status = 404;
    resp.content_type = "text/plain; charset=utf-8";
    req.method = s->method;
    req.path = s->path ? s->path : "/";
    req.query = s->query ? s->query : "";
    req.body = buf_cstr(&s->body) ? (const char *)s->body.data : "";
    req.body_len = s->body.len;

    if (s->too_large) {
        resp.status = 413;
        buf_printf(&resp.body, "request body is larger than %d bytes\n",
                   HTTPD_MAX_BODY);
    } else {
        st->handler(st->handler_arg, &req, &resp);
    }

    s->response = malloc(LWS_PRE + resp.body.len + 1);
    if (!s->response) {
        buf_free(&resp.body);
        return -1;
    }
    if (resp.body.len)
        memcpy(s->response + LWS_PRE, resp.body.data, resp.body.len);
    s->response_len = resp.body.len;
    buf_free(&resp.body);

    if (lws_add_http_common_headers(wsi, (unsigned)resp.status,
                                    resp.content_type, s->response_len, &p,
                                    end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static void read_request_line(struct lws *wsi, http_session_t *s,
                              const char *path)
{
    int nfrag = 0;
    buf_t query;

    snprintf(s->method, sizeof(s->method), "GET");
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (lws_hdr_total_length(wsi, methods[i].token) > 0) {
            snprintf(s->method, sizeof(s->method), "%s", methods[i].name);
            break;
        }
    }
    s->path = strdup(path ? path : "/");

    buf_init(&query, 4096);
    for (;;) {
        char frag[1024];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
                                      WSI_TOKEN_HTTP_URI_ARGS, nfrag++);

        if (n <= 0)
            break;
        if (query.len)
            buf_putc(&query, '&');
        buf_append(&query, frag, (size_t)n);
    }
    s->query = strdup(buf_cstr(&query) ? (char *)query.data : "");
    buf_free(&query);
}

int httpd_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    httpd_state_t *st = lws_context_user(lws_get_context(wsi));
    http_session_t *s = user;
    int n;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (st->upgrade_check && st->ws_callback) {
            char msg[256] = "";
            int status = st->upgrade_check(st->user, wsi, msg, sizeof(msg));

            if (status) {
                lws_return_http_status(wsi, (unsigned)status, msg);
                return 1;
            }
            return 0;
        }
        if (!st->ws_callback) {
            lws_return_http_status(wsi, 404, "no WebSocket service here");
            return 1;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* A WebSocket client that named no subprotocol lands here. */
        if (st->ws_callback)
            return st->ws_callback(wsi, reason, user, in, len);
        return 0;

    case LWS_CALLBACK_HTTP:
        session_reset(s);
        buf_init(&s->body, HTTPD_MAX_BODY);
        read_request_line(wsi, s, in);
        if (strcmp(s->method, "POST") == 0 || strcmp(s->method, "PUT") == 0)
            return 0; /* the body follows */
        return respond(wsi, s);

    case LWS_CALLBACK_HTTP_BODY:
        if (!buf_append(&s->body, in, len))
            s->too_large = true;
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return respond(wsi, s);

    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!s->response)
            return 0;
        n = lws_write(wsi, s->response + LWS_PRE, s->response_len,
                      LWS_WRITE_HTTP_FINAL);
        session_reset(s);
        if (n < 0)
            return -1;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        session_reset(s);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void lws_log_route(int level, const char *line)
{
    log_level_t ours = LOG_DEBUG;

    if (!log_debug_facility("lws") && level != LLL_ERR)
        return;
    if (level == LLL_ERR)
        ours = LOG_WARNING;
    log_write(ours, "lws", "%s", line);
}

void *httpd_user(struct lws_context *ctx)
{
    httpd_state_t *st = lws_context_user(ctx);

    return st->user;
}

void httpd_stop(struct lws_context *ctx, uv_loop_t *loop)
{
    httpd_state_t *st;

    if (!ctx)
        return;
    st = lws_context_user(ctx);
    /* With a loop of ours, libwebsockets closes its handles on the first
     * call and frees the context on the second, once they are closed. */
    lws_context_destroy(ctx);
    uv_run(loop, UV_RUN_DEFAULT);
    lws_context_destroy(ctx);
    free(st);
}

struct lws_context *httpd_start(uv_loop_t *loop, const httpd_options_t *opts,
                                char *err, size_t errlen)
{
    static struct lws_protocols protocols[16];
    struct lws_context_creation_info info;
    struct lws_context *ctx;
    void *loops[1] = {loop};
    static char host[256];
    httpd_state_t *st;
    int port, n = 0;

    if (!httpd_parse_listen(opts->listen, host, sizeof(host), &port)) {
        snprintf(err, errlen,
                 "listen address \"%s\" is not host:port (for example "
                 "127.0.0.1:8081)",
                 opts->listen);
        return NULL;
    }

    lws_set_log_level(
        LLL_ERR |
            (log_debug_facility("lws") ? LLL_WARN | LLL_NOTICE | LLL_INFO : 0),
        lws_log_route);

    memset(protocols, 0, sizeof(protocols));
    protocols[n].name = "http";
    protocols[n].callback = httpd_callback;
    protocols[n].per_session_data_size =
        opts->ws_session_size > sizeof(http_session_t) ? opts->ws_session_size
                                                       : sizeof(http_session_t);
    protocols[n].rx_buffer_size = opts->ws_rx_buffer_size;
    n++;
    for (const struct lws_protocols *p = opts->ws_protocols; p && p->name;
         p++) {
        if (n == 15)
            break;
        protocols[n++] = *p;
    }

    st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->handler = opts->handler;
    st->handler_arg = opts->handler_arg;
    st->ws_callback = opts->ws_callback;
    st->upgrade_check = opts->upgrade_check;
    st->user = opts->user;

    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
    info.protocols = protocols;
    info.foreign_loops = loops;
    info.user = st;
    info.options = LWS_SERVER_OPTION_LIBUV;
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (opts->max_connections > 0)
        info.fd_limit_per_thread = (unsigned)opts->max_connections + 64;
    /* A header table (4 KiB) per connection in its handshake: bounding how
     * many exist keeps a burst of new clients from inflating memory that
     * idle connections never use again. */
    info.max_http_header_pool = 32;
    info.timeout_secs = 30;
    info.keepalive_timeout = 30;

    ctx = lws_create_context(&info);
    if (!ctx) {
        snprintf(err, errlen,
                 "could not listen on \"%s\": the address may be in use or "
                 "not local",
                 opts->listen);
        free(st);
        return NULL;
    }
    return ctx;
}
