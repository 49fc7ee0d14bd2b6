/* Fuzz target for the WebSocket message handlers: gqlws_message
 * (graphql-transport-ws) and realtime_message (Directus realtime JSON), on
 * a pusher without Kafka and a connection without a socket, whose output
 * only goes to its queue.
 *
 * The first byte chooses the setting (its bits):
 *   0    protocol: 0 graphql-transport-ws, 1 realtime;
 *   1-2  auth mode of that endpoint: public, handshake, strict (3: public);
 *   3    the collection "articles" exists;
 *   4    the rate limit is on (5 per second, burst 10);
 *   5    the client already holds an identity (role "editor", as if from
 *        a token in the URL) that has expired;
 *   6    the periodic checks run afterwards, past every timeout.
 * The rest is messages separated by 0xff bytes (never part of UTF-8).
 * Subscriptions are compiled and checked in full, then refused by a limit
 * of zero subscriptions per connection, which keeps Kafka out.
 *
 * Beyond not crashing: every frame queued is a text frame holding a JSON
 * object with a "type", or one final close frame; the queue's byte count
 * agrees with the process total; closing the connection frees everything. */
#include "auth.h"
#include "conn.h"
#include "gqlws.h"
#include "log.h"
#include "permissions.h"
#include "pusher.h"
#include "realtime.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET       "directus-shared-secret-for-unit-tests-0123456789"
#define MAX_MESSAGES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char perms_text[] =
    "{\"public\": {\"collections\": {\"articles\": {\"fields\": [\"*\"]}}},"
    " \"roles\": {\"editor\": {\"collections\": {\"articles\": {"
    "\"fields\": [\"id\", \"title\", \"meta\"],"
    " \"filter\": {\"status\": {\"_eq\": \"$CURRENT_USER\"}}}}}},"
    " \"tokens\": {\"static-token-0123456789abcdef\": "
    "{\"user\": \"svc-7\", \"role\": \"editor\"}}}";

static pusher_t p;
static collection_t articles;
static collection_t *colls[1] = {&articles};

static void setup(void)
{
    char err[512];
    table_schema_t *ts = table_schema_new("app", "public", "articles", 6);

    log_set_level(LOG_FATAL);
    if (!ts ||
        !table_schema_set_column(ts, 0, "id", "integer", COLTYPE_INT,
                                 COLTYPE_COUNT_, 0, 0, true) ||
        !table_schema_set_column(ts, 1, "title", "text", COLTYPE_STRING,
                                 COLTYPE_COUNT_, 0, 0, false) ||
        !table_schema_set_column(ts, 2, "status", "text", COLTYPE_STRING,
                                 COLTYPE_COUNT_, 0, 0, false) ||
        !table_schema_set_column(ts, 3, "views", "integer", COLTYPE_INT,
                                 COLTYPE_COUNT_, 0, 0, false) ||
        !table_schema_set_column(ts, 4, "meta", "jsonb", COLTYPE_JSON,
                                 COLTYPE_COUNT_, 0, 0, false) ||
        !table_schema_set_column(ts, 5, "at", "timestamp with time zone",
                                 COLTYPE_TIMESTAMPTZ, COLTYPE_COUNT_, 0, 0,
                                 false)) {
        fprintf(stderr, "fuzz_messages: could not build the schema\n");
        abort();
    }
    articles.name = "articles";
    articles.topic = "cdc.public.articles";
    articles.schema = ts;

    p.set.auth_timeout_ms = 10000;
    p.set.init_timeout_ms = 3000;
    p.set.ping_interval_ms = 30000;
    p.set.max_connections = 10;
    p.set.max_subscriptions = 0;
    p.set.max_message_bytes = 65536;
    p.set.max_queue_bytes = 65536;
    p.set.max_total_queue_bytes = 1L << 30;
    p.set.rate_burst = 10;
    p.auth = auth_new(SECRET, NULL, err, sizeof(err));
    p.perms =
        permissions_parse(perms_text, strlen(perms_text), err, sizeof(err));
    if (!p.auth || !p.perms) {
        fprintf(stderr, "fuzz_messages: %s\n", err);
        abort();
    }
    buf_init(&p.payloads, 0);
    buf_init(&p.scratch, 0);
}

