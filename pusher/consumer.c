/* Live consumption of change topics: assignment on demand, priming,
 * de-duplication by position, decoding and dispatch. */
#define _GNU_SOURCE
#include "consumer.h"

#include "collections.h"
#include "conn.h"
#include "fanout.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_SIZE         1024
#define UNUSED_RELEASE_MS  60000
#define DECODE_ARENA_LIMIT ((size_t)256 << 20)

typedef struct consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int pipe[2];
    uv_poll_t poll;
    bool poll_open;
    rd_kafka_message_t *batch[BATCH_SIZE];
    int nbatch;
    int at;      /* next message of batch to process */
    bool paused; /* waiting for a schema */
    arena_t arena;
    buf_t cursor;
    int64_t last_error_log_ms;
} consumer_t;

static void process(pusher_t *p);

static void on_readable(uv_poll_t *h, int status, int events)
{
    pusher_t *p = h->data;
    consumer_t *k = p->consumer;
    char drain[256];

    (void)status;
    (void)events;
    while (read(k->pipe[0], drain, sizeof(drain)) > 0)
        ;
    process(p);
}

bool consumer_init(pusher_t *p, char *err, size_t errlen)
{
    char fetch_wait[16];
    const char *defaults[] = {
        "group.id",
        "cdc-pusher",
        "enable.auto.commit",
        "false",
        "enable.partition.eof",
        "false",
        "auto.offset.reset",
        "latest",
        "fetch.wait.max.ms",
        fetch_wait,
        "fetch.error.backoff.ms",
        "50",
        "client.id",
        "cdc-pusher",
        NULL,
    };
    consumer_t *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!k) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    p->consumer = k;
    k->pipe[0] = k->pipe[1] = -1;
    arena_init(&k->arena, DECODE_ARENA_LIMIT);
    buf_init(&k->cursor, 0);
    snprintf(fetch_wait, sizeof(fetch_wait), "%ld", p->set.fetch_wait_ms);

    conf = kafka_conf_new(defaults, err, errlen);
    if (!conf)
        return false;
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!k->rk) {
        snprintf(err, errlen, "could not create Kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return false;
    }
    /* Errors and logs come through the same queue as messages. */
    rd_kafka_poll_set_consumer(k->rk);
    k->queue = rd_kafka_queue_get_consumer(k->rk);
    if (pipe2(k->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "could not create pipe: %s", strerror(errno));
        return false;
    }
    rd_kafka_queue_io_event_enable(k->queue, k->pipe[1], "1", 1);
    uv_poll_init(&p->loop, &k->poll, k->pipe[0]);
    k->poll_open = true;
    k->poll.data = p;
    uv_poll_start(&k->poll, UV_READABLE, on_readable);
    return true;
}

static void consumer_closed(uv_handle_t *h)
{
    consumer_t *k = h->data;

    if (k->pipe[0] >= 0)
        close(k->pipe[0]);
    free(k);
}

void consumer_free(pusher_t *p)
{
    consumer_t *k = p->consumer;

    if (!k)
        return;
    for (int i = k->at; i < k->nbatch; i++) {
        if (k->batch[i])
            rd_kafka_message_destroy(k->batch[i]);
    }
    for (int i = 0; i < p->ncolls; i++) {
        live_topic_t *lt = p->colls[i]->live;

        if (lt) {
            rd_kafka_topic_destroy(lt->rkt);
            free(lt->parts);
            free(lt);
            p->colls[i]->live = NULL;
        }
    }
    if (k->queue)
        rd_kafka_queue_destroy(k->queue);
    if (k->rk) {
        rd_kafka_consumer_close(k->rk);
        rd_kafka_destroy(k->rk);
    }
    if (k->pipe[1] >= 0)
        close(k->pipe[1]);
    arena_free(&k->arena);
    buf_free(&k->cursor);
    p->consumer = NULL;
    /* The poll handle is part of k: free it once the loop let it go. */
    if (k->poll_open) {
        k->poll.data = k;
        uv_close((uv_handle_t *)&k->poll, consumer_closed);
    } else {
        k->poll.data = k;
        consumer_closed((uv_handle_t *)&k->poll);
    }
}

