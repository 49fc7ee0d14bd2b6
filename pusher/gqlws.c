/* graphql-transport-ws at /graphql.  Handles, from the client:
 * connection_init (token in its payload), ping, pong, subscribe and
 * complete; sends connection_ack, pong, ping, error and, for a malformed
 * or misplaced message, the protocol's close codes (4400, 4401, 4403,
 * 4408, 4409, 4429).  next messages come from fanout.c. */
#include "gqlws.h"

#include "access.h"
#include "auth.h"
#include "collections.h"
#include "conn.h"
#include "fanout.h"
#include "filter.h"
#include "graphql.h"
#include "log.h"
#include "projection.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GQLWS_MAX_ID     256
#define GQLWS_MAX_ERRORS 8

static json_t *error_object(const char *message, int line, int column,
                            const char *code)
{
    json_t *e = json_pack("{s:s}", "message", message);

    if (line > 0)
        json_object_set_new(
            e, "locations",
            json_pack("[{s:i, s:i}]", "line", line, "column", column));
    if (code)
        json_object_set_new(e, "extensions", json_pack("{s:s}", "code", code));
    return e;
}

void gqlws_send_error(conn_t *c, const char *id, const char *code,
                      const char *message)
{
    conn_send_json(c, json_pack("{s:s, s:s, s:[o]}", "id", id, "type", "error",
                                "payload", error_object(message, 0, 0, code)));
}

static void send_errors(conn_t *c, const char *id, const gql_error_t *errs,
                        int n, const char *code)
{
    json_t *list = json_array();

    for (int i = 0; i < n; i++)
        json_array_append_new(list, error_object(errs[i].message, errs[i].line,
                                                 errs[i].column, code));
    conn_send_json(c, json_pack("{s:s, s:s, s:o}", "id", id, "type", "error",
                                "payload", list));
}

static void on_init(pusher_t *p, conn_t *c, json_t *payload)
{
    const char *token =
        json_string_value(json_object_get(payload, "access_token"));
    int r;

    if (c->init_seen) {
        conn_close(c, GQLWS_TOO_MANY_INITS, "Too many initialisation requests",
                   false);
        return;
    }
    c->init_seen = true;
    if (token) {
        r = access_authenticate(p, c, token, strlen(token));
        if (r != AUTH_OK) {
            conn_close(c, GQLWS_FORBIDDEN, "Forbidden", false);
            return;
        }
    } else if (!c->ident && p->set.graphql_auth == AUTH_MODE_HANDSHAKE) {
        log_info(conn_tag(c), "connection_init without access_token");
        conn_close(c, GQLWS_FORBIDDEN, "Forbidden", false);
        return;
    }
    c->state = CONN_READY;
    conn_send_json(c, json_pack("{s:s}", "type", "connection_ack"));
}

/* Compiles and starts one subscription. */
static void on_subscribe(pusher_t *p, conn_t *c, const char *id,
                         json_t *payload)
{
    const char *query = json_string_value(json_object_get(payload, "query"));
    const char *opname =
        json_string_value(json_object_get(payload, "operationName"));
    json_t *variables = json_object_get(payload, "variables");
    gql_collection_t *colls = calloc((size_t)p->ncolls + 1, sizeof(*colls));
    access_t *access = calloc((size_t)p->ncolls + 1, sizeof(*access));
    gql_error_t errors[GQLWS_MAX_ERRORS];
    gql_plan_t *plan = NULL;
    sub_request_t req = {0};
    filter_vars_t vars;
    access_t *a = NULL;
    collection_t *coll;
    sub_error_t code;
    char err[768];
    int n = 0, nerr = 0;

    if (!colls || !access) {
        gqlws_send_error(c, id, "INTERNAL_SERVER_ERROR", "out of memory");
        goto out;
    }
    /* Only collections this client may read exist for its query. */
    for (int i = 0; i < p->ncolls; i++) {
        if (!access_get(p, c, p->colls[i], &access[n]))
            continue;
        colls[n].name = p->colls[i]->name;
        colls[n].schema = access[n].ts;
        colls[n].may_read = access_may_read;
        colls[n].arg = &access[n];
        n++;
    }
    if (json_is_null(variables))
        variables = NULL;
    if (variables && !json_is_object(variables)) {
        gqlws_send_error(c, id, "BAD_USER_INPUT",
                         "\"variables\" must be an object");
        goto out;
    }
    plan = gql_compile(query, strlen(query), opname, variables, colls, n,
                       errors, GQLWS_MAX_ERRORS, &nerr);
    if (!plan) {
        send_errors(c, id, errors, nerr, "GRAPHQL_VALIDATION_FAILED");
        goto out;
    }

    coll = collections_find(p, plan->collection);
    for (int i = 0; i < n; i++) {
        if (coll && colls[i].schema == coll->schema &&
            strcmp(colls[i].name, coll->name) == 0)
            a = &access[i];
    }
    if (!coll || !a) {
        gqlws_send_error(c, id, "FORBIDDEN", "collection is not available");
        goto out;
    }

    req.coll = coll;
    req.ts = a->ts;
    req.id = id;
    req.events = plan->events;
    req.send_init = plan->has_after;
    req.after = plan->has_after ? plan->after : NULL;
    if (plan->filter) {
        access_vars(c, &vars);
        req.filter = filter_compile(plan->filter, a->ts, access_may_read, a,
                                    &vars, err, sizeof(err));
        if (!req.filter) {
            gqlws_send_error(c, id, "GRAPHQL_VALIDATION_FAILED", err);
            goto out;
        }
    }
    if (!access_row_filter(p, c, a, &req.perm, err, sizeof(err))) {
        filter_free(req.filter);
        gqlws_send_error(c, id, "FORBIDDEN", "collection is not available");
        goto out;
    }
    req.proj = projection_intern(p, projection_from_plan(plan, a->ts));
    if (!req.proj) {
        filter_free(req.filter);
        filter_free(req.perm);
        gqlws_send_error(c, id, "INTERNAL_SERVER_ERROR", "out of memory");
        goto out;
    }
    if (!fanout_subscribe(p, c, &req, &code, err, sizeof(err))) {
        static const char *const codes[] = {
            [SUB_ERROR_NONE] = "INTERNAL_SERVER_ERROR",
            [SUB_ERROR_LIMIT] = "LIMIT_EXCEEDED",
            [SUB_ERROR_CURSOR_INVALID] = "CURSOR_INVALID",
            [SUB_ERROR_CURSOR_EXPIRED] = "CURSOR_EXPIRED",
            [SUB_ERROR_UNAVAILABLE] = "SERVICE_UNAVAILABLE",
        };

        gqlws_send_error(c, id, codes[code], err);
    }

out:
    for (int i = 0; i < n; i++)
        access_release(&access[i]);
    free(access);
    free(colls);
    gql_plan_free(plan);
}

