/* The type mapping (built-in table and catalog rules) and the parsers of
 * PostgreSQL's text output: every kind with valid text, edge values and
 * invalid text with the exact error.  Expected instants and day numbers
 * were computed by PostgreSQL 15 itself (extract(epoch ...), date -
 * '1970-01-01'). */
#include "pgtype.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Modifiers as PostgreSQL stores them (pg_attribute.atttypmod). */
#define NUMERIC_10_2       655366
#define NUMERIC_5_MINUS2   329730
#define NUMERIC_3_5        196617
#define NUMERIC_1000_M1000 65537052
#define NUMERIC_6_2        393222
#define NUMERIC_1000       65536004

/* The mapping. */

typedef struct map_case {
    uint32_t oid;
    int32_t typmod;
    bool known;
    coltype_t type;
    coltype_t elem;
    int precision;
    int scale;
} map_case_t;

static const map_case_t builtin_cases[] = {
    {16, -1, true, COLTYPE_BOOLEAN, 0, 0, 0},
    {21, -1, true, COLTYPE_INT, 0, 0, 0},
    {23, -1, true, COLTYPE_INT, 0, 0, 0},
    {20, -1, true, COLTYPE_LONG, 0, 0, 0},
    {26, -1, true, COLTYPE_LONG, 0, 0, 0},
    {700, -1, true, COLTYPE_FLOAT, 0, 0, 0},
    {701, -1, true, COLTYPE_DOUBLE, 0, 0, 0},
    {1700, -1, true, COLTYPE_NUMERIC, 0, 0, 0},
    {1700, NUMERIC_10_2, true, COLTYPE_DECIMAL, 0, 10, 2},
    {1700, NUMERIC_5_MINUS2, true, COLTYPE_DECIMAL, 0, 7, 0},
    {1700, NUMERIC_3_5, true, COLTYPE_DECIMAL, 0, 5, 5},
    {1700, NUMERIC_1000, true, COLTYPE_DECIMAL, 0, 1000, 0},
    {1700, NUMERIC_1000_M1000, true, COLTYPE_NUMERIC, 0, 0, 0},
    {790, -1, true, COLTYPE_STRING, 0, 0, 0},
    {25, -1, true, COLTYPE_STRING, 0, 0, 0},
    {1043, 14, true, COLTYPE_STRING, 0, 0, 0},
    {1042, 9, true, COLTYPE_STRING, 0, 0, 0},
    {19, -1, true, COLTYPE_STRING, 0, 0, 0},
    {18, -1, true, COLTYPE_STRING, 0, 0, 0},
    {17, -1, true, COLTYPE_BYTES, 0, 0, 0},
    {1082, -1, true, COLTYPE_DATE, 0, 0, 0},
    {1083, -1, true, COLTYPE_TIME, 0, 0, 0},
    {1266, -1, true, COLTYPE_STRING, 0, 0, 0},
    {1114, -1, true, COLTYPE_TIMESTAMP, 0, 0, 0},
    {1184, 3, true, COLTYPE_TIMESTAMPTZ, 0, 0, 0},
    {1186, -1, true, COLTYPE_STRING, 0, 0, 0},
    {2950, -1, true, COLTYPE_UUID, 0, 0, 0},
    {114, -1, true, COLTYPE_JSON, 0, 0, 0},
    {3802, -1, true, COLTYPE_JSON, 0, 0, 0},
    {142, -1, true, COLTYPE_STRING, 0, 0, 0},
    {869, -1, true, COLTYPE_STRING, 0, 0, 0},
    {650, -1, true, COLTYPE_STRING, 0, 0, 0},
    {829, -1, true, COLTYPE_STRING, 0, 0, 0},
    {774, -1, true, COLTYPE_STRING, 0, 0, 0},
    {1560, 4, true, COLTYPE_STRING, 0, 0, 0},
    {1562, -1, true, COLTYPE_STRING, 0, 0, 0},
    {3614, -1, true, COLTYPE_STRING, 0, 0, 0},
    {3615, -1, true, COLTYPE_STRING, 0, 0, 0},
    {22, -1, true, COLTYPE_STRING, 0, 0, 0},
    {30, -1, true, COLTYPE_STRING, 0, 0, 0},
    {1000, -1, true, COLTYPE_ARRAY, COLTYPE_BOOLEAN, 0, 0},
    {1007, -1, true, COLTYPE_ARRAY, COLTYPE_INT, 0, 0},
    {1016, -1, true, COLTYPE_ARRAY, COLTYPE_LONG, 0, 0},
    {1021, -1, true, COLTYPE_ARRAY, COLTYPE_FLOAT, 0, 0},
    {1231, -1, true, COLTYPE_ARRAY, COLTYPE_NUMERIC, 0, 0},
    {1231, NUMERIC_6_2, true, COLTYPE_ARRAY, COLTYPE_DECIMAL, 6, 2},
    {1009, -1, true, COLTYPE_ARRAY, COLTYPE_STRING, 0, 0},
    {1001, -1, true, COLTYPE_ARRAY, COLTYPE_BYTES, 0, 0},
    {1182, -1, true, COLTYPE_ARRAY, COLTYPE_DATE, 0, 0},
    {1185, -1, true, COLTYPE_ARRAY, COLTYPE_TIMESTAMPTZ, 0, 0},
    {2951, -1, true, COLTYPE_ARRAY, COLTYPE_UUID, 0, 0},
    {3807, -1, true, COLTYPE_ARRAY, COLTYPE_JSON, 0, 0},
    {1187, -1, true, COLTYPE_ARRAY, COLTYPE_STRING, 0, 0},
    {1020, -1, true, COLTYPE_STRING, 0, 0, 0},
    /* resolved through the catalog */
    {600, -1, false, COLTYPE_STRING, 0, 0, 0},
    {1017, -1, false, COLTYPE_STRING, 0, 0, 0},
    {3904, -1, false, COLTYPE_STRING, 0, 0, 0},
    {16385, -1, false, COLTYPE_STRING, 0, 0, 0},
};

