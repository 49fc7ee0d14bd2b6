/* Connection output queues and their limits.  Frames are built here (server
 * frames are unmasked) and written with one lws_write per turn, so many
 * events to one client cost one system call. */
#include "conn.h"

#include "fanout.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* Largest write per writable callback: big enough to batch, small enough
 * that libwebsockets rarely has to keep a partial send. */
#define WRITE_CHUNK (64 * 1024)

/* An idle connection gives back a buffer larger than this. */
#define KEEP_BUFFER (16 * 1024)

/* How long a closing connection waits for the peer's close frame. */
#define CLOSE_WAIT_MS 3000

const char *conn_tag(const conn_t *c)
{
    static __thread char tag[32];

    snprintf(tag, sizeof(tag), "conn %u", c->id);
    return tag;
}

void conn_open(pusher_t *p, conn_t *c, struct lws *wsi, protocol_t proto)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->p = p;
    c->id = ++p->next_conn_id;
    c->protocol = (uint8_t)proto;
    c->state = CONN_OPEN;
    c->opened_ms = c->last_seen_ms = c->last_ping_ms = pusher_now_ms();
    c->tokens = (double)p->set.rate_burst;
    c->tokens_ms = c->opened_ms;
    buf_init(&c->out, 0);
    buf_init(&c->in, (size_t)p->set.max_message_bytes);

    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->nconns++;
    p->stats.connections_total++;
}

/* Send buffers are counted by what they hold in memory, sent or not: the
 * process-wide budget bounds that. */
static bool out_grow(conn_t *c, size_t n)
{
    size_t before = c->out.cap;
    bool ok = buf_reserve(&c->out, n);

    c->p->queue_memory += c->out.cap - before;
    return ok;
}

static void out_free(conn_t *c)
{
    c->p->queue_memory -= c->out.cap;
    buf_free(&c->out);
}

void conn_closed(pusher_t *p, conn_t *c)
{
    if (!c->p)
        return;
    while (c->nsubs > 0)
        fanout_unsubscribe(p, c->subs[c->nsubs - 1]);
    free(c->subs);
    c->subs = NULL;
    p->queue_bytes -= conn_queued(c);
    out_free(c);
    buf_free(&c->in);
    free(c->close_reason);
    free(c->ident);

    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;

    /* Unlink from the dirty list; it is short-lived and walked once. */
    for (conn_t **d = &p->dirty; *d; d = &(*d)->next_dirty) {
        if (*d == c) {
            *d = c->next_dirty;
            break;
        }
    }
    p->nconns--;
    c->p = NULL;
}

size_t conn_queued(const conn_t *c)
{
    return c->out.len > c->out_sent ? c->out.len - c->out_sent : 0;
}

static void mark_dirty(conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = c->p->dirty;
    c->p->dirty = c;
}

void conn_close(conn_t *c, uint16_t code, const char *reason, bool discard)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->close_code = code;
    /* From now on last_seen times the close: a peer that reads nothing
     * more is dropped CLOSE_WAIT_MS * 4 after it, not after its last
     * message, so a slow client still gets a moment to read the reason. */
    c->last_seen_ms = pusher_now_ms();
    free(c->close_reason);
    c->close_reason = reason ? strdup(reason) : NULL;
    if (discard) {
        c->p->queue_bytes -= conn_queued(c);
        out_free(c);
        c->out_sent = 0;
    }
    mark_dirty(c);
}

/* Makes room for n more bytes, keeping LWS_PRE bytes of headroom at the
 * start; closes the connection when its queue would pass the limit. */
static bool write_now(conn_t *c);

static bool reserve(conn_t *c, size_t n)
{
    pusher_t *p = c->p;
    bool over_own, over_all;

    if (c->state == CONN_CLOSING)
        return false;
    /* A burst (one Kafka batch is dispatched before any write) is not a
     * slow reader: first give the socket what it takes. */
    if ((conn_queued(c) + n > (size_t)p->set.max_queue_bytes ||
         p->queue_memory + n > (uint64_t)p->set.max_total_queue_bytes) &&
        c->wsi)
        write_now(c);
    /* One message larger than the limit still goes to a client that has
     * taken everything else, or it could never get past it.  Past the
     * process-wide budget, the connections holding more than their share
     * are the slow ones. */
    over_own = conn_queued(c) > 0 &&
               conn_queued(c) + n > (size_t)p->set.max_queue_bytes;
    over_all = p->queue_memory + n > (uint64_t)p->set.max_total_queue_bytes &&
               p->nconns > 0 &&
               conn_queued(c) > p->queue_bytes / (uint64_t)p->nconns;
    if (over_own || over_all) {
        char reason[120];

        p->stats.slow_closes++;
        snprintf(reason, sizeof(reason),
                 "%s over %ld bytes: reconnect and resume from your last "
                 "cursor",
                 over_own ? "send queue" : "server send buffers",
                 over_own ? p->set.max_queue_bytes
                          : p->set.max_total_queue_bytes);
        log_info(conn_tag(c), "client reads too slowly (%s); closing with %d",
                 over_own ? "its queue is full"
                          : "the server's budget is spent",
                 CLOSE_TRY_AGAIN);
        conn_close(c, CLOSE_TRY_AGAIN, reason, true);
        return false;
    }
    if (c->out.len == 0) {
        if (!out_grow(c, LWS_PRE + n))
            return false;
        memset(c->out.data, 0, LWS_PRE);
        c->out.len = LWS_PRE;
        c->out_sent = LWS_PRE;
    } else if (c->out_sent > c->out.cap / 2 &&
               c->out_sent > LWS_PRE + WRITE_CHUNK) {
        /* Most of the buffer is already written: slide the rest down. */
        size_t left = c->out.len - c->out_sent;

        memmove(c->out.data + LWS_PRE, c->out.data + c->out_sent, left);
        c->out.len = LWS_PRE + left;
        c->out_sent = LWS_PRE;
    }
    if (!out_grow(c, n))
        return false;
    mark_dirty(c);
    return true;
}

