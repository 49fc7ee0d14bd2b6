/* Directus realtime protocol at /websocket.  Handles, from the client:
 * auth, subscribe (collection, event, query.fields and query.filter as
 * objects or JSON text, uid, cursor), unsubscribe, ping and pong; sends
 * auth answers, init, pong, ping and errors (INVALID_PAYLOAD,
 * INVALID_QUERY, FORBIDDEN, REQUESTS_EXCEEDED, AUTH_*, TOKEN_EXPIRED ...);
 * events come from fanout.c.  Every message but pong counts against the
 * rate limit. */
#include "realtime.h"

#include "access.h"
#include "auth.h"
#include "collections.h"
#include "conn.h"
#include "fanout.h"
#include "filter.h"
#include "log.h"
#include "projection.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REALTIME_MAX_UID    256
#define REALTIME_MAX_FIELDS 1600

void realtime_send_error(conn_t *c, const char *type, const char *code,
                         const char *message, const char *uid)
{
    json_t *msg = json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", type, "status",
                            "error", "error", "code", code, "message", message);

    if (uid)
        json_object_set_new(msg, "uid", json_string(uid));
    conn_send_json(c, msg);
}

static bool authenticated(const pusher_t *p, const conn_t *c)
{
    return c->ident || p->set.realtime_auth == AUTH_MODE_PUBLIC;
}

static void on_auth(pusher_t *p, conn_t *c, json_t *msg, const char *uid)
{
    const char *token = json_string_value(json_object_get(msg, "access_token"));
    json_t *ok;
    int r;

    if (!token) {
        realtime_send_error(c, "auth", "AUTH_FAILED",
                            json_object_get(msg, "email") ||
                                    json_object_get(msg, "refresh_token")
                                ? "only \"access_token\" authentication is "
                                  "supported here: log in through your API "
                                  "and send the access token"
                                : "\"access_token\" is missing",
                            uid);
        if (!c->ident && p->set.realtime_auth != AUTH_MODE_PUBLIC)
            conn_close(c, CLOSE_NORMAL, "authentication failed", false);
        return;
    }
    /* Every refused token gets the same answer; the log says why. */
    r = access_authenticate(p, c, token, strlen(token));
    if (r != AUTH_OK) {
        realtime_send_error(c, "auth", "AUTH_FAILED", "authentication failed",
                            uid);
        conn_close(c, CLOSE_NORMAL, "authentication failed", false);
        return;
    }
    c->state = CONN_READY;
    c->reauth_deadline_ms = 0;
    ok = json_pack("{s:s, s:s}", "type", "auth", "status", "ok");
    if (uid)
        json_object_set_new(ok, "uid", json_string(uid));
    conn_send_json(c, ok);
    /* The new identity may read less than the one subscriptions began
     * with. */
    access_recheck_conn(p, c);
}

/* query.fields as an array of names or a comma-separated string (what
 * the SDK sends: "id, title"); -1 when it is neither, or lists too many. */
static int read_fields(json_t *fields, const char **out, char **copy)
{
    int n = 0;

    *copy = NULL;
    if (!fields || json_is_null(fields))
        return 0;
    if (json_is_string(fields)) {
        char *save = NULL;

        *copy = strdup(json_string_value(fields));
        if (!*copy)
            return -1;
        for (char *f = strtok_r(*copy, ",", &save); f;
             f = strtok_r(NULL, ",", &save)) {
            char *end = f + strlen(f);

            while (*f == ' ')
                f++;
            while (end > f && end[-1] == ' ')
                *--end = '\0';
            if (!*f)
                continue;
            if (n == REALTIME_MAX_FIELDS)
                return -1;
            out[n++] = f;
        }
        return n;
    }
    if (!json_is_array(fields) || json_array_size(fields) > REALTIME_MAX_FIELDS)
        return -1;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const char *f = json_string_value(json_array_get(fields, i));

        if (!f)
            return -1;
        out[n++] = f;
    }
    return n;
}

