/* The replication connection: slot creation, START_REPLICATION with pgoutput,
 * reading the copy stream (XLogData 'w' and keepalive 'k' messages) without
 * blocking, and standby status updates ('r') back to the server. */
#ifndef CDC_STREAM_H
#define CDC_STREAM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stream stream_t;

typedef enum stream_event {
    STREAM_NONE,      /* nothing to read now */
    STREAM_DATA,      /* a pgoutput message in data/len at wal_start */
    STREAM_KEEPALIVE, /* server position wal_end; reply_requested set */
    STREAM_END,       /* the server ended the stream */
    STREAM_ERROR,     /* see err */
} stream_event_t;

typedef struct stream_msg {
    const uint8_t *data;
    size_t len;
    uint64_t wal_start;
    uint64_t wal_end;
    bool reply_requested;
} stream_msg_t;

/* Opens a replication=database connection.  NULL with err. */
stream_t *stream_connect(const char *dburl, char *err, size_t errlen);
void stream_free(stream_t *s);

/* Creates a logical slot with pgoutput.  With snapshot_name non-NULL the
 * slot exports a snapshot, valid until the next command on this
 * connection, and the connection holds the slot until then;
 * consistent_lsn receives the slot's start point.  *slot_busy is set when
 * another process created the slot first. */
bool stream_create_slot(stream_t *s, const char *slot, char *snapshot_name,
                        size_t namelen, uint64_t *consistent_lsn,
                        bool *slot_busy, char *err, size_t errlen);

/* Starts streaming from the slot's confirmed position.  *slot_busy is set
 * when another process holds the slot. */
bool stream_start(stream_t *s, const char *slot, const char *publication,
                  bool *slot_busy, char *err, size_t errlen);

/* Reads the next event without blocking.  Data stays valid until the next
 * call. */
stream_event_t stream_read(stream_t *s, stream_msg_t *msg, char *err,
                           size_t errlen);

/* Sends a standby status update: received, flushed (= applied) LSNs. */
bool stream_send_status(stream_t *s, uint64_t received, uint64_t flushed,
                        bool reply_requested, char *err, size_t errlen);

/* Ends streaming (CopyDone) and waits, at most timeout_ms, until the
 * server has finished the command: a status update sent before it has
 * then been read.  Blocking; for stopping.  false when the server did not
 * confirm in time. */
bool stream_finish(stream_t *s, int timeout_ms);

int stream_socket(const stream_t *s);

/* Server's system identifier and timeline, from IDENTIFY_SYSTEM. */
const char *stream_system_id(const stream_t *s);

#endif
