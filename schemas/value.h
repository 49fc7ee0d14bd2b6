/* Typed column values: what the reader builds from PostgreSQL's text and
 * what the pusher decodes from Avro, so filters and serializers in both
 * work on one representation. */
#ifndef CDC_VALUE_H
#define CDC_VALUE_H

#include <stdbool.h>
#include <stdint.h>

/* How a column travels in Avro; each kind has one Avro shape (see
 * schemas/table_schema.c) and one JSON rendering (schemas/json_row.c). */
typedef enum coltype {
    COLTYPE_BOOLEAN,     /* boolean */
    COLTYPE_INT,         /* int */
    COLTYPE_LONG,        /* long */
    COLTYPE_FLOAT,       /* float */
    COLTYPE_DOUBLE,      /* double */
    COLTYPE_STRING,      /* string, PostgreSQL's text form */
    COLTYPE_BYTES,       /* bytes */
    COLTYPE_DECIMAL,     /* bytes as decimal(precision, scale); NaN as string */
    COLTYPE_NUMERIC,     /* string: numeric without precision, exact text */
    COLTYPE_DATE,        /* int, days since 1970-01-01 (logical date) */
    COLTYPE_TIME,        /* long, microseconds since midnight (time-micros) */
    COLTYPE_TIMESTAMP,   /* long, local-timestamp-micros */
    COLTYPE_TIMESTAMPTZ, /* long, timestamp-micros (UTC) */
    COLTYPE_UUID,        /* string with logical type uuid */
    COLTYPE_JSON,        /* string holding JSON text (json, jsonb) */
    COLTYPE_ARRAY,       /* array of an element kind; NULL elements kept */
    COLTYPE_COUNT_
} coltype_t;

/* Timestamps and dates that PostgreSQL prints as infinity. */
#define VALUE_TS_INFINITY         INT64_MAX
#define VALUE_TS_MINUS_INFINITY   INT64_MIN
#define VALUE_DATE_INFINITY       INT32_MAX
#define VALUE_DATE_MINUS_INFINITY INT32_MIN

typedef enum value_state {
    VALUE_NULL = 0,
    VALUE_SET,
    /* An unchanged TOASTed value PostgreSQL did not send: not known here,
     * never to be shown as null or as an older value. */
    VALUE_UNCHANGED,
} value_state_t;

typedef struct value value_t;

struct value {
    uint8_t state;   /* value_state_t */
    uint8_t special; /* COLTYPE_DECIMAL: s holds "NaN", not digits */
    uint32_t len;    /* bytes at s, or elements at items */
    union {
        bool b;
        int64_t i; /* INT, LONG, DATE, TIME, TIMESTAMP, TIMESTAMPTZ */
        double f;  /* FLOAT, DOUBLE */
        /* STRING, BYTES, NUMERIC, UUID, JSON: the bytes, not
         * NUL-terminated; DECIMAL: its digits as text ("-12.50") */
        const char *s;
        value_t *items; /* ARRAY */
    } u;
};

static inline bool value_is_set(const value_t *v)
{
    return v->state == VALUE_SET;
}

#endif
