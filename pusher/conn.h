/* WebSocket connections: framing of outgoing messages into a per-connection
 * queue written in batches, reassembly of incoming messages, the send
 * queue limit, rate limits, keepalive and closing with a code. */
#ifndef CDC_CONN_H
#define CDC_CONN_H

#include "pusher.h"

/* Close codes we use besides the protocol's own. */
#define CLOSE_NORMAL      1000
#define CLOSE_GOING_AWAY  1001
#define CLOSE_UNSUPPORTED 1003
#define CLOSE_TOO_BIG     1009
#define CLOSE_INTERNAL    1011
#define CLOSE_TRY_AGAIN   1013

/* Starts tracking a connection that has just been upgraded. */
void conn_open(pusher_t *p, conn_t *c, struct lws *wsi, protocol_t proto);

/* Forgets a closed connection: ends its subscriptions, frees its memory. */
void conn_closed(pusher_t *p, conn_t *c);

/* Appends one text message as a WebSocket frame.  false when the send
 * queue limit is passed (the connection is then being closed). */
bool conn_send(conn_t *c, const char *data, size_t len);

/* Sends msg as one compact JSON text message and releases it (the
 * protocols' control messages; events are framed by the fan-out). */
void conn_send_json(conn_t *c, json_t *msg);

/* Starts a frame of payload_len bytes whose payload the caller appends
 * with conn_append; false when the queue limit is passed. */
bool conn_frame_begin(conn_t *c, size_t payload_len);
void conn_append(conn_t *c, const void *data, size_t len);

/* Closes with code and reason once what is queued has been written; with
 * discard the queue is dropped first (a client too slow to read it). */
void conn_close(conn_t *c, uint16_t code, const char *reason, bool discard);

/* Asks libwebsockets to call back every connection with new output. */
void conn_flush_dirty(pusher_t *p);

/* The same for event output: at most once per CDC_FLUSH_INTERVAL_MS, so
 * that at high rates several events reach a client in one write; when the
 * last flush is older than that, at once. */
void conn_flush_batched(pusher_t *p);

/* Writes queued output; called when the socket is writable.  Returns -1
 * when the connection should close now. */
int conn_on_writable(conn_t *c);

/* Gives back the buffers of a connection with nothing queued: an idle
 * connection then holds no buffer at all.  Called from the periodic
 * tick, so an active connection keeps its buffers between writes. */
void conn_release_idle(conn_t *c);

/* Drops a closing connection whose peer never answered our close. */
void conn_expire_closing(conn_t *c, int64_t now_ms);

/* Adds an incoming fragment; returns 1 when a whole message is in c->in,
 * 0 when more is coming, -1 when it is too large (closed). */
int conn_on_receive(conn_t *c, const void *in, size_t len, bool final);

/* Takes one token from the connection's rate bucket; false when the
 * client sends faster than allowed. */
bool conn_rate_ok(conn_t *c);

/* Bytes waiting to be written on this connection. */
size_t conn_queued(const conn_t *c);

/* Short label for logs: "conn 42". */
const char *conn_tag(const conn_t *c);

#endif
