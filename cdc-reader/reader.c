/* The reader's loop: start-up (settings, registry, publication, topics),
 * taking the slot (a standby while another reader holds it, the initial
 * snapshot when the slot is new), the replication stream handed to the
 * change events, status updates that confirm only what Kafka acknowledged,
 * heartbeats, reconnection and a clean stop. */
#include "reader.h"

#include "catalog.h"
#include "changes.h"
#include "clock.h"
#include "log.h"
#include "producer.h"
#include "reader_config.h"
#include "reader_http.h"
#include "registrar.h"
#include "relcache.h"
#include "snapshot.h"
#include "stream.h"
#include "topics.h"
#include "wire.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uv.h>

#define TICK_MS             100
#define STATUS_IDLE_MS      10000
#define STOP_FLUSH_MS       30000
#define STOP_STREAM_MS      5000
#define RECONNECT_MS        2000
#define MAX_EVENTS_PER_TURN 2000

typedef enum reader_state {
    STATE_STARTING,
    STATE_STANDBY,
    STATE_SNAPSHOT,
    STATE_STREAMING,
    STATE_RECONNECTING,
    STATE_STOPPING,
} reader_state_t;

static const char *const state_names[] = {
    "starting", "standby", "snapshot", "streaming", "reconnecting", "stopping",
};

typedef enum snapshot_status {
    SNAP_RUNNING,
    SNAP_READ,   /* every table read; waiting for Kafka */
    SNAP_FAILED, /* taken again, keeping the slot */
    SNAP_FATAL,
} snapshot_status_t;

typedef struct reader {
    reader_config_t set;
    uv_loop_t loop;
    uv_poll_t *stream_poll; /* on the heap: freed when closed */
    bool stream_polling;
    uv_idle_t more;  /* goes on reading after a full turn */
    uv_timer_t kick; /* runs the snapshot's next step soon */
    uv_poll_t producer_poll;
    uv_timer_t tick;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct lws_context *http;

    catalog_t *catalog;
    stream_t *stream;
    bool streaming; /* the stream is in copy mode */
    producer_t *producer;
    registrar_t reg;
    topics_t *topics;
    relcache_t relcache;
    changes_t changes;
    uint32_t *table_oids;
    int ntables;
    bool locked;
    bool tails_fresh;

    snapshot_t *snapshot;
    snapshot_status_t snap_status;
    char snap_err[1024];
    uint64_t snap_lsn;
    uint32_t snap_attempt;
    bool snapshot_known;
    snapshot_progress_t snapshot_last;
    char mark_topic[512];
    char mark_key[512];

    reader_state_t state;
    char detail[1024];
    int exit_code;
    uint64_t received_lsn;
    uint64_t server_wal_end;
    uint64_t last_flush_sent;
    uint64_t last_status_ms;
    uint64_t last_heartbeat_ms;
    uint64_t heartbeats;
    uint64_t next_attempt_ms;
    uint64_t last_registry_poll_ms;
} reader_t;

