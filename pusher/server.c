/* The pusher's server: WebSocket upgrades for /graphql and /websocket,
 * message dispatch to the two protocols, HTTP health and metrics, the
 * periodic tick, SIGHUP reloads and shutdown. */
#include "server.h"

#include "access.h"
#include "auth.h"
#include "clock.h"
#include "collections.h"
#include "conn.h"
#include "consumer.h"
#include "fanout.h"
#include "gqlws.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "permissions.h"
#include "projection.h"
#include "pusher.h"
#include "realtime.h"
#include "replay.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define TICK_MS 250

/* Bytes libwebsockets reads per receive callback; every connection holds
 * this much, and client messages are small (longer ones arrive in parts
 * and are put together in conn.c). */
#define RX_BUFFER 512

const config_setting_t pusher_settings[] = {
    {"CDC_PUSHER_LISTEN", "127.0.0.1:8055",
     "address for WebSocket clients, /healthz, /readyz and /metrics"},
    {"CDC_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka bootstrap servers"},
    {"CDC_TOPIC_PREFIX", "cdc", "prefix of the reader's topics"},
    {"CDC_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081",
     "schema registry (the reader serves one by default)"},
    {"CDC_PUSHER_SCHEMA", "public",
     "PostgreSQL schema whose tables are offered as collections"},
    {"CDC_SECRET", "", "HS256 secret of access tokens (JWTs)"},
    {"CDC_JWT_ISSUER", "", "required \"iss\" of tokens; empty: any"},
    {"CDC_PERMISSIONS", "",
     "permissions file (JSON); empty: only admin tokens read"},
    {"CDC_CURSOR_SECRET", "",
     "key that signs cursors; empty: derived from CDC_SECRET"},
    {"CDC_GRAPHQL_AUTH", "handshake", "public, handshake or strict"},
    {"CDC_REALTIME_AUTH", "handshake", "public, handshake or strict"},
    {"CDC_AUTH_TIMEOUT_MS", "10000",
     "time to authenticate on /websocket, and to renew an expired token"},
    {"CDC_INIT_TIMEOUT_MS", "3000", "time to send connection_init on /graphql"},
    {"CDC_PING_INTERVAL_MS", "30000",
     "server pings; a client silent for two intervals is closed"},
    {"CDC_MAX_CONNECTIONS", "10000", "connections; more get HTTP 403"},
    {"CDC_MAX_SUBSCRIPTIONS", "100", "subscriptions per connection"},
    {"CDC_MAX_MESSAGE_BYTES", "65536", "largest message a client may send"},
    {"CDC_MAX_QUEUE_BYTES", "4194304",
     "unsent bytes per connection before it is closed as too slow"},
    {"CDC_RATE_LIMIT", "50", "messages per second per connection"},
    {"CDC_RATE_BURST", "100", "messages a connection may send at once"},
    {"CDC_REFRESH_MS", "5000", "how often the collection list is reread"},
    {"CDC_FETCH_WAIT_MS", "5", "Kafka fetch wait of the live consumer"},
    {"CDC_MAX_REPLAYS", "32", "cursor replays running at once"},
    {"CDC_FLUSH_INTERVAL_MS", "5",
     "events reach a client at most this often, batched into one write"},
    {"CDC_MAX_TOTAL_QUEUE_BYTES", "1073741824",
     "memory of all send buffers; past it the slowest are closed"},
    {"CDC_LOG_LEVEL", "info", "debug, info, warning or error"},
    {"CDC_LOG_DEBUG", "", "debug facilities: kafka, lws, all"},
    {NULL, NULL, NULL},
};

static pusher_t *the_pusher;

int64_t pusher_now_ms(void)
{
    return clock_wall_ms();
}

int64_t pusher_now_us(void)
{
    return clock_wall_us();
}

/* Settings. */

static bool parse_auth_mode(const char *name, auth_mode_t *out, char *err,
                            size_t errlen)
{
    const char *v = config_get_or(name, "handshake");

    if (strcasecmp(v, "public") == 0)
        *out = AUTH_MODE_PUBLIC;
    else if (strcasecmp(v, "handshake") == 0)
        *out = AUTH_MODE_HANDSHAKE;
    else if (strcasecmp(v, "strict") == 0)
        *out = AUTH_MODE_STRICT;
    else {
        snprintf(err, errlen,
                 "%s=\"%s\" is not valid: give public, handshake or strict",
                 name, v);
        return false;
    }
    return true;
}

