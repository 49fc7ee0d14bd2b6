/* The schema of one table version: its columns with their kinds, the Avro
 * key and envelope schemas built from them, and the reverse (an Avro
 * envelope schema read back into columns, as the pusher does). */
#ifndef CDC_TABLE_SCHEMA_H
#define CDC_TABLE_SCHEMA_H

#include "value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

typedef struct column {
    char *name;    /* PostgreSQL's column name, as clients see it */
    char *field;   /* Avro field name (name made Avro-safe) */
    char *pg_type; /* the type as PostgreSQL names it ("integer") */
    coltype_t type;
    coltype_t elem; /* element kind when type is COLTYPE_ARRAY */
    int precision;  /* COLTYPE_DECIMAL */
    int scale;      /* COLTYPE_DECIMAL */
    bool key;       /* part of the Kafka key (primary key or identity) */
} column_t;

typedef struct table_schema {
    char *database; /* source database name */
    char *nspname;  /* PostgreSQL schema */
    char *relname;  /* table name */
    column_t *cols;
    int ncols;
    int nkeys;         /* columns with key set; 0 means a null Kafka key */
    int key_schema_id; /* registry ids, 0 until registered */
    int value_schema_id;
} table_schema_t;

/* Allocates an empty schema for the named table; NULL when out of memory. */
table_schema_t *table_schema_new(const char *database, const char *nspname,
                                 const char *relname, int ncols);
void table_schema_free(table_schema_t *ts);

/* Sets column i (strings are copied) and makes its Avro field name unique
 * among the columns set before it.  false when out of memory. */
bool table_schema_set_column(table_schema_t *ts, int i, const char *name,
                             const char *pg_type, coltype_t type,
                             coltype_t elem, int precision, int scale,
                             bool key);

/* True when both describe the same columns in the same order. */
bool table_schema_equal(const table_schema_t *a, const table_schema_t *b);

/* The Avro namespace of a table: "<prefix>.<schema>.<table>" with each part
 * made a valid Avro name. */
void table_schema_namespace(const table_schema_t *ts, const char *prefix,
                            buf_t *out);

/* Writes the Avro schema (JSON text) of the key record; false when the
 * table has no key columns or on memory failure. */
bool table_schema_key_avro(const table_schema_t *ts, const char *prefix,
                           buf_t *out);

/* Writes the Avro schema (JSON text) of the change envelope. */
bool table_schema_value_avro(const table_schema_t *ts, const char *prefix,
                             buf_t *out);

/* Reads an envelope schema written by table_schema_value_avro back into a
 * table schema.  Returns NULL and fills err when the text is not JSON, is
 * larger than the limit, or is not a change envelope of ours. */
table_schema_t *table_schema_from_avro(const char *json, size_t len, char *err,
                                       size_t errlen);

/* Name of a column kind, for messages ("timestamptz"). */
const char *coltype_name(coltype_t type);

#endif