static uint64_t now_ms(void)
{
    return (uint64_t)clock_mono_ms();
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

/* Status updates. */

static void send_status(reader_t *r, bool reply_requested)
{
    uint64_t flushed = producer_acked_lsn(r->producer);
    char err[512];

    if (!r->stream || !r->streaming)
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
    if (on == r->stream_polling || !r->stream_poll)
        return;
    if (on)
        uv_poll_start(r->stream_poll, UV_READABLE, on_stream_readable);
    else
        uv_poll_stop(r->stream_poll);
    r->stream_polling = on;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void release_lock(reader_t *r)
{
    if (r->locked)
        snapshot_unlock(catalog_conn(r->catalog), r->set.slot);
    r->locked = false;
}

/* Closes the replication connection.  A transaction cut off mid-way is
 * received again from its start; what of it reached Kafka is skipped by
 * position. */
static void drop_stream(reader_t *r)
{
    if (r->stream_poll) {
        uv_close((uv_handle_t *)r->stream_poll, free_handle);
        r->stream_poll = NULL;
        r->stream_polling = false;
    }
    uv_idle_stop(&r->more);
    stream_free(r->stream);
    r->stream = NULL;
    r->streaming = false;
    changes_abandon(&r->changes);
    /* Another reader may write before this one streams again. */
    r->tails_fresh = false;
}

static void retry_later(reader_t *r, const char *why)
{
    log_warning(r->set.slot, "%s; retrying", why);
    release_lock(r);
    drop_stream(r);
    set_state(r, STATE_RECONNECTING, why);
    r->next_attempt_ms = now_ms() + RECONNECT_MS;
}

static void become_standby(reader_t *r, const char *why)
{
    release_lock(r);
    drop_stream(r);
    if (r->state != STATE_STANDBY)
        log_info(r->set.slot, "%s; waiting as a standby", why);
    set_state(r, STATE_STANDBY, why);
    r->next_attempt_ms = now_ms() + (uint64_t)r->set.standby_retry_ms;
}

/* A value its Avro type cannot carry comes again on every start, so the
 * reader cannot pass it by itself.  What went out before it is flushed
 * first: skipping its transaction as the message says loses nothing
 * else. */
static void refuse_change(reader_t *r, const char *why)
{
    uint64_t skip = r->changes.txn.commit_lsn + 1;
    uint32_t xid = r->changes.txn.xid;

    changes_abandon(&r->changes);
    if (!producer_flush(r->producer, STOP_FLUSH_MS))
        log_error(r->set.slot,
                  "%s; Kafka has not acknowledged the changes before it: "
                  "start the reader again once Kafka is reachable",
                  why);
    else
        log_error(r->set.slot,
                  "%s; the reader cannot go past transaction %u: to skip "
                  "it, stop every reader and run SELECT "
                  "pg_replication_slot_advance('%s', '%X/%X') (what of it "
                  "reached Kafka stays there)",
                  why, xid, r->set.slot, (unsigned)(skip >> 32),
                  (unsigned)skip);
    stop_reader(r, 1);
}

static void process_stream(reader_t *r);

static void on_more(uv_idle_t *h)
{
    process_stream(h->data);
}

static void process_stream(reader_t *r)
{
    char err[1024];

    uv_idle_stop(&r->more);
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
            if (!changes_apply(&r->changes, msg.data, msg.len, msg.wal_start,
                               err, sizeof(err))) {
                if (r->changes.refused)
                    refuse_change(r, err);
                else
                    fatal(r, "%s", err);
                return;
            }
            if (msg.wal_start > r->received_lsn)
                r->received_lsn = msg.wal_start;
            break;
        case STREAM_KEEPALIVE:
            if (msg.wal_end > r->server_wal_end)
                r->server_wal_end = msg.wal_end;
            /* Everything before wal_end has reached us; with nothing in
             * flight it is all in Kafka, so the slot may move on. */
            if (!changes_in_transaction(&r->changes) &&
                producer_idle(r->producer)) {
                producer_set_idle_lsn(r->producer, msg.wal_end);
                if (msg.wal_end > r->received_lsn)
                    r->received_lsn = msg.wal_end;
            }
            if (msg.reply_requested)
                send_status(r, false);
            break;
        case STREAM_END:
        case STREAM_ERROR:
            retry_later(r, ev == STREAM_END ? "replication stream ended" : err);
            return;
        }
    }
    /* Let the loop serve Kafka and HTTP, then come back: libpq may hold
     * complete messages the socket will not announce again. */
    watch_stream(r, false);
    uv_idle_start(&r->more, on_more);
}

static void on_stream_readable(uv_poll_t *h, int status, int events)
{
    reader_t *r = h->data;

    (void)events;
    (void)status;
    process_stream(r);
}

static void snapshot_step(reader_t *r);

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
    if (r->state == STATE_SNAPSHOT)
        snapshot_step(r);
    else if (was_blocked && !producer_blocked(r->producer))
        process_stream(r);
}

