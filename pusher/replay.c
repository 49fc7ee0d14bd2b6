/* Replays from cursors: verification of the cursor against the topic, the
 * catch-up read, and the hand-over to the live consumer partition by
 * partition.
 *
 * Each replay has a Kafka consumer of its own.  Making it and reading the
 * partition bounds, and later closing it, may each wait on the network, so
 * both run on libuv's worker threads; everything else runs on the loop
 * thread.  A replay never queues more for its client than half the
 * connection's queue limit: it waits for the client to read, so a slow
 * client that resumes is not closed again for the same backlog. */
#define _GNU_SOURCE
#include "replay.h"

#include "consumer.h"
#include "conn.h"
#include "kafka.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_BATCH        1024
#define REPLAY_TURN_RECORDS 8192
#define REPLAY_ARENA_LIMIT  ((size_t)256 << 20)
#define BOUNDS_TIMEOUT_MS   5000

static const char expired_msg[] =
    "the records after this cursor are no longer kept by Kafka: fetch the "
    "data again and subscribe without a cursor";

typedef enum replay_phase {
    PHASE_QUEUED,    /* waiting for a free slot */
    PHASE_STARTING,  /* consumer and bounds being made on a worker */
    PHASE_VERIFYING, /* reading the record before the cursor */
    PHASE_REPLAYING,
} replay_phase_t;

typedef struct replay_part {
    int64_t next; /* next offset this subscription needs */
    wire_position_t last_pos;
    wire_position_t max_pos;
    int64_t verify_offset; /* record to compare with the cursor; -1 */
    int64_t low, high;     /* the partition's bounds at the start */
    bool attached;         /* the live consumer delivers from here */
} replay_part_t;

typedef struct poll_box {
    uv_poll_t poll;
    int fd;
} poll_box_t;

struct replay {
    pusher_t *p;
    sub_t *s; /* NULL once the subscription is gone */
    replay_phase_t phase;
    char *topic; /* copied: the worker reads it */
    uint8_t hash[8];
    uv_work_t start;       /* PHASE_STARTING: the worker's job */
    rd_kafka_conf_t *conf; /* handed to rd_kafka_new on the worker */
    char start_err[512];   /* set by the worker when it failed */
    bool orphan;           /* gone while the worker ran: free when done */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int wake_fd;     /* write end librdkafka signals */
    poll_box_t *box; /* read end, watched by the loop */
    int nparts;
    replay_part_t *parts;
    int unverified;
    bool waiting_schema; /* batch[at] waits for its schema */
    bool throttled;      /* batch[at] waits for the client to read */
    rd_kafka_message_t *batch[REPLAY_BATCH];
    int nbatch;
    int at;
    arena_t arena;
    buf_t cursor;
    uint64_t records;
    replay_t *next;
};

typedef struct replays {
    replay_t *list;
    int running;
    rd_kafka_message_t *handling; /* the message being handled ... */
    const replay_t *handler;      /* ... and the replay it belongs to */
    uv_idle_t pump; /* drains replays that have more than one turn's work */
    bool pumping;
} replays_t;

/* What handling one record left behind. */
typedef enum step {
    STEP_NEXT,     /* go on */
    STEP_PAUSE,    /* the record waits for its schema */
    STEP_THROTTLE, /* the record waits for the client to read */
    STEP_GONE,     /* the replay ended (failed or went live): do not touch
                      it */
} step_t;

/* A consumer being closed on a worker thread. */
typedef struct reaper {
    uv_work_t work;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
} reaper_t;

static void pump_start(pusher_t *p);

bool replay_init(pusher_t *p, char *err, size_t errlen)
{
    replays_t *rs = calloc(1, sizeof(*rs));

    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    uv_idle_init(&p->loop, &rs->pump);
    rs->pump.data = p;
    p->replays = rs;
    return true;
}

static void box_closed(uv_handle_t *h)
{
    poll_box_t *box = (poll_box_t *)h;

    close(box->fd);
    free(box);
}

/* Runs on a worker thread: closing a consumer can wait for its brokers. */
static void reap_work(uv_work_t *w)
{
    reaper_t *rp = w->data;

    if (rp->queue)
        rd_kafka_queue_destroy(rp->queue);
    rd_kafka_consumer_close(rp->rk);
    rd_kafka_destroy(rp->rk);
}

