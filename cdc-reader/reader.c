/* The reader's loop: start-up (publication, schemas, topics, slot), the
 * replication stream turned into Kafka records, status updates that confirm
 * only acknowledged positions, standby and reconnection, and the HTTP side
 * (health, metrics, built-in schema registry). */
#include "reader.h"

#include "arena.h"
#include "buf.h"
#include "catalog.h"
#include "codec.h"
#include "httpd.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "pgoutput.h"
#include "producer.h"
#include "registry_client.h"
#include "registry_store.h"
#include "relcache.h"
#include "stream.h"
#include "topics.h"
#include "wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#define TICK_MS             100
#define STATUS_IDLE_MS      10000
#define STOP_FLUSH_MS       30000
#define RECONNECT_MS        2000
#define MAX_EVENTS_PER_TURN 2000
#define DECODE_ARENA_LIMIT  ((size_t)2 << 30)

const config_setting_t reader_settings[] = {
    {"CDC_DATABASE_URL", NULL,
     "PostgreSQL to follow: libpq URL or conninfo (required)"},
    {"CDC_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka bootstrap servers"},
    {"CDC_TOPIC_PREFIX", "cdc", "topic names are <prefix>.<schema>.<table>"},
    {"CDC_SLOT", "cdc", "logical replication slot (created when absent)"},
    {"CDC_PUBLICATION", "cdc", "publication (created when absent)"},
    {"CDC_TABLES", "",
     "comma-separated tables for a new publication; empty: all tables"},
    {"CDC_READER_HTTP", "127.0.0.1:8081",
     "address for /healthz, /readyz, /metrics and the built-in registry"},
    {"CDC_SCHEMA_REGISTRY_URL", "",
     "external Confluent schema registry; empty: serve one built in"},
    {"CDC_TOPIC_PARTITIONS", "4", "partitions of topics the reader creates"},
    {"CDC_TOPIC_REPLICATION", "-1",
     "replication factor of created topics; -1: the cluster's default"},
    {"CDC_HEARTBEAT_INTERVAL_MS", "10000",
     "how often the slot is advanced when no published table changes"},
    {"CDC_STATUS_INTERVAL_MS", "1000",
     "how often acknowledged positions are confirmed to PostgreSQL"},
    {"CDC_STANDBY_RETRY_MS", "2000",
     "how often a standby reader checks whether the slot is free"},
    {"CDC_LOG_LEVEL", "info", "debug, info, warning or error"},
    {"CDC_LOG_DEBUG", "", "debug facilities: kafka, lws, pgoutput, all"},
    {NULL, NULL, NULL},
};

typedef enum reader_state {
    STATE_STARTING,
    STATE_STANDBY,
    STATE_STREAMING,
    STATE_RECONNECTING,
    STATE_STOPPING,
} reader_state_t;

static const char *const state_names[] = {
    "starting", "standby", "streaming", "reconnecting", "stopping",
};

typedef struct settings {
    const char *dburl;
    const char *prefix;
    const char *slot;
    const char *publication;
    const char *tables;
    const char *http;
    const char *registry_url;
    long partitions;
    long replication;
    long heartbeat_ms;
    long status_ms;
    long standby_retry_ms;
} settings_t;

/* The transaction being received. */
typedef struct txn_state {
    bool open;
    uint32_t xid;
    uint64_t commit_lsn;
    int64_t commit_ts_us;
    uint64_t seq;
    txn_track_t *track;
} txn_state_t;

typedef struct reader {
    settings_t set;
    uv_loop_t loop;
    uv_poll_t stream_poll;
    bool stream_polling;
    bool stream_poll_open;
    uv_poll_t producer_poll;
    uv_timer_t tick;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct lws_context *http;

    catalog_t *catalog;
    stream_t *stream;
    producer_t *producer;
    registry_store_t *store;
    registry_client_t *registry;
    topics_t *topics;
    relcache_t relcache;
    pgoutput_decoder_t decoder;
    arena_t arena;
    buf_t keybuf;
    buf_t valbuf;
    txn_state_t txn;

    reader_state_t state;
    char detail[1024];
    int exit_code;
    uint64_t received_lsn;
    uint64_t server_wal_end;
    uint64_t last_flush_sent;
    uint64_t last_status_ms;
    uint64_t last_heartbeat_ms;
    uint64_t next_attempt_ms;
    uint64_t last_registry_poll_ms;
    int64_t last_commit_ts_us;
    uint64_t transactions;
    uint64_t decode_errors;
} reader_t;

static uint64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static int64_t now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void set_state(reader_t *r, reader_state_t state, const char *detail)
{
    r->state = state;
    snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
}

static void stop_reader(reader_t *r, int exit_code);