/* Starts streaming on the connection that holds or created the slot. */
static void start_streaming(reader_t *r)
{
    char err[1024], lsn[18];
    catalog_slot_t slot;
    bool busy = false;

    if (!stream_start(r->stream, r->set.slot, r->set.publication, &busy, err,
                      sizeof(err))) {
        if (busy)
            become_standby(r, err);
        else
            retry_later(r, err);
        return;
    }
    r->streaming = true;
    release_lock(r);

    /* The slot's confirmed position is where PostgreSQL resumes; Kafka
     * has everything before it. */
    memset(&slot, 0, sizeof(slot));
    if (!catalog_slot(r->catalog, r->set.slot, &slot, err, sizeof(err)))
        log_warning(r->set.slot, "%s", err);
    producer_set_idle_lsn(r->producer, slot.confirmed_flush);
    if (slot.confirmed_flush > r->received_lsn)
        r->received_lsn = slot.confirmed_flush;
    r->last_flush_sent = producer_acked_lsn(r->producer);
    wire_lsn_format(slot.confirmed_flush, lsn);
    log_info(r->set.slot, "streaming from %s (publication \"%s\", system %s)",
             lsn, r->set.publication, stream_system_id(r->stream));
    set_state(r, STATE_STREAMING, NULL);
    r->last_heartbeat_ms = now_ms();

    r->stream_poll = malloc(sizeof(*r->stream_poll));
    if (!r->stream_poll) {
        fatal(r, "out of memory");
        return;
    }
    uv_poll_init(&r->loop, r->stream_poll, stream_socket(r->stream));
    r->stream_poll->data = r;
    r->stream_polling = false;
    process_stream(r);
}

/* Describes every published table to the relation cache (registering its
 * schemas, so consumers know each table before its first change) and keeps
 * the list for the snapshot. */
static bool prepare_tables(reader_t *r, char *err, size_t errlen)
{
    catalog_table_t *tables = NULL;
    int ntables = 0;
    uint32_t *oids;
    bool ok = true;

    if (!catalog_ensure_publication(r->catalog, r->set.publication,
                                    r->set.tables, err, errlen) ||
        !catalog_published_tables(r->catalog, r->set.publication, &tables,
                                  &ntables, err, errlen))
        return false;
    oids = calloc(ntables ? (size_t)ntables : 1, sizeof(uint32_t));
    if (!oids) {
        snprintf(err, errlen, "out of memory");
        ok = false;
    }
    for (int i = 0; i < ntables && ok; i++) {
        catalog_table_t *t = &tables[i];
        const char **names = calloc((size_t)t->ncols + 1, sizeof(char *));
        uint32_t *types = calloc((size_t)t->ncols + 1, sizeof(uint32_t));
        int32_t *mods = calloc((size_t)t->ncols + 1, sizeof(int32_t));
        bool *keys = calloc((size_t)t->ncols + 1, sizeof(bool));
        rel_desc_t d = {t->oid, t->nspname, t->relname, t->replident, t->ncols,
                        names,  types,      mods,       keys};

        if (!names || !types || !mods || !keys) {
            snprintf(err, errlen, "out of memory");
            ok = false;
        }
        for (int c = 0; ok && c < t->ncols; c++) {
            names[c] = t->cols[c].name;
            types[c] = t->cols[c].type_oid;
            mods[c] = t->cols[c].typmod;
            keys[c] = t->cols[c].key;
        }
        if (ok && !relcache_apply(&r->relcache, &d, err, errlen))
            ok = false;
        if (ok)
            oids[i] = t->oid;
        free(names);
        free(types);
        free(mods);
        free(keys);
    }
    catalog_tables_free(tables, ntables);
    if (!ok) {
        free(oids);
        return false;
    }
    if (!r->table_oids || r->ntables != ntables)
        log_info(r->set.publication, "publication has %d tables", ntables);
    free(r->table_oids);
    r->table_oids = oids;
    r->ntables = ntables;
    return true;
}

/* The initial snapshot. */

static void on_kick(uv_timer_t *t)
{
    snapshot_step(t->data);
}

static void on_snapshot_done(void *arg, bool ok, bool fatal_error,
                             const char *err)
{
    reader_t *r = arg;

    r->snap_status = ok ? SNAP_READ : fatal_error ? SNAP_FATAL : SNAP_FAILED;
    snprintf(r->snap_err, sizeof(r->snap_err), "%s", err ? err : "");
    /* Not from inside the snapshot's own call chain. */
    uv_timer_start(&r->kick, on_kick, 0, 0);
}

static void end_snapshot(reader_t *r)
{
    if (!r->snapshot)
        return;
    snapshot_get_progress(r->snapshot, &r->snapshot_last);
    snapshot_free(r->snapshot);
    r->snapshot = NULL;
}

