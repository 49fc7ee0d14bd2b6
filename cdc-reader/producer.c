/* Idempotent Kafka producer with per-transaction acknowledgement tracking
 * and a small holding queue for records refused while Kafka's queue is full. */
#define _GNU_SOURCE
#include "producer.h"

#include "clock.h"
#include "kafka.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum delivery_kind { DELIVERY_RECORD = 1, DELIVERY_SYNC = 2 };

struct txn_track {
    int kind; /* DELIVERY_RECORD: first, so the opaque can be told apart */
    uint64_t end_lsn;
    int64_t commit_ts_us;
    uint32_t outstanding;
    bool committed;
    txn_track_t *next;
};

/* A record someone waits for (schema registrations, state records).  On
 * the heap: one a caller stopped waiting for is kept until the producer
 * goes, as its delivery report may still come. */
typedef struct sync_wait {
    int kind; /* DELIVERY_SYNC */
    bool done;
    bool abandoned;
    rd_kafka_resp_err_t err;
    struct sync_wait *next; /* abandoned ones, freed at the end */
} sync_wait_t;

typedef struct pending {
    struct pending *next;
    txn_track_t *txn;
    rd_kafka_topic_t *rkt;
    int32_t partition;
    void *key;
    size_t keylen;
    void *value; /* NULL: tombstone */
    size_t valuelen;
    wire_position_t pos;
} pending_t;

struct producer {
    rd_kafka_t *rk;
    int event_pipe[2];
    txn_track_t *head, *tail; /* transactions in commit order */
    txn_track_t *free_tracks;
    pending_t *pending_head, *pending_tail;
    size_t pending_count;
    sync_wait_t *abandoned;
    uint64_t acked_lsn;
    char error[512];
    producer_stats_t stats;
    time_t last_warning;
};

static void set_error(producer_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(producer_t *p, const char *fmt, ...)
{
    va_list ap;

    if (p->error[0])
        return;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
}

/* Moves the acknowledged LSN over every finished transaction at the head. */
const double producer_latency_bounds[PRODUCER_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60,
};

/* Counts how long a transaction took from its commit to Kafka. */
static void observe_latency(producer_t *p, const txn_track_t *t)
{
    double seconds = (double)(clock_wall_us() - t->commit_ts_us) / 1e6;
    int b = 0;

    if (seconds < 0)
        seconds = 0;
    while (b < PRODUCER_LATENCY_BUCKETS && seconds > producer_latency_bounds[b])
        b++;
    p->stats.latency[b]++;
    p->stats.latency_count++;
    p->stats.latency_sum += seconds;
}

static void advance(producer_t *p)
{
    while (p->head && p->head->committed && p->head->outstanding == 0) {
        txn_track_t *t = p->head;

        /* Transactions given up, and the snapshot, end at 0. */
        if (t->end_lsn && t->commit_ts_us)
            observe_latency(p, t);
        if (t->end_lsn > p->acked_lsn)
            p->acked_lsn = t->end_lsn;
        p->head = t->next;
        if (!p->head)
            p->tail = NULL;
        t->next = p->free_tracks;
        p->free_tracks = t;
    }
}

/* Records Kafka refused for good: the error names the topic, the reason
 * and what to change. */
static void refuse(producer_t *p, const char *topic, size_t bytes,
                   rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        set_error(p,
                  "a record of %zu bytes for topic \"%s\" is larger than "
                  "Kafka accepts: raise CDC_KAFKA_MESSAGE_MAX_BYTES and the "
                  "topic's max.message.bytes, then restart",
                  bytes, topic);
        break;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        set_error(p,
                  "Kafka refused to let this reader write to topic \"%s\": "
                  "%s; grant it Write and IdempotentWrite, then restart",
                  topic, rd_kafka_err2str(e));
        break;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        set_error(p,
                  "Kafka did not acknowledge a record for topic \"%s\" "
                  "within CDC_KAFKA_MESSAGE_TIMEOUT_MS; the reader stops and "
                  "resumes from the last acknowledged change when restarted",
                  topic);
        break;
    default:
        set_error(p, "could not deliver to topic \"%s\": %s", topic,
                  rd_kafka_err2str(e));
        break;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
    producer_t *p = opaque;
    int *kind = msg->_private;

    (void)rk;
    if (kind && *kind == DELIVERY_SYNC) {
        sync_wait_t *sync = msg->_private;

        sync->done = true;
        sync->err = msg->err;
        return;
    }
    if (msg->err) {
        p->stats.delivery_errors++;
        refuse(p, rd_kafka_topic_name(msg->rkt), msg->len + msg->key_len,
               msg->err);
        return;
    }
    p->stats.records_acked++;
    p->stats.bytes_acked += msg->len + msg->key_len;
    if (kind) {
        txn_track_t *t = msg->_private;

        if (t->outstanding > 0)
            t->outstanding--;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    producer_t *p = opaque;
    char fatal[512];
    time_t now = time(NULL);

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        set_error(p, "Kafka producer failed: %s", fatal);
        return;
    }
    /* Brokers going away is retried by librdkafka; say so once in a while
     * rather than for every reconnect attempt. */
    if (now - p->last_warning >= 10) {
        p->last_warning = now;
        log_warning("kafka", "%s (retrying)", reason);
    }
}

producer_t *producer_new(char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "enable.idempotence",
        "true",
        "acks",
        "all",
        "linger.ms",
        "5",
        /* Kafka being away is waited out (reading stops while the queue
         * is full); a refused record is an error at once. */
        "message.timeout.ms",
        "0",
        "queue.buffering.max.kbytes",
        "65536",
        "queue.buffering.max.messages",
        "100000",
        "client.id",
        "cdc-reader",
        NULL,
    };
    producer_t *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->event_pipe[0] = p->event_pipe[1] = -1;
    conf = kafka_conf_new(defaults, err, errlen);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->rk) {
        snprintf(err, errlen, "could not create Kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (pipe2(p->event_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "could not create pipe: %s", strerror(errno));
        goto fail;
    }
    {
        rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);

        rd_kafka_queue_io_event_enable(q, p->event_pipe[1], "1", 1);
        rd_kafka_queue_destroy(q);
    }
    return p;