static void on_subscribe(pusher_t *p, conn_t *c, json_t *msg, const char *uid)
{
    const char *collection =
        json_string_value(json_object_get(msg, "collection"));
    json_t *event_json = json_object_get(msg, "event");
    const char *event = json_string_value(event_json);
    json_t *cursor_json = json_object_get(msg, "cursor");
    const char *cursor = json_string_value(cursor_json);
    json_t *query = json_object_get(msg, "query");
    json_t *parsed_query = NULL, *filter_json;
    const char **fields = NULL;
    char *fields_copy = NULL, err[768];
    sub_request_t req = {0};
    collection_t *coll;
    filter_vars_t vars;
    access_t a = {0};
    sub_error_t code;
    sub_t *old;
    int nfields;

    if (!collection) {
        realtime_send_error(c, "subscribe", "INVALID_PAYLOAD",
                            "\"collection\" is missing", uid);
        return;
    }
    if ((event_json && !json_is_null(event_json) && !event) ||
        (event && strcmp(event, "create") != 0 &&
         strcmp(event, "update") != 0 && strcmp(event, "delete") != 0)) {
        realtime_send_error(c, "subscribe", "INVALID_PAYLOAD",
                            "\"event\" must be create, update or delete", uid);
        return;
    }
    if (cursor_json && !json_is_null(cursor_json) && !cursor) {
        realtime_send_error(c, "subscribe", "INVALID_PAYLOAD",
                            "\"cursor\" must be a string: the cursor of "
                            "the last event seen, or \"\" for now",
                            uid);
        return;
    }
    coll = collections_find(p, collection);
    if (!coll || !access_get(p, c, coll, &a)) {
        realtime_send_error(c, "subscribe", "FORBIDDEN",
                            "You don't have permission to access this.", uid);
        return;
    }

    /* The SDK sends query as parameters: fields "a,b", filter as JSON
     * text. */
    if (json_is_string(query)) {
        parsed_query =
            json_loads(json_string_value(query), JSON_REJECT_DUPLICATES, NULL);
        if (!parsed_query) {
            realtime_send_error(c, "subscribe", "INVALID_QUERY",
                                "\"query\" is a string that is not JSON: "
                                "send an object",
                                uid);
            goto out;
        }
        query = parsed_query;
    }
    if (json_is_null(query))
        query = NULL;
    if (query && !json_is_object(query)) {
        realtime_send_error(c, "subscribe", "INVALID_QUERY",
                            "\"query\" must be an object", uid);
        goto out;
    }
    fields = calloc(REALTIME_MAX_FIELDS, sizeof(char *));
    nfields = fields ? read_fields(json_object_get(query, "fields"), fields,
                                   &fields_copy)
                     : -1;
    if (nfields < 0) {
        realtime_send_error(c, "subscribe", "INVALID_QUERY",
                            "\"query.fields\" must be a list of field names",
                            uid);
        goto out;
    }
    req.proj =
        projection_intern(p, projection_from_fields(a.ts, a.readable, fields,
                                                    nfields, err, sizeof(err)));
    if (!req.proj) {
        realtime_send_error(c, "subscribe", "INVALID_QUERY", err, uid);
        goto out;
    }

    filter_json = json_object_get(query, "filter");
    access_vars(c, &vars);
    if (json_is_string(filter_json)) {
        const char *text = json_string_value(filter_json);

        req.filter =
            filter_compile_text(text, strlen(text), a.ts, access_may_read, &a,
                                &vars, err, sizeof(err));
    } else if (filter_json && !json_is_null(filter_json)) {
        req.filter = filter_compile(filter_json, a.ts, access_may_read, &a,
                                    &vars, err, sizeof(err));
    }
    if (filter_json && !json_is_null(filter_json) && !req.filter) {
        realtime_send_error(c, "subscribe", "INVALID_QUERY", err, uid);
        goto out;
    }
    if (!access_row_filter(p, c, &a, &req.perm, err, sizeof(err))) {
        realtime_send_error(c, "subscribe", "FORBIDDEN",
                            "You don't have permission to access this.", uid);
        goto out;
    }

    /* A subscribe reusing a uid replaces that subscription. */
    old = uid ? fanout_find(c, uid) : NULL;
    if (old)
        fanout_unsubscribe(p, old);

    req.coll = coll;
    req.ts = a.ts;
    req.id = uid;
    req.events = EVENTS_ALL;
    if (event)
        req.events = strcmp(event, "create") == 0   ? 1u << EVENT_CREATE
                     : strcmp(event, "update") == 0 ? 1u << EVENT_UPDATE
                                                    : 1u << EVENT_DELETE;
    req.send_init = true;
    /* Directus lists the current rows in init unless an event was named;
     * the shape stays, the rows are the client's to load. */
    req.init_data = !event;
    req.after = cursor;
    if (!fanout_subscribe(p, c, &req, &code, err, sizeof(err))) {
        static const char *const codes[] = {
            [SUB_ERROR_NONE] = "INTERNAL_SERVER_ERROR",
            [SUB_ERROR_LIMIT] = "LIMIT_EXCEEDED",
            [SUB_ERROR_CURSOR_INVALID] = "CURSOR_INVALID",
            [SUB_ERROR_CURSOR_EXPIRED] = "CURSOR_EXPIRED",
            [SUB_ERROR_UNAVAILABLE] = "SERVICE_UNAVAILABLE",
        };

        realtime_send_error(c, "subscribe", codes[code], err, uid);
    }

out:
    /* Whatever fanout_subscribe did not take is freed here. */
    filter_free(req.filter);
    filter_free(req.perm);
    projection_release(p, req.proj);
    access_release(&a);
    json_decref(parsed_query);
    free(fields_copy);
    free(fields);
}