static bool load_settings(pusher_settings_t *s, char *err, size_t errlen)
{
    s->listen = config_get_or("CDC_PUSHER_LISTEN", "127.0.0.1:8055");
    s->prefix = config_get_or("CDC_TOPIC_PREFIX", "cdc");
    s->registry_url =
        config_get_or("CDC_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081");
    s->db_schema = config_get_or("CDC_PUSHER_SCHEMA", "public");
    s->secret = config_get_or("CDC_SECRET", "");
    s->issuer = config_get_or("CDC_JWT_ISSUER", "");
    s->permissions_path = config_get_or("CDC_PERMISSIONS", "");
    if (!config_apply_logging(err, errlen))
        return false;
    return parse_auth_mode("CDC_GRAPHQL_AUTH", &s->graphql_auth, err, errlen) &&
           parse_auth_mode("CDC_REALTIME_AUTH", &s->realtime_auth, err,
                           errlen) &&
           config_get_long("CDC_AUTH_TIMEOUT_MS", 10000, 100, 3600000,
                           &s->auth_timeout_ms, err, errlen) &&
           config_get_long("CDC_INIT_TIMEOUT_MS", 3000, 100, 3600000,
                           &s->init_timeout_ms, err, errlen) &&
           config_get_long("CDC_PING_INTERVAL_MS", 30000, 0, 3600000,
                           &s->ping_interval_ms, err, errlen) &&
           config_get_long("CDC_MAX_CONNECTIONS", 10000, 1, 1000000,
                           &s->max_connections, err, errlen) &&
           config_get_long("CDC_MAX_SUBSCRIPTIONS", 100, 1, 10000,
                           &s->max_subscriptions, err, errlen) &&
           config_get_long("CDC_MAX_MESSAGE_BYTES", 65536, 1024, 16777216,
                           &s->max_message_bytes, err, errlen) &&
           config_get_long("CDC_MAX_QUEUE_BYTES", 4194304, 65536, 1073741824,
                           &s->max_queue_bytes, err, errlen) &&
           config_get_long("CDC_RATE_LIMIT", 50, 0, 1000000, &s->rate_limit,
                           err, errlen) &&
           config_get_long("CDC_RATE_BURST", 100, 1, 1000000, &s->rate_burst,
                           err, errlen) &&
           config_get_long("CDC_REFRESH_MS", 5000, 100, 3600000, &s->refresh_ms,
                           err, errlen) &&
           config_get_long("CDC_FETCH_WAIT_MS", 5, 1, 1000, &s->fetch_wait_ms,
                           err, errlen) &&
           config_get_long("CDC_MAX_REPLAYS", 32, 1, 10000, &s->max_replays,
                           err, errlen) &&
           config_get_long("CDC_FLUSH_INTERVAL_MS", 5, 0, 1000,
                           &s->flush_interval_ms, err, errlen) &&
           config_get_long("CDC_MAX_TOTAL_QUEUE_BYTES", 1073741824, 1048576,
                           INT64_MAX / 2, &s->max_total_queue_bytes, err,
                           errlen);
}

/* WebSocket side. */

static protocol_t endpoint_of(const char *path)
{
    if (strcmp(path, "/graphql") == 0 || strncmp(path, "/graphql?", 9) == 0)
        return PROTO_GRAPHQL;
    if (strcmp(path, "/websocket") == 0 ||
        strncmp(path, "/websocket?", 11) == 0)
        return PROTO_REALTIME;
    return 0;
}

static bool url_token(struct lws *wsi, buf_t *out)
{
    char arg[4200];
    const char *value =
        lws_get_urlarg_by_name(wsi, "access_token=", arg, (int)sizeof(arg));

    if (!value || !*value)
        return false;
    return buf_puts(out, value);
}

