/* The reader's HTTP side on CDC_READER_HTTP: /healthz, /readyz with the
 * reader's state, Prometheus /metrics, and the built-in schema registry's
 * routes when it serves one.  Loop thread only. */
#ifndef CDC_READER_HTTP_H
#define CDC_READER_HTTP_H

#include "buf.h"
#include "producer.h"
#include "registry_store.h"
#include "snapshot.h"
#include "topics.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* What the reader shows of itself, filled at each request. */
typedef struct reader_view {
    const char *state;      /* "streaming", "standby", ... */
    const char *detail;     /* why, for /readyz; "" when nothing to add */
    bool ready;             /* streaming or taking the snapshot */
    uint64_t confirmed_lsn; /* told to PostgreSQL */
    uint64_t acked_lsn;     /* everything before it is in Kafka */
    uint64_t received_lsn;
    uint64_t server_lsn; /* the server's WAL end, as last reported */
    double lag_seconds;
    uint64_t transactions;
    uint64_t open_txn_records; /* of the transaction being received */
    uint64_t decode_errors;
    uint64_t heartbeats;
    bool blocked; /* reading paused: Kafka's queue is full */
    producer_stats_t producer;
    const topics_t *topics; /* may be NULL before start-up */
    bool snapshot_running;
    bool snapshot_known; /* a snapshot ran in this process */
    snapshot_progress_t snapshot;
    int registry_schemas; /* -1 without the built-in registry */
} reader_view_t;

typedef void (*reader_view_fn)(void *arg, reader_view_t *out);

typedef struct reader_http_options {
    const char *listen;
    reader_view_fn view;
    void *arg;
    registry_store_t *store; /* NULL with an external registry */
    producer_t *producer;    /* for registrations through the API */
} reader_http_options_t;

/* Starts serving on the loop.  NULL with err when the address is bad or
 * cannot be bound. */
struct lws_context *reader_http_start(uv_loop_t *loop,
                                      const reader_http_options_t *opts,
                                      char *err, size_t errlen);

/* Stops serving; see httpd_stop for the order of closing. */
void reader_http_stop(struct lws_context *ctx, uv_loop_t *loop);

/* Appends the Prometheus text of v to out. */
void reader_http_render_metrics(const reader_view_t *v, buf_t *out);

#endif