static void test_builtin(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(builtin_cases) / sizeof(builtin_cases[0]);
         i++) {
        const map_case_t *c = &builtin_cases[i];
        pgtype_t t;
        bool known = pgtype_builtin(c->oid, c->typmod, &t);

        if (known != c->known || t.type != c->type ||
            (c->type == COLTYPE_ARRAY && t.elem != c->elem) ||
            t.precision != c->precision || t.scale != c->scale)
            fail_msg("oid %u typmod %d: known %d kind %d elem %d (%d,%d)",
                     c->oid, c->typmod, known, t.type, t.elem, t.precision,
                     t.scale);
    }
}

typedef struct catalog_case {
    const char *name;
    pgtype_catalog_row_t row;
    bool has_underlying;
    pgtype_t underlying;
    pgtype_t want;
} catalog_case_t;

static const catalog_case_t catalog_cases[] = {
    {"domain over numeric(8,3)",
     {'d', 'N', ',', 1700, 524295, 0},
     true,
     {COLTYPE_DECIMAL, 0, 8, 3},
     {COLTYPE_DECIMAL, 0, 8, 3}},
    {"domain over int[]",
     {'d', 'A', ',', 1007, -1, 0},
     true,
     {COLTYPE_ARRAY, COLTYPE_INT, 0, 0},
     {COLTYPE_ARRAY, COLTYPE_INT, 0, 0}},
    {"domain, base not resolved",
     {'d', 'S', ',', 25, -1, 0},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"enum",
     {'e', 'E', ',', 0, -1, 0},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"composite",
     {'c', 'C', ',', 0, -1, 0},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"range",
     {'r', 'R', ',', 0, -1, 0},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"multirange",
     {'m', 'R', ',', 0, -1, 0},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"other base type (point)",
     {'b', 'G', ',', 0, -1, 701},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"array of an enum",
     {'b', 'A', ',', 0, -1, 16390},
     true,
     {COLTYPE_STRING, 0, 0, 0},
     {COLTYPE_ARRAY, COLTYPE_STRING, 0, 0}},
    {"array of a domain over numeric(8,3)",
     {'b', 'A', ',', 0, -1, 16391},
     true,
     {COLTYPE_DECIMAL, 0, 8, 3},
     {COLTYPE_ARRAY, COLTYPE_DECIMAL, 8, 3}},
    {"array of point",
     {'b', 'A', ',', 0, -1, 600},
     true,
     {COLTYPE_STRING, 0, 0, 0},
     {COLTYPE_ARRAY, COLTYPE_STRING, 0, 0}},
    {"array with ';' between elements",
     {'b', 'A', ';', 0, -1, 603},
     true,
     {COLTYPE_STRING, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"array of a domain over an array",
     {'b', 'A', ',', 0, -1, 16392},
     true,
     {COLTYPE_ARRAY, COLTYPE_INT, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
    {"array, element not resolved",
     {'b', 'A', ',', 0, -1, 16393},
     false,
     {0, 0, 0, 0},
     {COLTYPE_STRING, 0, 0, 0}},
};

static void test_from_catalog(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(catalog_cases) / sizeof(catalog_cases[0]);
         i++) {
        const catalog_case_t *c = &catalog_cases[i];
        pgtype_t t;

        pgtype_from_catalog(&c->row, c->has_underlying ? &c->underlying : NULL,
                            &t);
        if (t.type != c->want.type ||
            (t.type == COLTYPE_ARRAY && t.elem != c->want.elem) ||
            t.precision != c->want.precision || t.scale != c->want.scale)
            fail_msg("%s: kind %d elem %d (%d,%d)", c->name, t.type, t.elem,
                     t.precision, t.scale);
    }
}

/* The parsers. */

static const pgtype_t BOOL_T = {COLTYPE_BOOLEAN, 0, 0, 0};
static const pgtype_t INT_T = {COLTYPE_INT, 0, 0, 0};
static const pgtype_t LONG_T = {COLTYPE_LONG, 0, 0, 0};
static const pgtype_t FLOAT_T = {COLTYPE_FLOAT, 0, 0, 0};
static const pgtype_t DOUBLE_T = {COLTYPE_DOUBLE, 0, 0, 0};
static const pgtype_t NUMERIC_T = {COLTYPE_NUMERIC, 0, 0, 0};
static const pgtype_t DEC_5_2 = {COLTYPE_DECIMAL, 0, 5, 2};
static const pgtype_t DEC_5_5 = {COLTYPE_DECIMAL, 0, 5, 5};
static const pgtype_t DEC_7_0 = {COLTYPE_DECIMAL, 0, 7, 0};
static const pgtype_t BYTES_T = {COLTYPE_BYTES, 0, 0, 0};
static const pgtype_t STRING_T = {COLTYPE_STRING, 0, 0, 0};
static const pgtype_t JSON_T = {COLTYPE_JSON, 0, 0, 0};
static const pgtype_t UUID_T = {COLTYPE_UUID, 0, 0, 0};
static const pgtype_t DATE_T = {COLTYPE_DATE, 0, 0, 0};
static const pgtype_t TIME_T = {COLTYPE_TIME, 0, 0, 0};
static const pgtype_t TS_T = {COLTYPE_TIMESTAMP, 0, 0, 0};
static const pgtype_t TSTZ_T = {COLTYPE_TIMESTAMPTZ, 0, 0, 0};
static const pgtype_t INTS_T = {COLTYPE_ARRAY, COLTYPE_INT, 0, 0};
static const pgtype_t TEXTS_T = {COLTYPE_ARRAY, COLTYPE_STRING, 0, 0};
static const pgtype_t BYTEAS_T = {COLTYPE_ARRAY, COLTYPE_BYTES, 0, 0};
static const pgtype_t DECS_T = {COLTYPE_ARRAY, COLTYPE_DECIMAL, 6, 2};
static const pgtype_t DATES_T = {COLTYPE_ARRAY, COLTYPE_DATE, 0, 0};
static const pgtype_t TSTZS_T = {COLTYPE_ARRAY, COLTYPE_TIMESTAMPTZ, 0, 0};
static const pgtype_t NESTED_T = {COLTYPE_ARRAY, COLTYPE_ARRAY, 0, 0};

/* What a parsed value holds, written independently of the parsers. */
static void describe(coltype_t type, coltype_t elem, const value_t *v,
                     char *out, size_t outlen)
{
    size_t n = 0;

    if (v->state == VALUE_NULL) {
        snprintf(out, outlen, "NULL");
        return;
    }
    switch (type) {
    case COLTYPE_BOOLEAN:
        snprintf(out, outlen, "%s", v->u.b ? "true" : "false");
        return;
    case COLTYPE_INT:
    case COLTYPE_LONG:
    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        snprintf(out, outlen, "%" PRId64, v->u.i);
        return;
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        if (isnan(v->u.f))
            snprintf(out, outlen, "NaN");
        else if (isinf(v->u.f))
            snprintf(out, outlen, "%sInfinity", v->u.f < 0 ? "-" : "");
        else if (v->u.f == 0 && signbit(v->u.f))
            snprintf(out, outlen, "-0");
        else
            snprintf(out, outlen, "%.*g", type == COLTYPE_FLOAT ? 9 : 17,
                     v->u.f);
        return;
    case COLTYPE_BYTES:
        out[0] = '\0';
        for (uint32_t i = 0; i < v->len && n + 3 < outlen; i++)
            n += (size_t)snprintf(out + n, outlen - n, "%02x",
                                  (unsigned char)v->u.s[i]);
        return;
    case COLTYPE_DECIMAL:
        snprintf(out, outlen, "%.*s%s", (int)v->len, v->u.s,
                 v->special ? " (string branch)" : "");
        return;
    case COLTYPE_STRING:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
    case COLTYPE_JSON:
        snprintf(out, outlen, "'%.*s'", (int)v->len, v->u.s);
        return;
    case COLTYPE_ARRAY:
        n = (size_t)snprintf(out, outlen, "[");
        for (uint32_t i = 0; i < v->len && n < outlen; i++) {
            n += (size_t)snprintf(out + n, outlen - n, "%s", i ? ", " : "");
            if (n < outlen)
                describe(elem, elem, &v->u.items[i], out + n, outlen - n);
            n += strlen(out + n);
        }
        if (n < outlen)
            snprintf(out + n, outlen - n, "]");
        return;
    case COLTYPE_COUNT_:
        break;
    }
    snprintf(out, outlen, "?");
}

typedef struct parse_case {
    const pgtype_t *t;
    const char *text;
    const char *want; /* description of the value, or NULL: an error */
    const char *err;  /* the exact error when want is NULL */
} parse_case_t;

#define INT_ERR(x)                                                             \
    "invalid integer value \"" x "\": expected digits with an optional "       \
    "minus sign, within 32 bits"
#define LONG_ERR(x)                                                            \
    "invalid bigint value \"" x "\": expected digits with an optional "        \
    "minus sign, within 64 bits"
#define REAL_ERR(x)                                                            \
    "invalid real value \"" x "\": expected a number within range, NaN, "      \
    "Infinity or -Infinity"
#define DOUBLE_ERR(x)                                                          \
    "invalid double precision value \"" x "\": expected a number within "      \
    "range, NaN, Infinity or -Infinity"
#define NUMERIC_ERR(x)                                                         \
    "invalid numeric value \"" x "\": expected digits with an optional "       \
    "minus sign and fraction, NaN, Infinity or -Infinity"
#define BYTEA_ERR(x)                                                           \
    "invalid bytea value \"" x "\": expected \\x and pairs of hex digits"
#define DATE_ERR(x)                                                            \
    "invalid date value \"" x "\": expected a calendar day as YYYY-MM-DD "     \
    "with an optional \" BC\", infinity or -infinity"
#define TIME_ERR(x)                                                            \
    "invalid time value \"" x "\": expected HH:MM:SS with up to six "          \
    "fraction digits, at most 24:00:00"
#define TS_ERR(x)                                                              \
    "invalid timestamp value \"" x "\": expected YYYY-MM-DD "                  \
    "HH:MM:SS[.ffffff] with an optional \" BC\", infinity or -infinity"
#define TSTZ_ERR(x)                                                            \
    "invalid timestamptz value \"" x "\": expected YYYY-MM-DD "                \
    "HH:MM:SS[.ffffff]+HH with an optional \" BC\", infinity or -infinity"
#define ARRAY_ERR(x)                                                           \
    "invalid array value \"" x "\": expected a one-dimensional array "         \
    "literal such as {1,\"a b\",NULL}"
#define MULTIDIM_ERR                                                           \
    "multidimensional array values are not supported, Avro carries "           \
    "one-dimensional arrays: store one-dimensional arrays in this column, "    \
    "or change its type to jsonb"
#define RANGE_ERR(kind, x, avro)                                               \
    kind " value \"" x "\" is past the range of Avro's " avro                  \
         " (microseconds since 1970 in 64 bits, up to 294247-01-10 "           \
         "04:00:54.775806): store an earlier time or 'infinity' in this "      \
         "column"

static const parse_case_t parse_cases[] = {
    /* boolean */
    {&BOOL_T, "t", "true", NULL},
    {&BOOL_T, "f", "false", NULL},
    {&BOOL_T, "true", NULL, "invalid boolean value \"true\": expected t or f"},
    {&BOOL_T, "", NULL, "invalid boolean value \"\": expected t or f"},
    /* integers */
    {&INT_T, "0", "0", NULL},
    {&INT_T, "-0", "0", NULL},
    {&INT_T, "-2147483648", "-2147483648", NULL},
    {&INT_T, "2147483647", "2147483647", NULL},
    {&INT_T, "2147483648", NULL, INT_ERR("2147483648")},
    {&INT_T, "-2147483649", NULL, INT_ERR("-2147483649")},
    {&INT_T, "12a", NULL, INT_ERR("12a")},
    {&INT_T, "", NULL, INT_ERR("")},
    {&INT_T, "-", NULL, INT_ERR("-")},
    {&INT_T, " 1", NULL, INT_ERR(" 1")},
    {&INT_T, "+1", NULL, INT_ERR("+1")},
    {&LONG_T, "-9223372036854775808", "-9223372036854775808", NULL},
    {&LONG_T, "9223372036854775807", "9223372036854775807", NULL},
    {&LONG_T, "9223372036854775808", NULL, LONG_ERR("9223372036854775808")},
    {&LONG_T, "-9223372036854775809", NULL, LONG_ERR("-9223372036854775809")},
    {&LONG_T, "99999999999999999999999", NULL,
     LONG_ERR("99999999999999999999999")},
    {&LONG_T, "1e3", NULL, LONG_ERR("1e3")},
    /* floats */
    {&FLOAT_T, "1.5", "1.5", NULL},
    {&FLOAT_T, "0.1", "0.100000001", NULL},
    {&FLOAT_T, "-0", "-0", NULL},
    {&FLOAT_T, "NaN", "NaN", NULL},
    {&FLOAT_T, "Infinity", "Infinity", NULL},
    {&FLOAT_T, "-Infinity", "-Infinity", NULL},
    {&FLOAT_T, "3.4028235e+38", "3.40282347e+38", NULL},
    {&FLOAT_T, "1e-45", "1.40129846e-45", NULL},
    {&FLOAT_T, "1.234567e+06", "1234567", NULL},
    {&FLOAT_T, "3.5e+38", NULL, REAL_ERR("3.5e+38")},
    {&FLOAT_T, "nan", NULL, REAL_ERR("nan")},
    {&FLOAT_T, "inf", NULL, REAL_ERR("inf")},
    {&FLOAT_T, "0x10", NULL, REAL_ERR("0x10")},
    {&FLOAT_T, "1e", NULL, REAL_ERR("1e")},
    {&FLOAT_T, "", NULL, REAL_ERR("")},
    {&DOUBLE_T, "0.1", "0.10000000000000001", NULL},
    {&DOUBLE_T, "-0", "-0", NULL},
    {&DOUBLE_T, "1.7976931348623157e+308", "1.7976931348623157e+308", NULL},
    {&DOUBLE_T, "5e-324", "4.9406564584124654e-324", NULL},
    {&DOUBLE_T, "1e-05", "1.0000000000000001e-05", NULL},
    {&DOUBLE_T, "-Infinity", "-Infinity", NULL},
    {&DOUBLE_T, "1e309", NULL, DOUBLE_ERR("1e309")},
    {&DOUBLE_T, "--1", NULL, DOUBLE_ERR("--1")},
    {&DOUBLE_T, "1.2.3", NULL, DOUBLE_ERR("1.2.3")},
    {&DOUBLE_T, "-NaN", NULL, DOUBLE_ERR("-NaN")},
    /* numeric without a modifier: exact text */
    {&NUMERIC_T, "-123.4500", "'-123.4500'", NULL},
    {&NUMERIC_T, "0.000000000000000000001", "'0.000000000000000000001'", NULL},
    {&NUMERIC_T, "NaN", "'NaN'", NULL},
    {&NUMERIC_T, "-Infinity", "'-Infinity'", NULL},
    {&NUMERIC_T, "1e5", NULL, NUMERIC_ERR("1e5")},
    {&NUMERIC_T, "12.", NULL, NUMERIC_ERR("12.")},
    {&NUMERIC_T, ".5", NULL, NUMERIC_ERR(".5")},
    {&NUMERIC_T, "nan", NULL, NUMERIC_ERR("nan")},
    {&NUMERIC_T, "1,5", NULL, NUMERIC_ERR("1,5")},
    {&NUMERIC_T, "-", NULL, NUMERIC_ERR("-")},
    /* numeric(p, s) as Avro decimal */
    {&DEC_5_2, "123.45", "123.45", NULL},
    {&DEC_5_2, "-0.50", "-0.50", NULL},
    {&DEC_5_2, "NaN", "NaN (string branch)", NULL},
    {&DEC_5_2, "Infinity", "Infinity (string branch)", NULL},
    {&DEC_5_2, "1234.50", NULL,
     "numeric value \"1234.50\" does not fit decimal(5,2), the Avro type "
     "of its column"},
    {&DEC_5_2, "1.234", NULL,
     "numeric value \"1.234\" does not fit decimal(5,2), the Avro type of "
     "its column"},
    {&DEC_5_2, "abc", NULL, NUMERIC_ERR("abc")},
    {&DEC_5_5, "0.00123", "0.00123", NULL},
    {&DEC_5_5, "-0.00999", "-0.00999", NULL},
    {&DEC_5_5, "1.00000", NULL,
     "numeric value \"1.00000\" does not fit decimal(5,5), the Avro type "
     "of its column"},
    {&DEC_7_0, "9999900", "9999900", NULL},
    {&DEC_7_0, "99999000", NULL,
     "numeric value \"99999000\" does not fit decimal(7,0), the Avro type "
     "of its column"},
    /* bytea */
    {&BYTES_T, "\\x", "", NULL},
    {&BYTES_T, "\\x00ff0000", "00ff0000", NULL},
    {&BYTES_T, "\\xDEADbeef", "deadbeef", NULL},
    {&BYTES_T, "\\x0", NULL, BYTEA_ERR("\\x0")},
    {&BYTES_T, "\\x0g", NULL, BYTEA_ERR("\\x0g")},
    {&BYTES_T, "\\000", NULL, BYTEA_ERR("\\000")},
    {&BYTES_T, "", NULL, BYTEA_ERR("")},
    /* uuid, strings, json */
    {&UUID_T, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", NULL},
    {&UUID_T, "a0eebc999c0b4ef8bb6d6bb9bd380a11", NULL,
     "invalid uuid value \"a0eebc999c0b4ef8bb6d6bb9bd380a11\": expected hex "
     "digits grouped 8-4-4-4-12"},
    {&UUID_T, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", NULL,
     "invalid uuid value \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g\": expected "
     "hex digits grouped 8-4-4-4-12"},
    {&STRING_T, "", "''", NULL},
    {&STRING_T, "żółw \"q\" \\", "'żółw \"q\" \\'", NULL},
    {&JSON_T, "{\"a\": [1, 2.50]}", "'{\"a\": [1, 2.50]}'", NULL},
    /* date */
    {&DATE_T, "2024-02-29", "19782", NULL},
    {&DATE_T, "1970-01-01", "0", NULL},
    {&DATE_T, "1969-12-31", "-1", NULL},
    {&DATE_T, "0044-03-15 BC", "-735160", NULL},
    {&DATE_T, "0001-01-01", "-719162", NULL},
    {&DATE_T, "0001-12-31 BC", "-719163", NULL},
    {&DATE_T, "0005-02-29 BC", "-720930", NULL},
    {&DATE_T, "5874897-12-31", "2145042905", NULL},
    {&DATE_T, "4714-11-24 BC", "-2440588", NULL},
    {&DATE_T, "infinity", "2147483647", NULL},
    {&DATE_T, "-infinity", "-2147483648", NULL},
    {&DATE_T, "2023-02-29", NULL, DATE_ERR("2023-02-29")},
    {&DATE_T, "1900-02-29", NULL, DATE_ERR("1900-02-29")},
    {&DATE_T, "2024-04-31", NULL, DATE_ERR("2024-04-31")},
    {&DATE_T, "2024-13-01", NULL, DATE_ERR("2024-13-01")},
    {&DATE_T, "2024-00-10", NULL, DATE_ERR("2024-00-10")},
    {&DATE_T, "0000-01-01", NULL, DATE_ERR("0000-01-01")},
    {&DATE_T, "24-01-01", NULL, DATE_ERR("24-01-01")},
    {&DATE_T, "2024-1-01", NULL, DATE_ERR("2024-1-01")},
    {&DATE_T, "2024-01-01 AD", NULL, DATE_ERR("2024-01-01 AD")},
    {&DATE_T, "Infinity", NULL, DATE_ERR("Infinity")},
    {&DATE_T, "999999999-12-31", NULL, DATE_ERR("999999999-12-31")},
    /* time */
    {&TIME_T, "00:00:00", "0", NULL},
    {&TIME_T, "10:11:12.5", "36672500000", NULL},
    {&TIME_T, "23:59:59.999999", "86399999999", NULL},
    {&TIME_T, "24:00:00", "86400000000", NULL},
    {&TIME_T, "24:00:00.000001", NULL, TIME_ERR("24:00:00.000001")},
    {&TIME_T, "24:01:00", NULL, TIME_ERR("24:01:00")},
    {&TIME_T, "23:60:00", NULL, TIME_ERR("23:60:00")},
    {&TIME_T, "23:59:60", NULL, TIME_ERR("23:59:60")},
    {&TIME_T, "10:11:12.1234567", NULL, TIME_ERR("10:11:12.1234567")},
    {&TIME_T, "10:11:12.", NULL, TIME_ERR("10:11:12.")},
    {&TIME_T, "10:11", NULL, TIME_ERR("10:11")},
    {&TIME_T, "1:02:03", NULL, TIME_ERR("1:02:03")},
    /* timestamp */
    {&TS_T, "2026-05-01 10:11:12.123456", "1777630272123456", NULL},
    {&TS_T, "1969-12-31 23:59:59.999999", "-1", NULL},
    {&TS_T, "0044-03-15 12:00:00 BC", "-63517780800000000", NULL},
    {&TS_T, "4714-11-24 00:00:00 BC", "-210866803200000000", NULL},
    {&TS_T, "294246-12-31 23:59:59.999999", "9223371244799999999", NULL},
    {&TS_T, "294247-01-10 04:00:54.775806", "9223372036854775806", NULL},
    {&TS_T, "infinity", "9223372036854775807", NULL},
    {&TS_T, "-infinity", "-9223372036854775808", NULL},
    {&TS_T, "294247-01-10 04:00:54.775807", NULL,
     RANGE_ERR("timestamp", "294247-01-10 04:00:54.775807",
               "local-timestamp-micros")},
    {&TS_T, "294276-12-31 23:59:59.999999", NULL,
     RANGE_ERR("timestamp", "294276-12-31 23:59:59.999999",
               "local-timestamp-micros")},
    {&TS_T, "2026-05-01T10:11:12", NULL, TS_ERR("2026-05-01T10:11:12")},
    {&TS_T, "2026-05-01 10:11:12+00", NULL, TS_ERR("2026-05-01 10:11:12+00")},
    {&TS_T, "2026-05-01", NULL, TS_ERR("2026-05-01")},
    {&TS_T, "2023-02-29 00:00:00", NULL, TS_ERR("2023-02-29 00:00:00")},
    /* timestamptz, read as UTC */
    {&TSTZ_T, "2026-05-01 08:11:12.5+00", "1777623072500000", NULL},
    {&TSTZ_T, "2000-02-29 12:00:00+05:30", "951805800000000", NULL},
    {&TSTZ_T, "1900-02-28 23:00:00-01", "-2203891200000000", NULL},
    {&TSTZ_T, "1900-01-01 00:00:00+01:02:03", "-2208992523000000", NULL},
    {&TSTZ_T, "0044-03-15 12:00:00+00 BC", "-63517780800000000", NULL},
    {&TSTZ_T, "infinity", "9223372036854775807", NULL},
    {&TSTZ_T, "294276-12-31 23:59:59.999999+00", NULL,
     RANGE_ERR("timestamptz", "294276-12-31 23:59:59.999999+00",
               "timestamp-micros")},
    {&TSTZ_T, "2026-05-01 10:11:12", NULL, TSTZ_ERR("2026-05-01 10:11:12")},
    {&TSTZ_T, "2026-05-01 10:11:12+0", NULL, TSTZ_ERR("2026-05-01 10:11:12+0")},
    {&TSTZ_T, "2026-05-01 10:11:12+00:60", NULL,
     TSTZ_ERR("2026-05-01 10:11:12+00:60")},
    /* one-dimensional arrays */
    {&INTS_T, "{}", "[]", NULL},
    {&INTS_T, "{1,NULL,3}", "[1, NULL, 3]", NULL},
    {&INTS_T, "{null}", "[NULL]", NULL},
    {&INTS_T, "[0:2]={1,2,3}", "[1, 2, 3]", NULL},
    {&INTS_T, "[-3:-3]={7}", "[7]", NULL},
    {&INTS_T, "{1,,2}", NULL, ARRAY_ERR("{1,,2}")},
    {&INTS_T, "{1,}", NULL, ARRAY_ERR("{1,}")},
    {&INTS_T, "{", NULL, ARRAY_ERR("{")},
    {&INTS_T, "1,2", NULL, ARRAY_ERR("1,2")},
    {&INTS_T, "{1,{2}}", NULL, ARRAY_ERR("{1,{2}}")},
    {&INTS_T, "[0:2]{1}", NULL, ARRAY_ERR("[0:2]{1}")},
    {&INTS_T, "[x:2]={1}", NULL, ARRAY_ERR("[x:2]={1}")},
    {&INTS_T, "{1,x}", NULL, "element 2 of the array: " INT_ERR("x")},
    {&INTS_T, "{\"NULL\"}", NULL, "element 1 of the array: " INT_ERR("NULL")},
    {&INTS_T, "{{1,2},{3,4}}", NULL, MULTIDIM_ERR},
    {&INTS_T, "[0:1][1:2]={{1,2},{3,4}}", NULL, MULTIDIM_ERR},
    {&TEXTS_T,
     "{\"a b\",\"q\\\"uote\",\"back\\\\slash\",NULL,\"NULL\",\"\",\"x,y\","
     "\"{}\",plain}",
     "['a b', 'q\"uote', 'back\\slash', NULL, 'NULL', '', 'x,y', '{}', "
     "'plain']",
     NULL},
    {&TEXTS_T, "{\"unterminated}", NULL, ARRAY_ERR("{\"unterminated}")},
    {&TEXTS_T, "{a\"b}", NULL, ARRAY_ERR("{a\"b}")},
    {&TEXTS_T, "{\"a\"b}", NULL, ARRAY_ERR("{\"a\"b}")},
    {&TEXTS_T, "{a\\b}", NULL, ARRAY_ERR("{a\\b}")},
    {&BYTEAS_T, "{\"\\\\x00ff\",NULL,\"\\\\x\"}", "[00ff, NULL, ]", NULL},
    {&DECS_T, "{1.50,NaN,-9999.99}", "[1.50, NaN (string branch), -9999.99]",
     NULL},
    {&DATES_T, "{2024-02-29,infinity,\"0044-03-15 BC\"}",
     "[19782, 2147483647, -735160]", NULL},
    {&TSTZS_T, "{\"2000-02-29 12:00:00+05:30\",-infinity}",
     "[951805800000000, -9223372036854775808]", NULL},
    {&DATES_T, "{2024-02-30}", NULL,
     "element 1 of the array: " DATE_ERR("2024-02-30")},
    {&NESTED_T, "{}", NULL, "arrays of element kind 15 are not supported"},
};

static void test_parse(void **state)
{
    arena_t arena;

    (void)state;
    arena_init(&arena, 1 << 20);
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case_t *c = &parse_cases[i];
        value_t v;
        char err[512] = "", got[1024];
        bool ok = pgtype_parse(c->t, c->text, strlen(c->text), &arena, &v, err,
                               sizeof(err));

        if (c->want) {
            if (!ok)
                fail_msg("\"%s\" (kind %d): %s", c->text, c->t->type, err);
            describe(c->t->type, c->t->elem, &v, got, sizeof(got));
            if (strcmp(got, c->want) != 0)
                fail_msg("\"%s\" (kind %d): got %s, want %s", c->text,
                         c->t->type, got, c->want);
        } else {
            if (ok)
                fail_msg("\"%s\" (kind %d) parsed, want error %s", c->text,
                         c->t->type, c->err);
            if (strcmp(err, c->err) != 0)
                fail_msg("\"%s\" (kind %d):\n got  %s\n want %s", c->text,
                         c->t->type, err, c->err);
        }
        arena_reset(&arena);
    }
    arena_free(&arena);
}

/* 1000 digits, PostgreSQL's largest precision; and one more. */
static void test_long_numerics(void **state)
{
    static char digits[1003];
    pgtype_t dec = {COLTYPE_DECIMAL, 0, 1000, 0};
    arena_t arena;
    value_t v;
    char err[512];

    (void)state;
    arena_init(&arena, 1 << 20);
    digits[0] = '-';
    memset(digits + 1, '9', 1001);
    assert_true(
        pgtype_parse(&NUMERIC_T, digits, 1002, &arena, &v, err, sizeof(err)));
    assert_int_equal(v.len, 1002);
    assert_true(pgtype_parse(&dec, digits, 1001, &arena, &v, err, sizeof(err)));
    assert_int_equal(v.special, 0);
    assert_false(
        pgtype_parse(&dec, digits, 1002, &arena, &v, err, sizeof(err)));
    assert_non_null(strstr(err, "...\" does not fit decimal(1000,0)"));
    arena_free(&arena);
}

/* Large arrays take memory in proportion to their size. */
static void test_large_array(void **state)
{
    enum { N = 200000 };
    size_t cap = (size_t)N * 8 + 2, n = 0;
    char *text = malloc(cap);
    arena_t arena;
    value_t v;
    char err[512];

    (void)state;
    text[n++] = '{';
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s%d", i ? "," : "", i);
    text[n++] = '}';
    /* Elements, plus the text once over at most. */
    arena_init(&arena, (size_t)N * sizeof(value_t) + n + 4096);
    assert_true(pgtype_parse(&INTS_T, text, n, &arena, &v, err, sizeof(err)));
    assert_int_equal(v.len, N);
    assert_int_equal(v.u.items[N - 1].u.i, N - 1);

    arena_reset(&arena);
    arena_free(&arena);
    arena_init(&arena, 64);
    assert_false(pgtype_parse(&INTS_T, "{1,2,3,4,5,6,7,8,9,10}", 22, &arena, &v,
                              err, sizeof(err)));
    assert_string_equal(err, "array of 22 bytes needs more memory than the "
                             "reader allows for one change");
    arena_free(&arena);
    free(text);
}

static void test_limits(void **state)
{
    arena_t arena;
    value_t v;
    char err[512];

    (void)state;
    arena_init(&arena, 1 << 20);
    assert_false(pgtype_parse(&STRING_T, "x", PGTYPE_MAX_TEXT + 1, &arena, &v,
                              err, sizeof(err)));
    assert_string_equal(err, "value of 1073741825 bytes is longer than "
                             "PostgreSQL's limit of 1073741824");
    /* Control bytes in a bad value do not reach the message. */
    assert_false(
        pgtype_parse(&INT_T, "1\n2\x01", 4, &arena, &v, err, sizeof(err)));
    assert_non_null(strstr(err, "\"1?2?\""));
    /* A long value is cut short, never inside a UTF-8 character. */
    {
        char text[80], want[200];

        memset(text, 'a', 63);
        memcpy(text + 63, "\xc5\xbcx", 3);
        assert_false(
            pgtype_parse(&INT_T, text, 66, &arena, &v, err, sizeof(err)));
        snprintf(want, sizeof(want), "invalid integer value \"%.63s...\"",
                 text);
        assert_memory_equal(err, want, strlen(want));
    }
    arena_free(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_from_catalog),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_long_numerics),
        cmocka_unit_test(test_large_array),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