void realtime_message(pusher_t *p, conn_t *c, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *uid_json = json_object_get(msg, "uid");
    const char *uid = json_string_value(uid_json);
    bool is_object = json_is_object(msg) && type;
    char number[32];

    /* The SDK sends numeric uids as strings; others may send numbers. */
    if (json_is_integer(uid_json)) {
        snprintf(number, sizeof(number), "%lld",
                 (long long)json_integer_value(uid_json));
        uid = number;
    }
    if (uid && strlen(uid) > REALTIME_MAX_UID)
        uid = NULL;

    /* Every message counts against the rate limit, unparsable ones too;
     * only answers to our pings do not. */
    if (!(is_object && strcmp(type, "pong") == 0) && !conn_rate_ok(c)) {
        realtime_send_error(c, is_object ? type : "server", "REQUESTS_EXCEEDED",
                            "too many messages: slow down and retry", uid);
        goto out;
    }
    if (!is_object) {
        char detail[256];

        snprintf(detail, sizeof(detail),
                 "message is not a JSON object with a \"type\"%s%s",
                 msg ? "" : ": ", msg ? "" : jerr.text);
        realtime_send_error(c, "server", "INVALID_PAYLOAD", detail, NULL);
        goto out;
    }
    if (json_string_value(uid_json) &&
        strlen(json_string_value(uid_json)) > REALTIME_MAX_UID) {
        char detail[80];

        snprintf(detail, sizeof(detail), "\"uid\" is longer than %d bytes",
                 REALTIME_MAX_UID);
        realtime_send_error(c, type, "INVALID_PAYLOAD", detail, NULL);
        goto out;
    }
    if (strcmp(type, "auth") == 0) {
        on_auth(p, c, msg, uid);
        goto out;
    }
    if (strcmp(type, "pong") == 0)
        goto out;
    if (strcmp(type, "ping") == 0) {
        json_t *pong = json_pack("{s:s}", "type", "pong");

        if (uid)
            json_object_set_new(pong, "uid", json_string(uid));
        conn_send_json(c, pong);
        goto out;
    }
    if (!authenticated(p, c)) {
        realtime_send_error(c, "auth", "AUTH_FAILED",
                            "authenticate first with {\"type\":\"auth\", "
                            "\"access_token\":...}",
                            uid);
        conn_close(c, CLOSE_NORMAL, "authentication required", false);
        goto out;
    }
    if (strcmp(type, "subscribe") == 0) {
        on_subscribe(p, c, msg, uid);
    } else if (strcmp(type, "unsubscribe") == 0) {
        if (uid) {
            sub_t *s = fanout_find(c, uid);

            if (s)
                fanout_unsubscribe(p, s);
        } else {
            while (c->nsubs > 0)
                fanout_unsubscribe(p, c->subs[c->nsubs - 1]);
        }
    } else {
        char detail[200];

        snprintf(detail, sizeof(detail),
                 "message type \"%.40s\" is not supported here: this server "
                 "offers subscribe, unsubscribe, auth and ping",
                 type);
        realtime_send_error(c, type, "INVALID_PAYLOAD", detail, uid);
    }

out:
    json_decref(msg);
}

void realtime_tick(pusher_t *p, conn_t *c, int64_t now_ms)
{
    if (c->state == CONN_CLOSING)
        return;
    if (!authenticated(p, c) &&
        now_ms - c->opened_ms >= p->set.auth_timeout_ms) {
        realtime_send_error(c, "auth", "AUTH_TIMEOUT",
                            "no authentication within the time allowed", NULL);
        conn_close(c, CLOSE_NORMAL, "authentication timeout", false);
        return;
    }
    if (c->ident && c->ident->expires_at_us &&
        now_ms * 1000 >= c->ident->expires_at_us) {
        if (!c->reauth_deadline_ms) {
            /* The SDK answers with a fresh token. */
            realtime_send_error(c, "auth", "TOKEN_EXPIRED", "token expired",
                                NULL);
            c->reauth_deadline_ms = now_ms + p->set.auth_timeout_ms;
        } else if (now_ms >= c->reauth_deadline_ms) {
            log_info(conn_tag(c), "token expired and was not renewed");
            conn_close(c, CLOSE_NORMAL, "token expired", false);
            return;
        }
    }
    if (p->set.ping_interval_ms > 0 &&
        now_ms - c->last_ping_ms >= p->set.ping_interval_ms) {
        if (c->last_seen_ms < c->last_ping_ms &&
            c->last_ping_ms > c->opened_ms) {
            conn_close(c, CLOSE_GOING_AWAY, "no pong to the last ping", true);
            return;
        }
        c->last_ping_ms = now_ms;
        conn_send(c, "{\"type\":\"ping\"}", 15);
    }
}