static void reap_done(uv_work_t *w, int status)
{
    (void)status;
    free(w->data);
}

/* Closes a consumer without blocking the loop.  Its queue no longer
 * signals the wake-up pipe, which the caller closes next. */
static void reap(pusher_t *p, rd_kafka_t *rk, rd_kafka_queue_t *queue)
{
    reaper_t *rp;

    if (queue)
        rd_kafka_queue_io_event_enable(queue, -1, NULL, 0);
    rp = calloc(1, sizeof(*rp));
    if (rp) {
        rp->work.data = rp;
        rp->rk = rk;
        rp->queue = queue;
        if (uv_queue_work(&p->loop, &rp->work, reap_work, reap_done) == 0)
            return;
        free(rp);
    }
    /* Nowhere else to do it. */
    if (queue)
        rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* Frees what is left of a replay nobody refers to any more.  Its
 * messages go first: they refer to its consumer. */
static void release(pusher_t *p, replay_t *r)
{
    replays_t *rs = p->replays;

    if (rs && rs->handler == r) {
        rd_kafka_message_destroy(rs->handling);
        rs->handling = NULL;
        rs->handler = NULL;
    }
    for (int i = r->at; i < r->nbatch; i++) {
        if (r->batch[i])
            rd_kafka_message_destroy(r->batch[i]);
    }
    if (r->rk)
        reap(p, r->rk, r->queue);
    else if (r->queue)
        rd_kafka_queue_destroy(r->queue);
    if (r->conf)
        rd_kafka_conf_destroy(r->conf);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    if (r->box) {
        uv_poll_stop(&r->box->poll);
        uv_close((uv_handle_t *)&r->box->poll, box_closed);
    }
    arena_free(&r->arena);
    buf_free(&r->cursor);
    free(r->parts);
    free(r->topic);
    free(r);
}

/* Ends a replay; the subscription stays.  A replay whose worker is still
 * running is only detached: the worker's completion frees it. */
static void destroy(pusher_t *p, replay_t *r)
{
    replays_t *rs = p->replays;

    for (replay_t **pp = &rs->list; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    if (r->phase != PHASE_QUEUED)
        rs->running--;
    if (r->s)
        r->s->replay = NULL;
    r->s = NULL;
    for (replay_t *q = rs->list; q; q = q->next) {
        if (q->phase == PHASE_QUEUED) {
            pump_start(p); /* the freed slot goes to it */
            break;
        }
    }
    if (r->phase == PHASE_STARTING) {
        r->orphan = true;
        return;
    }
    release(p, r);
}

static void replays_closed(uv_handle_t *h)
{
    free(h->data);
}

void replay_free(pusher_t *p)
{
    replays_t *rs = p->replays;

    if (!rs)
        return;
    while (rs->list)
        destroy(p, rs->list);
    uv_idle_stop(&rs->pump);
    p->replays = NULL;
    /* The idle handle is part of rs: free it once the loop let it go. */
    rs->pump.data = rs;
    uv_close((uv_handle_t *)&rs->pump, replays_closed);
}

void replay_counts(const pusher_t *p, int *running, int *queued)
{
    const replays_t *rs = p->replays;

    *running = *queued = 0;
    for (const replay_t *r = rs ? rs->list : NULL; r; r = r->next) {
        if (r->phase == PHASE_QUEUED)
            (*queued)++;
        else
            (*running)++;
    }
}

static void cursor_part_of_replay(const void *arg, int i, cursor_part_t *out)
{
    const replay_part_t *part = &((const replay_t *)arg)->parts[i];

    out->next_offset = part->next;
    out->last_pos = part->last_pos;
    out->max_pos = part->max_pos;
}

static void encode_cursor(pusher_t *p, replay_t *r)
{
    buf_reset(&r->cursor);
    cursor_encode_from(r->hash, r->nparts, cursor_part_of_replay, r,
                       p->cursor_key, &r->cursor);
}

/* Ends the subscription with an error; the replay goes with it. */
static void fail(pusher_t *p, replay_t *r, const char *code, const char *msg)
{
    sub_t *s = r->s;

    log_info(conn_tag(s->conn), "cannot resume subscription on \"%s\": %s",
             s->coll->name, msg);
    fanout_sub_error(p, s, code, msg);
}

/* Becomes an ordinary live subscription once every partition is attached
 * and at exactly the live consumer's position.  true when that happened
 * (the replay is gone). */
static bool finish_if_aligned(pusher_t *p, replay_t *r)
{
    live_topic_t *lt = r->s->coll->live;
    sub_t *s = r->s;

    if (!lt || lt->state != LIVE_ACTIVE)
        return false;
    for (int i = 0; i < r->nparts; i++) {
        if (!r->parts[i].attached ||
            r->parts[i].next != lt->parts[i].next_offset)
            return false;
    }
    log_debug(conn_tag(s->conn),
              "resumed subscription on \"%s\" is live "
              "after %llu records",
              s->coll->name, (unsigned long long)r->records);
    destroy(p, r);
    s->send_init = false;
    fanout_go_live(p, s, NULL, 0);
    return true;
}

/* Hands the partitions the replay has read up to the live consumer's
 * position over to the live consumer: from then on the live consumer's
 * records reach the subscription through replay_live_record, and the
 * replay's own consumer stops reading them.  true when the replay is
 * gone. */
static bool attach_caught_up(pusher_t *p, replay_t *r)
{
    live_topic_t *lt = r->s->coll->live;
    rd_kafka_topic_partition_list_t *pause = NULL;

    if (!lt || lt->state != LIVE_ACTIVE || r->phase != PHASE_REPLAYING)
        return false;
    for (int i = 0; i < r->nparts; i++) {
        replay_part_t *part = &r->parts[i];

        if (part->attached || part->next < lt->parts[i].next_offset)
            continue;
        part->attached = true;
        if (!pause)
            pause = rd_kafka_topic_partition_list_new(r->nparts);
        rd_kafka_topic_partition_list_add(pause, r->topic, i);
    }
    if (pause) {
        rd_kafka_pause_partitions(r->rk, pause);
        rd_kafka_topic_partition_list_destroy(pause);
    }
    return finish_if_aligned(p, r);
}

/* The cursor after the record being delivered, made only when the
 * subscription receives it. */
static void replay_cursor(void *arg, buf_t *out)
{
    replay_t *r = arg;

    encode_cursor(r->p, r);
    buf_append(out, r->cursor.data, r->cursor.len);
}

/* Delivers one record to the replaying subscription (ch NULL: nothing to
 * deliver, the position moves only).  Records the reader wrote twice are
 * dropped by position, as the live consumer drops them. */
static void deliver(pusher_t *p, replay_t *r, int partition, int64_t offset,
                    const wire_position_t *pos, bool has_pos,
                    const table_schema_t *ts, const change_t *ch)
{
    replay_part_t *part = &r->parts[partition];
    bool duplicate = has_pos && part->max_pos.commit_lsn &&
                     wire_position_cmp(pos, &part->max_pos) <= 0;

    /* Positions move as the live consumer moves its own, so the cursors
     * of both agree: a record without one leaves a zero last_pos. */
    part->next = offset + 1;
    part->last_pos = has_pos ? *pos : (wire_position_t){0, 0};
    if (has_pos && !duplicate)
        part->max_pos = *pos;
    r->records++;
    if (!ch || duplicate)
        return;
    fanout_dispatch_one(p, r->s, ts, ch, replay_cursor, r);
}

void replay_live_record(pusher_t *p, live_topic_t *lt, int partition,
                        const table_schema_t *ts, const change_t *ch)
{
    replays_t *rs = p->replays;
    int64_t offset = lt->parts[partition].next_offset - 1;
    replay_t *r = rs ? rs->list : NULL;

    while (r) {
        replay_t *next = r->next;
        replay_part_t *part;

        if (r->s->coll != lt->coll || r->phase != PHASE_REPLAYING) {
            r = next;
            continue;
        }
        part = &r->parts[partition];
        if (part->attached) {
            if (offset >= part->next)
                deliver(p, r, partition, offset, &lt->parts[partition].last_pos,
                        lt->parts[partition].last_pos.commit_lsn != 0, ts, ch);
            finish_if_aligned(p, r);
        }
        r = next;
    }
}

/* Switches from checking the cursor to reading from it; false when the
 * replay is gone. */
static bool begin_replaying(pusher_t *p, replay_t *r)
{
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(r->nparts);
    rd_kafka_resp_err_t e;

    /* Records fetched for the check but not handled yet come again from
     * the new assignment; librdkafka drops those still in its queue. */
    for (int i = r->at + 1; i < r->nbatch; i++) {
        if (r->batch[i])
            rd_kafka_message_destroy(r->batch[i]);
        r->batch[i] = NULL;
    }
    if (r->nbatch > r->at + 1)
        r->nbatch = r->at + 1;

    for (int i = 0; i < r->nparts; i++)
        rd_kafka_topic_partition_list_add(parts, r->topic, i)->offset =
            r->parts[i].next;
    e = rd_kafka_assign(r->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e) {
        fail(p, r, "SERVICE_UNAVAILABLE", rd_kafka_err2str(e));
        return false;
    }
    r->phase = PHASE_REPLAYING;

    /* The client learns the subscription is live, and from where. */
    encode_cursor(p, r);
    if (r->s->send_init)
        fanout_send_init(p, r->s, (const char *)r->cursor.data, r->cursor.len);
    return !attach_caught_up(p, r);
}

/* True when the client has enough unread output: the replay waits. */
static bool client_busy(const replay_t *r)
{
    const conn_t *c = r->s->conn;

    return c->state == CONN_CLOSING ||
           conn_queued(c) > (size_t)r->p->set.max_queue_bytes / 2;
}

/* Checks one record against the cursor (PHASE_VERIFYING). */
static step_t verify(pusher_t *p, replay_t *r, const rd_kafka_message_t *m,
                     const wire_position_t *pos, bool has_pos)
{
    replay_part_t *part = &r->parts[m->partition];
    char msg[512];
    bool ok;

    if (part->verify_offset < 0 || m->offset < part->verify_offset)
        return STEP_NEXT;
    if (m->offset == part->verify_offset)
        ok = has_pos ? wire_position_cmp(pos, &part->last_pos) == 0
                     : !part->last_pos.commit_lsn && !part->last_pos.seq;
    else
        /* The record is gone (a compacted topic): what follows must at
         * least come later in the database's history. */
        ok = has_pos && wire_position_cmp(pos, &part->max_pos) > 0;
    if (!ok) {
        snprintf(msg, sizeof(msg),
                 "the cursor does not belong to this collection's history "
                 "(partition %d offset %lld differs): fetch the data again "
                 "and subscribe without a cursor",
                 m->partition, (long long)m->offset);
        fail(p, r, "CURSOR_INVALID", msg);
        return STEP_GONE;
    }
    part->verify_offset = -1;
    if (--r->unverified == 0 && !begin_replaying(p, r))
        return STEP_GONE;
    return STEP_NEXT;
}

static step_t handle(pusher_t *p, replay_t *r, rd_kafka_message_t *m)
{
    replay_part_t *part;
    wire_position_t pos = {0, 0};
    bool has_pos;
    const table_schema_t *ts = NULL;
    change_t ch;
    char err[512];
    int st;

    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
            m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
            fail(p, r, "CURSOR_EXPIRED", expired_msg);
            return STEP_GONE;
        }
        if (!kafka_error_is_retriable(m->err))
            log_warning(r->topic, "replay: %s", rd_kafka_message_errstr(m));
        return STEP_NEXT;
    }
    if (m->partition < 0 || m->partition >= r->nparts)
        return STEP_NEXT;
    part = &r->parts[m->partition];
    has_pos = consumer_position(m, &pos);
    if (r->phase == PHASE_VERIFYING)
        return verify(p, r, m, &pos, has_pos);

    if (part->attached || m->offset < part->next)
        return STEP_NEXT;
    if (client_busy(r))
        return STEP_THROTTLE;
    if (m->payload) {
        arena_reset(&r->arena);
        st = consumer_decode(p, r->s->coll, m->payload, m->len, &r->arena, &ch,
                             &ts, err, sizeof(err));
        if (st == 0)
            return STEP_PAUSE;
        if (st < 0) {
            log_error(r->topic,
                      "replay skips record at partition %d offset %lld: %s",
                      m->partition, (long long)m->offset, err);
            ts = NULL;
        }
    }
    deliver(p, r, m->partition, m->offset, &pos, has_pos, ts,
            m->payload && ts ? &ch : NULL);
    return STEP_NEXT;
}

