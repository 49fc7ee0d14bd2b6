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

/* PostgreSQL's own limits: one value is at most 1 GB, an array has at most
 * this many elements, numeric has at most 1000 digits of precision. */
#define PGTYPE_MAX_TEXT           ((size_t)1 << 30)
#define PGTYPE_MAX_ARRAY_ELEMENTS 134217727
#define PGTYPE_MAX_PRECISION      1000

/* The settings every connection of the reader runs with, as libpq
 * "options". */
extern const char pgtype_session_options[];

/* How one column is carried. */
typedef struct pgtype {
    coltype_t type;
    coltype_t elem; /* element kind when type is COLTYPE_ARRAY */
    int precision;  /* COLTYPE_DECIMAL, or arrays of it */
    int scale;      /* COLTYPE_DECIMAL, or arrays of it */
} pgtype_t;

/* Kinds of pg_type rows, for types the built-in table does not know. */
typedef struct pgtype_catalog_row {
    char typtype;       /* 'b' base, 'd' domain, 'e' enum, 'c' composite,
                           'r' range, 'm' multirange, 'p' pseudo */
    char typcategory;   /* 'A' for arrays */
    char typdelim;      /* arrays: the element separator of the text */
    uint32_t basetype;  /* domains: the type underneath */
    int32_t basetypmod; /* domains: its modifier */
    uint32_t elemtype;  /* arrays: the element type */
} pgtype_catalog_row_t;

/* Maps a built-in type with its modifier (numeric precision and scale).
 * Returns false when the OID is not in the table; the caller then asks the
 * catalog and calls pgtype_from_catalog.  out is set either way (to the
 * text form when false). */
bool pgtype_builtin(uint32_t oid, int32_t typmod, pgtype_t *out);

/* Maps a type described by the catalog: a domain takes its base type's
 * mapping, an array whose elements are separated by commas an array of its
 * element's kind, anything else (enums, composites, ranges, multiranges,
 * other base types) its text form.  underlying is the mapping of basetype
 * (domains) or elemtype (arrays) when the caller resolved it, else NULL. */
void pgtype_from_catalog(const pgtype_catalog_row_t *row,
                         const pgtype_t *underlying, pgtype_t *out);

/* Parses PostgreSQL's text form of a value of type t.  Accepted forms, by
 * kind: boolean "t"/"f"; integers as digits with an optional "-"; floats
 * in decimal or exponent notation, "NaN", "Infinity", "-Infinity";
 * numerics as digits with an optional sign and fraction, or "NaN",
 * "Infinity", "-Infinity" (which a decimal carries in its string branch),
 * decimals also fitting their precision and scale; bytea as "\x" and hex
 * pairs; uuid as 8-4-4-4-12 hex; date "YYYY-MM-DD[ BC]"; time
 * "HH:MM:SS[.ffffff]" up to 24:00:00; timestamp "YYYY-MM-DD HH:MM:SS[.f]"
 * and timestamptz the same with "+HH[:MM[:SS]]", both with an optional
 * " BC", or "infinity"/"-infinity"; one-dimensional array literals with an
 * optional "[lo:hi]=" prefix (bounds are not carried).  Strings, json and
 * text forms are taken as they are.
 *
 * Strings point into text, which must outlive the value; unescaped array
 * elements, bytes and element lists live in the arena.  Returns false with
 * err saying what was wrong, and for values that have no Avro form
 * (multidimensional arrays, timestamps past what timestamp-micros holds)
 * what the user can do instead. */
bool pgtype_parse(const pgtype_t *t, const char *text, size_t len,
                  arena_t *arena, value_t *out, char *err, size_t errlen);

#endif