fail:
    producer_free(p, 0);
    return NULL;
}

void producer_free(producer_t *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->rk) {
        if (timeout_ms > 0)
            rd_kafka_flush(p->rk, timeout_ms);
        rd_kafka_destroy(p->rk);
    }
    while (p->pending_head) {
        pending_t *x = p->pending_head;

        p->pending_head = x->next;
        free(x->key);
        free(x->value);
        free(x);
    }
    while (p->head) {
        txn_track_t *t = p->head;

        p->head = t->next;
        free(t);
    }
    while (p->abandoned) {
        sync_wait_t *w = p->abandoned;

        p->abandoned = w->next;
        free(w);
    }
    while (p->free_tracks) {
        txn_track_t *t = p->free_tracks;

        p->free_tracks = t->next;
        free(t);
    }
    if (p->event_pipe[0] >= 0)
        close(p->event_pipe[0]);
    if (p->event_pipe[1] >= 0)
        close(p->event_pipe[1]);
    free(p);
}

rd_kafka_t *producer_handle(producer_t *p)
{
    return p->rk;
}

int producer_event_fd(producer_t *p)
{
    return p->event_pipe[0];
}

txn_track_t *producer_txn_begin(producer_t *p, int64_t commit_ts_us)
{
    txn_track_t *t = p->free_tracks;

    if (t)
        p->free_tracks = t->next;
    else
        t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    t->kind = DELIVERY_RECORD;
    t->end_lsn = 0;
    t->commit_ts_us = commit_ts_us;
    t->outstanding = 0;
    t->committed = false;
    t->next = NULL;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    return t;
}

void producer_txn_commit(producer_t *p, txn_track_t *t, uint64_t end_lsn)
{
    t->end_lsn = end_lsn;
    t->committed = true;
    advance(p);
}

/* One attempt to hand a record to librdkafka. */
static rd_kafka_resp_err_t try_produce(producer_t *p, txn_track_t *t,
                                       rd_kafka_topic_t *rkt, int32_t partition,
                                       const void *key, size_t keylen,
                                       const void *value, size_t valuelen,
                                       const wire_position_t *pos)
{
    char header[WIRE_POSITION_MAX + 1];
    int hlen = wire_position_format(pos, header);

    return rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, keylen),
        RD_KAFKA_V_VALUE((void *)value, valuelen),
        RD_KAFKA_V_HEADER(WIRE_POSITION_HEADER, header, (ssize_t)hlen),
        RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
}

static bool hold(producer_t *p, txn_track_t *t, rd_kafka_topic_t *rkt,
                 int32_t partition, const void *key, size_t keylen,
                 const void *value, size_t valuelen, const wire_position_t *pos)
{
    pending_t *x = calloc(1, sizeof(*x));

    if (!x)
        return false;
    x->txn = t;
    x->rkt = rkt;
    x->partition = partition;
    x->pos = *pos;
    if (keylen) {
        x->key = malloc(keylen);
        if (!x->key)
            goto fail;
        memcpy(x->key, key, keylen);
        x->keylen = keylen;
    }
    if (value) {
        x->value = malloc(valuelen ? valuelen : 1);
        if (!x->value)
            goto fail;
        memcpy(x->value, value, valuelen);
        x->valuelen = valuelen;
    }
    if (p->pending_tail)
        p->pending_tail->next = x;
    else
        p->pending_head = x;
    p->pending_tail = x;
    p->pending_count++;
    return true;

fail:
    free(x->key);
    free(x);
    return false;
}