void gqlws_message(pusher_t *p, conn_t *c, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *payload = json_object_get(msg, "payload");
    const char *id = json_string_value(json_object_get(msg, "id"));

    if (!json_is_object(msg) || !type) {
        conn_close(c, GQLWS_BAD_REQUEST, "Invalid message received", false);
        goto out;
    }
    if (strcmp(type, "connection_init") == 0) {
        if (payload && !json_is_object(payload) && !json_is_null(payload)) {
            conn_close(c, GQLWS_BAD_REQUEST, "Invalid message received", false);
            goto out;
        }
        on_init(p, c, payload);
    } else if (strcmp(type, "ping") == 0) {
        json_t *pong = json_pack("{s:s}", "type", "pong");

        if (payload && json_is_object(payload))
            json_object_set(pong, "payload", payload);
        conn_send_json(c, pong);
    } else if (strcmp(type, "pong") == 0) {
        /* A keepalive answer: last_seen is already updated. */
    } else if (strcmp(type, "subscribe") == 0) {
        if (c->state != CONN_READY) {
            conn_close(c, GQLWS_UNAUTHORIZED, "Unauthorized", false);
            goto out;
        }
        if (!id || !*id || strlen(id) > GQLWS_MAX_ID ||
            !json_is_object(payload) ||
            !json_is_string(json_object_get(payload, "query"))) {
            conn_close(c, GQLWS_BAD_REQUEST, "Invalid message received", false);
            goto out;
        }
        if (fanout_find(c, id)) {
            char reason[GQLWS_MAX_ID + 40];

            snprintf(reason, sizeof(reason),
                     "Subscriber for %s already "
                     "exists",
                     id);
            conn_close(c, GQLWS_DUPLICATE, reason, false);
            goto out;
        }
        if (!conn_rate_ok(c)) {
            gqlws_send_error(c, id, "REQUESTS_EXCEEDED",
                             "too many requests: slow down and retry");
            goto out;
        }
        on_subscribe(p, c, id, payload);
    } else if (strcmp(type, "complete") == 0) {
        sub_t *s;

        if (!id) {
            conn_close(c, GQLWS_BAD_REQUEST, "Invalid message received", false);
            goto out;
        }
        s = fanout_find(c, id);
        if (s)
            fanout_unsubscribe(p, s);
    } else {
        conn_close(c, GQLWS_BAD_REQUEST, "Invalid message received", false);
    }

out:
    json_decref(msg);
}

void gqlws_tick(pusher_t *p, conn_t *c, int64_t now_ms)
{
    if (c->state == CONN_CLOSING)
        return;
    if (!c->init_seen && now_ms - c->opened_ms >= p->set.init_timeout_ms) {
        conn_close(c, GQLWS_INIT_TIMEOUT, "Connection initialisation timeout",
                   false);
        return;
    }
    if (c->ident && c->ident->expires_at_us &&
        now_ms * 1000 >= c->ident->expires_at_us) {
        log_info(conn_tag(c), "token expired");
        conn_close(c, GQLWS_FORBIDDEN, "Forbidden: token expired", false);
        return;
    }
    if (p->set.ping_interval_ms > 0 &&
        now_ms - c->last_ping_ms >= p->set.ping_interval_ms) {
        /* No answer since the last ping: the peer is gone. */
        if (c->last_seen_ms < c->last_ping_ms &&
            c->last_ping_ms > c->opened_ms) {
            conn_close(c, CLOSE_GOING_AWAY, "keepalive timeout", true);
            return;
        }
        c->last_ping_ms = now_ms;
        conn_send(c, "{\"type\":\"ping\"}", 15);
    }
}