/* Reads every published table and produces its rows as r events.  With
 * no earlier attempt, creates the slot with an exported snapshot and reads
 * under it; otherwise the slot, never confirmed since, stays at its
 * consistent point and the tables are read under a new snapshot, the
 * stream then replaying every change made since that point.  Called
 * holding the lock, with the stream connected. */
static void begin_snapshot(reader_t *r, const snapshot_mark_t *earlier,
                           uint64_t slot_lsn)
{
    snapshot_mark_t mark = {SNAPSHOT_MARK_STARTED, 0, 1, 0};
    snapshot_options_t opts;
    char err[1024] = "", name[128] = "", lsn[18];
    bool busy = false;

    if (!prepare_tables(r, err, sizeof(err))) {
        retry_later(r, err);
        return;
    }
    if (earlier) {
        mark.attempt = earlier->attempt + 1;
        r->snap_lsn = slot_lsn;
    } else {
        /* Marked first, so that a slot found without its snapshot
         * finished is recognised whenever this process dies. */
        if (!snapshot_mark_write(r->producer, r->mark_topic, r->mark_key, &mark,
                                 err, sizeof(err))) {
            retry_later(r, err);
            return;
        }
        if (!stream_create_slot(r->stream, r->set.slot, name, sizeof(name),
                                &r->snap_lsn, &busy, err, sizeof(err))) {
            if (busy)
                become_standby(r, err);
            else
                retry_later(r, err);
            return;
        }
        wire_lsn_format(r->snap_lsn, lsn);
        log_info(r->set.slot,
                 "created replication slot at %s with snapshot "
                 "\"%s\"",
                 lsn, name);
    }
    mark.consistent_lsn = r->snap_lsn;
    if (!snapshot_mark_write(r->producer, r->mark_topic, r->mark_key, &mark,
                             err, sizeof(err))) {
        retry_later(r, err);
        return;
    }

    memset(&opts, 0, sizeof(opts));
    opts.loop = &r->loop;
    opts.dburl = r->set.dburl;
    opts.publication = r->set.publication;
    opts.snapshot_name = earlier ? NULL : name;
    opts.consistent_lsn = r->snap_lsn;
    opts.attempt = mark.attempt;
    opts.table_oids = r->table_oids;
    opts.ntables = r->ntables;
    opts.chunk_rows = (int)r->set.chunk_rows;
    opts.changes = &r->changes;
    opts.done = on_snapshot_done;
    opts.arg = r;
    r->snap_status = SNAP_RUNNING;
    r->snap_attempt = mark.attempt;
    r->snapshot_known = true;
    set_state(r, STATE_SNAPSHOT, NULL);
    r->snapshot = snapshot_start(&opts, err, sizeof(err));
    if (!r->snapshot)
        retry_later(r, err);
}

/* Moves the snapshot on: resumes reading after Kafka had room again, and
 * once every row is acknowledged marks it done and starts streaming. */
static void snapshot_step(reader_t *r)
{
    snapshot_mark_t mark = {SNAPSHOT_MARK_DONE, r->snap_lsn, r->snap_attempt,
                            0};
    char err[1024] = "";

    if (r->state != STATE_SNAPSHOT || !r->snapshot)
        return;
    switch (r->snap_status) {
    case SNAP_RUNNING:
        snapshot_resume(r->snapshot);
        return;
    case SNAP_FATAL:
        fatal(r, "could not take the snapshot: %s", r->snap_err);
        return;
    case SNAP_FAILED:
        end_snapshot(r);
        changes_snapshot_end(&r->changes);
        retry_later(r, r->snap_err);
        return;
    case SNAP_READ:
        break;
    }
    changes_snapshot_end(&r->changes);
    if (!producer_idle(r->producer))
        return;
    end_snapshot(r);
    mark.rows = r->snapshot_last.rows;
    if (!snapshot_mark_write(r->producer, r->mark_topic, r->mark_key, &mark,
                             err, sizeof(err))) {
        retry_later(r, err);
        return;
    }
    log_info(r->set.slot, "snapshot is in Kafka; streaming changes made "
                          "after it");
    start_streaming(r);
}

/* Taking the slot. */

/* Under the lock: whether the slot's initial snapshot was cut off and
 * must be taken again (*mark then says which attempt it was). */