produce_status_t producer_send(producer_t *p, txn_track_t *t,
                               rd_kafka_topic_t *rkt, int32_t partition,
                               const void *key, size_t keylen,
                               const void *value, size_t valuelen,
                               const wire_position_t *pos)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__QUEUE_FULL;

    if (p->error[0])
        return PRODUCE_FAILED;
    t->outstanding++;
    p->stats.records_sent++;
    /* Records behind held ones wait too, so order within a partition holds. */
    if (!p->pending_head)
        e = try_produce(p, t, rkt, partition, key, keylen, value, valuelen,
                        pos);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return PRODUCE_OK;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (!p->pending_head)
            p->stats.queue_full_events++;
        if (hold(p, t, rkt, partition, key, keylen, value, valuelen, pos))
            return PRODUCE_QUEUED;
        set_error(p, "out of memory holding a record for topic \"%s\"",
                  rd_kafka_topic_name(rkt));
        return PRODUCE_FAILED;
    }
    refuse(p, rd_kafka_topic_name(rkt), keylen + valuelen, e);
    return PRODUCE_FAILED;
}

static void retry_pending(producer_t *p)
{
    while (p->pending_head && !p->error[0]) {
        pending_t *x = p->pending_head;
        rd_kafka_resp_err_t e =
            try_produce(p, x->txn, x->rkt, x->partition, x->key, x->keylen,
                        x->value, x->valuelen, &x->pos);

        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return;
        if (e) {
            refuse(p, rd_kafka_topic_name(x->rkt), x->keylen + x->valuelen, e);
            return;
        }
        p->pending_head = x->next;
        if (!p->pending_head)
            p->pending_tail = NULL;
        p->pending_count--;
        free(x->key);
        free(x->value);
        free(x);
    }
}

void producer_poll(producer_t *p)
{
    char drain[256];

    while (read(p->event_pipe[0], drain, sizeof(drain)) > 0)
        ;
    rd_kafka_poll(p->rk, 0);
    advance(p);
    retry_pending(p);
}

bool producer_send_sync(producer_t *p, const char *topic, int32_t partition,
                        const void *key, size_t keylen, const void *value,
                        size_t valuelen, int timeout_ms, char *err,
                        size_t errlen)
{
    sync_wait_t *sync = calloc(1, sizeof(*sync));
    rd_kafka_resp_err_t e;
    int waited = 0;
    bool ok = false;

    if (!sync) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    sync->kind = DELIVERY_SYNC;
    for (;;) {
        e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, keylen),
                              RD_KAFKA_V_VALUE((void *)value, valuelen),
                              RD_KAFKA_V_OPAQUE(sync), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited >= timeout_ms)
            break;
        rd_kafka_poll(p->rk, 100);
        waited += 100;
    }
    if (e) {
        snprintf(err, errlen, "could not produce to topic \"%s\": %s", topic,
                 rd_kafka_err2str(e));
        free(sync);
        return false;
    }
    while (!sync->done && waited < timeout_ms) {
        rd_kafka_poll(p->rk, 100);
        waited += 100;
    }
    advance(p);
    if (!sync->done) {
        /* The delivery report may still come: keep it until the end. */
        sync->abandoned = true;
        sync->next = p->abandoned;
        p->abandoned = sync;
        snprintf(err, errlen,
                 "Kafka did not acknowledge a record on topic \"%s\" within "
                 "%d ms",
                 topic, timeout_ms);
        return false;
    }
    if (sync->err)
        snprintf(err, errlen, "could not write to topic \"%s\": %s", topic,
                 rd_kafka_err2str(sync->err));
    else
        ok = true;
    free(sync);
    return ok;
}

bool producer_blocked(const producer_t *p)
{
    return p->pending_head != NULL;
}

uint64_t producer_acked_lsn(const producer_t *p)
{
    return p->acked_lsn;
}

bool producer_idle(const producer_t *p)
{
    return p->head == NULL && p->pending_head == NULL;
}

bool producer_flush(producer_t *p, int timeout_ms)
{
    int waited = 0;

    producer_poll(p);
    while (!producer_idle(p) && !p->error[0] && waited < timeout_ms) {
        rd_kafka_flush(p->rk, 100);
        producer_poll(p);
        waited += 100;
    }
    return producer_idle(p);
}

int64_t producer_oldest_unacked_ts(const producer_t *p)
{
    return p->head ? p->head->commit_ts_us : 0;
}

void producer_set_idle_lsn(producer_t *p, uint64_t lsn)
{
    if (producer_idle(p) && lsn > p->acked_lsn)
        p->acked_lsn = lsn;
}

const char *producer_error(const producer_t *p)
{
    return p->error[0] ? p->error : NULL;
}

void producer_get_stats(const producer_t *p, producer_stats_t *out)
{
    *out = p->stats;
    out->in_flight = (size_t)rd_kafka_outq_len(p->rk);
}
