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

/* A caller waiting for one message (schema records, state records). */
typedef struct producer_sync {
    int kind; /* set by producer_send_sync */
    bool done;
    rd_kafka_resp_err_t err;
} producer_sync_t;

typedef enum produce_status {
    PRODUCE_OK,
    PRODUCE_QUEUED,  /* Kafka's queue is full: kept, stop reading WAL */
    PRODUCE_FAILED,  /* fatal; see producer_error */
} produce_status_t;

/* Creates the producer from CDC_KAFKA_* settings over our defaults.  NULL
 * with err naming the refused setting. */
producer_t *producer_new(char *err, size_t errlen);

/* Flushes for at most timeout_ms and destroys. */
void producer_free(producer_t *p, int timeout_ms);

rd_kafka_t *producer_handle(producer_t *p);

/* Starts tracking a source transaction; NULL when out of memory. */
txn_track_t *producer_txn_begin(producer_t *p);

/* Marks the transaction committed: once its records are acknowledged the
 * acknowledged LSN may move to end_lsn. */
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
 * err when it is not acknowledged within timeout_ms. */
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

/* Non-NULL after a fatal error: the reader must stop without confirming
 * more. */
const char *producer_error(const producer_t *p);

/* File descriptor that becomes readable when delivery reports wait, for
 * the event loop. */
int producer_event_fd(producer_t *p);

/* Counters for /metrics. */
typedef struct producer_stats {
    uint64_t records_sent;
    uint64_t records_acked;
    uint64_t bytes_acked;
    uint64_t delivery_errors;
    uint64_t queue_full_events;
    size_t in_flight;
} producer_stats_t;

void producer_get_stats(const producer_t *p, producer_stats_t *out);

#endif