bool conn_frame_begin(conn_t *c, size_t payload_len)
{
    uint8_t header[10];
    size_t hlen;

    header[0] = 0x81; /* final fragment, text */
    if (payload_len < 126) {
        header[1] = (uint8_t)payload_len;
        hlen = 2;
    } else if (payload_len < 65536) {
        header[1] = 126;
        header[2] = (uint8_t)(payload_len >> 8);
        header[3] = (uint8_t)payload_len;
        hlen = 4;
    } else {
        header[1] = 127;
        for (int i = 0; i < 8; i++)
            header[2 + i] = (uint8_t)((uint64_t)payload_len >> (56 - 8 * i));
        hlen = 10;
    }
    if (!reserve(c, hlen + payload_len))
        return false;
    memcpy(c->out.data + c->out.len, header, hlen);
    c->out.len += hlen;
    c->p->queue_bytes += hlen + payload_len;
    return true;
}

void conn_append(conn_t *c, const void *data, size_t len)
{
    /* Room was reserved by conn_frame_begin. */
    memcpy(c->out.data + c->out.len, data, len);
    c->out.len += len;
}

void conn_send_json(conn_t *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (text)
        conn_send(c, text, strlen(text));
    free(text);
    json_decref(msg);
}

bool conn_send(conn_t *c, const char *data, size_t len)
{
    if (!conn_frame_begin(c, len))
        return false;
    conn_append(c, data, len);
    return true;
}

/* Our close frame goes out through the same queue as everything else, so
 * it follows what is queued; the peer's answering close frame then ends
 * the connection in libwebsockets. */
static void queue_close_frame(conn_t *c)
{
    const char *reason = c->close_reason ? c->close_reason : "";
    size_t rlen = strlen(reason) > 123 ? 123 : strlen(reason);
    uint8_t frame[2 + 2 + 123];

    frame[0] = 0x88; /* final fragment, close */
    frame[1] = (uint8_t)(2 + rlen);
    frame[2] = (uint8_t)(c->close_code >> 8);
    frame[3] = (uint8_t)c->close_code;
    memcpy(frame + 4, reason, rlen);
    c->close_queued = true;
    c->state = CONN_OPEN; /* reserve() refuses closing connections */
    if (reserve(c, 4 + rlen)) {
        memcpy(c->out.data + c->out.len, frame, 4 + rlen);
        c->out.len += 4 + rlen;
        c->p->queue_bytes += 4 + rlen;
    }
    c->state = CONN_CLOSING;
    lws_callback_on_writable(c->wsi);
}

static bool write_now(conn_t *c);

void conn_flush_dirty(pusher_t *p)
{
    conn_t *c = p->dirty;

    p->last_flush_ms = pusher_now_ms();
    if (p->flush_armed) {
        uv_timer_stop(&p->flush_timer);
        p->flush_armed = false;
    }
    p->dirty = NULL;
    while (c) {
        conn_t *next = c->next_dirty;

        c->dirty = false;
        c->next_dirty = NULL;
        /* A connection without a socket (tests) only keeps its queue. */
        if (c->wsi && !write_now(c))
            lws_callback_on_writable(c->wsi);
        c = next;
    }
}

/* Length of the frame whose header starts at at, or 0 when the header is
 * not all there (it always is: frames are queued whole). */
static size_t frame_length(const uint8_t *at, size_t avail)
{
    size_t len, hlen = 2;

    if (avail < 2)
        return 0;
    len = at[1] & 0x7f;
    if (len == 126) {
        hlen = 4;
        if (avail < hlen)
            return 0;
        len = (size_t)at[2] << 8 | at[3];
    } else if (len == 127) {
        hlen = 10;
        if (avail < hlen)
            return 0;
        len = (size_t)get_be64(at + 2);
    }
    return hlen + len;
}

/* Bytes to hand to libwebsockets now: whole frames only, about
 * WRITE_CHUNK of them, at least one.  libwebsockets keeps what the socket
 * does not take and sends it before the next writable callback, so the
 * queue always starts on a frame; dropping it (a slow client) then never
 * cuts a frame in two before the close frame. */