static void on_established(pusher_t *p, conn_t *c, struct lws *wsi)
{
    char path[256] = "";
    const struct lws_protocols *pr = lws_get_protocol(wsi);
    protocol_t proto;
    buf_t token;

    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    proto = endpoint_of(path);
    conn_open(p, c, wsi, proto ? proto : PROTO_REALTIME);
    log_debug(conn_tag(c), "connected to %s", path);

    if (proto == PROTO_GRAPHQL &&
        (!pr || strcmp(pr->name, "graphql-transport-ws") != 0)) {
        conn_close(c, GQLWS_SUBPROTOCOL, "Subprotocol not acceptable", false);
        return;
    }
    buf_init(&token, 0);
    if (url_token(wsi, &token) &&
        access_authenticate(p, c, (char *)token.data, token.len) != AUTH_OK) {
        buf_free(&token);
        conn_close(c, proto == PROTO_GRAPHQL ? GQLWS_FORBIDDEN : CLOSE_NORMAL,
                   "Forbidden", false);
        return;
    }
    buf_free(&token);
    if (proto == PROTO_REALTIME &&
        (c->ident || p->set.realtime_auth == AUTH_MODE_PUBLIC))
        c->state = CONN_READY;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
    pusher_t *p = httpd_user(lws_get_context(wsi));
    conn_t *c = user;
    int r;

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        on_established(p, c, wsi);
        conn_flush_dirty(p);
        break;

    case LWS_CALLBACK_RECEIVE:
        if (!c->p || c->state == CONN_CLOSING)
            break;
        if (lws_frame_is_binary(wsi)) {
            conn_close(c,
                       c->protocol == PROTO_GRAPHQL ? GQLWS_BAD_REQUEST
                                                    : CLOSE_UNSUPPORTED,
                       "binary messages are not supported", false);
            conn_flush_dirty(p);
            break;
        }
        r = conn_on_receive(c, in, len,
                            lws_is_final_fragment(wsi) &&
                                lws_remaining_packet_payload(wsi) == 0);
        if (r == 1) {
            if (c->protocol == PROTO_GRAPHQL)
                gqlws_message(p, c, (const char *)c->in.data, c->in.len);
            else
                realtime_message(p, c, (const char *)c->in.data, c->in.len);
            if (c->in.cap > 4096)
                buf_free(&c->in);
            else
                buf_reset(&c->in);
        }
        conn_flush_dirty(p);
        break;

    case LWS_CALLBACK_RECEIVE_PONG:
        if (c->p)
            c->last_seen_ms = pusher_now_ms();
        break;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->p)
            return -1;
        r = conn_on_writable(c);
        if (r == 0 && c->p)
            replay_writable(p, c);
        return r;

    case LWS_CALLBACK_CLOSED:
        if (c->p) {
            log_debug(conn_tag(c), "closed");
            conn_closed(p, c);
        }
        break;

    default:
        break;
    }
    return 0;
}

