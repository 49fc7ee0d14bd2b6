/* Decoder for the messages of PostgreSQL's pgoutput plugin (protocol
 * version 1, text values): Begin, Commit, Origin, Relation, Type, Insert,
 * Update, Delete, Truncate and Message. */
#ifndef CDC_PGOUTPUT_H
#define CDC_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PostgreSQL's limit on columns of a relation. */
#define PGOUTPUT_MAX_COLUMNS  1664
#define PGOUTPUT_MAX_TRUNCATE 65536

typedef enum pgoutput_kind {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
} pgoutput_kind_t;

typedef struct pgoutput_column {
    bool key; /* part of the replica identity */
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
} pgoutput_column_t;

/* One value of a tuple: 'n' null, 'u' unchanged TOAST (not sent), 't' text,
 * 'b' binary. */
typedef struct pgoutput_datum {
    char kind;
    uint32_t len;
    const char *data; /* len bytes, not NUL-terminated */
} pgoutput_datum_t;

typedef struct pgoutput_tuple {
    int ncols;
    pgoutput_datum_t *cols;
} pgoutput_tuple_t;

/* A decoded message.  Strings and datums point into the input buffer and
 * arrays into the decoder, both valid until the next decode. */
typedef struct pgoutput_msg {
    pgoutput_kind_t kind;
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_ts; /* microseconds since 2000-01-01 */
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_ts;
        } commit;
        struct {
            uint64_t commit_lsn;
            const char *name;
        } origin;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *relname;
            char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
            int ncols;
            pgoutput_column_t *cols;
        } relation;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *name;
        } type;
        struct {
            uint32_t oid;
            char old_kind; /* 'K' key only, 'O' whole old row, 0 none */
            pgoutput_tuple_t old_tuple;
            pgoutput_tuple_t new_tuple;
        } change;
        struct {
            int nrels;
            uint8_t options; /* 1 cascade, 2 restart identity */
            uint32_t *oids;
        } truncate;
        struct {
            uint8_t flags; /* 1: transactional */
            uint64_t lsn;
            const char *prefix;
            const char *content;
            uint32_t len;
        } message;
    } u;
} pgoutput_msg_t;

typedef struct pgoutput_decoder {
    pgoutput_column_t *columns;
    int columns_cap;
    pgoutput_datum_t *datums;
    int datums_cap;
    uint32_t *oids;
    int oids_cap;
} pgoutput_decoder_t;

void pgoutput_decoder_init(pgoutput_decoder_t *d);
void pgoutput_decoder_free(pgoutput_decoder_t *d);

/* Decodes one message.  Returns false and fills err with what was wrong
 * (unknown message byte, truncated field, absurd count) on bad input; the
 * decoder stays usable. */
bool pgoutput_decode(pgoutput_decoder_t *d, const uint8_t *data, size_t len,
                     pgoutput_msg_t *out, char *err, size_t errlen);

/* PostgreSQL's epoch (2000-01-01) in Unix microseconds. */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

#endif