static bool snapshot_interrupted(reader_t *r, const catalog_slot_t *slot,
                                 snapshot_mark_t *mark, bool *interrupted,
                                 char *err, size_t errlen)
{
    *interrupted = false;
    if (!snapshot_mark_read(r->topics, r->mark_topic, r->mark_key, mark, err,
                            errlen))
        return false;
    /* Without a point the process died right after creating the slot;
     * a slot confirmed past the point has streamed, so it is not the one
     * the mark speaks of. */
    *interrupted = mark->state == SNAPSHOT_MARK_STARTED &&
                   (mark->consistent_lsn == 0 ||
                    mark->consistent_lsn == slot->confirmed_flush);
    return true;
}

/* Another process streaming from the slot makes this reader a standby. */
static bool standby_while_active(reader_t *r, const catalog_slot_t *slot)
{
    char why[64];

    if (!slot->exists || !slot->active)
        return false;
    snprintf(why, sizeof(why), "slot is in use by process %d",
             slot->active_pid);
    become_standby(r, why);
    return true;
}

/* Connects, and streams when the slot is free: creating it (with the
 * initial snapshot) when absent, waiting as a standby while another reader
 * holds it. */
static void acquire(reader_t *r)
{
    char err[1024] = "", lsn[18];
    catalog_slot_t slot;
    snapshot_mark_t mark;
    bool got = false, busy = false, interrupted = false;
    uint64_t created;

    r->next_attempt_ms = now_ms() + (uint64_t)r->set.standby_retry_ms;
    if (!catalog_slot(r->catalog, r->set.slot, &slot, err, sizeof(err))) {
        retry_later(r, err);
        return;
    }
    if (slot.exists && (!slot.logical_pgoutput || !slot.same_database)) {
        fatal(r,
              "replication slot \"%s\" exists but is not a pgoutput slot "
              "of database \"%s\": choose another CDC_SLOT or drop it",
              r->set.slot, catalog_database(r->catalog));
        return;
    }
    if (standby_while_active(r, &slot))
        return;
    if (!snapshot_lock(catalog_conn(r->catalog), r->set.slot, &got, err,
                       sizeof(err))) {
        retry_later(r, err);
        return;
    }
    if (!got) {
        become_standby(r, "another reader is preparing the slot");
        return;
    }
    r->locked = true;

    /* Under the lock the slot is ours to decide on. */
    if (!catalog_slot(r->catalog, r->set.slot, &slot, err, sizeof(err))) {
        retry_later(r, err);
        return;
    }
    if (standby_while_active(r, &slot))
        return;
    if (!r->tails_fresh && !topics_refresh_tails(r->topics, err, sizeof(err))) {
        retry_later(r, err);
        return;
    }
    r->tails_fresh = false;
    r->stream = stream_connect(r->set.dburl, err, sizeof(err));
    if (!r->stream) {
        retry_later(r, err);
        return;
    }
    snprintf(r->mark_key, sizeof(r->mark_key), "%s/%s/%s",
             stream_system_id(r->stream), catalog_database(r->catalog),
             r->set.slot);

    if (r->set.snapshot_initial) {
        if (!slot.exists) {
            begin_snapshot(r, NULL, 0);
            return;
        }
        if (!snapshot_interrupted(r, &slot, &mark, &interrupted, err,
                                  sizeof(err))) {
            retry_later(r, err);
            return;
        }
        if (interrupted) {
            log_warning(r->set.slot,
                        "the initial snapshot of this slot did not finish; "
                        "taking it again, then streaming every change since "
                        "the slot's start");
            begin_snapshot(r, &mark, slot.confirmed_flush);
            return;
        }
    } else if (!slot.exists) {
        if (!stream_create_slot(r->stream, r->set.slot, NULL, 0, &created,
                                &busy, err, sizeof(err))) {
            if (busy)
                become_standby(r, err);
            else
                retry_later(r, err);
            return;
        }
        wire_lsn_format(created, lsn);
        log_info(r->set.slot, "created replication slot at %s (no snapshot)",
                 lsn);
    }
    start_streaming(r);
}