/* Processes up to one turn's worth of records.  Returns true when more
 * wait; *gone is set when the replay ended. */
static bool drain(pusher_t *p, replay_t *r, bool *gone)
{
    replays_t *rs = p->replays;
    int done = 0;

    *gone = false;
    if ((r->phase != PHASE_VERIFYING && r->phase != PHASE_REPLAYING) ||
        r->waiting_schema || r->throttled)
        return false;
    while (done < REPLAY_TURN_RECORDS) {
        if (r->at == r->nbatch) {
            ssize_t n = rd_kafka_consume_batch_queue(r->queue, 0, r->batch,
                                                     REPLAY_BATCH);

            r->at = 0;
            r->nbatch = n > 0 ? (int)n : 0;
            if (r->nbatch == 0)
                break;
        }
        while (r->at < r->nbatch) {
            rd_kafka_message_t *m = r->batch[r->at];
            step_t step;

            /* While it is handled the message is held apart: a replay that
             * ends meanwhile frees it with its consumer (release). */
            r->batch[r->at] = NULL;
            rs->handling = m;
            rs->handler = r;
            step = handle(p, r, m);
            m = rs->handling;
            rs->handling = NULL;
            rs->handler = NULL;
            if (step == STEP_GONE) {
                *gone = true;
                conn_flush_dirty(p);
                return false;
            }
            if (step == STEP_THROTTLE) {
                /* Often the socket takes the whole queue at once; then no
                 * writable callback would come to lift the throttle. */
                conn_flush_dirty(p);
                if (!client_busy(r)) {
                    r->batch[r->at] = m;
                    continue;
                }
            }
            if (step == STEP_PAUSE || step == STEP_THROTTLE) {
                r->batch[r->at] = m;
                if (step == STEP_PAUSE)
                    r->waiting_schema = true;
                else
                    r->throttled = true;
                conn_flush_dirty(p);
                return false;
            }
            rd_kafka_message_destroy(m);
            r->at++;
            done++;
        }
    }
    if (attach_caught_up(p, r))
        *gone = true;
    conn_flush_dirty(p);
    return !*gone && done >= REPLAY_TURN_RECORDS;
}

