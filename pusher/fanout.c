/* Subscription groups, view transitions and per-member framing. */
#include "fanout.h"

#include "conn.h"
#include "consumer.h"
#include "filter.h"
#include "gqlws.h"
#include "realtime.h"
#include "log.h"
#include "render.h"
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const event_names[3] = {"create", "update", "delete"};

/* Rows of a record laid out as another version of the table's schema, so
 * filters and shapes compiled against that version read the right column. */
typedef struct column_map {
    const table_schema_t *from;
    const table_schema_t *to;
    int *index; /* to column -> from column, or -1 */
    struct column_map *next;
} column_map_t;

static column_map_t *column_maps;

static const int *column_map(const table_schema_t *from,
                             const table_schema_t *to)
{
    column_map_t *m;

    for (m = column_maps; m; m = m->next) {
        if (m->from == from && m->to == to)
            return m->index;
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->index = malloc((size_t)(to->ncols ? to->ncols : 1) * sizeof(int));
    if (!m->index) {
        free(m);
        return NULL;
    }
    for (int i = 0; i < to->ncols; i++) {
        m->index[i] = -1;
        for (int j = 0; j < from->ncols; j++) {
            if (strcmp(to->cols[i].name, from->cols[j].name) == 0 &&
                to->cols[i].type == from->cols[j].type) {
                m->index[i] = j;
                break;
            }
        }
    }
    m->from = from;
    m->to = to;
    m->next = column_maps;
    column_maps = m;
    return m->index;
}

/* A change as one group version sees it. */
typedef struct view {
    const table_schema_t *ts;
    const value_t *before;
    const value_t *after;
    bool before_full; /* before holds every column */
} view_t;

static const value_t *align_row(pusher_t *p, const value_t *row,
                                const table_schema_t *from,
                                const table_schema_t *to)
{
    const int *map;
    value_t *out;

    if (!row || from == to)
        return row;
    map = column_map(from, to);
    out = arena_alloc(&p->event_arena,
                      (size_t)(to->ncols ? to->ncols : 1) * sizeof(value_t));
    if (!map || !out)
        return NULL;
    for (int i = 0; i < to->ncols; i++) {
        if (map[i] >= 0) {
            out[i] = row[map[i]];
        } else {
            memset(&out[i], 0, sizeof(value_t));
            out[i].state = VALUE_NULL;
        }
    }
    return out;
}

/* Counts dispatches, so a group tried once in one is not tried again. */
static uint64_t dispatch_stamp;

/* Event state shared by every group of one dispatch. */
typedef struct dispatch {
    pusher_t *p;
    const change_t *ch;
    const table_schema_t *record_ts;
    cursor_fn_t cursor_fn;
    void *cursor_arg;
    const char *cursor; /* NULL until someone needs it */
    size_t cursor_len;
    int64_t now_us;
    uint64_t stamp; /* tells groups already tried */
    view_t views[4];
    int nviews;
    /* serialized payloads: (projection, event) -> bytes in p->payloads */
    struct cached {
        const projection_t *proj;
        int event;
        size_t start, len;
    } cache[16];
    int ncache;
} dispatch_t;

static const view_t *view_for(dispatch_t *d, const table_schema_t *ts)
{
    view_t *v;

    for (int i = 0; i < d->nviews; i++) {
        if (d->views[i].ts == ts)
            return &d->views[i];
    }
    if (d->nviews == 4)
        d->nviews = 0; /* rare: many versions at once; recompute */
    v = &d->views[d->nviews++];
    v->ts = ts;
    v->before = align_row(d->p, d->ch->before, d->record_ts, ts);
    v->after = align_row(d->p, d->ch->after, d->record_ts, ts);
    v->before_full = d->ch->before && d->ch->source.identity == 'f';
    return v;
}

typedef enum match { MATCH_NO, MATCH_YES, MATCH_UNKNOWN } match_t;

static match_t match(const filter_t *f, const value_t *row, int64_t now_us)
{
    if (!f)
        return MATCH_YES;
    switch (filter_eval(f, row, now_us)) {
    case FILTER_TRUE:
        return MATCH_YES;
    case FILTER_FALSE:
        return MATCH_NO;
    default:
        return MATCH_UNKNOWN;
    }
}

/* The event a group sees for a change, or -1.  A row entering the
 * group's view is a create, staying an update, leaving a delete.  Without
 * the whole old row (replica identity other than FULL) leaving cannot be
 * seen; a delete is sent when the old key row does not rule it out, but
 * never when the role's own filter cannot be decided (that would reveal a
 * row the role may not read). */
static int decide(const group_t *g, const view_t *v, change_op_t op,
                  int64_t now)
{
    match_t before_perm, before_sub, after_perm = MATCH_NO,
                                     after_sub = MATCH_NO;
    bool after_in, before_in;

    if (v->after) {
        after_perm = match(g->perm, v->after, now);
        after_sub = match(g->filter, v->after, now);
    }
    after_in = after_perm == MATCH_YES && after_sub != MATCH_NO;

    switch (op) {
    case OP_CREATE:
    case OP_READ:
        return after_in ? EVENT_CREATE : -1;
    case OP_DELETE:
        if (!v->before)
            return -1;
        before_perm = match(g->perm, v->before, now);
        before_sub = match(g->filter, v->before, now);
        return before_perm == MATCH_YES && before_sub != MATCH_NO ? EVENT_DELETE
                                                                  : -1;
    case OP_UPDATE:
        if (!v->before_full)
            return after_in ? EVENT_UPDATE : -1;
        before_perm = match(g->perm, v->before, now);
        before_sub = match(g->filter, v->before, now);
        before_in = before_perm == MATCH_YES && before_sub != MATCH_NO;
        if (before_in && after_in)
            return EVENT_UPDATE;
        if (after_in)
            return EVENT_CREATE;
        if (before_in)
            return EVENT_DELETE;
        return -1;
    case OP_TRUNCATE:
        break;
    }
    return -1;
}

/* Serialization. */

/* A numeric key column, which the GraphQL schema types ID: GraphQL sends
 * IDs as strings, as Directus does ("id": "7"). */
static bool graphql_id_number(const column_t *col, const value_t *v)
{
    return col->key && v->state == VALUE_SET &&
           (col->type == COLTYPE_INT || col->type == COLTYPE_LONG);
}

static void put_id(buf_t *out, const column_t *col, const value_t *v)
{
    buf_putc(out, '"');
    render_value(out, col, v);
    buf_putc(out, '"');
}

/* Writes the selected columns of row as a JSON object.  Values not known
 * (unchanged TOAST) are left out of realtime rows; GraphQL must answer
 * every field, so they are null there and named in unknown. */
static void put_row(buf_t *out, const projection_t *pr,
                    const proj_field_t *fields, int nfields,
                    const table_schema_t *ts, const value_t *row,
                    buf_t *unknown)
{
    bool first = true;

    buf_putc(out, '{');
    for (int i = 0; i < nfields; i++) {
        const proj_field_t *f = &fields[i];

        if (f->column >= 0 && row[f->column].state == VALUE_UNCHANGED) {
            if (pr->protocol == PROTO_REALTIME)
                continue;
            if (unknown) {
                if (unknown->len)
                    buf_putc(unknown, ',');
                buf_json_string(unknown, ts->cols[f->column].name,
                                strlen(ts->cols[f->column].name));
            }
        }
        if (!first)
            buf_putc(out, ',');
        first = false;
        buf_append(out, f->name_json, f->name_len);
        if (f->column < 0)
            buf_json_string(out, pr->typename_data, strlen(pr->typename_data));
        else if (pr->protocol == PROTO_GRAPHQL &&
                 graphql_id_number(&ts->cols[f->column], &row[f->column]))
            put_id(out, &ts->cols[f->column], &row[f->column]);
        else
            render_value(out, &ts->cols[f->column], &row[f->column]);
    }
    buf_putc(out, '}');
}

/* Cursors are our own base64url text: nothing in them needs escaping, and
 * every event carries one (twice on /graphql). */
static void put_cursor(buf_t *out, const char *cursor, size_t len)
{
    if (!buf_reserve(out, len + 2))
        return;
    buf_putc(out, '"');
    buf_append(out, cursor, len);
    buf_putc(out, '"');
}

/* GraphQL payload: {"data":{"<root>":{...}},"extensions":{"cursor":...}} */
static void put_graphql(buf_t *out, pusher_t *p, const projection_t *pr,
                        const table_schema_t *ts, int event, const char *evname,
                        const value_t *row, const char *cursor,
                        size_t cursor_len)
{
    buf_t *unknown = &p->scratch;

    buf_reset(unknown);
    buf_puts(out, "{\"data\":{");
    buf_append(out, pr->root_json, pr->root_len);
    buf_putc(out, '{');
    for (int i = 0; i < pr->ntop; i++) {
        const proj_field_t *f = &pr->top[i];

        if (i)
            buf_putc(out, ',');
        buf_append(out, f->name_json, f->name_len);
        switch (f->out) {
        case PROJ_KEY:
            if (!row || !render_key(out, ts, row))
                buf_puts(out, "null");
            break;
        case PROJ_EVENT:
            buf_json_string(out, evname, strlen(evname));
            break;
        case PROJ_CURSOR:
            put_cursor(out, cursor, cursor_len);
            break;
        case PROJ_TYPENAME:
            buf_json_string(out, pr->typename_top, strlen(pr->typename_top));
            break;
        case PROJ_DATA:
            if (row && event != EVENT_DELETE && event >= 0)
                put_row(out, pr, f->fields, f->nfields, ts, row, unknown);
            else
                buf_puts(out, "null");
            break;
        }
    }
    buf_puts(out, "}},\"extensions\":{\"cursor\":");
    put_cursor(out, cursor, cursor_len);
    if (unknown->len) {
        buf_puts(out, ",\"unchanged\":[");
        buf_append(out, unknown->data, unknown->len);
        buf_putc(out, ']');
    }
    buf_puts(out, "}}");
}

/* Realtime payload without its closing brace (the member's uid follows):
 * {"type":"subscription","event":"create","data":[{...}],"cursor":"..." */
static void put_realtime(buf_t *out, const projection_t *pr,
                         const table_schema_t *ts, int event,
                         const value_t *row, const char *cursor,
                         size_t cursor_len)
{
    buf_puts(out, "{\"type\":\"subscription\",\"event\":\"");
    buf_puts(out, event_names[event]);
    buf_puts(out, "\",\"data\":[");
    if (event == EVENT_DELETE) {
        if (!render_key(out, ts, row))
            buf_puts(out, "null");
    } else {
        put_row(out, pr, pr->data, pr->ndata, ts, row, NULL);
    }
    buf_puts(out, "],\"cursor\":");
    put_cursor(out, cursor, cursor_len);
}

/* Payload of (projection, event) for this change, built on first use. */
static void payload(dispatch_t *d, const projection_t *pr, const view_t *v,
                    int event, const char **data, size_t *len)
{
    pusher_t *p = d->p;
    const value_t *row = event == EVENT_DELETE ? v->before : v->after;
    size_t start;

    if (!d->cursor) {
        buf_reset(&p->cursor_text);
        d->cursor_fn(d->cursor_arg, &p->cursor_text);
        d->cursor =
            buf_cstr(&p->cursor_text) ? (char *)p->cursor_text.data : "";
        d->cursor_len = p->cursor_text.len;
    }
    for (int i = 0; i < d->ncache; i++) {
        if (d->cache[i].proj == pr && d->cache[i].event == event) {
            *data = (const char *)p->payloads.data + d->cache[i].start;
            *len = d->cache[i].len;
            return;
        }
    }
    start = p->payloads.len;
    if (pr->protocol == PROTO_GRAPHQL)
        put_graphql(&p->payloads, p, pr, v->ts, event, event_names[event], row,
                    d->cursor, d->cursor_len);
    else
        put_realtime(&p->payloads, pr, v->ts, event, row, d->cursor,
                     d->cursor_len);
    p->stats.serializations++;
    if (d->ncache < 16) {
        d->cache[d->ncache].proj = pr;
        d->cache[d->ncache].event = event;
        d->cache[d->ncache].start = start;
        d->cache[d->ncache].len = p->payloads.len - start;
        d->ncache++;
    }
    *data = (const char *)p->payloads.data + start;
    *len = p->payloads.len - start;
}

/* Frames one payload for one subscription. */
static void deliver(pusher_t *p, sub_t *s, const char *data, size_t len)
{
    conn_t *c = s->conn;
    size_t total;

    if (s->conn->protocol == PROTO_GRAPHQL) {
        static const char head[] = "{\"id\":";
        static const char mid[] = ",\"type\":\"next\",\"payload\":";

        total = sizeof(head) - 1 + s->id_json_len + sizeof(mid) - 1 + len + 1;
        if (!conn_frame_begin(c, total))
            return;
        conn_append(c, head, sizeof(head) - 1);
        conn_append(c, s->id_json, s->id_json_len);
        conn_append(c, mid, sizeof(mid) - 1);
        conn_append(c, data, len);
        conn_append(c, "}", 1);
    } else {
        static const char uid[] = ",\"uid\":";

        total = len + 1 + (s->id ? sizeof(uid) - 1 + s->id_json_len : 0);
        if (!conn_frame_begin(c, total))
            return;
        conn_append(c, data, len);
        if (s->id) {
            conn_append(c, uid, sizeof(uid) - 1);
            conn_append(c, s->id_json, s->id_json_len);
        }
        conn_append(c, "}", 1);
    }
    s->delivered++;
    p->stats.deliveries++;
    p->stats.delivery_bytes += total;
}

static void dispatch_init(dispatch_t *d, pusher_t *p, const change_t *ch,
                          const table_schema_t *record_ts,
                          cursor_fn_t cursor_fn, void *cursor_arg)
{
    d->p = p;
    d->ch = ch;
    d->record_ts = record_ts;
    d->cursor_fn = cursor_fn;
    d->cursor_arg = cursor_arg;
    d->cursor = NULL;
    d->cursor_len = 0;
    d->now_us = pusher_now_us();
    d->stamp = ++dispatch_stamp;
    d->nviews = 0;
    d->ncache = 0;
    buf_reset(&p->payloads);
}

/* Groups whose filters require column col (of schema version ts) to hold
 * one value, chained in buckets by a hash of that value: an event tries
 * only the groups of its rows' values, so ten thousand subscriptions each
 * to one user's rows cost a lookup, not ten thousand evaluations. */
typedef struct eq_index {
    const table_schema_t *ts;
    int col;
    filter_eq_kind_t kind;
    group_t **buckets; /* a power of two of them */
    uint32_t nbuckets;
    uint32_t count;
    struct eq_index *next; /* in coll->indexes */
} eq_index_t;

static void try_group(dispatch_t *d, group_t *g)
{
    const view_t *v;
    const char *data;
    size_t len;
    int event;

    if (g->visited == d->stamp)
        return; /* found through both rows */
    g->visited = d->stamp;
    v = view_for(d, g->ts);
    d->p->stats.evaluations++;
    if (!v->before && !v->after)
        return;
    event = decide(g, v, d->ch->op, d->now_us);
    if (event < 0 || !(g->events & (1u << event)))
        return;
    payload(d, g->proj, v, event, &data, &len);
    for (int i = 0; i < g->nmembers; i++)
        deliver(d->p, g->members[i], data, len);
}

static void try_index(dispatch_t *d, eq_index_t *idx)
{
    const view_t *v = view_for(d, idx->ts);
    const value_t *rows[2] = {v->after, v->before};

    for (int r = 0; r < 2; r++) {
        const value_t *value;
        uint64_t hash;

        if (!rows[r])
            continue;
        value = &rows[r][idx->col];
        if (value->state == VALUE_NULL)
            continue; /* no _eq holds on null */
        if (filter_value_hash(idx->kind, value, &hash)) {
            group_t *g = idx->buckets[hash & (idx->nbuckets - 1)];

            for (; g; g = g->next) {
                if (g->eq_hash == hash)
                    try_group(d, g);
            }
            continue;
        }
        /* A value the change did not carry (unchanged TOAST): any group
         * may match. */
        for (uint32_t b = 0; b < idx->nbuckets; b++) {
            for (group_t *g = idx->buckets[b]; g; g = g->next)
                try_group(d, g);
        }
    }
}

void fanout_dispatch(pusher_t *p, collection_t *coll,
                     const table_schema_t *record_ts, const change_t *ch,
                     cursor_fn_t cursor_fn, void *cursor_arg)
{
    dispatch_t d;

    dispatch_init(&d, p, ch, record_ts, cursor_fn, cursor_arg);
    for (group_t *g = coll->groups; g; g = g->next)
        try_group(&d, g);
    for (eq_index_t *idx = coll->indexes; idx; idx = idx->next)
        try_index(&d, idx);
    arena_reset(&p->event_arena);
}

void fanout_dispatch_one(pusher_t *p, sub_t *s, const table_schema_t *record_ts,
                         const change_t *ch, cursor_fn_t cursor_fn,
                         void *cursor_arg)
{
    group_t g = {0};
    dispatch_t d;
    const view_t *v;
    const char *data;
    size_t len;
    int event;

    dispatch_init(&d, p, ch, record_ts, cursor_fn, cursor_arg);
    g.ts = s->ts;
    g.events = s->events;
    g.filter = s->filter;
    g.perm = s->perm;
    g.proj = s->proj;
    v = view_for(&d, s->ts);
    if (v->before || v->after) {
        event = decide(&g, v, ch->op, d.now_us);
        if (event >= 0 && (g.events & (1u << event))) {
            payload(&d, g.proj, v, event, &data, &len);
            deliver(p, s, data, len);
        }
    }
    arena_reset(&p->event_arena);
}

/* Init events. */

void fanout_send_init(pusher_t *p, sub_t *s, const char *cursor,
                      size_t cursor_len)
{
    conn_t *c = s->conn;
    buf_t out;

    buf_init(&out, 0);
    if (c->protocol == PROTO_GRAPHQL) {
        /* key and data are null: nothing has happened yet. */
        buf_puts(&out, "{\"id\":");
        buf_append(&out, s->id_json, s->id_json_len);
        buf_puts(&out, ",\"type\":\"next\",\"payload\":");
        put_graphql(&out, p, s->proj, s->ts, -1, "init", NULL, cursor,
                    cursor_len);
        buf_putc(&out, '}');
    } else {
        buf_puts(&out, "{\"type\":\"subscription\",\"event\":\"init\"");
        if (s->init_data)
            buf_puts(&out, ",\"data\":[]");
        buf_puts(&out, ",\"cursor\":");
        buf_json_string(&out, cursor, cursor_len);
        if (s->id) {
            buf_puts(&out, ",\"uid\":");
            buf_append(&out, s->id_json, s->id_json_len);
        }
        buf_putc(&out, '}');
    }
    conn_send(c, (const char *)out.data, out.len);
    buf_free(&out);
}

/* Groups. */

static void group_key(const sub_t *s, buf_t *out)
{
    buf_printf(out, "%p|%u|", (const void *)s->ts, s->events);
    if (s->filter)
        filter_canonical(s->filter, out);
    buf_putc(out, '|');
    if (s->perm)
        filter_canonical(s->perm, out);
    buf_putc(out, '|');
    buf_puts(out, s->proj->key);
}

static void group_free(group_t *g)
{
    filter_free(g->filter);
    filter_free(g->perm);
    free(g->members);
    free(g->key);
    free(g);
}

int fanout_group_count(const pusher_t *p)
{
    int n = 0;

    for (int i = 0; i < p->ncolls; i++) {
        for (group_t *g = p->colls[i]->groups; g; g = g->next)
            n++;
        for (eq_index_t *idx = p->colls[i]->indexes; idx; idx = idx->next)
            n += (int)idx->count;
    }
    return n;
}

/* The _eq that indexes a subscription: of its own filter, else of its
 * role's. */
static bool index_key(const sub_t *s, filter_eq_t *eq)
{
    return filter_required_eq(s->filter, eq) || filter_required_eq(s->perm, eq);
}

static eq_index_t *index_find(collection_t *coll, const table_schema_t *ts,
                              const filter_eq_t *eq)
{
    for (eq_index_t *idx = coll->indexes; idx; idx = idx->next) {
        if (idx->ts == ts && idx->col == eq->col && idx->kind == eq->kind)
            return idx;
    }
    return NULL;
}

static eq_index_t *index_new(collection_t *coll, const table_schema_t *ts,
                             const filter_eq_t *eq)
{
    eq_index_t *idx = calloc(1, sizeof(*idx));

    if (!idx || !(idx->buckets = calloc(16, sizeof(*idx->buckets)))) {
        free(idx);
        return NULL;
    }
    idx->ts = ts;
    idx->col = eq->col;
    idx->kind = eq->kind;
    idx->nbuckets = 16;
    idx->next = coll->indexes;
    coll->indexes = idx;
    return idx;
}

/* Keeps chains short: twice the buckets once they average two groups. */
static void index_grow(eq_index_t *idx)
{
    uint32_t n = idx->nbuckets * 2;
    group_t **grown;

    if (idx->count < idx->nbuckets * 2 || !(grown = calloc(n, sizeof(*grown))))
        return;
    for (uint32_t b = 0; b < idx->nbuckets; b++) {
        group_t *g = idx->buckets[b], *next;

        for (; g; g = next) {
            next = g->next;
            g->next = grown[g->eq_hash & (n - 1)];
            grown[g->eq_hash & (n - 1)] = g;
        }
    }
    free(idx->buckets);
    idx->buckets = grown;
    idx->nbuckets = n;
}

static void index_remove(collection_t *coll, group_t *g)
{
    eq_index_t *idx = g->index;
    group_t **pp = &idx->buckets[g->eq_hash & (idx->nbuckets - 1)];

    for (; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    g->index = NULL;
    if (--idx->count > 0)
        return;
    for (eq_index_t **ip = &coll->indexes; *ip; ip = &(*ip)->next) {
        if (*ip == idx) {
            *ip = idx->next;
            break;
        }
    }
    free(idx->buckets);
    free(idx);
}

/* Puts a subscription in the group it belongs to, creating the group with
 * the subscription's filters when it is the first; otherwise its filters,
 * equal to the group's, are freed. */
static bool join_group(pusher_t *p, sub_t *s)
{
    collection_t *coll = s->coll;
    eq_index_t *idx;
    filter_eq_t eq;
    bool indexed;
    group_t *g;
    buf_t key;

    buf_init(&key, 0);
    group_key(s, &key);
    if (!buf_cstr(&key))
        return false;
    /* An equal group has equal filters, so it sits where this one would. */
    indexed = index_key(s, &eq);
    idx = indexed ? index_find(coll, s->ts, &eq) : NULL;
    if (idx)
        g = idx->buckets[eq.hash & (idx->nbuckets - 1)];
    else
        g = indexed ? NULL : coll->groups;
    for (; g; g = g->next) {
        if (strcmp(g->key, (char *)key.data) == 0)
            break;
    }
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g) {
            buf_free(&key);
            return false;
        }
        g->coll = coll;
        g->ts = s->ts;
        g->key = (char *)key.data;
        key.data = NULL;
        g->events = s->events;
        g->filter = s->filter;
        g->perm = s->perm;
        g->proj = s->proj;
        if (indexed && (idx || (idx = index_new(coll, s->ts, &eq)))) {
            g->index = idx;
            g->eq_hash = eq.hash;
            idx->count++;
            index_grow(idx);
            g->next = idx->buckets[eq.hash & (idx->nbuckets - 1)];
            idx->buckets[eq.hash & (idx->nbuckets - 1)] = g;
        } else {
            g->next = coll->groups;
            coll->groups = g;
        }
    } else {
        filter_free(s->filter);
        filter_free(s->perm);
    }
    s->filter = s->perm = NULL;
    buf_free(&key);

    if (g->nmembers == g->cap) {
        int cap = g->cap ? g->cap * 2 : 4;
        sub_t **grown = realloc(g->members, (size_t)cap * sizeof(*grown));

        if (!grown)
            return false;
        g->members = grown;
        g->cap = cap;
    }
    s->group = g;
    s->member_index = g->nmembers;
    g->members[g->nmembers++] = s;
    return true;
}