/* Periodic work: status, heartbeats, standby, snapshot, registry. */
static void on_tick(uv_timer_t *t)
{
    reader_t *r = t->data;
    uint64_t now = now_ms();

    producer_poll(r->producer);
    if (producer_error(r->producer) && r->state != STATE_STOPPING) {
        fatal(r, "%s", producer_error(r->producer));
        return;
    }
    if (r->reg.store && now - r->last_registry_poll_ms >= 1000) {
        registry_store_poll(r->reg.store);
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
            r->heartbeats++;
            send_status(r, true);
        }
        if (!r->stream_polling && !producer_blocked(r->producer) &&
            !uv_is_active((uv_handle_t *)&r->more))
            process_stream(r);
        break;
    case STATE_SNAPSHOT:
        snapshot_step(r);
        break;
    case STATE_STANDBY:
    case STATE_RECONNECTING:
        if (now >= r->next_attempt_ms)
            acquire(r);
        break;
    case STATE_STARTING:
    case STATE_STOPPING:
        break;
    }
}

/* Stopping. */

/* Closes the reader's own handles; libwebsockets closes its own and the
 * snapshot its. */
static void close_handle(uv_handle_t *h, void *arg)
{
    reader_t *r = arg;

    if (uv_is_closing(h))
        return;
    if (h == (uv_handle_t *)&r->tick || h == (uv_handle_t *)&r->sigterm ||
        h == (uv_handle_t *)&r->sigint || h == (uv_handle_t *)&r->kick ||
        h == (uv_handle_t *)&r->more || h == (uv_handle_t *)&r->producer_poll)
        uv_close(h, NULL);
}