static void start_queued(pusher_t *p);

static void on_pump(uv_idle_t *h)
{
    pusher_t *p = h->data;
    replays_t *rs = p->replays;
    bool more = false, gone;
    replay_t *r;

    start_queued(p);
    r = rs->list;
    while (r) {
        replay_t *next = r->next;

        if (drain(p, r, &gone))
            more = true;
        r = next;
    }
    if (!more) {
        uv_idle_stop(&rs->pump);
        rs->pumping = false;
    }
}

static void pump_start(pusher_t *p)
{
    replays_t *rs = p->replays;

    if (rs && !rs->pumping) {
        rs->pumping = true;
        uv_idle_start(&rs->pump, on_pump);
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    replay_t *r = h->data;
    pusher_t *p = r->p;
    char sink[256];
    bool gone;

    (void)status;
    (void)events;
    while (read(r->box->fd, sink, sizeof(sink)) > 0)
        ;
    if (drain(p, r, &gone))
        pump_start(p);
}

/* Runs on a worker thread: makes the consumer and reads each partition's
 * bounds, which waits on the network.  Touches only r's own fields. */
static void start_work(uv_work_t *w)
{
    replay_t *r = w->data;
    char err[256];

    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, r->conf, err, sizeof(err));
    if (!r->rk) {
        snprintf(r->start_err, sizeof(r->start_err),
                 "could not create a Kafka consumer: %s", err);
        return;
    }
    r->conf = NULL; /* the consumer owns it now */
    for (int i = 0; i < r->nparts; i++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            r->rk, r->topic, i, &r->parts[i].low, &r->parts[i].high,
            BOUNDS_TIMEOUT_MS);

        if (e) {
            snprintf(r->start_err, sizeof(r->start_err),
                     "could not read the bounds of topic \"%s\" partition "
                     "%d: %s",
                     r->topic, i, rd_kafka_err2str(e));
            return;
        }
    }
}

