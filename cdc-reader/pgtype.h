/* PostgreSQL types to column kinds: the one table of the type mapping, and
 * the parsers from PostgreSQL's text output to typed values.
 *
 * Text comes from sessions with DateStyle=ISO, TimeZone=UTC,
 * IntervalStyle=postgres, extra_float_digits=3 and bytea_output=hex (see
 * pgtype_session_options), so every parser here reads one fixed form. */
#ifndef CDC_PGTYPE_H
#define CDC_PGTYPE_H

#include "arena.h"
#include "value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The settings every connection of the reader runs with, as libpq
 * "options". */
extern const char pgtype_session_options[];

/* How one column is carried. */
typedef struct pgtype {
    coltype_t type;
    coltype_t elem;  /* element kind when type is COLTYPE_ARRAY */
    int precision;   /* COLTYPE_DECIMAL */
    int scale;       /* COLTYPE_DECIMAL */
} pgtype_t;

/* Kinds of pg_type rows, for types the built-in table does not know. */
typedef struct pgtype_catalog_row {
    char typtype;        /* 'b' base, 'd' domain, 'e' enum, 'c' composite,
                            'r' range, 'm' multirange, 'p' pseudo */
    char typcategory;    /* 'A' for arrays */
    uint32_t basetype;   /* domains: the type underneath */
    int32_t basetypmod;  /* domains: its modifier */
    uint32_t elemtype;   /* arrays: the element type */
} pgtype_catalog_row_t;

/* Maps a built-in type (OID below 10000) with its modifier.  Returns false
 * when the OID is not a built-in type this table knows; the caller then
 * asks the catalog (pgtype_from_catalog). */
bool pgtype_builtin(uint32_t oid, int32_t typmod, pgtype_t *out);

/* Maps a type described by the catalog: domains take their base type,
 * enums, composites and ranges their text form, arrays their element's
 * kind.  elem_builtin is the mapping of elemtype (arrays) or basetype
 * (domains) when the caller resolved it already; NULL otherwise. */
void pgtype_from_catalog(const pgtype_catalog_row_t *row,
                         const pgtype_t *underlying, pgtype_t *out);

/* Parses PostgreSQL's text form of a value of type t.  Strings point into
 * text; converted bytes (bytea) and array elements live in the arena.
 * false with err saying what was wrong. */
bool pgtype_parse(const pgtype_t *t, const char *text, size_t len,
                  arena_t *arena, value_t *out, char *err, size_t errlen);

#endif
