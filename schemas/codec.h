/* Avro binary encoding and decoding of change envelopes and keys, side by
 * side, for the schemas of table_schema.h.  Encoding appends to a reused
 * buffer; decoding points strings into the input and takes everything else
 * from an arena, so neither allocates per event in steady state. */
#ifndef CDC_CODEC_H
#define CDC_CODEC_H

#include "table_schema.h"
#include "value.h"

#include "../common/arena.h"
#include "../common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum change_op {
    OP_CREATE = 'c',
    OP_UPDATE = 'u',
    OP_DELETE = 'd',
    OP_READ = 'r', /* snapshot read */
    OP_TRUNCATE = 't',
} change_op_t;

/* Where a change came from.  (commit_lsn, seq) orders every record of a
 * partition; see DESIGN.md "Delivery guarantees". */
typedef struct change_source {
    uint64_t lsn;        /* LSN of the change itself */
    uint64_t commit_lsn; /* LSN of its transaction's commit */
    int64_t txid;
    int64_t commit_ts_us; /* commit time, microseconds since 1970 */
    uint64_t seq;         /* record number within the transaction */
    bool snapshot;
    /* The table's replica identity when the change was made: 'f' (full)
     * means before holds every column; otherwise before holds only the key
     * columns and the others are not known. */
    char identity;
} change_source_t;

typedef struct change {
    change_op_t op;
    value_t *before; /* ncols values, or NULL */
    value_t *after;  /* ncols values, or NULL */
    change_source_t source;
    int64_t ts_ms; /* when the reader produced it */
} change_t;

/* Appends the Avro binary of the envelope.  Unchanged values of after are
 * written as null and named in the envelope's "unchanged" list.  false on
 * memory failure or when a value does not fit its column (err says which). */
bool codec_encode_change(const table_schema_t *ts, const change_t *ch,
                         buf_t *out, char *err, size_t errlen);

/* Appends the Avro binary of the key record from a row's key columns. */
bool codec_encode_key(const table_schema_t *ts, const value_t *row, buf_t *out,
                      char *err, size_t errlen);

/* Decodes an envelope written with schema ts.  Strings point into data,
 * which must outlive the change; arrays and converted values live in the
 * arena.  false with err set on malformed or truncated input, or when the
 * arena limit is reached. */
bool codec_decode_change(const table_schema_t *ts, const uint8_t *data,
                         size_t len, arena_t *arena, change_t *out, char *err,
                         size_t errlen);

/* Decimal text ("-12.50") to the two's-complement big-endian unscaled
 * integer Avro uses, at the given scale; and back.  Exposed for tests. */
bool codec_decimal_to_bytes(const char *text, size_t len, int scale,
                            buf_t *out);
bool codec_decimal_from_bytes(const uint8_t *bytes, size_t len, int scale,
                              buf_t *out);

#endif