static void stop_reader(reader_t *r, int exit_code)
{
    if (exit_code > r->exit_code)
        r->exit_code = exit_code;
    if (r->state == STATE_STOPPING)
        return;
    set_state(r, STATE_STOPPING, NULL);
    watch_stream(r, false);
    uv_idle_stop(&r->more);
    end_snapshot(r);
    /* What of an open transaction went out is skipped on the replay. */
    changes_abandon(&r->changes);

    /* Let Kafka acknowledge what it has, then confirm exactly that. */
    if (exit_code == 0 && !producer_flush(r->producer, STOP_FLUSH_MS))
        log_warning(r->set.slot, "Kafka did not acknowledge every record "
                                 "before stopping; they are sent again on "
                                 "the next start");
    producer_poll(r->producer);
    if (r->streaming) {
        char lsn[18];

        send_status(r, false);
        if (!stream_finish(r->stream, STOP_STREAM_MS))
            log_warning(r->set.slot, "the server did not confirm the end of "
                                     "streaming");
        wire_lsn_format(r->last_flush_sent, lsn);
        log_info(r->set.slot, "confirmed %s before stopping", lsn);
    }
    uv_stop(&r->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    reader_t *r = h->data;

    log_info(r->set.slot, "received %s; stopping", strsignal(signum));
    stop_reader(r, 0);
}

/* What /readyz and /metrics show. */
static void fill_view(void *arg, reader_view_t *v)
{
    reader_t *r = arg;
    int64_t oldest = producer_oldest_unacked_ts(r->producer);
    int64_t now_us = clock_wall_us();

    v->state = state_names[r->state];
    v->detail = r->detail;
    v->ready = r->state == STATE_STREAMING || r->state == STATE_SNAPSHOT;
    v->confirmed_lsn = r->last_flush_sent;
    v->acked_lsn = producer_acked_lsn(r->producer);
    v->received_lsn = r->received_lsn;
    v->server_lsn = r->server_wal_end;
    if (oldest > 0)
        v->lag_seconds = (double)(now_us - oldest) / 1e6;
    if (v->lag_seconds < 0)
        v->lag_seconds = 0;
    v->transactions = r->changes.transactions;
    if (changes_in_transaction(&r->changes))
        v->open_txn_records = r->changes.txn.seq;
    v->decode_errors = r->changes.decode_errors;
    v->heartbeats = r->heartbeats;
    v->blocked = producer_blocked(r->producer);
    producer_get_stats(r->producer, &v->producer);
    v->topics = r->topics;
    v->snapshot_running = r->snapshot != NULL;
    v->snapshot_known = r->snapshot_known;
    if (r->snapshot)
        snapshot_get_progress(r->snapshot, &v->snapshot);
    else
        v->snapshot = r->snapshot_last;
    if (r->state == STATE_SNAPSHOT)
        snprintf(r->detail, sizeof(r->detail), "%d of %d tables, %llu rows",
                 v->snapshot.tables_done, v->snapshot.tables_total,
                 (unsigned long long)v->snapshot.rows);
    if (r->reg.store) {
        int subjects;

        registry_store_counts(r->reg.store, &v->registry_schemas, &subjects);
    }
}

/* Start-up. */

static bool start(reader_t *r, char *err, size_t errlen)
{
    reader_http_options_t http = {0};

    r->catalog = catalog_connect(r->set.dburl, err, errlen);
    if (!r->catalog)
        return false;
    log_info(r->set.slot, "connected to database \"%s\"",
             catalog_database(r->catalog));
    r->producer = producer_new(err, errlen);
    if (!r->producer)
        return false;
    r->topics = topics_new(producer_handle(r->producer), (int)r->set.partitions,
                           (int)r->set.replication, err, errlen);
    if (!r->topics ||
        !registrar_open(&r->reg, r->set.prefix, r->set.registry_url,
                        r->set.http, r->topics, r->producer, err, errlen))
        return false;
    snprintf(r->mark_topic, sizeof(r->mark_topic), "%s._snapshots",
             r->set.prefix);
    if (r->set.snapshot_initial &&
        !topics_create(r->topics, r->mark_topic, 1, true, err, errlen))
        return false;

    http.listen = r->set.http;
    http.view = fill_view;
    http.arg = r;
    http.store = r->reg.store;
    http.producer = r->producer;
    r->http = reader_http_start(&r->loop, &http, err, errlen);
    if (!r->http)
        return false;

    relcache_init(&r->relcache, r->catalog, r->topics, r->set.prefix,
                  registrar_register, &r->reg);
    changes_init(&r->changes, r->producer, &r->relcache, r->catalog);
    if (!prepare_tables(r, err, errlen))
        return false;
    r->tails_fresh = true;
    return true;
}

int reader_run(void)
{
    reader_t *r = calloc(1, sizeof(*r));
    char err[1024] = "";
    int code;

    if (!r)
        return 1;
    if (!reader_config_load(&r->set, err, sizeof(err))) {
        log_error(NULL, "%s", err);
        free(r);
        return 1;
    }
    config_warn_unknown(reader_settings,
                        (const char *const[]){"CDC_KAFKA_", NULL});
    uv_loop_init(&r->loop);
    set_state(r, STATE_STARTING, NULL);

    uv_signal_init(&r->loop, &r->sigterm);
    uv_signal_init(&r->loop, &r->sigint);
    uv_idle_init(&r->loop, &r->more);
    uv_timer_init(&r->loop, &r->kick);
    uv_timer_init(&r->loop, &r->tick);
    r->sigterm.data = r->sigint.data = r->more.data = r->kick.data =
        r->tick.data = r;
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    uv_signal_start(&r->sigint, on_signal, SIGINT);

    log_info(r->set.slot, "cdc-reader %s starting (topic prefix \"%s\")",
             CDC_VERSION, r->set.prefix);
    if (!start(r, err, sizeof(err))) {
        log_error(r->set.slot, "%s", err);
        r->exit_code = 1;
        goto out;
    }

    uv_poll_init(&r->loop, &r->producer_poll, producer_event_fd(r->producer));
    r->producer_poll.data = r;
    uv_poll_start(&r->producer_poll, UV_READABLE, on_producer_event);
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);

    acquire(r);
    if (r->state != STATE_STOPPING)
        uv_run(&r->loop, UV_RUN_DEFAULT);

out:
    if (r->state != STATE_STOPPING && r->producer)
        stop_reader(r, r->exit_code);
    end_snapshot(r);

    /* Our handles first, then libwebsockets', which closes its own while
     * the loop runs to the end. */
    drop_stream(r);
    uv_walk(&r->loop, close_handle, r);
    if (r->http)
        reader_http_stop(r->http, &r->loop);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);

    if (r->producer)
        changes_free(&r->changes);
    relcache_free(&r->relcache);
    topics_free(r->topics);
    registrar_close(&r->reg);
    producer_free(r->producer, 0);
    catalog_free(r->catalog);
    free(r->table_oids);
    code = r->exit_code;
    log_info(NULL, "cdc-reader stopped%s", code ? " after an error" : "");
    free(r);
    return code;
}