static const struct lws_protocols ws_protocols[] = {
    {"graphql-transport-ws", ws_callback, sizeof(conn_t), RX_BUFFER, 0, NULL,
     0},
    /* The legacy subscriptions-transport-ws name, so its clients get the
     * protocol's own refusal (4406) rather than a failed handshake. */
    {"graphql-ws", ws_callback, sizeof(conn_t), RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* True when the client names no subprotocol, or one of ours among those
 * it names ("a, b").  libwebsockets drops an upgrade offering only others
 * without a word; we answer it with a status and a reason instead. */
static bool subprotocol_known(struct lws *wsi, char *offered, size_t len)
{
    char *save = NULL;

    if (lws_hdr_copy(wsi, offered, (int)len, WSI_TOKEN_PROTOCOL) <= 0)
        return true;
    for (char *t = strtok_r(offered, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save)) {
        for (const struct lws_protocols *pr = ws_protocols; pr->name; pr++) {
            if (strcmp(t, pr->name) == 0)
                return true;
        }
    }
    lws_hdr_copy(wsi, offered, (int)len, WSI_TOKEN_PROTOCOL);
    return false;
}

/* Before an upgrade: known path and subprotocol, room for another
 * connection, and in strict mode a good token in the URL. */
static int check_upgrade(void *user, struct lws *wsi, char *msg, size_t msglen)
{
    pusher_t *p = user;
    char path[256] = "", offered[256];
    protocol_t proto;
    auth_mode_t mode;

    lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    proto = endpoint_of(path);
    if (!proto) {
        snprintf(msg, msglen,
                 "no WebSocket endpoint at %s: use /graphql "
                 "or /websocket",
                 path);
        return 404;
    }
    if (!subprotocol_known(wsi, offered, sizeof(offered))) {
        snprintf(msg, msglen,
                 "WebSocket subprotocol \"%.80s\" is not "
                 "supported: /graphql speaks "
                 "graphql-transport-ws",
                 offered);
        return 400;
    }
    if (p->stopping) {
        snprintf(msg, msglen, "server is stopping");
        return 503;
    }
    if (p->nconns >= p->set.max_connections) {
        p->stats.refused_upgrades++;
        snprintf(msg, msglen, "connection limit of %ld reached",
                 p->set.max_connections);
        log_info("server", "refused a connection: limit of %ld reached",
                 p->set.max_connections);
        return 403;
    }
    mode = proto == PROTO_GRAPHQL ? p->set.graphql_auth : p->set.realtime_auth;
    if (mode == AUTH_MODE_STRICT) {
        identity_t id;
        char why[256];
        buf_t token;
        int r = AUTH_INVALID;

        buf_init(&token, 0);
        if (url_token(wsi, &token)) {
            /* Without CDC_SECRET only static tokens can pass. */
            r = auth_verify(p->auth, p->perms, (char *)token.data, token.len,
                            pusher_now_us(), &id, why, sizeof(why));
        } else {
            snprintf(why, sizeof(why), "no access_token in the URL");
        }
        buf_free(&token);
        if (r != AUTH_OK) {
            p->stats.refused_upgrades++;
            log_info("server", "refused a connection to %s: %s", path, why);
            snprintf(msg, msglen, "a valid access_token is required");
            return 401;
        }
    }
    return 0;
}

/* HTTP side. */

static void render_metrics(pusher_t *p, buf_t *out)
{
    const pusher_stats_t *st = &p->stats;
    int running, queued;
    long subs = 0;

    for (conn_t *c = p->conns; c; c = c->next)
        subs += c->nsubs;
    replay_counts(p, &running, &queued);
    metrics_single(out, "cdc_pusher_connections", "gauge",
                   "Open WebSocket connections.", p->nconns);
    metrics_single(out, "cdc_pusher_subscriptions", "gauge",
                   "Active subscriptions.", (double)subs);
    metrics_single(out, "cdc_pusher_groups", "gauge",
                   "Distinct subscription groups (evaluated once per event).",
                   fanout_group_count(p));
    metrics_single(out, "cdc_pusher_replays", "gauge",
                   "Subscriptions catching up from a cursor.", running);
    metrics_single(out, "cdc_pusher_replays_queued", "gauge",
                   "Replays waiting for a free slot.", queued);
    metrics_single(out, "cdc_pusher_queue_bytes", "gauge",
                   "Bytes queued for clients, all connections.",
                   (double)p->queue_bytes);
    metrics_single(out, "cdc_pusher_queue_memory_bytes", "gauge",
                   "Memory of the send buffers, which "
                   "CDC_MAX_TOTAL_QUEUE_BYTES bounds.",
                   (double)p->queue_memory);
    metrics_single(out, "cdc_pusher_events_total", "counter",
                   "Change records decoded.", (double)st->events);
    metrics_single(out, "cdc_pusher_duplicates_total", "counter",
                   "Records dropped because their position was seen.",
                   (double)st->duplicates);
    metrics_single(out, "cdc_pusher_deliveries_total", "counter",
                   "Messages queued for subscribers.", (double)st->deliveries);
    metrics_single(out, "cdc_pusher_delivery_bytes_total", "counter",
                   "Bytes of messages queued for subscribers.",
                   (double)st->delivery_bytes);
    metrics_single(out, "cdc_pusher_serializations_total", "counter",
                   "Payloads built (once per event and output shape).",
                   (double)st->serializations);
    metrics_single(out, "cdc_pusher_slow_closes_total", "counter",
                   "Connections closed because their queue was full.",
                   (double)st->slow_closes);
    metrics_single(out, "cdc_pusher_rate_limited_total", "counter",
                   "Messages refused by the rate limit.",
                   (double)st->rate_limited);
    metrics_single(out, "cdc_pusher_refused_upgrades_total", "counter",
                   "WebSocket upgrades refused (limit or strict auth).",
                   (double)st->refused_upgrades);
    metrics_single(out, "cdc_pusher_decode_errors_total", "counter",
                   "Records that could not be decoded.",
                   (double)st->decode_errors);
    consumer_metrics(p, out);
    metrics_process(out);
}

static void handle_http(void *arg, const http_request_t *req,
                        http_response_t *resp)
{
    pusher_t *p = arg;

    resp->status = 200;
    if (strcmp(req->path, "/healthz") == 0) {
        buf_puts(&resp->body, "ok\n");
    } else if (strcmp(req->path, "/readyz") == 0) {
        if (p->stopping) {
            resp->status = 503;
            buf_puts(&resp->body, "stopping\n");
        } else if (!collections_ready(p)) {
            resp->status = 503;
            buf_puts(&resp->body, "waiting for the schema registry\n");
        } else {
            buf_printf(&resp->body, "ready: %d collections\n", p->ncolls);
        }
    } else if (strcmp(req->path, "/metrics") == 0) {
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        render_metrics(p, &resp->body);
    } else if (endpoint_of(req->path)) {
        resp->status = 400;
        buf_printf(&resp->body,
                   "%s is a WebSocket endpoint: connect with a "
                   "WebSocket client\n",
                   req->path);
    } else {
        resp->status = 404;
        buf_printf(&resp->body,
                   "no such path \"%s\"; WebSocket endpoints "
                   "are /graphql and /websocket, HTTP ones "
                   "/healthz, /readyz and /metrics\n",
                   req->path);
    }
}

/* Permissions reload. */

static void reload_permissions(pusher_t *p)
{
    permissions_t *fresh;
    char err[1024];
    int checked = 0;

    if (!p->set.permissions_path[0]) {
        log_info("permissions", "no CDC_PERMISSIONS file to reload");
        return;
    }
    fresh = permissions_load(p->set.permissions_path, err, sizeof(err));
    if (!fresh) {
        log_error("permissions", "keeping the current rules: %s", err);
        return;
    }
    permissions_free(p->perms);
    p->perms = fresh;
    for (conn_t *c = p->conns; c; c = c->next)
        checked += access_recheck_conn(p, c);
    conn_flush_dirty(p);
    log_info("permissions", "reloaded \"%s\"; %d subscriptions checked",
             p->set.permissions_path, checked);
}

/* Loop. */

static void on_tick(uv_timer_t *t)
{
    pusher_t *p = t->data;
    int64_t now = pusher_now_ms();

    for (conn_t *c = p->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING)
            conn_expire_closing(c, now);
        else if (c->protocol == PROTO_GRAPHQL)
            gqlws_tick(p, c, now);
        else
            realtime_tick(p, c, now);
        conn_release_idle(c);
    }
    collections_tick(p);
    consumer_tick(p);
    replay_tick(p);
    conn_flush_dirty(p);
}

/* Closes the pusher's own handles; libwebsockets closes its own. */
static void close_all(uv_handle_t *h, void *arg)
{
    pusher_t *p = arg;

    if (uv_is_closing(h))
        return;
    if (h == (uv_handle_t *)&p->tick || h == (uv_handle_t *)&p->sigterm ||
        h == (uv_handle_t *)&p->sigint || h == (uv_handle_t *)&p->sighup ||
        h == (uv_handle_t *)&p->flush_timer)
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    pusher_t *p = h->data;

    if (signum == SIGHUP) {
        reload_permissions(p);
        return;
    }
    log_info("server", "received %s; stopping", strsignal(signum));
    p->stopping = true;
    for (conn_t *c = p->conns; c; c = c->next)
        conn_close(c, CLOSE_GOING_AWAY, "server is restarting: reconnect",
                   false);
    conn_flush_dirty(p);
    uv_stop(&p->loop);
}

static bool start(pusher_t *p, char *err, size_t errlen)
{
    const char *cursor_secret = config_get_or("CDC_CURSOR_SECRET", "");
    httpd_options_t http = {0};

    if (p->set.secret[0]) {
        p->auth =
            auth_new(p->set.secret, p->set.issuer[0] ? p->set.issuer : NULL,
                     err, errlen);
        if (!p->auth)
            return false;
    } else if (p->set.graphql_auth != AUTH_MODE_PUBLIC ||
               p->set.realtime_auth != AUTH_MODE_PUBLIC) {
        log_warning("server", "CDC_SECRET is not set: only static tokens "
                              "from the permissions file can authenticate");
    }
    if (p->set.permissions_path[0]) {
        p->perms = permissions_load(p->set.permissions_path, err, errlen);
        if (!p->perms)
            return false;
    } else {
        log_warning("server", "CDC_PERMISSIONS is not set: only tokens with "
                              "admin_access can read anything");
    }
    if (cursor_secret[0]) {
        cursor_derive_key(cursor_secret, p->cursor_key);
    } else if (p->set.secret[0]) {
        cursor_derive_key(p->set.secret, p->cursor_key);
    } else {
        RAND_bytes(p->cursor_key, sizeof(p->cursor_key));
        log_warning("server", "neither CDC_CURSOR_SECRET nor CDC_SECRET is "
                              "set: cursors from this pusher are accepted "
                              "by this process only");
    }

    if (!collections_init(p, err, errlen) || !consumer_init(p, err, errlen) ||
        !replay_init(p, err, errlen))
        return false;

    http.listen = p->set.listen;
    http.handler = handle_http;
    http.handler_arg = p;
    http.ws_protocols = ws_protocols;
    http.ws_callback = ws_callback;
    http.ws_session_size = sizeof(conn_t);
    http.ws_rx_buffer_size = RX_BUFFER;
    http.upgrade_check = check_upgrade;
    http.user = p;
    http.max_connections = (int)p->set.max_connections;
    p->lws = httpd_start(&p->loop, &http, err, errlen);
    if (!p->lws)
        return false;
    log_info("server", "listening on ws://%s/graphql and ws://%s/websocket",
             p->set.listen, p->set.listen);
    return true;
}

int pusher_run(void)
{
    pusher_t *p = calloc(1, sizeof(*p));
    char err[1024] = "";
    int code = 0;

    if (!p)
        return 1;
    the_pusher = p;
    if (!load_settings(&p->set, err, sizeof(err))) {
        log_error(NULL, "%s", err);
        free(p);
        return 1;
    }
    config_warn_unknown(pusher_settings,
                        (const char *const[]){"CDC_KAFKA_", NULL});
    uv_loop_init(&p->loop);
    arena_init(&p->event_arena, (size_t)64 << 20);
    buf_init(&p->payloads, 0);
    buf_init(&p->cursor_text, 0);
    buf_init(&p->scratch, 0);
    uv_signal_init(&p->loop, &p->sigterm);
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sighup);
    p->sigterm.data = p->sigint.data = p->sighup.data = p;
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sighup, on_signal, SIGHUP);
    uv_timer_init(&p->loop, &p->tick);
    uv_timer_init(&p->loop, &p->flush_timer);
    p->tick.data = p;
    uv_timer_start(&p->tick, on_tick, TICK_MS, TICK_MS);

    log_info("server", "pusher %s starting (topic prefix \"%s\")", CDC_VERSION,
             p->set.prefix);
    if (!start(p, err, sizeof(err))) {
        log_error("server", "%s", err);
        code = 1;
    } else {
        uv_run(&p->loop, UV_RUN_DEFAULT);
        /* Let the close frames go out before the sockets do. */
        for (int i = 0; i < 20 && p->nconns > 0; i++)
            uv_run(&p->loop, UV_RUN_NOWAIT);
    }

    while (p->conns)
        conn_closed(p, p->conns);
    replay_free(p);
    consumer_free(p);
    uv_walk(&p->loop, close_all, p);
    if (p->lws)
        httpd_stop(p->lws, &p->loop);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    collections_free(p);
    auth_free(p->auth);
    permissions_free(p->perms);
    arena_free(&p->event_arena);
    buf_free(&p->payloads);
    buf_free(&p->cursor_text);
    buf_free(&p->scratch);
    log_info("server", "pusher stopped");
    free(p);
    return code;
}
