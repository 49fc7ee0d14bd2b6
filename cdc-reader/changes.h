/* Change events: pgoutput messages (Begin, Commit, Relation, Type, Insert,
 * Update, Delete, Truncate; Origin and Message are ignored) and snapshot
 * rows turned into keyed Avro records on their table's topic, each with its
 * source position (commit_lsn, seq).  A record at or below its partition's
 * tail position is already in Kafka and is skipped, which is what makes a
 * replay after a restart neither lose nor duplicate.  Loop thread only. */
#ifndef CDC_CHANGES_H
#define CDC_CHANGES_H

#include "arena.h"
#include "buf.h"
#include "catalog.h"
#include "pgoutput.h"
#include "producer.h"
#include "relcache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The transaction (or snapshot) whose records are being produced. */
typedef struct changes_txn {
    bool open;
    bool snapshot;
    uint32_t xid;
    uint64_t commit_lsn;
    uint64_t snapshot_lsn; /* the slot's consistent point, for r events */
    int64_t commit_ts_us;
    uint64_t seq;
    txn_track_t *track;
} changes_txn_t;

typedef struct changes {
    producer_t *producer; /* borrowed */
    relcache_t *relcache; /* borrowed */
    catalog_t *catalog;   /* borrowed; may be NULL: no type cache to reset */
    pgoutput_decoder_t decoder;
    arena_t arena;
    buf_t keybuf;
    buf_t valbuf;
    changes_txn_t txn;

    bool refused; /* the last failure: a value its Avro type cannot carry */
    uint64_t transactions;  /* committed transactions received */
    uint64_t decode_errors; /* messages that could not be decoded */
} changes_t;

/* Prepares ch; producer, relcache and catalog stay owned by the caller. */
void changes_init(changes_t *ch, producer_t *producer, relcache_t *relcache,
                  catalog_t *catalog);
void changes_free(changes_t *ch);

/* Handles one pgoutput message that starts at lsn.  Returns false with err
 * saying what was wrong and where (undecodable message, unknown relation,
 * value that does not parse, Kafka refusing a record): the caller must stop
 * reading; nothing of the transaction in progress is ever confirmed, since
 * its tracker is not committed. */
bool changes_apply(changes_t *ch, const uint8_t *data, size_t len, uint64_t lsn,
                   char *err, size_t errlen);

/* True between a Begin and its Commit. */
bool changes_in_transaction(const changes_t *ch);

/* Gives up a transaction cut off mid-way (lost connection, stop): it will
 * be received again from its start and what of it reached Kafka is skipped
 * by position.  Nothing of it is confirmed. */
void changes_abandon(changes_t *ch);

/* Starts the snapshot read at the slot's consistent point: its r events
 * take positions (consistent_lsn - 1, seq_base + 1..N), below every
 * streamed change.  false when out of memory. */
bool changes_snapshot_begin(changes_t *ch, uint64_t consistent_lsn,
                            uint64_t seq_base, int64_t ts_us);

/* Produces one snapshot row of rel: texts[i] is column i in PostgreSQL's
 * text form (lens[i] bytes) or NULL for SQL NULL.  false with err as for
 * changes_apply. */
bool changes_snapshot_row(changes_t *ch, rel_t *rel, const char *const *texts,
                          const int *lens, char *err, size_t errlen);

/* Ends the snapshot: once its records are acknowledged the producer is
 * idle again; the acknowledged LSN does not move. */
void changes_snapshot_end(changes_t *ch);

#endif