/* Back on the loop: checks the cursor against the bounds, then reads the
 * record before it in each partition. */
static void start_done(uv_work_t *w, int status)
{
    replay_t *r = w->data;
    pusher_t *p = r->p;
    rd_kafka_topic_partition_list_t *parts;
    char msg[640];
    int fds[2];

    (void)status;
    r->phase = PHASE_VERIFYING;
    if (r->orphan) {
        release(p, r);
        return;
    }
    if (r->start_err[0]) {
        fail(p, r, "SERVICE_UNAVAILABLE", r->start_err);
        return;
    }

    /* Below the log start is expired, past the end is not this topic's
     * history. */
    for (int i = 0; i < r->nparts; i++) {
        replay_part_t *part = &r->parts[i];

        if (part->next > part->high) {
            snprintf(msg, sizeof(msg),
                     "the cursor is ahead of this collection's history "
                     "(partition %d ends at %lld): fetch the data again and "
                     "subscribe without a cursor",
                     i, (long long)part->high);
            fail(p, r, "CURSOR_INVALID", msg);
            return;
        }
        if (part->next < part->low) {
            fail(p, r, "CURSOR_EXPIRED", expired_msg);
            return;
        }
    }

    rd_kafka_poll_set_consumer(r->rk);
    r->queue = rd_kafka_queue_get_consumer(r->rk);
    r->box = calloc(1, sizeof(*r->box));
    if (!r->box || pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(r->box);
        r->box = NULL;
        fail(p, r, "SERVICE_UNAVAILABLE", "could not create a pipe");
        return;
    }
    r->wake_fd = fds[1];
    r->box->fd = fds[0];
    rd_kafka_queue_io_event_enable(r->queue, r->wake_fd, "1", 1);
    uv_poll_init(&p->loop, &r->box->poll, r->box->fd);
    r->box->poll.data = r;
    uv_poll_start(&r->box->poll, UV_READABLE, on_readable);

    /* The record just before the cursor must carry the position the
     * cursor remembers; at the log start there is none to read. */
    parts = rd_kafka_topic_partition_list_new(r->nparts);
    for (int i = 0; i < r->nparts; i++) {
        replay_part_t *part = &r->parts[i];

        part->verify_offset = -1;
        if (part->next > 0 && part->next - 1 >= part->low) {
            part->verify_offset = part->next - 1;
            r->unverified++;
            rd_kafka_topic_partition_list_add(parts, r->topic, i)->offset =
                part->verify_offset;
        }
    }
    if (r->unverified > 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, parts);

        rd_kafka_topic_partition_list_destroy(parts);
        if (e)
            fail(p, r, "SERVICE_UNAVAILABLE", rd_kafka_err2str(e));
        return;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    begin_replaying(p, r);
    conn_flush_dirty(p);
}

