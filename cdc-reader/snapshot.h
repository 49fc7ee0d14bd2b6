/* The initial snapshot: every published table read under the snapshot a
 * new slot exported, in chunks through a cursor on the reader's loop, each
 * row produced as an r event positioned before every streamed change.
 *
 * Also what makes an interrupted snapshot safe to take again: marks in the
 * compacted topic "<prefix>._snapshots" ("started" before the slot is
 * created, again with its consistent point and at every later attempt,
 * "done" once Kafka holds every row), and a PostgreSQL advisory lock that
 * keeps other readers away from the slot while one prepares it.  A later
 * attempt reads the tables under a fresh snapshot, with positions above
 * those of earlier attempts, and the slot, never confirmed meanwhile, then
 * streams every change made since its consistent point. */
#ifndef CDC_SNAPSHOT_H
#define CDC_SNAPSHOT_H

#include "changes.h"
#include "producer.h"
#include "relcache.h"
#include "topics.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef enum snapshot_mark_state {
    SNAPSHOT_MARK_NONE,    /* no snapshot was ever started for the slot */
    SNAPSHOT_MARK_STARTED, /* started; consistent_lsn 0 before creation */
    SNAPSHOT_MARK_DONE,
} snapshot_mark_state_t;

typedef struct snapshot_mark {
    snapshot_mark_state_t state;
    uint64_t consistent_lsn;
    uint32_t attempt; /* 1 for the snapshot the slot exported */
    uint64_t rows;
} snapshot_mark_t;

/* Positions of attempt n's r events start above this, so that no earlier
 * attempt's records make the tail rule skip them: attempt n numbers its
 * rows from (n - 1) << SNAPSHOT_ATTEMPT_SHIFT. */
#define SNAPSHOT_ATTEMPT_SHIFT 40
uint64_t snapshot_seq_base(uint32_t attempt);

/* Reads one mark record (JSON: state "started" or "done", consistent_lsn
 * "X/Y", attempt, rows; at most 4 KiB).  false when value is anything else;
 * out is then untouched. */
bool snapshot_mark_parse(const void *value, size_t len, snapshot_mark_t *out);

/* The latest mark under key in partition 0 of topic (state NONE when
 * there is none).  false with err when Kafka cannot be read. */
bool snapshot_mark_read(topics_t *topics, const char *topic, const char *key,
                        snapshot_mark_t *out, char *err, size_t errlen);

/* Writes a mark and waits for Kafka's acknowledgement.  false with err. */
bool snapshot_mark_write(producer_t *producer, const char *topic,
                         const char *key, const snapshot_mark_t *mark,
                         char *err, size_t errlen);

/* Takes the session advisory lock of slot on conn without waiting; *got
 * tells whether it was free.  false with err when the query fails. */
bool snapshot_lock(PGconn *conn, const char *slot, bool *got, char *err,
                   size_t errlen);

/* Gives the lock back (nothing when conn is no longer connected: the
 * session's end released it). */
void snapshot_unlock(PGconn *conn, const char *slot);

typedef struct snapshot snapshot_t;

/* Called once when the snapshot has read every table (ok) or failed (err;
 * fatal when retrying cannot help, such as a value that does not parse).
 * The records may still await Kafka's acknowledgement. */
typedef void (*snapshot_done_fn)(void *arg, bool ok, bool fatal,
                                 const char *err);

typedef struct snapshot_options {
    uv_loop_t *loop;
    const char *dburl;
    const char *publication;
    const char *snapshot_name; /* exported by the slot; NULL: a new one */
    uint64_t consistent_lsn;
    uint32_t attempt;
    const uint32_t *table_oids; /* copied */
    int ntables;
    int chunk_rows;
    changes_t *changes; /* borrowed */
    snapshot_done_fn done;
    void *arg;
} snapshot_options_t;

/* Imports the exported snapshot (or takes a new one) on a new connection
 * and starts reading.  Returns NULL with err when the connection or the
 * import fails. */
snapshot_t *snapshot_start(const snapshot_options_t *opts, char *err,
                           size_t errlen);

/* Continues after Kafka's queue had room again; reading pauses by itself
 * while the producer is blocked. */
void snapshot_resume(snapshot_t *s);

/* Stops reading (if still running) and frees; handles close on the loop. */
void snapshot_free(snapshot_t *s);

/* Progress, for logs and /metrics. */
typedef struct snapshot_progress {
    int tables_total;
    int tables_done;
    uint64_t rows;
    double rows_per_second;
    double seconds;
} snapshot_progress_t;

void snapshot_get_progress(const snapshot_t *s, snapshot_progress_t *out);

#endif