static void leave_group(sub_t *s)
{
    group_t *g = s->group;
    collection_t *coll = s->coll;

    if (!g)
        return;
    g->members[s->member_index] = g->members[g->nmembers - 1];
    g->members[s->member_index]->member_index = s->member_index;
    g->nmembers--;
    s->group = NULL;
    if (g->nmembers > 0)
        return;
    if (g->index) {
        index_remove(coll, g);
        group_free(g);
        return;
    }
    for (group_t **pp = &coll->groups; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    group_free(g);
}

void fanout_go_live(pusher_t *p, sub_t *s, const char *cursor,
                    size_t cursor_len)
{
    if (!join_group(p, s)) {
        conn_close(s->conn, CLOSE_INTERNAL, "out of memory", false);
        return;
    }
    s->state = SUB_LIVE;
    if (s->send_init)
        fanout_send_init(p, s, cursor, cursor_len);
}

/* Subscriptions. */

sub_t *fanout_find(conn_t *c, const char *id)
{
    for (int i = 0; i < c->nsubs; i++) {
        const char *sid = c->subs[i]->id;

        if ((!sid && !id) || (sid && id && strcmp(sid, id) == 0))
            return c->subs[i];
    }
    return NULL;
}

static void remove_waiting(sub_t *s)
{
    for (sub_t **pp = &s->coll->waiting; *pp; pp = &(*pp)->next_waiting) {
        if (*pp == s) {
            *pp = s->next_waiting;
            break;
        }
    }
    s->next_waiting = NULL;
}

void fanout_unsubscribe(pusher_t *p, sub_t *s)
{
    conn_t *c = s->conn;

    switch (s->state) {
    case SUB_LIVE:
        leave_group(s);
        break;
    case SUB_WAITING:
        remove_waiting(s);
        break;
    case SUB_REPLAYING:
        replay_cancel(p, s);
        break;
    }
    for (int i = 0; i < c->nsubs; i++) {
        if (c->subs[i] == s) {
            c->subs[i] = c->subs[--c->nsubs];
            break;
        }
    }
    s->coll->nsubs--;
    if (s->coll->nsubs == 0)
        consumer_unused(p, s->coll);
    filter_free(s->filter);
    filter_free(s->perm);
    projection_release(p, s->proj);
    free(s->resume);
    free(s->id);
    free(s->id_json);
    free(s);
}

sub_t *fanout_subscribe(pusher_t *p, conn_t *c, sub_request_t *req,
                        sub_error_t *code, char *err, size_t errlen)
{
    sub_t *s;
    buf_t id_json;

    *code = SUB_ERROR_NONE;
    if (c->nsubs >= p->set.max_subscriptions) {
        *code = SUB_ERROR_LIMIT;
        snprintf(err, errlen,
                 "this connection already has %ld subscriptions, the most "
                 "allowed: unsubscribe first or open another connection",
                 p->set.max_subscriptions);
        goto refuse;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        *code = SUB_ERROR_UNAVAILABLE;
        snprintf(err, errlen, "out of memory");
        goto refuse;
    }
    if (c->nsubs == c->subs_cap) {
        uint16_t cap = c->subs_cap ? (uint16_t)(c->subs_cap * 2) : 2;
        sub_t **grown = realloc(c->subs, cap * sizeof(*grown));

        if (!grown) {
            free(s);
            *code = SUB_ERROR_UNAVAILABLE;
            snprintf(err, errlen, "out of memory");
            goto refuse;
        }
        c->subs = grown;
        c->subs_cap = cap;
    }

    s->conn = c;
    s->coll = req->coll;
    s->ts = req->ts;
    s->events = req->events;
    s->filter = req->filter;
    s->perm = req->perm;
    s->proj = req->proj;
    s->send_init = req->send_init;
    s->init_data = req->init_data;
    s->state = SUB_WAITING;
    if (req->id) {
        s->id = strdup(req->id);
        buf_init(&id_json, 0);
        buf_json_string(&id_json, req->id, strlen(req->id));
        s->id_json = buf_cstr(&id_json) ? (char *)id_json.data : NULL;
        s->id_json_len = id_json.len;
    }
    req->filter = req->perm = NULL;
    req->proj = NULL;
    c->subs[c->nsubs++] = s;
    s->coll->nsubs++;
    p->stats.subscriptions_total++;

    if (req->after && *req->after) {
        /* Resuming: the replay decides when the subscription is live. */
        if (!replay_start(p, s, req->after, code, err, errlen)) {
            fanout_unsubscribe(p, s);
            return NULL;
        }
        return s;
    }
    if (!consumer_watch(p, s->coll, err, errlen)) {
        *code = SUB_ERROR_UNAVAILABLE;
        fanout_unsubscribe(p, s);
        return NULL;
    }
    if (s->coll->live->state == LIVE_ACTIVE) {
        buf_t cursor;

        buf_init(&cursor, 0);
        consumer_cursor(p, s->coll->live, &cursor);
        fanout_go_live(p, s, (const char *)cursor.data, cursor.len);
        buf_free(&cursor);
    } else {
        s->next_waiting = s->coll->waiting;
        s->coll->waiting = s;
    }
    return s;

refuse:
    filter_free(req->filter);
    filter_free(req->perm);
    projection_release(p, req->proj);
    req->filter = req->perm = NULL;
    req->proj = NULL;
    return NULL;
}

void fanout_sub_error(pusher_t *p, sub_t *s, const char *code,
                      const char *message)
{
    if (s->conn->protocol == PROTO_GRAPHQL)
        gqlws_send_error(s->conn, s->id ? s->id : "", code, message);
    else
        realtime_send_error(s->conn, "subscribe", code, message, s->id);
    conn_flush_dirty(p);
    fanout_unsubscribe(p, s);
}

bool fanout_set_perm(pusher_t *p, sub_t *s, filter_t *perm)
{
    group_t *g = s->group;
    filter_t *own = NULL;
    buf_t text;
    char err[256] = "out of memory";

    if (s->state != SUB_LIVE) {
        filter_free(s->perm);
        s->perm = perm;
        return true;
    }

    /* The group owns the old filters; the subscription carries copies of
     * what makes its key, so it rejoins with its own. */
    buf_init(&text, 0);
    if (g->filter &&
        (!filter_canonical(g->filter, &text) || !buf_cstr(&text) ||
         !(own = filter_compile_text((char *)text.data, text.len, g->ts, NULL,
                                     NULL, NULL, err, sizeof(err))))) {
        buf_free(&text);
        filter_free(perm);
        log_error(conn_tag(s->conn),
                  "subscription \"%s\" could not keep its filter across a "
                  "permissions reload: %s",
                  s->id ? s->id : "", err);
        fanout_sub_error(p, s, "INTERNAL",
                         "the subscription's filter could not be kept: "
                         "subscribe again");
        return false;
    }
    buf_free(&text);
    leave_group(s);
    s->filter = own;
    s->perm = perm;
    if (!join_group(p, s)) {
        conn_close(s->conn, CLOSE_INTERNAL, "out of memory", false);
        return false;
    }
    return true;
}