static size_t chunk_of_frames(const conn_t *c)
{
    const uint8_t *start = c->out.data + c->out_sent;
    size_t left = conn_queued(c), n = 0;

    while (n < left) {
        size_t f = frame_length(start + n, left - n);

        if (f == 0 || f > left - n)
            return left;
        if (n > 0 && n + f > WRITE_CHUNK)
            break;
        n += f;
    }
    return n;
}

/* Writes the queue straight to the socket: one system call and no change
 * of the poll set, which a writable callback would cost twice.  Only when
 * libwebsockets holds nothing of ours, so order is kept.  A frame the
 * socket takes only part of is finished by libwebsockets (which sends what
 * it holds before anything else, its own pongs included); whole frames
 * after it wait for the writable callback.  false: use the callback. */
static bool write_now(conn_t *c)
{
    uint8_t *start = c->out.data + c->out_sent;
    size_t left = conn_queued(c), at = 0, frame = 0;
    ssize_t n;

    if (left == 0 || c->state == CONN_CLOSING || lws_partial_buffered(c->wsi))
        return false;
    n = send(lws_get_socket_fd(c->wsi), start, left,
             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false; /* libwebsockets meets the error and closes */
        n = 0;
    }
    if ((size_t)n == left) {
        c->p->queue_bytes -= left;
        if (c->out.cap > KEEP_BUFFER)
            out_free(c);
        else
            c->out.len = 0;
        c->out_sent = 0;
        return true;
    }

    /* Find the frame the socket stopped in. */
    while (at < (size_t)n) {
        frame = frame_length(start + at, left - at);
        if (frame == 0 || frame > left - at)
            return false;
        at += frame;
    }
    if (at > (size_t)n &&
        lws_write(c->wsi, start + n, at - (size_t)n, LWS_WRITE_RAW) < 0)
        return false;
    c->out_sent += at;
    c->p->queue_bytes -= at;
    lws_callback_on_writable(c->wsi);
    return true;
}

static void on_flush_timer(uv_timer_t *t)
{
    pusher_t *p = t->data;

    p->flush_armed = false;
    conn_flush_dirty(p);
}

void conn_flush_batched(pusher_t *p)
{
    int64_t wait =
        p->last_flush_ms + p->set.flush_interval_ms - pusher_now_ms();

    if (!p->dirty)
        return;
    if (wait <= 0) {
        conn_flush_dirty(p);
        return;
    }
    if (!p->flush_armed) {
        p->flush_timer.data = p;
        uv_timer_start(&p->flush_timer, on_flush_timer, (uint64_t)wait, 0);
        p->flush_armed = true;
    }
}

int conn_on_writable(conn_t *c)
{
    size_t left = conn_queued(c);

    if (left > 0) {
        size_t n = chunk_of_frames(c);
        int written =
            lws_write(c->wsi, c->out.data + c->out_sent, n, LWS_WRITE_RAW);

        if (written < 0)
            return -1;
        c->out_sent += n;
        c->p->queue_bytes -= n;
        if (c->out_sent == c->out.len) {
            if (c->out.cap > KEEP_BUFFER) {
                out_free(c);
            } else {
                c->out.len = 0;
            }
            c->out_sent = 0;
        } else {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }
    if (c->state == CONN_CLOSING) {
        if (!c->close_queued)
            queue_close_frame(c);
        else if (!c->close_sent_ms)
            c->close_sent_ms = pusher_now_ms();
    }
    return 0;
}

void conn_release_idle(conn_t *c)
{
    if (c->out.data && conn_queued(c) == 0 && c->state != CONN_CLOSING) {
        out_free(c);
        c->out_sent = 0;
    }
    if (c->in.data && c->in.len == 0)
        buf_free(&c->in);
}

void conn_expire_closing(conn_t *c, int64_t now_ms)
{
    /* A peer that does not answer our close frame is dropped. */
    if (c->state == CONN_CLOSING && c->close_sent_ms &&
        now_ms - c->close_sent_ms > CLOSE_WAIT_MS)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else if (c->state == CONN_CLOSING && !c->close_sent_ms &&
             now_ms - c->last_seen_ms > CLOSE_WAIT_MS * 4)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int conn_on_receive(conn_t *c, const void *in, size_t len, bool final)
{
    if (!buf_append(&c->in, in, len)) {
        char reason[80];

        snprintf(reason, sizeof(reason), "message larger than %ld bytes",
                 c->p->set.max_message_bytes);
        buf_free(&c->in);
        conn_close(c, CLOSE_TOO_BIG, reason, false);
        return -1;
    }
    c->last_seen_ms = pusher_now_ms();
    return final ? 1 : 0;
}

bool conn_rate_ok(conn_t *c)
{
    pusher_t *p = c->p;
    int64_t now = pusher_now_ms();

    if (p->set.rate_limit <= 0)
        return true;
    c->tokens +=
        (double)(now - c->tokens_ms) * (double)p->set.rate_limit / 1000.0;
    c->tokens_ms = now;
    if (c->tokens > (double)p->set.rate_burst)
        c->tokens = (double)p->set.rate_burst;
    if (c->tokens < 1.0) {
        p->stats.rate_limited++;
        return false;
    }
    c->tokens -= 1.0;
    return true;
}