/* Takes a slot and starts making the replay's consumer. */
static void launch(pusher_t *p, replay_t *r)
{
    static const char *const defaults[] = {
        "group.id",
        "cdc-pusher-replay",
        "enable.auto.commit",
        "false",
        "enable.partition.eof",
        "false",
        "auto.offset.reset",
        "error",
        "fetch.wait.max.ms",
        "10",
        "queued.max.messages.kbytes",
        "16384",
        "queued.min.messages",
        "1000000",
        "client.id",
        "cdc-pusher-replay",
        NULL,
    };
    replays_t *rs = p->replays;
    char err[512];

    rs->running++;
    r->phase = PHASE_STARTING;
    r->conf = kafka_conf_new(defaults, err, sizeof(err));
    r->start.data = r;
    if (!r->conf) {
        snprintf(r->start_err, sizeof(r->start_err), "%s", err);
        start_done(&r->start, 0);
        return;
    }
    if (uv_queue_work(&p->loop, &r->start, start_work, start_done) != 0) {
        snprintf(r->start_err, sizeof(r->start_err),
                 "could not start a worker");
        start_done(&r->start, 0);
    }
}

/* Starts queued replays while slots are free.  Launching may end replays
 * (a failure is reported at once), so the list is walked afresh. */
static void start_queued(pusher_t *p)
{
    replays_t *rs = p->replays;
    bool launched = true;

    while (launched && rs->running < p->set.max_replays) {
        launched = false;
        for (replay_t *r = rs->list; r; r = r->next) {
            if (r->phase == PHASE_QUEUED) {
                launch(p, r);
                launched = true;
                break;
            }
        }
    }
}