static void fatal(reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs and stops: nothing past the last acknowledged change is confirmed,
 * so a restart resumes where Kafka stopped. */
static void fatal(reader_t *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_error(r->set.slot, "%s", msg);
    stop_reader(r, 1);
}

/* Schema registration, built-in or external. */
static bool register_one(reader_t *r, const char *subject, const char *schema,
                         int *id, char *err, size_t errlen)
{
    int version;

    if (r->store)
        return registry_store_register(r->store, r->producer, subject, schema,
                                       id, &version, err, errlen);
    return registry_client_register(r->registry, subject, schema, id, err,
                                    errlen);
}

static bool register_schema(void *arg, table_schema_t *ts, char *err,
                            size_t errlen)
{
    reader_t *r = arg;
    char topic[512], subject[600];
    buf_t text;
    bool ok = false;

    buf_init(&text, 0);
    topics_name(r->set.prefix, ts->nspname, ts->relname, topic,
                sizeof(topic));
    ts->key_schema_id = 0;
    if (ts->nkeys > 0) {
        snprintf(subject, sizeof(subject), "%s-key", topic);
        if (!table_schema_key_avro(ts, r->set.prefix, &text) ||
            !buf_cstr(&text) ||
            !register_one(r, subject, (char *)text.data, &ts->key_schema_id,
                          err, errlen))
            goto out;
    }
    buf_reset(&text);
    snprintf(subject, sizeof(subject), "%s-value", topic);
    if (!table_schema_value_avro(ts, r->set.prefix, &text) ||
        !buf_cstr(&text) ||
        !register_one(r, subject, (char *)text.data, &ts->value_schema_id,
                      err, errlen))
        goto out;
    ok = true;

out:
    if (!ok && !*err)
        snprintf(err, errlen, "could not build the schema of \"%s.%s\"",
                 ts->nspname, ts->relname);
    buf_free(&text);
    return ok;
}

/* Producing records. */

/* Sends one record of the current transaction, unless the partition
 * already holds it (a replay after a restart or reconnect). */
static bool send_record(reader_t *r, rel_t *rel, int32_t partition,
                        const buf_t *key, const buf_t *value)
{
    topic_t *tp = rel->topic;
    wire_position_t pos = {r->txn.commit_lsn, ++r->txn.seq};
    produce_status_t st;

    if (wire_position_cmp(&pos, &tp->tail[partition]) <= 0) {
        tp->skipped++;
        return true;
    }
    st = producer_send(r->producer, r->txn.track, tp->rkt, partition,
                       key ? key->data : NULL, key ? key->len : 0,
                       value ? value->data : NULL, value ? value->len : 0,
                       &pos);
    if (st == PRODUCE_FAILED) {
        fatal(r, "%s", producer_error(r->producer));
        return false;
    }
    /* Later replays of this position are skipped as if it were in Kafka
     * already: if it never gets there the producer fails and we stop. */
    tp->tail[partition] = pos;
    tp->produced++;
    tp->bytes += (key ? key->len : 0) + (value ? value->len : 0);
    return true;
}

static int32_t partition_of(rel_t *rel, const buf_t *key)
{
    if (!key)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(rel->topic->rkt, key->data,
                                            key->len, rel->topic->partitions,
                                            NULL, NULL);
}

static bool encode_key(reader_t *r, rel_t *rel, const value_t *row,
                       buf_t **key)
{
    char err[512] = "";

    *key = NULL;
    if (rel->ts->nkeys == 0)
        return true;
    buf_reset(&r->keybuf);
    buf_reserve(&r->keybuf, WIRE_HEADER_SIZE);
    wire_put_header(r->keybuf.data, (uint32_t)rel->ts->key_schema_id);
    r->keybuf.len = WIRE_HEADER_SIZE;
    if (!codec_encode_key(rel->ts, row, &r->keybuf, err, sizeof(err))) {
        fatal(r, "cannot build the key of a change to \"%s.%s\" in "
                 "transaction %u: %s; a primary key stored out of line "
                 "(TOAST) needs REPLICA IDENTITY FULL",
              rel->ts->nspname, rel->ts->relname, r->txn.xid, err);
        return false;
    }
    *key = &r->keybuf;
    return true;
}

/* Encodes and sends one change; a delete is followed by a tombstone. */
static bool emit(reader_t *r, rel_t *rel, change_op_t op, value_t *before,
                 value_t *after, uint64_t lsn)
{
    change_t ch = {op, before, after, {0}, 0};
    char err[512] = "";
    buf_t *key;
    int32_t partition;

    ch.source.lsn = lsn;
    ch.source.commit_lsn = r->txn.commit_lsn;
    ch.source.txid = r->txn.xid;
    ch.source.commit_ts_us = r->txn.commit_ts_us;
    ch.source.identity = rel->replident;
    ch.ts_ms = now_us() / 1000;
    ch.source.seq = r->txn.seq + 1;

    if (!encode_key(r, rel, after ? after : before, &key))
        return false;
    partition = partition_of(rel, key);

    buf_reset(&r->valbuf);
    buf_reserve(&r->valbuf, WIRE_HEADER_SIZE);
    wire_put_header(r->valbuf.data, (uint32_t)rel->ts->value_schema_id);
    r->valbuf.len = WIRE_HEADER_SIZE;
    if (!codec_encode_change(rel->ts, &ch, &r->valbuf, err, sizeof(err))) {
        fatal(r, "%s (transaction %u)", err, r->txn.xid);
        return false;
    }
    if (!send_record(r, rel, partition, key, &r->valbuf))
        return false;
    if (op == OP_DELETE && key)
        return send_record(r, rel, partition, key, NULL);
    return true;
}

/* Parses a tuple into values of rel's columns. */
static value_t *tuple_values(reader_t *r, rel_t *rel,
                             const pgoutput_tuple_t *t, uint64_t lsn)
{
    value_t *row;
    char err[512];

    if (t->ncols != rel->ncols) {
        fatal(r, "change at %" PRIX64 " to \"%s.%s\" has %d columns but its "
                 "relation has %d",
              lsn, rel->ts->nspname, rel->ts->relname, t->ncols, rel->ncols);
        return NULL;
    }
    row = arena_alloc(&r->arena, (size_t)(t->ncols ? t->ncols : 1) *
                                     sizeof(value_t));
    if (!row) {
        fatal(r, "change to \"%s.%s\" needs more memory than allowed",
              rel->ts->nspname, rel->ts->relname);
        return NULL;
    }
    for (int i = 0; i < t->ncols; i++) {
        const pgoutput_datum_t *d = &t->cols[i];

        memset(&row[i], 0, sizeof(value_t));
        switch (d->kind) {
        case 'n':
            row[i].state = VALUE_NULL;
            break;
        case 'u':
            row[i].state = VALUE_UNCHANGED;
            break;
        case 't':
            if (!pgtype_parse(&rel->types[i], d->data, d->len, &r->arena,
                              &row[i], err, sizeof(err))) {
                fatal(r, "could not read column \"%s\" of \"%s.%s\" "
                         "(type %s): %s",
                      rel->ts->cols[i].name, rel->ts->nspname,
                      rel->ts->relname, rel->ts->cols[i].pg_type, err);
                return NULL;
            }
            break;
        default:
            fatal(r, "column \"%s\" of \"%s.%s\" arrived in binary form, "
                     "which this reader does not request",
                  rel->ts->cols[i].name, rel->ts->nspname, rel->ts->relname);
            return NULL;
        }
    }
    return row;
}

static bool key_changed(const rel_t *rel, const pgoutput_tuple_t *old_tuple,
                        const pgoutput_tuple_t *new_tuple)
{
    for (int i = 0; i < rel->ncols; i++) {
        const pgoutput_datum_t *a = &old_tuple->cols[i];
        const pgoutput_datum_t *b = &new_tuple->cols[i];

        if (!rel->ts->cols[i].key || b->kind == 'u')
            continue;
        if (a->kind != b->kind || a->len != b->len ||
            (a->len && memcmp(a->data, b->data, a->len) != 0))
            return true;
    }
    return false;
}

static rel_t *change_rel(reader_t *r, uint32_t oid)
{
    rel_t *rel = relcache_get(&r->relcache, oid);

    if (!rel)
        fatal(r, "change refers to relation %u, which no relation message "
                 "described",
              oid);
    else if (!r->txn.open)
        fatal(r, "change to \"%s.%s\" arrived outside a transaction",
              rel->ts->nspname, rel->ts->relname);
    return r->txn.open ? rel : NULL;
}

static bool handle_change(reader_t *r, const pgoutput_msg_t *m, uint64_t lsn)
{
    rel_t *rel = change_rel(r, m->u.change.oid);
    value_t *before = NULL, *after = NULL;
    const pgoutput_tuple_t *old_tuple = &m->u.change.old_tuple;
    const pgoutput_tuple_t *new_tuple = &m->u.change.new_tuple;

    if (!rel)
        return false;
    if (m->u.change.old_kind) {
        before = tuple_values(r, rel, old_tuple, lsn);
        if (!before)
            return false;
    }
    if (m->kind != PGO_DELETE) {
        after = tuple_values(r, rel, new_tuple, lsn);
        if (!after)
            return false;
    }

    switch (m->kind) {
    case PGO_INSERT:
        return emit(r, rel, OP_CREATE, NULL, after, lsn);
    case PGO_DELETE:
        return emit(r, rel, OP_DELETE, before, NULL, lsn);
    case PGO_UPDATE:
        /* With the whole old row, unchanged TOAST values are known. */
        if (before && m->u.change.old_kind == 'O') {
            for (int i = 0; i < rel->ncols; i++) {
                if (after[i].state == VALUE_UNCHANGED &&
                    before[i].state != VALUE_UNCHANGED)
                    after[i] = before[i];
            }
        }
        if (before && rel->ts->nkeys > 0 &&
            key_changed(rel, old_tuple, new_tuple)) {
            return emit(r, rel, OP_DELETE, before, NULL, lsn) &&
                   emit(r, rel, OP_CREATE, NULL, after, lsn);
        }
        return emit(r, rel, OP_UPDATE, before, after, lsn);
    default:
        return false;
    }
}

static bool handle_truncate(reader_t *r, const pgoutput_msg_t *m,
                            uint64_t lsn)
{
    for (int i = 0; i < m->u.truncate.nrels; i++) {
        rel_t *rel = change_rel(r, m->u.truncate.oids[i]);
        change_t ch = {OP_TRUNCATE, NULL, NULL, {0}, 0};
        char err[512] = "";
        uint64_t seq;

        if (!rel)
            return false;
        ch.source.lsn = lsn;
        ch.source.commit_lsn = r->txn.commit_lsn;
        ch.source.txid = r->txn.xid;
        ch.source.commit_ts_us = r->txn.commit_ts_us;
        ch.source.identity = rel->replident;
        ch.ts_ms = now_us() / 1000;
        ch.source.seq = r->txn.seq + 1;
        buf_reset(&r->valbuf);
        buf_reserve(&r->valbuf, WIRE_HEADER_SIZE);
        wire_put_header(r->valbuf.data, (uint32_t)rel->ts->value_schema_id);
        r->valbuf.len = WIRE_HEADER_SIZE;
        if (!codec_encode_change(rel->ts, &ch, &r->valbuf, err,
                                 sizeof(err))) {
            fatal(r, "%s", err);
            return false;
        }
        /* Every partition learns of the truncate, each at the same
         * position, so per-partition order holds for every key. */
        seq = r->txn.seq;
        for (int p = 0; p < rel->topic->partitions; p++) {
            r->txn.seq = seq;
            if (!send_record(r, rel, p, NULL, &r->valbuf))
                return false;
        }
    }
    return true;
}

static bool handle_relation(reader_t *r, const pgoutput_msg_t *m)
{
    int n = m->u.relation.ncols;
    const char **names = calloc((size_t)n + 1, sizeof(char *));
    uint32_t *oids = calloc((size_t)n + 1, sizeof(uint32_t));
    int32_t *mods = calloc((size_t)n + 1, sizeof(int32_t));
    bool *keys = calloc((size_t)n + 1, sizeof(bool));
    rel_desc_t d;
    char err[1024] = "";
    bool ok = false;

    if (!names || !oids || !mods || !keys) {
        fatal(r, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        names[i] = m->u.relation.cols[i].name;
        oids[i] = m->u.relation.cols[i].type_oid;
        mods[i] = m->u.relation.cols[i].typmod;
        keys[i] = m->u.relation.cols[i].key;
    }
    d.oid = m->u.relation.oid;
    d.nspname = m->u.relation.nspname;
    d.relname = m->u.relation.relname;
    d.replident = m->u.relation.replident;
    d.ncols = n;
    d.names = names;
    d.type_oids = oids;
    d.typmods = mods;
    d.key_flags = keys;
    if (!relcache_apply(&r->relcache, &d, err, sizeof(err)))
        fatal(r, "could not prepare table \"%s.%s\": %s", d.nspname,
              d.relname, err);
    else
        ok = true;

out:
    free(names);
    free(oids);
    free(mods);
    free(keys);
    return ok;
}

static bool handle_message(reader_t *r, const uint8_t *data, size_t len,
                           uint64_t lsn)
{
    pgoutput_msg_t m;
    char err[512];

    if (!pgoutput_decode(&r->decoder, data, len, &m, err, sizeof(err))) {
        r->decode_errors++;
        fatal(r, "could not decode the change stream at %X/%X: %s",
              (unsigned)(lsn >> 32), (unsigned)lsn, err);
        return false;
    }
    arena_reset(&r->arena);

    switch (m.kind) {
    case PGO_BEGIN:
        if (r->txn.open)
            producer_txn_commit(r->producer, r->txn.track, 0);
        r->txn.open = true;
        r->txn.xid = m.u.begin.xid;
        r->txn.commit_lsn = m.u.begin.final_lsn;
        r->txn.commit_ts_us = m.u.begin.commit_ts + PG_EPOCH_OFFSET_US;
        r->txn.seq = 0;
        r->txn.track = producer_txn_begin(r->producer);
        if (!r->txn.track) {
            fatal(r, "out of memory");
            return false;
        }
        return true;
    case PGO_COMMIT:
        if (!r->txn.open) {
            fatal(r, "commit at %X/%X without a transaction",
                  (unsigned)(lsn >> 32), (unsigned)lsn);
            return false;
        }
        producer_txn_commit(r->producer, r->txn.track, m.u.commit.end_lsn);
        r->txn.open = false;
        r->txn.track = NULL;
        r->transactions++;
        r->last_commit_ts_us = r->txn.commit_ts_us;
        return true;
    case PGO_RELATION:
        return handle_relation(r, &m);
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        return handle_change(r, &m, lsn);
    case PGO_TRUNCATE:
        return handle_truncate(r, &m, lsn);
    case PGO_TYPE:
        catalog_forget_types(r->catalog);
        return true;
    case PGO_ORIGIN:
    case PGO_MESSAGE:
        return true;
    }
    return true;
}

/* Status updates. */

static void send_status(reader_t *r, bool reply_requested)
{
    uint64_t flushed = producer_acked_lsn(r->producer);
    char err[512];

    if (!r->stream || r->state != STATE_STREAMING)
        return;
    if (!stream_send_status(r->stream, r->received_lsn, flushed,
                            reply_requested, err, sizeof(err))) {
        log_warning(r->set.slot, "%s", err);
        return;
    }
    if (flushed != r->last_flush_sent && log_enabled(LOG_DEBUG)) {
        char lsn[18];

        wire_lsn_format(flushed, lsn);
        log_debug(r->set.slot, "confirmed %s", lsn);
    }
    r->last_flush_sent = flushed;
    r->last_status_ms = now_ms();
}

/* The stream. */

static void on_stream_readable(uv_poll_t *h, int status, int events);

static void watch_stream(reader_t *r, bool on)
{
    if (on == r->stream_polling || !r->stream_poll_open)
        return;
    if (on)
        uv_poll_start(&r->stream_poll, UV_READABLE, on_stream_readable);
    else
        uv_poll_stop(&r->stream_poll);
    r->stream_polling = on;
}

static void drop_stream(reader_t *r)
{
    if (r->stream_poll_open) {
        uv_poll_stop(&r->stream_poll);
        uv_close((uv_handle_t *)&r->stream_poll, NULL);
        r->stream_poll_open = false;
        r->stream_polling = false;
    }
    stream_free(r->stream);
    r->stream = NULL;
    /* A transaction cut off mid-way is received again from its start;
     * what of it reached Kafka is skipped by position. */
    if (r->txn.open) {
        producer_txn_commit(r->producer, r->txn.track, 0);
        r->txn.open = false;
        r->txn.track = NULL;
    }
}

static void process_stream(reader_t *r)
{
    char err[512];

    for (int n = 0; n < MAX_EVENTS_PER_TURN; n++) {
        stream_msg_t msg;
        stream_event_t ev;

        if (r->state != STATE_STREAMING)
            return;
        if (producer_blocked(r->producer)) {
            /* Kafka's queue is full: leave the WAL in PostgreSQL until it
             * drains. */
            watch_stream(r, false);
            return;
        }
        ev = stream_read(r->stream, &msg, err, sizeof(err));
        switch (ev) {
        case STREAM_NONE:
            watch_stream(r, true);
            return;
        case STREAM_DATA:
            if (msg.wal_end > r->server_wal_end)
                r->server_wal_end = msg.wal_end;
            if (!handle_message(r, msg.data, msg.len, msg.wal_start))
                return;
            if (msg.wal_start > r->received_lsn)
                r->received_lsn = msg.wal_start;
            break;
        case STREAM_KEEPALIVE:
            if (msg.wal_end > r->server_wal_end)
                r->server_wal_end = msg.wal_end;
            /* Everything before wal_end has reached us; with nothing in
             * flight it is all in Kafka, so the slot may move on. */
            if (!r->txn.open && producer_idle(r->producer)) {
                producer_set_idle_lsn(r->producer, msg.wal_end);
                if (msg.wal_end > r->received_lsn)
                    r->received_lsn = msg.wal_end;
            }
            if (msg.reply_requested)
                send_status(r, false);
            break;
        case STREAM_END:
        case STREAM_ERROR:
            log_warning(r->set.slot, "%s; reconnecting",
                        ev == STREAM_END ? "replication stream ended" : err);
            drop_stream(r);
            set_state(r, STATE_RECONNECTING, err);
            r->next_attempt_ms = now_ms() + RECONNECT_MS;
            return;
        }
    }
    /* Let the loop serve Kafka and HTTP, then come back. */
    watch_stream(r, true);
}

static void on_stream_readable(uv_poll_t *h, int status, int events)
{
    reader_t *r = h->data;

    (void)events;
    (void)status;
    process_stream(r);
}

static void on_producer_event(uv_poll_t *h, int status, int events)
{
    reader_t *r = h->data;
    bool was_blocked = producer_blocked(r->producer);

    (void)status;
    (void)events;
    producer_poll(r->producer);
    if (producer_error(r->producer) && r->state != STATE_STOPPING) {
        fatal(r, "%s", producer_error(r->producer));
        return;
    }
    if (was_blocked && !producer_blocked(r->producer))
        process_stream(r);
}

/* Connects and starts streaming; on a busy slot becomes a standby. */
static void try_start_stream(reader_t *r)
{
    char err[1024], lsn[18];
    catalog_slot_t slot;
    bool busy = false;

    r->next_attempt_ms = now_ms() + (uint64_t)r->set.standby_retry_ms;
    r->stream = stream_connect(r->set.dburl, err, sizeof(err));
    if (!r->stream) {
        set_state(r, STATE_RECONNECTING, err);
        log_warning(r->set.slot, "%s; retrying", err);
        r->next_attempt_ms = now_ms() + RECONNECT_MS;
        return;
    }
    if (!stream_start(r->stream, r->set.slot, r->set.publication, &busy, err,
                      sizeof(err))) {
        stream_free(r->stream);
        r->stream = NULL;
        if (busy) {
            if (r->state != STATE_STANDBY)
                log_info(r->set.slot,
                         "slot is in use by another reader; waiting as a "
                         "standby");
            set_state(r, STATE_STANDBY, err);
            return;
        }
        set_state(r, STATE_RECONNECTING, err);
        log_warning(r->set.slot, "%s; retrying", err);
        r->next_attempt_ms = now_ms() + RECONNECT_MS;
        return;
    }

    /* The slot's confirmed position is where PostgreSQL resumes; Kafka
     * has everything before it. */
    if (catalog_slot(r->catalog, r->set.slot, &slot, err, sizeof(err)))
        producer_set_idle_lsn(r->producer, slot.confirmed_flush);
    wire_lsn_format(slot.confirmed_flush, lsn);
    log_info(r->set.slot, "streaming from %s (publication \"%s\", system %s)",
             lsn, r->set.publication, stream_system_id(r->stream));
    set_state(r, STATE_STREAMING, NULL);
    r->received_lsn = slot.confirmed_flush;
    r->last_heartbeat_ms = now_ms();

    uv_poll_init(&r->loop, &r->stream_poll, stream_socket(r->stream));
    r->stream_poll.data = r;
    r->stream_poll_open = true;
    r->stream_polling = false;
    process_stream(r);
}

/* Periodic work: status, heartbeats, standby, registry refresh. */
static void on_tick(uv_timer_t *t)
{
    reader_t *r = t->data;
    uint64_t now = now_ms();

    producer_poll(r->producer);
    if (producer_error(r->producer) && r->state != STATE_STOPPING) {
        fatal(r, "%s", producer_error(r->producer));
        return;
    }
    if (r->store && now - r->last_registry_poll_ms >= 1000) {
        registry_store_poll(r->store);
        r->last_registry_poll_ms = now;
    }

    switch (r->state) {
    case STATE_STREAMING:
        if (producer_acked_lsn(r->producer) != r->last_flush_sent &&
            now - r->last_status_ms >= (uint64_t)r->set.status_ms)
            send_status(r, false);
        else if (now - r->last_status_ms >= STATUS_IDLE_MS)
            send_status(r, false);
        if (now - r->last_heartbeat_ms >= (uint64_t)r->set.heartbeat_ms) {
            /* The server answers with a keepalive carrying its position,
             * which moves the slot when nothing is in flight. */
            r->last_heartbeat_ms = now;
            send_status(r, true);
        }
        if (!r->stream_polling && !producer_blocked(r->producer))
            process_stream(r);
        break;
    case STATE_STANDBY:
    case STATE_RECONNECTING:
        if (now >= r->next_attempt_ms)
            try_start_stream(r);
        break;
    case STATE_STARTING:
    case STATE_STOPPING:
        break;
    }
}

/* Stopping. */

/* Closes the reader's own handles; libwebsockets closes its own. */
static void close_handle(uv_handle_t *h, void *arg)
{
    reader_t *r = arg;

    if (uv_is_closing(h))
        return;
    if (h == (uv_handle_t *)&r->tick || h == (uv_handle_t *)&r->sigterm ||
        h == (uv_handle_t *)&r->sigint ||
        h == (uv_handle_t *)&r->producer_poll ||
        (r->stream_poll_open && h == (uv_handle_t *)&r->stream_poll))
        uv_close(h, NULL);
}

static void stop_reader(reader_t *r, int exit_code)
{
    uint64_t deadline = now_ms() + STOP_FLUSH_MS;

    if (r->state == STATE_STOPPING)
        return;
    if (exit_code > r->exit_code)
        r->exit_code = exit_code;
    set_state(r, STATE_STOPPING, NULL);
    if (r->stream_poll_open) {
        uv_poll_stop(&r->stream_poll);
        r->stream_polling = false;
    }

    /* Let Kafka acknowledge what it has, then confirm exactly that. */
    if (exit_code == 0) {
        while (!producer_idle(r->producer) && now_ms() < deadline &&
               !producer_error(r->producer)) {
            rd_kafka_flush(producer_handle(r->producer), 100);
            producer_poll(r->producer);
            if (r->txn.open)
                break;
        }
    }
    producer_poll(r->producer);
    if (r->stream) {
        char err[256], lsn[18];
        uint64_t flushed = producer_acked_lsn(r->producer);

        r->state = STATE_STREAMING;
        send_status(r, false);
        r->state = STATE_STOPPING;
        wire_lsn_format(flushed, lsn);
        log_info(r->set.slot, "confirmed %s before stopping", lsn);
        (void)err;
    }
    uv_stop(&r->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    reader_t *r = h->data;

    log_info(r->set.slot, "received %s; stopping", strsignal(signum));
    stop_reader(r, 0);
}

/* HTTP: health, readiness, metrics, registry. */

static void render_metrics(reader_t *r, buf_t *out)
{
    producer_stats_t ps;
    uint64_t acked = producer_acked_lsn(r->producer);
    int64_t lag_s = 0;
    const char *labels[5];

    producer_get_stats(r->producer, &ps);
    if (!producer_idle(r->producer) && r->last_commit_ts_us)
        lag_s = (now_us() - r->last_commit_ts_us) / 1000000;

    metrics_single(out, "cdc_reader_up", "gauge",
                   "1 while streaming, 0 in standby or reconnecting.",
                   r->state == STATE_STREAMING);
    metrics_single(out, "cdc_reader_confirmed_lsn", "gauge",
                   "LSN confirmed to PostgreSQL (everything before it is in "
                   "Kafka).",
                   (double)acked);
    metrics_single(out, "cdc_reader_received_lsn", "gauge",
                   "Latest LSN received from PostgreSQL.",
                   (double)r->received_lsn);
    metrics_single(out, "cdc_reader_lag_bytes", "gauge",
                   "WAL bytes between the server's position and what Kafka "
                   "has acknowledged.",
                   r->server_wal_end > acked
                       ? (double)(r->server_wal_end - acked)
                       : 0);
    metrics_single(out, "cdc_reader_lag_seconds", "gauge",
                   "Age of the oldest change not yet acknowledged by Kafka.",
                   (double)lag_s);
    metrics_single(out, "cdc_reader_transactions_total", "counter",
                   "Transactions received.", (double)r->transactions);
    metrics_single(out, "cdc_reader_produce_errors_total", "counter",
                   "Records Kafka did not accept.",
                   (double)ps.delivery_errors);
    metrics_single(out, "cdc_reader_queue_full_total", "counter",
                   "Times reading paused because Kafka's queue was full.",
                   (double)ps.queue_full_events);
    metrics_single(out, "cdc_reader_in_flight_records", "gauge",
                   "Records waiting for Kafka's acknowledgement.",
                   (double)ps.in_flight);
    metrics_single(out, "cdc_reader_decode_errors_total", "counter",
                   "Change stream messages that could not be decoded.",
                   (double)r->decode_errors);

    metrics_family(out, "cdc_reader_events_total", "counter",
                   "Records produced per topic.");
    for (int i = 0; i < topics_count(r->topics); i++) {
        topic_t *tp = topics_at(r->topics, i);

        labels[0] = "topic";
        labels[1] = tp->name;
        labels[2] = NULL;
        metrics_sample(out, "cdc_reader_events_total", labels,
                       (double)tp->produced);
    }
    metrics_family(out, "cdc_reader_bytes_total", "counter",
                   "Record bytes (key and value) produced per topic.");
    for (int i = 0; i < topics_count(r->topics); i++) {
        topic_t *tp = topics_at(r->topics, i);

        labels[0] = "topic";
        labels[1] = tp->name;
        labels[2] = NULL;
        metrics_sample(out, "cdc_reader_bytes_total", labels,
                       (double)tp->bytes);
    }
    metrics_family(out, "cdc_reader_replays_skipped_total", "counter",
                   "Replayed changes found already in Kafka and skipped.");
    for (int i = 0; i < topics_count(r->topics); i++) {
        topic_t *tp = topics_at(r->topics, i);

        labels[0] = "topic";
        labels[1] = tp->name;
        labels[2] = NULL;
        metrics_sample(out, "cdc_reader_replays_skipped_total", labels,
                       (double)tp->skipped);
    }
    if (r->store) {
        int schemas, subjects;

        registry_store_counts(r->store, &schemas, &subjects);
        metrics_single(out, "cdc_registry_schemas", "gauge",
                       "Schemas in the built-in registry.", schemas);
    }
    metrics_process(out);
}

static void handle_http(void *arg, const http_request_t *req,
                        http_response_t *resp)
{
    reader_t *r = arg;

    resp->status = 200;
    if (strcmp(req->path, "/healthz") == 0) {
        buf_puts(&resp->body, "ok\n");
        return;
    }
    if (strcmp(req->path, "/readyz") == 0) {
        if (r->state != STATE_STREAMING)
            resp->status = 503;
        buf_printf(&resp->body, "%s%s%s\n", state_names[r->state],
                   r->detail[0] ? ": " : "", r->detail);
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        render_metrics(r, &resp->body);
        return;
    }
    if (r->store && registry_store_http(r->store, r->producer, req, resp))
        return;
    resp->status = 404;
    buf_printf(&resp->body, "no such path \"%s\"; try /healthz, /readyz, "
                            "/metrics%s\n",
               req->path, r->store ? " or the schema registry API" : "");
}

/* Start-up. */

static bool load_settings(reader_t *r, char *err, size_t errlen)
{
    settings_t *s = &r->set;
    log_level_t level;

    s->dburl = config_get("CDC_DATABASE_URL");
    if (!s->dburl || !*s->dburl) {
        snprintf(err, errlen,
                 "CDC_DATABASE_URL is not set: give the database to follow, "
                 "for example postgresql://user@host:5432/dbname");
        return false;
    }
    s->prefix = config_get_or("CDC_TOPIC_PREFIX", "cdc");
    s->slot = config_get_or("CDC_SLOT", "cdc");
    s->publication = config_get_or("CDC_PUBLICATION", "cdc");
    s->tables = config_get_or("CDC_TABLES", "");
    s->http = config_get_or("CDC_READER_HTTP", "127.0.0.1:8081");
    s->registry_url = config_get_or("CDC_SCHEMA_REGISTRY_URL", "");
    if (!log_parse_level(config_get_or("CDC_LOG_LEVEL", "info"), &level)) {
        snprintf(err, errlen, "CDC_LOG_LEVEL=\"%s\" is not valid: give "
                              "debug, info, warning or error",
                 config_get("CDC_LOG_LEVEL"));
        return false;
    }
    log_set_level(level);
    log_set_debug_facilities(config_get_or("CDC_LOG_DEBUG", ""));
    return config_get_long("CDC_TOPIC_PARTITIONS", 4, 1, 10000,
                           &s->partitions, err, errlen) &&
           config_get_long("CDC_TOPIC_REPLICATION", -1, -1, 32,
                           &s->replication, err, errlen) &&
           config_get_long("CDC_HEARTBEAT_INTERVAL_MS", 10000, 100, 3600000,
                           &s->heartbeat_ms, err, errlen) &&
           config_get_long("CDC_STATUS_INTERVAL_MS", 1000, 10, 60000,
                           &s->status_ms, err, errlen) &&
           config_get_long("CDC_STANDBY_RETRY_MS", 2000, 100, 600000,
                           &s->standby_retry_ms, err, errlen);
}

static bool open_registry(reader_t *r, char *err, size_t errlen)
{
    char topic[512];

    if (r->set.registry_url[0]) {
        r->registry = registry_client_new(r->set.registry_url, 10000, err,
                                          errlen);
        if (r->registry)
            log_info(NULL, "using schema registry at %s",
                     r->set.registry_url);
        return r->registry != NULL;
    }
    snprintf(topic, sizeof(topic), "%s._schemas", r->set.prefix);
    if (!topics_create(r->topics, topic, 1, true, err, errlen))
        return false;
    r->store = registry_store_new(topic, err, errlen);
    if (!r->store || !registry_store_catch_up(r->store, 30000, err, errlen))
        return false;
    log_info(topic, "serving the schema registry on http://%s", r->set.http);
    return true;
}

/* Registers the schema of every published table, so consumers and pushers
 * know each table before its first change. */
static bool prepare_tables(reader_t *r, char *err, size_t errlen)
{
    catalog_table_t *tables = NULL;
    int ntables = 0;
    bool ok = true;

    if (!catalog_ensure_publication(r->catalog, r->set.publication,
                                    r->set.tables, err, errlen) ||
        !catalog_published_tables(r->catalog, r->set.publication, &tables,
                                  &ntables, err, errlen))
        return false;
    for (int i = 0; i < ntables && ok; i++) {
        catalog_table_t *t = &tables[i];
        const char **names = calloc((size_t)t->ncols + 1, sizeof(char *));
        uint32_t *oids = calloc((size_t)t->ncols + 1, sizeof(uint32_t));
        int32_t *mods = calloc((size_t)t->ncols + 1, sizeof(int32_t));
        bool *keys = calloc((size_t)t->ncols + 1, sizeof(bool));
        rel_desc_t d = {t->oid, t->nspname, t->relname, t->replident,
                        t->ncols, names, oids, mods, keys};

        if (!names || !oids || !mods || !keys) {
            snprintf(err, errlen, "out of memory");
            ok = false;
        }
        for (int c = 0; ok && c < t->ncols; c++) {
            names[c] = t->cols[c].name;
            oids[c] = t->cols[c].type_oid;
            mods[c] = t->cols[c].typmod;
            keys[c] = t->cols[c].key;
        }
        if (ok && !relcache_apply(&r->relcache, &d, err, errlen))
            ok = false;
        free(names);
        free(oids);
        free(mods);
        free(keys);
    }
    if (ok)
        log_info(r->set.publication, "publication has %d tables", ntables);
    catalog_tables_free(tables, ntables);
    return ok;
}

static bool ensure_slot(reader_t *r, char *err, size_t errlen)
{
    catalog_slot_t slot;
    stream_t *s;
    uint64_t lsn;
    char text[18];

    if (!catalog_slot(r->catalog, r->set.slot, &slot, err, errlen))
        return false;
    if (slot.exists) {
        if (!slot.logical_pgoutput || !slot.same_database) {
            snprintf(err, errlen,
                     "replication slot \"%s\" exists but is not a pgoutput "
                     "slot of database \"%s\": choose another CDC_SLOT or "
                     "drop it",
                     r->set.slot, catalog_database(r->catalog));
            return false;
        }
        return true;
    }
    s = stream_connect(r->set.dburl, err, errlen);
    if (!s)
        return false;
    if (!stream_create_slot(s, r->set.slot, NULL, 0, &lsn, err, errlen)) {
        stream_free(s);
        return false;
    }
    stream_free(s);
    wire_lsn_format(lsn, text);
    log_info(r->set.slot, "created replication slot at %s", text);
    return true;
}

static bool start(reader_t *r, char *err, size_t errlen)
{
    httpd_options_t http = {0};

    r->catalog = catalog_connect(r->set.dburl, err, errlen);
    if (!r->catalog)
        return false;
    log_info(r->set.slot, "connected to database \"%s\"",
             catalog_database(r->catalog));
    r->producer = producer_new(err, errlen);
    if (!r->producer)
        return false;
    r->topics = topics_new(producer_handle(r->producer),
                           (int)r->set.partitions, (int)r->set.replication,
                           err, errlen);
    if (!r->topics || !open_registry(r, err, errlen))
        return false;

    http.listen = r->set.http;
    http.handler = handle_http;
    http.handler_arg = r;
    r->http = httpd_start(&r->loop, &http, err, errlen);
    if (!r->http)
        return false;

    relcache_init(&r->relcache, r->catalog, r->topics, r->set.prefix,
                  register_schema, r);
    return prepare_tables(r, err, errlen) && ensure_slot(r, err, errlen);
}

int reader_run(void)
{
    reader_t *r = calloc(1, sizeof(*r));
    char err[1024] = "";
    int code;

    if (!r)
        return 1;
    if (!load_settings(r, err, sizeof(err))) {
        log_error(NULL, "%s", err);
        free(r);
        return 1;
    }
    config_warn_unknown(reader_settings,
                        (const char *const[]){"CDC_KAFKA_", NULL});
    uv_loop_init(&r->loop);
    pgoutput_decoder_init(&r->decoder);
    arena_init(&r->arena, DECODE_ARENA_LIMIT);
    buf_init(&r->keybuf, 0);
    buf_init(&r->valbuf, 0);
    set_state(r, STATE_STARTING, NULL);

    uv_signal_init(&r->loop, &r->sigterm);
    uv_signal_init(&r->loop, &r->sigint);
    r->sigterm.data = r->sigint.data = r;
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    uv_signal_start(&r->sigint, on_signal, SIGINT);

    log_info(r->set.slot, "cdc-reader %s starting (topic prefix \"%s\")",
             CDC_VERSION, r->set.prefix);
    if (!start(r, err, sizeof(err))) {
        log_error(r->set.slot, "%s", err);
        r->exit_code = 1;
        goto out;
    }

    uv_poll_init(&r->loop, &r->producer_poll,
                 producer_event_fd(r->producer));
    r->producer_poll.data = r;
    uv_poll_start(&r->producer_poll, UV_READABLE, on_producer_event);
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);

    try_start_stream(r);
    if (r->state != STATE_STOPPING)
        uv_run(&r->loop, UV_RUN_DEFAULT);

out:
    if (r->state != STATE_STOPPING && r->producer)
        stop_reader(r, r->exit_code);

    /* Our handles first, then libwebsockets', which closes its own while
     * the loop runs to the end. */
    uv_walk(&r->loop, close_handle, r);
    if (r->http)
        httpd_stop(r->http, &r->loop);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);

    r->stream_poll_open = false;
    drop_stream(r);
    relcache_free(&r->relcache);
    topics_free(r->topics);
    registry_store_free(r->store);
    registry_client_free(r->registry);
    producer_free(r->producer, 0);
    catalog_free(r->catalog);
    pgoutput_decoder_free(&r->decoder);
    arena_free(&r->arena);
    buf_free(&r->keybuf);
    buf_free(&r->valbuf);
    code = r->exit_code;
    log_info(NULL, "cdc-reader stopped%s", code ? " after an error" : "");
    free(r);
    return code;
}
