/* The reader's health, readiness, metrics and registry routes. */
#include "reader_http.h"

#include "httpd.h"
#include "metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader_http {
    reader_http_options_t opt;
} reader_http_t;

static void per_topic(buf_t *out, const reader_view_t *v, const char *name,
                      const char *help, size_t offset)
{
    const char *labels[3] = {"topic", NULL, NULL};

    metrics_family(out, name, "counter", help);
    for (int i = 0; v->topics && i < topics_count(v->topics); i++) {
        const topic_t *tp = topics_at(v->topics, i);

        labels[1] = tp->name;
        metrics_sample(out, name, labels,
                       (double)*(const uint64_t *)((const char *)tp + offset));
    }
}

/* The commit-to-acknowledgement histogram, cumulative as Prometheus
 * wants it. */
static void latency(buf_t *out, const producer_stats_t *ps)
{
    static const char name[] = "cdc_reader_ack_latency_seconds";
    const char *labels[3] = {"le", NULL, NULL};
    char bound[32], metric[64];
    uint64_t total = 0;

    metrics_family(out, name, "histogram",
                   "Time from a transaction's commit in PostgreSQL to "
                   "Kafka acknowledging its last record.");
    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (int b = 0; b <= PRODUCER_LATENCY_BUCKETS; b++) {
        total += ps->latency[b];
        if (b < PRODUCER_LATENCY_BUCKETS)
            snprintf(bound, sizeof(bound), "%g", producer_latency_bounds[b]);
        else
            snprintf(bound, sizeof(bound), "+Inf");
        labels[1] = bound;
        metrics_sample(out, metric, labels, (double)total);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    metrics_sample(out, metric, NULL, ps->latency_sum);
    snprintf(metric, sizeof(metric), "%s_count", name);
    metrics_sample(out, metric, NULL, (double)ps->latency_count);
}

void reader_http_render_metrics(const reader_view_t *v, buf_t *out)
{
    static const char *const states[] = {
        "starting",     "standby",  "snapshot", "streaming",
        "reconnecting", "stopping", NULL,
    };
    const char *labels[3] = {"state", NULL, NULL};
    uint64_t behind =
        v->server_lsn > v->acked_lsn ? v->server_lsn - v->acked_lsn : 0;

    metrics_single(out, "cdc_reader_up", "gauge",
                   "1 while streaming or taking the snapshot, 0 in standby "
                   "or reconnecting.",
                   v->ready);
    metrics_family(out, "cdc_reader_state", "gauge",
                   "1 for the state the reader is in.");
    for (int i = 0; states[i]; i++) {
        labels[1] = states[i];
        metrics_sample(out, "cdc_reader_state", labels,
                       strcmp(states[i], v->state) == 0);
    }
    metrics_single(out, "cdc_reader_confirmed_lsn", "gauge",
                   "LSN last confirmed to PostgreSQL (everything before it "
                   "is in Kafka).",
                   (double)v->confirmed_lsn);
    metrics_single(out, "cdc_reader_acknowledged_lsn", "gauge",
                   "LSN up to which Kafka has acknowledged everything.",
                   (double)v->acked_lsn);
    metrics_single(out, "cdc_reader_received_lsn", "gauge",
                   "Latest LSN received from PostgreSQL.",
                   (double)v->received_lsn);
    metrics_single(out, "cdc_reader_server_lsn", "gauge",
                   "The server's WAL position as last reported to the "
                   "reader.",
                   (double)v->server_lsn);
    metrics_single(out, "cdc_reader_lag_bytes", "gauge",
                   "WAL bytes between the server's position and what Kafka "
                   "has acknowledged.",
                   (double)behind);
    metrics_single(out, "cdc_reader_lag_seconds", "gauge",
                   "Age of the oldest received change Kafka has not yet "
                   "acknowledged; 0 when all is acknowledged.",
                   v->lag_seconds);
    metrics_single(out, "cdc_reader_transactions_total", "counter",
                   "Transactions received.", (double)v->transactions);
    metrics_single(out, "cdc_reader_open_transaction_records", "gauge",
                   "Records so far of the transaction being received (0 "
                   "between transactions).",
                   (double)v->open_txn_records);
    metrics_single(out, "cdc_reader_heartbeats_total", "counter",
                   "Heartbeats sent to move the slot while published "
                   "tables are quiet.",
                   (double)v->heartbeats);
    metrics_single(out, "cdc_reader_records_sent_total", "counter",
                   "Records handed to the Kafka producer.",
                   (double)v->producer.records_sent);
    metrics_single(out, "cdc_reader_records_acked_total", "counter",
                   "Records Kafka acknowledged.",
                   (double)v->producer.records_acked);
    metrics_single(out, "cdc_reader_produce_errors_total", "counter",
                   "Records Kafka did not accept.",
                   (double)v->producer.delivery_errors);
    metrics_single(out, "cdc_reader_queue_full_total", "counter",
                   "Times reading paused because Kafka's queue was full.",
                   (double)v->producer.queue_full_events);
    metrics_single(out, "cdc_reader_blocked", "gauge",
                   "1 while reading is paused because Kafka's queue is "
                   "full.",
                   v->blocked);
    metrics_single(out, "cdc_reader_in_flight_records", "gauge",
                   "Records waiting for Kafka's acknowledgement.",
                   (double)v->producer.in_flight);
    metrics_single(out, "cdc_reader_decode_errors_total", "counter",
                   "Change stream messages that could not be decoded.",
                   (double)v->decode_errors);

    latency(out, &v->producer);
    per_topic(out, v, "cdc_reader_events_total",
              "Records produced per table topic.", offsetof(topic_t, produced));
    per_topic(out, v, "cdc_reader_bytes_total",
              "Record bytes (key and value) produced per table topic.",
              offsetof(topic_t, bytes));
    per_topic(out, v, "cdc_reader_replays_skipped_total",
              "Replayed changes found already in Kafka and skipped.",
              offsetof(topic_t, skipped));

    metrics_single(out, "cdc_reader_snapshot_running", "gauge",
                   "1 while the initial snapshot is read.",
                   v->snapshot_running);
    if (v->snapshot_known) {
        metrics_single(out, "cdc_reader_snapshot_tables", "gauge",
                       "Tables the snapshot reads.", v->snapshot.tables_total);
        metrics_single(out, "cdc_reader_snapshot_tables_done", "gauge",
                       "Tables the snapshot has read completely.",
                       v->snapshot.tables_done);
        metrics_single(out, "cdc_reader_snapshot_rows_total", "counter",
                       "Rows the snapshot has produced.",
                       (double)v->snapshot.rows);
        metrics_single(out, "cdc_reader_snapshot_rows_per_second", "gauge",
                       "Snapshot rows per second since it started.",
                       v->snapshot.rows_per_second);
        metrics_single(out, "cdc_reader_snapshot_seconds", "gauge",
                       "Time the snapshot has taken so far.",
                       v->snapshot.seconds);
    }
    if (v->registry_schemas >= 0)
        metrics_single(out, "cdc_registry_schemas", "gauge",
                       "Schemas in the built-in registry.",
                       v->registry_schemas);
    metrics_process(out);
}

static void handle(void *arg, const http_request_t *req, http_response_t *resp)
{
    reader_http_t *h = arg;
    reader_view_t v;

    memset(&v, 0, sizeof(v));
    v.registry_schemas = -1;
    h->opt.view(h->opt.arg, &v);
    resp->status = 200;
    if (strcmp(req->path, "/healthz") == 0) {
        buf_puts(&resp->body, "ok\n");
        return;
    }
    if (strcmp(req->path, "/readyz") == 0) {
        if (!v.ready)
            resp->status = 503;
        buf_printf(&resp->body, "%s%s%s\n", v.state,
                   v.detail && v.detail[0] ? ": " : "",
                   v.detail ? v.detail : "");
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        reader_http_render_metrics(&v, &resp->body);
        return;
    }
    if (h->opt.store &&
        registry_store_http(h->opt.store, h->opt.producer, req, resp))
        return;
    resp->status = 404;
    buf_printf(&resp->body,
               "no such path \"%s\"; try /healthz, /readyz, "
               "/metrics%s\n",
               req->path, h->opt.store ? " or the schema registry API" : "");
}

struct lws_context *reader_http_start(uv_loop_t *loop,
                                      const reader_http_options_t *opts,
                                      char *err, size_t errlen)
{
    reader_http_t *h = calloc(1, sizeof(*h));
    httpd_options_t http = {0};
    struct lws_context *ctx;

    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->opt = *opts;
    http.listen = opts->listen;
    http.handler = handle;
    http.handler_arg = h;
    http.user = h;
    ctx = httpd_start(loop, &http, err, errlen);
    if (!ctx)
        free(h);
    return ctx;
}

void reader_http_stop(struct lws_context *ctx, uv_loop_t *loop)
{
    reader_http_t *h = httpd_user(ctx);

    httpd_stop(ctx, loop);
    free(h);
}