bool replay_start(pusher_t *p, sub_t *s, const char *text, sub_error_t *code,
                  char *err, size_t errlen)
{
    replays_t *rs = p->replays;
    cursor_t *c = NULL;
    uint8_t hash[8];
    replay_t *r;

    cursor_topic_hash(s->coll->topic, hash);
    switch (cursor_decode(text, strlen(text), hash, p->cursor_key, &c, err,
                          errlen)) {
    case CURSOR_OK:
        break;
    case CURSOR_FOREIGN:
    case CURSOR_FORGED:
    case CURSOR_MALFORMED: {
        size_t used = strnlen(err, errlen);

        snprintf(err + used, errlen - used,
                 ": fetch the data again and subscribe without a cursor");
        *code = SUB_ERROR_CURSOR_INVALID;
        return false;
    }
    }
    if (!consumer_watch(p, s->coll, err, errlen)) {
        *code = SUB_ERROR_UNAVAILABLE;
        free(c);
        return false;
    }
    if (c->nparts != s->coll->live->nparts) {
        snprintf(err, errlen,
                 "the cursor has %d partitions but the collection's topic "
                 "has %d: fetch the data again and subscribe without a "
                 "cursor",
                 c->nparts, s->coll->live->nparts);
        *code = SUB_ERROR_CURSOR_INVALID;
        free(c);
        return false;
    }

    r = calloc(1, sizeof(*r));
    if (!r || !(r->parts = calloc((size_t)c->nparts, sizeof(replay_part_t))) ||
        !(r->topic = strdup(s->coll->topic))) {
        if (r)
            free(r->parts);
        free(r);
        free(c);
        *code = SUB_ERROR_UNAVAILABLE;
        snprintf(err, errlen, "out of memory");
        return false;
    }
    r->p = p;
    r->s = s;
    r->wake_fd = -1;
    r->phase = PHASE_QUEUED;
    memcpy(r->hash, hash, sizeof(hash));
    r->nparts = c->nparts;
    for (int i = 0; i < c->nparts; i++) {
        r->parts[i].next = c->parts[i].next_offset;
        r->parts[i].last_pos = c->parts[i].last_pos;
        r->parts[i].max_pos = c->parts[i].max_pos;
        r->parts[i].verify_offset = -1;
    }
    arena_init(&r->arena, REPLAY_ARENA_LIMIT);
    buf_init(&r->cursor, 0);
    free(c);

    s->replay = r;
    s->state = SUB_REPLAYING;
    r->next = rs->list;
    rs->list = r;
    /* Launched from the pump: a launch that fails at once ends the
     * subscription, which the caller is still setting up. */
    pump_start(p);
    return true;
}

void replay_cancel(pusher_t *p, sub_t *s)
{
    replay_t *r = s->replay;

    if (!r)
        return;
    destroy(p, r);
    s->replay = NULL;
}

void replay_resume(pusher_t *p)
{
    replays_t *rs = p->replays;

    for (replay_t *r = rs ? rs->list : NULL; r; r = r->next)
        r->waiting_schema = false;
    if (rs && rs->list)
        pump_start(p);
}

void replay_writable(pusher_t *p, conn_t *c)
{
    bool wake = false;

    for (int i = 0; i < c->nsubs; i++) {
        replay_t *r = c->subs[i]->replay;

        if (r && r->throttled && !client_busy(r)) {
            r->throttled = false;
            wake = true;
        }
    }
    if (wake)
        pump_start(p);
}

void replay_tick(pusher_t *p)
{
    replays_t *rs = p->replays;
    replay_t *r = rs ? rs->list : NULL;

    while (r) {
        replay_t *next = r->next;

        if (r->throttled && !client_busy(r))
            r->throttled = false;
        if (r->phase == PHASE_REPLAYING && !r->waiting_schema)
            attach_caught_up(p, r);
        r = next;
    }
    if (rs && rs->list)
        pump_start(p);
}