bool consumer_position(const rd_kafka_message_t *m, wire_position_t *pos)
{
    rd_kafka_headers_t *hdrs;
    const void *value;
    size_t size;

    return rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
           rd_kafka_header_get_last(hdrs, WIRE_POSITION_HEADER, &value,
                                    &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
           value && wire_position_parse(value, size, pos);
}

static void cursor_part_of_live(const void *arg, int i, cursor_part_t *out)
{
    const live_part_t *part = &((const live_topic_t *)arg)->parts[i];

    out->next_offset = part->next_offset;
    out->last_pos = part->last_pos;
    out->max_pos = part->max_pos;
}

void consumer_cursor(pusher_t *p, const live_topic_t *lt, buf_t *out)
{
    cursor_encode_from(lt->hash, lt->nparts, cursor_part_of_live, lt,
                       p->cursor_key, out);
}

/* The topic is ready: waiting subscriptions start from here. */
static void activate(pusher_t *p, live_topic_t *lt)
{
    collection_t *coll = lt->coll;
    consumer_t *k = p->consumer;
    sub_t *s = coll->waiting;

    lt->state = LIVE_ACTIVE;
    coll->waiting = NULL;
    buf_reset(&k->cursor);
    consumer_cursor(p, lt, &k->cursor);
    while (s) {
        sub_t *next = s->next_waiting;

        s->next_waiting = NULL;
        fanout_go_live(p, s, (const char *)k->cursor.data, k->cursor.len);
        s = next;
    }
    log_info(coll->topic, "reading %d partitions live", lt->nparts);
}

bool consumer_watch(pusher_t *p, collection_t *coll, char *err, size_t errlen)
{
    consumer_t *k = p->consumer;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_error_t *e;
    live_topic_t *lt;
    int n;

    if (coll->live) {
        coll->live->unused_since_ms = 0;
        return true;
    }
    n = kafka_partition_count(k->rk, coll->topic, 5000, err, errlen);
    if (n <= 0)
        return false;
    lt = calloc(1, sizeof(*lt));
    if (!lt || !(lt->parts = calloc((size_t)n, sizeof(live_part_t)))) {
        free(lt);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    lt->coll = coll;
    lt->nparts = n;
    lt->state = LIVE_PRIMING;
    cursor_topic_hash(coll->topic, lt->hash);
    lt->rkt = rd_kafka_topic_new(k->rk, coll->topic, NULL);

    parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t qe = rd_kafka_query_watermark_offsets(
            k->rk, coll->topic, i, &low, &high, 5000);

        if (qe) {
            snprintf(err, errlen,
                     "could not read the end of topic \"%s\" partition %d: "
                     "%s",
                     coll->topic, i, rd_kafka_err2str(qe));
            rd_kafka_topic_partition_list_destroy(parts);
            rd_kafka_topic_destroy(lt->rkt);
            free(lt->parts);
            free(lt);
            return false;
        }
        lt->parts[i].next_offset = high;
        lt->parts[i].priming_offset = -1;
        /* The record before the end tells the position a cursor taken
         * now must carry. */
        if (high > low) {
            lt->parts[i].priming_offset = high - 1;
            lt->priming_left++;
        }
        rd_kafka_topic_partition_list_add(parts, coll->topic, i)->offset =
            high > low ? high - 1 : high;
    }
    e = rd_kafka_incremental_assign(k->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        snprintf(err, errlen, "could not read topic \"%s\": %s", coll->topic,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_topic_destroy(lt->rkt);
        free(lt->parts);
        free(lt);
        return false;
    }
    coll->live = lt;
    if (lt->priming_left == 0)
        activate(p, lt);
    return true;
}

void consumer_unused(pusher_t *p, collection_t *coll)
{
    (void)p;
    if (coll->live)
        coll->live->unused_since_ms = (uint64_t)pusher_now_ms();
}

/* The topic live_of found last, remembered for the next message; release
 * forgets it with the live topic. */
static const rd_kafka_topic_t *last_rkt;
static live_topic_t *last_lt;

static void release(pusher_t *p, collection_t *coll)
{
    consumer_t *k = p->consumer;
    live_topic_t *lt = coll->live;
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(lt->nparts);
    rd_kafka_error_t *e;

    for (int i = 0; i < lt->nparts; i++)
        rd_kafka_topic_partition_list_add(parts, coll->topic, i);
    e = rd_kafka_incremental_unassign(k->rk, parts);
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(parts);

    /* Messages of this topic still in the batch would point at it. */
    for (int i = k->at; i < k->nbatch; i++) {
        if (k->batch[i] && k->batch[i]->rkt &&
            strcmp(rd_kafka_topic_name(k->batch[i]->rkt), coll->topic) == 0) {
            rd_kafka_message_destroy(k->batch[i]);
            k->batch[i] = NULL;
        }
    }
    if (last_lt == lt) {
        last_lt = NULL;
        last_rkt = NULL;
    }
    rd_kafka_topic_destroy(lt->rkt);
    free(lt->parts);
    free(lt);
    coll->live = NULL;
    log_info(coll->topic, "released: no subscriptions left");
}

void consumer_tick(pusher_t *p)
{
    uint64_t now = (uint64_t)pusher_now_ms();

    /* librdkafka signals only when its queue turns non-empty; draining
     * here too means an event that raced with the last drain is never
     * left waiting. */
    process(p);

    for (int i = 0; i < p->ncolls; i++) {
        collection_t *coll = p->colls[i];
        live_topic_t *lt = coll->live;

        if (lt && coll->nsubs == 0 && lt->unused_since_ms &&
            now - lt->unused_since_ms >= UNUSED_RELEASE_MS)
            release(p, coll);
    }
}

int consumer_decode(pusher_t *p, collection_t *coll, const void *value,
                    size_t len, arena_t *arena, change_t *ch,
                    const table_schema_t **ts_out, char *err, size_t errlen)
{
    const table_schema_t *ts;
    uint32_t id;
    int st;

    if (!wire_get_header(value, len, &id)) {
        snprintf(err, errlen,
                 "record of topic \"%s\" is not in the "
                 "Confluent wire format",
                 coll->topic);
        return -1;
    }
    st = collections_schema(p, (int)id, &ts, err, errlen);
    if (st <= 0)
        return st;
    if (!codec_decode_change(ts, (const uint8_t *)value + WIRE_HEADER_SIZE,
                             len - WIRE_HEADER_SIZE, arena, ch, err, errlen))
        return -1;
    /* Without FULL identity the old row holds the key columns only. */
    if (ch->before && ch->source.identity != 'f') {
        for (int i = 0; i < ts->ncols; i++) {
            if (!ts->cols[i].key)
                ch->before[i].state = VALUE_UNCHANGED;
        }
    }
    *ts_out = ts;
    return 1;
}

/* The live topic of a message; the topic handle's own opaque cannot be
 * used, as librdkafka keeps the configuration of the handle's first
 * creation. */
static live_topic_t *live_of(pusher_t *p, const rd_kafka_message_t *m)
{
    const char *name;

    if (!m->rkt)
        return NULL;
    if (m->rkt == last_rkt && last_lt && last_lt->coll->live == last_lt)
        return last_lt;
    name = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < p->ncolls; i++) {
        if (p->colls[i]->live && strcmp(p->colls[i]->topic, name) == 0) {
            last_rkt = m->rkt;
            last_lt = p->colls[i]->live;
            return last_lt;
        }
    }
    return NULL;
}

static struct {
    pusher_t *p;
    const live_topic_t *lt;
} live_cursor_arg;

static void live_cursor(void *arg, buf_t *out)
{
    typeof(live_cursor_arg) *a = arg;

    consumer_cursor(a->p, a->lt, out);
}

/* Handles one message; returns false to pause (schema being fetched). */
static bool handle(pusher_t *p, rd_kafka_message_t *m)
{
    consumer_t *k = p->consumer;
    live_topic_t *lt = live_of(p, m);
    live_part_t *part;
    wire_position_t pos = {0, 0};
    bool has_pos;
    const table_schema_t *ts = NULL;
    change_t ch;
    char err[512];
    int st = 1;

    if (m->err) {
        int64_t now = pusher_now_ms();

        if (now - k->last_error_log_ms > 10000) {
            k->last_error_log_ms = now;
            log_warning(m->rkt ? rd_kafka_topic_name(m->rkt) : "kafka",
                        "consumer: %s", rd_kafka_message_errstr(m));
        }
        return true;
    }
    if (!lt || m->partition < 0 || m->partition >= lt->nparts)
        return true;
    part = &lt->parts[m->partition];
    has_pos = consumer_position(m, &pos);

    if (part->priming_offset >= 0) {
        if (m->offset != part->priming_offset)
            return true;
        part->priming_offset = -1;
        part->next_offset = m->offset + 1;
        if (has_pos)
            part->last_pos = part->max_pos = pos;
        if (--lt->priming_left == 0)
            activate(p, lt);
        return true;
    }
    if (m->offset < part->next_offset)
        return true;

    if (has_pos && part->max_pos.commit_lsn &&
        wire_position_cmp(&pos, &part->max_pos) <= 0) {
        /* The reader wrote this change twice (a replay after a crash). */
        p->stats.duplicates++;
        part->next_offset = m->offset + 1;
        part->last_pos = pos;
        replay_live_record(p, lt, m->partition, NULL, NULL);
        return true;
    }

    if (m->payload && lt->coll->nsubs > 0) {
        arena_reset(&k->arena);
        st = consumer_decode(p, lt->coll, m->payload, m->len, &k->arena, &ch,
                             &ts, err, sizeof(err));
        if (st == 0)
            return false;
        if (st < 0) {
            p->stats.decode_errors++;
            log_error(lt->coll->topic,
                      "skipping record at partition %d offset %lld: %s",
                      m->partition, (long long)m->offset, err);
        }
    }

    part->next_offset = m->offset + 1;
    part->last_pos = pos;
    if (wire_position_cmp(&pos, &part->max_pos) > 0)
        part->max_pos = pos;
    if (!m->payload || st < 0 || !ts) {
        replay_live_record(p, lt, m->partition, NULL, NULL);
        return true;
    }
    p->stats.events++;

    live_cursor_arg.p = p;
    live_cursor_arg.lt = lt;
    fanout_dispatch(p, lt->coll, ts, &ch, live_cursor, &live_cursor_arg);
    replay_live_record(p, lt, m->partition, ts, &ch);
    return true;
}

static void process(pusher_t *p)
{
    consumer_t *k = p->consumer;

    if (k->paused)
        return;
    for (;;) {
        while (k->at < k->nbatch) {
            rd_kafka_message_t *m = k->batch[k->at];

            if (m && !handle(p, m)) {
                k->paused = true;
                conn_flush_dirty(p);
                return;
            }
            if (m)
                rd_kafka_message_destroy(m);
            k->batch[k->at++] = NULL;
        }
        k->at = 0;
        k->nbatch = (int)rd_kafka_consume_batch_queue(k->queue, 0, k->batch,
                                                      BATCH_SIZE);
        if (k->nbatch <= 0) {
            k->nbatch = 0;
            break;
        }
    }
    conn_flush_batched(p);
}

void consumer_resume(pusher_t *p)
{
    consumer_t *k = p->consumer;

    if (!k || !k->paused)
        return;
    k->paused = false;
    process(p);
}

void consumer_metrics(pusher_t *p, buf_t *out)
{
    consumer_t *k = p->consumer;

    metrics_family(out, "cdc_pusher_consumer_lag", "gauge",
                   "Records between the live position and the end of each "
                   "partition.");
    for (int i = 0; i < p->ncolls; i++) {
        live_topic_t *lt = p->colls[i]->live;

        for (int j = 0; lt && j < lt->nparts; j++) {
            int64_t low = 0, high = 0;
            char part[16];
            const char *labels[] = {"topic", p->colls[i]->topic, "partition",
                                    part, NULL};

            snprintf(part, sizeof(part), "%d", j);
            if (rd_kafka_get_watermark_offsets(k->rk, p->colls[i]->topic, j,
                                               &low, &high) != 0)
                continue;
            metrics_sample(out, "cdc_pusher_consumer_lag", labels,
                           high > lt->parts[j].next_offset
                               ? (double)(high - lt->parts[j].next_offset)
                               : 0);
        }
    }
}
