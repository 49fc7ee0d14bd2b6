/* The reader's Kafka producer: idempotent, acks=all, with the bookkeeping
 * that turns delivery reports into the LSN PostgreSQL may forget up to.
 *
 * Every source transaction gets a txn_track_t; records produced for it count
 * as outstanding until Kafka acknowledges them.  The acknowledged LSN moves
 * to a transaction's end only when it is committed, all its records are
 * acknowledged, and so are all transactions before it.  Runs on the
 * reader's loop thread; delivery reports are served by producer_poll. */
#ifndef CDC_PRODUCER_H
#define CDC_PRODUCER_H

#include "wire.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct producer producer_t;
typedef struct txn_track txn_track_t;

typedef enum produce_status {
    PRODUCE_OK,
    PRODUCE_QUEUED, /* Kafka's queue is full: kept, stop reading WAL */
    PRODUCE_FAILED, /* fatal; see producer_error */
} produce_status_t;

/* Creates the producer from CDC_KAFKA_* settings over our defaults.  NULL
 * with err naming the refused setting. */
producer_t *producer_new(char *err, size_t errlen);

/* Flushes for at most timeout_ms and destroys. */
void producer_free(producer_t *p, int timeout_ms);

rd_kafka_t *producer_handle(producer_t *p);

/* Starts tracking a source transaction committed at commit_ts_us (for the
 * lag in seconds); NULL when out of memory.  The tracker belongs to the
 * producer; the caller hands it back with producer_txn_commit. */
txn_track_t *producer_txn_begin(producer_t *p, int64_t commit_ts_us);

/* Marks the transaction committed: once its records are acknowledged the
 * acknowledged LSN may move to end_lsn (0: a transaction given up, which
 * moves nothing).  t must not be used afterwards. */
void producer_txn_commit(producer_t *p, txn_track_t *t, uint64_t end_lsn);

/* Produces one record of transaction t to an explicit partition.  value
 * NULL makes a tombstone.  The position travels as a record header.  Bytes
 * are copied. */
produce_status_t producer_send(producer_t *p, txn_track_t *t,
                               rd_kafka_topic_t *rkt, int32_t partition,
                               const void *key, size_t keylen,
                               const void *value, size_t valuelen,
                               const wire_position_t *pos);

/* Produces one record outside any transaction and waits until Kafka
 * acknowledges it, serving other delivery reports meanwhile.  false with
 * err when Kafka refuses it or does not acknowledge it within timeout_ms
 * (it may still be written later). */
bool producer_send_sync(producer_t *p, const char *topic, int32_t partition,
                        const void *key, size_t keylen, const void *value,
                        size_t valuelen, int timeout_ms, char *err,
                        size_t errlen);

/* Serves delivery reports and retries records kept while the queue was
 * full.  Never blocks. */
void producer_poll(producer_t *p);

/* True while records wait for room in Kafka's queue. */
bool producer_blocked(const producer_t *p);

/* The LSN up to which everything is in Kafka (0 before anything). */
uint64_t producer_acked_lsn(const producer_t *p);

/* Sets the acknowledged LSN when nothing is in flight (start position,
 * heartbeats); ignored while transactions are outstanding. */
void producer_set_idle_lsn(producer_t *p, uint64_t lsn);

/* True when nothing is waiting for acknowledgement. */
bool producer_idle(const producer_t *p);

/* Serves delivery reports until the producer is idle, a fatal error
 * happens or timeout_ms passes.  Returns producer_idle. */
bool producer_flush(producer_t *p, int timeout_ms);

/* Commit time (microseconds since 1970) of the oldest transaction not yet
 * acknowledged, or 0 when there is none. */
int64_t producer_oldest_unacked_ts(const producer_t *p);

/* Non-NULL after a fatal error (a record Kafka refused for good, or the
 * idempotent producer failing): the reader must stop without confirming
 * more.  Kafka being unreachable is not an error: records wait, without a
 * time limit unless CDC_KAFKA_MESSAGE_TIMEOUT_MS sets one. */
const char *producer_error(const producer_t *p);

/* File descriptor that becomes readable when delivery reports wait, for
 * the event loop. */
int producer_event_fd(producer_t *p);

/* Counters for /metrics. */
#define PRODUCER_LATENCY_BUCKETS 12

/* Upper bounds, in seconds, of the commit-to-acknowledgement histogram. */
extern const double producer_latency_bounds[PRODUCER_LATENCY_BUCKETS];

typedef struct producer_stats {
    uint64_t records_sent;
    uint64_t records_acked;
    uint64_t bytes_acked;
    uint64_t delivery_errors;
    uint64_t queue_full_events;
    size_t in_flight;
    /* From a transaction's commit in PostgreSQL to Kafka acknowledging its
     * last record: counts per bucket (the last one past every bound). */
    uint64_t latency[PRODUCER_LATENCY_BUCKETS + 1];
    uint64_t latency_count;
    double latency_sum;
} producer_stats_t;

void producer_get_stats(const producer_t *p, producer_stats_t *out);

#endif