/* Every queued frame is a text frame with a JSON object that has a
 * "type", except one close frame at the end. */
static void check_output(const conn_t *c)
{
    size_t left = conn_queued(c), total = 0;
    const uint8_t *at;

    if (left == 0) {
        if (p.queue_bytes != 0)
            abort();
        return;
    }
    at = c->out.data + c->out_sent;
    while (left > 0) {
        size_t hlen = 2, len;
        json_t *msg;

        if (left < 2)
            abort();
        len = at[1] & 0x7f;
        if (len == 126) {
            hlen = 4;
            len = (size_t)at[2] << 8 | at[3];
        } else if (len == 127) {
            hlen = 10;
            len = (size_t)get_be64(at + 2);
        }
        if (at[1] & 0x80 || hlen + len > left)
            abort();
        if (at[0] == 0x88) {
            if (hlen + len != left || len < 2 || len > 125)
                abort();
        } else {
            msg = at[0] == 0x81
                      ? json_loadb((const char *)at + hlen, len, 0, NULL)
                      : NULL;
            if (!json_is_object(msg) ||
                !json_is_string(json_object_get(msg, "type")))
                abort();
            json_decref(msg);
        }
        total += hlen + len;
        at += hlen + len;
        left -= hlen + len;
    }
    if (total != p.queue_bytes)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    const uint8_t *end = data + size, *msg;
    protocol_t proto;
    auth_mode_t mode;
    conn_t c;
    int n = 0;

    if (!ready) {
        setup();
        ready = true;
    }
    if (size < 1)
        return 0;
    proto = data[0] & 1 ? PROTO_REALTIME : PROTO_GRAPHQL;
    mode = (data[0] >> 1 & 3) == 3 ? AUTH_MODE_PUBLIC
                                   : (auth_mode_t)(data[0] >> 1 & 3);
    p.set.graphql_auth = p.set.realtime_auth = mode;
    p.colls = data[0] & 8 ? colls : NULL;
    p.ncolls = data[0] & 8 ? 1 : 0;
    p.set.rate_limit = data[0] & 16 ? 5 : 0;

    conn_open(&p, &c, NULL, proto);
    if (data[0] & 32) {
        c.ident = calloc(1, sizeof(*c.ident));
        if (!c.ident)
            abort();
        c.ident->authenticated = c.ident->has_user = c.ident->has_role = true;
        snprintf(c.ident->user, sizeof(c.ident->user), "svc-7");
        snprintf(c.ident->role, sizeof(c.ident->role), "editor");
        c.ident->expires_at_us = 1;
    }
    if (proto == PROTO_REALTIME && (c.ident || mode == AUTH_MODE_PUBLIC))
        c.state = CONN_READY;

    for (msg = data + 1; msg < end && n < MAX_MESSAGES; n++) {
        const uint8_t *sep = memchr(msg, 0xff, (size_t)(end - msg));
        size_t len = (size_t)((sep ? sep : end) - msg);

        /* As the server does: nothing is read from a closing client. */
        if (c.state == CONN_CLOSING)
            break;
        if (proto == PROTO_GRAPHQL)
            gqlws_message(&p, &c, (const char *)msg, len);
        else
            realtime_message(&p, &c, (const char *)msg, len);
        msg = sep ? sep + 1 : end;
    }
    if (data[0] & 64) {
        for (int64_t later = 5000; later <= 80000; later *= 4) {
            if (proto == PROTO_GRAPHQL)
                gqlws_tick(&p, &c, c.opened_ms + later);
            else
                realtime_tick(&p, &c, c.opened_ms + later);
        }
    }

    check_output(&c);
    conn_closed(&p, &c);
    if (p.nconns != 0 || p.queue_bytes != 0 || p.conns || p.dirty ||
        p.projections || articles.nsubs != 0)
        abort();
    return 0;
}
