/* The type mapping: the table of built-in PostgreSQL types with the kind
 * each travels as, the catalog rules for every other type, and the parsers
 * from PostgreSQL's text output (in the session settings below) to values.
 * The forms each parser accepts are listed at pgtype_parse in pgtype.h. */
#include "pgtype.h"

#include "datetime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char pgtype_session_options[] =
    "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres "
    "-c extra_float_digits=3 -c bytea_output=hex -c lc_monetary=C";

#define NUMERIC_VARHDRSZ 4

/* The built-in types and how each travels.  Types not listed here go
 * through pgtype_from_catalog: domains as their base type, arrays as arrays
 * of their element's kind, every other type as its text form.  The
 * text-form types users meet most are listed anyway, so that this table
 * answers for them without the catalog. */
static const struct builtin {
    uint32_t oid;
    const char *name;
    coltype_t type;
    uint32_t elem_oid; /* arrays: the element type */
} builtins[] = {
    {16, "boolean", COLTYPE_BOOLEAN, 0},
    {17, "bytea", COLTYPE_BYTES, 0},
    {18, "\"char\"", COLTYPE_STRING, 0},
    {19, "name", COLTYPE_STRING, 0},
    {20, "bigint", COLTYPE_LONG, 0},
    {21, "smallint", COLTYPE_INT, 0},
    {22, "int2vector", COLTYPE_STRING, 0}, /* "1 2": not an array literal */
    {23, "integer", COLTYPE_INT, 0},
    {25, "text", COLTYPE_STRING, 0},
    {26, "oid", COLTYPE_LONG, 0},
    {30, "oidvector", COLTYPE_STRING, 0},
    {114, "json", COLTYPE_JSON, 0},
    {142, "xml", COLTYPE_STRING, 0},
    {650, "cidr", COLTYPE_STRING, 0},
    {700, "real", COLTYPE_FLOAT, 0},
    {701, "double precision", COLTYPE_DOUBLE, 0},
    {774, "macaddr8", COLTYPE_STRING, 0},
    {790, "money", COLTYPE_STRING, 0},
    {829, "macaddr", COLTYPE_STRING, 0},
    {869, "inet", COLTYPE_STRING, 0},
    {1042, "character", COLTYPE_STRING, 0},
    {1043, "character varying", COLTYPE_STRING, 0},
    {1082, "date", COLTYPE_DATE, 0},
    {1083, "time", COLTYPE_TIME, 0},
    {1114, "timestamp", COLTYPE_TIMESTAMP, 0},
    {1184, "timestamptz", COLTYPE_TIMESTAMPTZ, 0},
    {1186, "interval", COLTYPE_STRING, 0},
    {1266, "timetz", COLTYPE_STRING, 0},
    {1560, "bit", COLTYPE_STRING, 0},
    {1562, "bit varying", COLTYPE_STRING, 0},
    /* decimal(p, s) with a modifier, else NUMERIC (exact text) */
    {1700, "numeric", COLTYPE_DECIMAL, 0},
    {2950, "uuid", COLTYPE_UUID, 0},
    {3614, "tsvector", COLTYPE_STRING, 0},
    {3615, "tsquery", COLTYPE_STRING, 0},
    {3802, "jsonb", COLTYPE_JSON, 0},
    /* one-dimensional arrays: Avro arrays of the element's kind */
    {1000, "boolean[]", COLTYPE_ARRAY, 16},
    {1001, "bytea[]", COLTYPE_ARRAY, 17},
    {1002, "\"char\"[]", COLTYPE_ARRAY, 18},
    {1003, "name[]", COLTYPE_ARRAY, 19},
    {1005, "smallint[]", COLTYPE_ARRAY, 21},
    {1006, "int2vector[]", COLTYPE_ARRAY, 22},
    {1007, "integer[]", COLTYPE_ARRAY, 23},
    {1009, "text[]", COLTYPE_ARRAY, 25},
    {1013, "oidvector[]", COLTYPE_ARRAY, 30},
    {1014, "character[]", COLTYPE_ARRAY, 1042},
    {1015, "character varying[]", COLTYPE_ARRAY, 1043},
    {1016, "bigint[]", COLTYPE_ARRAY, 20},
    {1021, "real[]", COLTYPE_ARRAY, 700},
    {1022, "double precision[]", COLTYPE_ARRAY, 701},
    {1028, "oid[]", COLTYPE_ARRAY, 26},
    {1040, "macaddr[]", COLTYPE_ARRAY, 829},
    {1041, "inet[]", COLTYPE_ARRAY, 869},
    {1115, "timestamp[]", COLTYPE_ARRAY, 1114},
    {1182, "date[]", COLTYPE_ARRAY, 1082},
    {1183, "time[]", COLTYPE_ARRAY, 1083},
    {1185, "timestamptz[]", COLTYPE_ARRAY, 1184},
    {1187, "interval[]", COLTYPE_ARRAY, 1186},
    {1231, "numeric[]", COLTYPE_ARRAY, 1700},
    {1270, "timetz[]", COLTYPE_ARRAY, 1266},
    {1561, "bit[]", COLTYPE_ARRAY, 1560},
    {1563, "bit varying[]", COLTYPE_ARRAY, 1562},
    {143, "xml[]", COLTYPE_ARRAY, 142},
    {199, "json[]", COLTYPE_ARRAY, 114},
    {651, "cidr[]", COLTYPE_ARRAY, 650},
    {775, "macaddr8[]", COLTYPE_ARRAY, 774},
    {791, "money[]", COLTYPE_ARRAY, 790},
    {2951, "uuid[]", COLTYPE_ARRAY, 2950},
    {3643, "tsvector[]", COLTYPE_ARRAY, 3614},
    {3645, "tsquery[]", COLTYPE_ARRAY, 3615},
    {3807, "jsonb[]", COLTYPE_ARRAY, 3802},
    /* box separates array elements with ';': the whole text travels */
    {1020, "box[]", COLTYPE_STRING, 0},
};

static const struct builtin *find_builtin(uint32_t oid)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (builtins[i].oid == oid)
            return &builtins[i];
    }
    return NULL;
}

/* numeric(p, s): Avro wants 0 <= scale <= precision, PostgreSQL 15 also
 * allows a negative scale or one above the precision; widen to fit.  A
 * widened precision past PostgreSQL's own limit travels as exact text. */
static void numeric_typmod(int32_t typmod, pgtype_t *out)
{
    int precision, scale;

    out->type = COLTYPE_NUMERIC;
    if (typmod < NUMERIC_VARHDRSZ)
        return;
    typmod -= NUMERIC_VARHDRSZ;
    precision = (typmod >> 16) & 0xFFFF;
    scale = (int)(int16_t)(((typmod & 0x7FF) ^ 1024) - 1024);
    if (scale < 0) {
        precision -= scale;
        scale = 0;
    }
    if (scale > precision)
        precision = scale;
    if (precision < 1 || precision > PGTYPE_MAX_PRECISION)
        return;
    out->type = COLTYPE_DECIMAL;
    out->precision = precision;
    out->scale = scale;
}

bool pgtype_builtin(uint32_t oid, int32_t typmod, pgtype_t *out)
{
    const struct builtin *b = find_builtin(oid);

    memset(out, 0, sizeof(*out));
    out->type = COLTYPE_STRING;
    if (!b)
        return false;
    out->type = b->type;
    if (b->type == COLTYPE_DECIMAL)
        numeric_typmod(typmod, out);
    if (b->type == COLTYPE_ARRAY) {
        pgtype_t elem;

        /* An array column's modifier is its element's. */
        pgtype_builtin(b->elem_oid, typmod, &elem);
        out->elem = elem.type;
        out->precision = elem.precision;
        out->scale = elem.scale;
    }
    return true;
}

void pgtype_from_catalog(const pgtype_catalog_row_t *row,
                         const pgtype_t *underlying, pgtype_t *out)
{
    memset(out, 0, sizeof(*out));
    out->type = COLTYPE_STRING;
    if (row->typtype == 'd' && underlying) {
        *out = *underlying;
        return;
    }
    /* Arrays of arrays (of a domain over an array) and elements separated
     * by anything but a comma keep their text form. */
    if (row->typcategory == 'A' && row->elemtype && row->typdelim == ',' &&
        underlying && underlying->type != COLTYPE_ARRAY) {
        out->type = COLTYPE_ARRAY;
        out->elem = underlying->type;
        out->precision = underlying->precision;
        out->scale = underlying->scale;
    }
}

/* Parsers. */

/* "invalid <kind> value "<text>": expected <what>", with the text cut
 * short (not inside a UTF-8 character) and control bytes shown as '?', so
 * a message stays one line. */
static bool invalid(char *err, size_t errlen, const char *kind,
                    const char *text, size_t len, const char *expected)
{
    char shown[68];
    size_t n = len > 64 ? 64 : len;

    while (n < len && n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];

        shown[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    snprintf(shown + n, sizeof(shown) - n, "%s", len > 64 ? "..." : "");
    snprintf(err, errlen, "invalid %s value \"%s\": expected %s", kind, shown,
             expected);
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Optional '-' then decimal digits, within [min, max]. */
static bool parse_int(const char *p, size_t len, int64_t min, int64_t max,
                      int64_t *out)
{
    uint64_t v = 0, limit = (uint64_t)max;
    size_t i = 0;
    bool negative = false;

    if (len > 0 && p[0] == '-') {
        negative = true;
        limit = (uint64_t)(-(min + 1)) + 1;
        i = 1;
    }
    if (i == len)
        return false;
    for (; i < len; i++) {
        unsigned d;

        if (!is_digit(p[i]))
            return false;
        d = (unsigned)(p[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (negative)
        *out = v == 0 ? 0 : -(int64_t)(v - 1) - 1;
    else
        *out = (int64_t)v;
    return true;
}

/* Digits with an optional fraction and exponent, after an optional '-';
 * or NaN and the infinities. */
static bool float_syntax(const char *p, size_t len)
{
    size_t i = 0, digits = 0;

    if (len == 3 && memcmp(p, "NaN", 3) == 0)
        return true;
    if (i < len && p[i] == '-')
        i++;
    if (len - i == 8 && memcmp(p + i, "Infinity", 8) == 0)
        return true;
    for (; i < len && is_digit(p[i]); i++)
        digits++;
    if (i < len && p[i] == '.') {
        for (i++; i < len && is_digit(p[i]); i++)
            digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        size_t first;

        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        first = i;
        while (i < len && is_digit(p[i]))
            i++;
        if (i == first)
            return false;
    }
    return i == len;
}

/* real through strtof, so the text PostgreSQL printed (the shortest that
 * reads back exactly) gives the same float, with no double rounding. */
static bool parse_float(const char *text, size_t len, bool single, double *out)
{
    char tmp[64];

    if (len >= sizeof(tmp) || !float_syntax(text, len))
        return false;
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    errno = 0;
    if (single) {
        float f = strtof(tmp, NULL);

        if (errno == ERANGE && isinf(f))
            return false;
        *out = f;
    } else {
        *out = strtod(tmp, NULL);
        if (errno == ERANGE && isinf(*out))
            return false;
    }
    /* Subnormal results set ERANGE too; they are exact here. */
    return true;
}

typedef enum numeric_form {
    NUMERIC_INVALID,
    NUMERIC_NUMBER,
    NUMERIC_SPECIAL, /* NaN, Infinity, -Infinity */
} numeric_form_t;

/* numeric's output: [-]digits[.digits], or a special value.  Counts the
 * integer digits after leading zeros and the fraction digits. */
static numeric_form_t numeric_syntax(const char *p, size_t len,
                                     size_t *int_digits, size_t *frac_digits)
{
    size_t i = 0, lead = 0;

    if ((len == 3 && memcmp(p, "NaN", 3) == 0) ||
        (len == 8 && memcmp(p, "Infinity", 8) == 0) ||
        (len == 9 && memcmp(p, "-Infinity", 9) == 0))
        return NUMERIC_SPECIAL;
    *int_digits = *frac_digits = 0;
    if (i < len && p[i] == '-')
        i++;
    while (i < len && p[i] == '0') {
        i++;
        lead++;
    }
    for (; i < len && is_digit(p[i]); i++)
        (*int_digits)++;
    if (lead + *int_digits == 0)
        return NUMERIC_INVALID;
    if (i < len && p[i] == '.') {
        for (i++; i < len && is_digit(p[i]); i++)
            (*frac_digits)++;
        if (*frac_digits == 0)
            return NUMERIC_INVALID;
    }
    return i == len ? NUMERIC_NUMBER : NUMERIC_INVALID;
}

static bool parse_numeric(const pgtype_t *t, bool decimal, const char *text,
                          size_t len, value_t *out, char *err, size_t errlen)
{
    size_t int_digits, frac_digits;
    numeric_form_t form = numeric_syntax(text, len, &int_digits, &frac_digits);

    if (form == NUMERIC_INVALID)
        return invalid(err, errlen, "numeric", text, len,
                       "digits with an optional minus sign and fraction, "
                       "NaN, Infinity or -Infinity");
    if (decimal && form == NUMERIC_NUMBER &&
        (frac_digits > (size_t)t->scale ||
         int_digits > (size_t)(t->precision - t->scale))) {
        snprintf(err, errlen,
                 "numeric value \"%.*s%s\" does not fit decimal(%d,%d), the "
                 "Avro type of its column",
                 (int)(len > 64 ? 64 : len), text, len > 64 ? "..." : "",
                 t->precision, t->scale);
        return false;
    }
    out->u.s = text;
    out->len = (uint32_t)len;
    /* A decimal carries NaN and the infinities in its string branch. */
    out->special = decimal && form == NUMERIC_SPECIAL;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "\x" then hex pairs; false for bad text, NULL bytes for arena failure. */
static bool parse_bytea(const char *text, size_t len, arena_t *arena,
                        value_t *out, bool *no_memory)
{
    uint8_t *bytes;
    size_t n;

    if (len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2)
        return false;
    n = (len - 2) / 2;
    bytes = arena_alloc(arena, n ? n : 1);
    if (!bytes) {
        *no_memory = true;
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(text[2 + 2 * i]), lo = hexval(text[3 + 2 * i]);

        if (hi < 0 || lo < 0)
            return false;
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    out->u.s = (const char *)bytes;
    out->len = (uint32_t)n;
    return true;
}

static bool uuid_syntax(const char *p, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? p[i] != '-' : hexval(p[i]) < 0)
            return false;
    }
    return true;
}

/* Reads exactly n digits. */
static bool digits(const char **p, const char *end, int n, int64_t *out)
{
    int64_t v = 0;

    for (int i = 0; i < n; i++) {
        if (*p >= end || !is_digit(**p))
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" with four to nine year digits, a real calendar day; bc
 * counts years before 1 AD (1 BC is year 0 of the proleptic calendar). */
static bool parse_ymd(const char **p, const char *end, bool bc,
                      int64_t *days_out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y = 0, m, d;
    int ydigits = 0;

    while (*p < end && is_digit(**p) && ydigits < 9) {
        y = y * 10 + (**p - '0');
        (*p)++;
        ydigits++;
    }
    if (ydigits < 4 || y == 0 || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &m) || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &d))
        return false;
    if (bc)
        y = 1 - y;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return false;
    *days_out = datetime_days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* "HH:MM:SS[.f]" with one to six fraction digits, to microseconds; up to
 * 24:00:00, which PostgreSQL allows. */
static bool parse_hms(const char **p, const char *end, int64_t *usecs)
{
    int64_t h, m, s, frac = 0;
    int fdigits = 0;

    if (!digits(p, end, 2, &h) || *p >= end || **p != ':')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &m) || *p >= end || **p != ':')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &s))
        return false;
    if (*p < end && **p == '.') {
        for ((*p)++; *p < end && is_digit(**p); (*p)++) {
            if (++fdigits > 6)
                return false;
            frac = frac * 10 + (**p - '0');
        }
        if (fdigits == 0)
            return false;
        for (int i = fdigits; i < 6; i++)
            frac *= 10;
    }
    if (h > 24 || m > 59 || s > 59 || (h == 24 && (m || s || frac)))
        return false;
    *usecs = ((h * 60 + m) * 60 + s) * 1000000 + frac;
    return true;
}

static bool strip_bc(const char *text, size_t *len)
{
    if (*len > 3 && memcmp(text + *len - 3, " BC", 3) == 0) {
        *len -= 3;
        return true;
    }
    return false;
}

static bool is_word(const char *text, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(text, word, len) == 0;
}

static bool parse_date(const char *text, size_t len, int64_t *out)
{
    const char *p = text;
    bool bc;

    if (is_word(text, len, "infinity")) {
        *out = VALUE_DATE_INFINITY;
        return true;
    }
    if (is_word(text, len, "-infinity")) {
        *out = VALUE_DATE_MINUS_INFINITY;
        return true;
    }
    bc = strip_bc(text, &len);
    if (!parse_ymd(&p, text + len, bc, out) || p != text + len)
        return false;
    /* The infinities take the ends of the int range. */
    return *out > VALUE_DATE_MINUS_INFINITY && *out < VALUE_DATE_INFINITY;
}

typedef enum ts_result {
    TS_OK,
    TS_INVALID,
    TS_RANGE, /* a real timestamp that 64-bit microseconds cannot hold */
} ts_result_t;

/* timestamp and timestamptz; with_zone reads the "+HH[:MM[:SS]]" that
 * follows the time and converts to UTC. */
static ts_result_t parse_timestamp(const char *text, size_t len, bool with_zone,
                                   int64_t *out)
{
    const char *p = text, *end;
    int64_t days, usecs, zone = 0, v;
    bool bc;

    if (is_word(text, len, "infinity")) {
        *out = VALUE_TS_INFINITY;
        return TS_OK;
    }
    if (is_word(text, len, "-infinity")) {
        *out = VALUE_TS_MINUS_INFINITY;
        return TS_OK;
    }
    bc = strip_bc(text, &len);
    end = text + len;
    if (!parse_ymd(&p, end, bc, &days) || p >= end || *p != ' ')
        return TS_INVALID;
    p++;
    if (!parse_hms(&p, end, &usecs))
        return TS_INVALID;
    if (with_zone) {
        int64_t zh, zm = 0, zs = 0;
        int sign;

        if (p >= end || (*p != '+' && *p != '-'))
            return TS_INVALID;
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, end, 2, &zh))
            return TS_INVALID;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &zm))
                return TS_INVALID;
        }
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &zs))
                return TS_INVALID;
        }
        if (zm > 59 || zs > 59)
            return TS_INVALID;
        zone = sign * ((zh * 60 + zm) * 60 + zs) * 1000000;
    }
    if (p != end)
        return TS_INVALID;
    /* PostgreSQL's last years (to 294276 AD) are past what microseconds
     * since 1970 hold in 64 bits; the ends of the range mean infinity. */
    if (__builtin_mul_overflow(days, USECS_PER_DAY, &v) ||
        __builtin_add_overflow(v, usecs - zone, &v) || v == VALUE_TS_INFINITY ||
        v == VALUE_TS_MINUS_INFINITY)
        return TS_RANGE;
    *out = v;
    return TS_OK;
}

static bool parse_scalar(const pgtype_t *t, coltype_t type, const char *text,
                         size_t len, arena_t *arena, value_t *out, char *err,
                         size_t errlen);

static bool no_memory(char *err, size_t errlen, const char *what, size_t n)
{
    snprintf(err, errlen,
             "%s of %zu bytes needs more memory than the reader allows for "
             "one change",
             what, n);
    return false;
}

/* Checks the elements of a one-dimensional array literal between its
 * braces and counts them: quoted elements with backslash escapes, or
 * unquoted ones without quotes, braces or backslashes, separated by
 * commas. */
static bool array_scan(const char *p, const char *end, size_t *count)
{
    *count = 0;
    if (p == end)
        return true;
    for (;;) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && ++p == end)
                    return false;
            }
            if (p == end)
                return false;
            p++;
        } else {
            const char *start = p;

            while (p < end && *p != ',') {
                if (*p == '"' || *p == '{' || *p == '}' || *p == '\\')
                    return false;
                p++;
            }
            if (p == start)
                return false;
        }
        (*count)++;
        if (p == end)
            return true;
        if (*p != ',' || ++p == end)
            return false;
    }
}

/* The next element of a literal array_scan accepted: points into the text
 * unless it has escapes, which are removed in an arena copy.  NULL elem
 * means the arena is full. */
static void array_next(const char **pp, arena_t *arena, const char **elem,
                       size_t *n, bool *quoted)
{
    const char *p = *pp, *start;
    bool escaped = false;

    *quoted = *p == '"';
    if (!*quoted) {
        for (start = p; *p != ',' && *p != '}'; p++)
            ;
        *elem = start;
        *n = (size_t)(p - start);
        *pp = p;
        return;
    }
    for (start = ++p; *p != '"'; p++) {
        if (*p == '\\') {
            escaped = true;
            p++;
        }
    }
    *pp = p + 1;
    if (!escaped) {
        *elem = start;
        *n = (size_t)(p - start);
        return;
    }
    {
        char *copy = arena_alloc(arena, (size_t)(p - start) + 1);
        size_t k = 0;

        *elem = copy;
        *n = 0;
        if (!copy)
            return;
        for (const char *q = start; q < p; q++) {
            if (*q == '\\')
                q++;
            copy[k++] = *q;
        }
        *n = k;
    }
}

/* One-dimensional array literal: {a,"b c",NULL}, maybe after "[lo:hi]=".
 * Two passes: the first checks the structure and counts, so the elements
 * take one allocation. */
static bool parse_array(const pgtype_t *t, const char *text, size_t len,
                        arena_t *arena, value_t *out, char *err, size_t errlen)
{
    static const char expected[] =
        "a one-dimensional array literal such as {1,\"a b\",NULL}";
    const char *p = text, *end = text + len;
    value_t *items = NULL;
    size_t count;

    if (t->elem == COLTYPE_ARRAY || (unsigned)t->elem >= COLTYPE_COUNT_) {
        snprintf(err, errlen, "arrays of element kind %d are not supported",
                 (int)t->elem);
        return false;
    }

    /* A lower bound other than 1 prints as "[0:2]={...}"; the bounds are
     * not carried, the elements are. */
    if (p < end && *p == '[') {
        int64_t lo, hi;
        const char *colon = memchr(p, ':', len), *close;

        close = colon ? memchr(colon, ']', (size_t)(end - colon)) : NULL;
        if (!close ||
            !parse_int(p + 1, (size_t)(colon - p - 1), INT32_MIN, INT32_MAX,
                       &lo) ||
            !parse_int(colon + 1, (size_t)(close - colon - 1), INT32_MIN,
                       INT32_MAX, &hi))
            return invalid(err, errlen, "array", text, len, expected);
        p = close + 1;
        if (p < end && *p == '[')
            goto multidimensional;
        if (p >= end || *p != '=')
            return invalid(err, errlen, "array", text, len, expected);
        p++;
    }
    if (p >= end || *p != '{' || end[-1] != '}' || end - p < 2)
        return invalid(err, errlen, "array", text, len, expected);
    p++;
    end--;
    if (p < end && *p == '{')
        goto multidimensional;
    if (!array_scan(p, end, &count))
        return invalid(err, errlen, "array", text, len, expected);
    if (count > PGTYPE_MAX_ARRAY_ELEMENTS) {
        snprintf(err, errlen,
                 "array has %zu elements, more than PostgreSQL's limit of %d",
                 count, PGTYPE_MAX_ARRAY_ELEMENTS);
        return false;
    }
    if (count) {
        items = arena_alloc(arena, count * sizeof(value_t));
        if (!items)
            return no_memory(err, errlen, "array", len);
    }

    for (size_t k = 0; k < count; k++) {
        value_t *v = &items[k];
        const char *elem;
        size_t n;
        bool quoted;

        array_next(&p, arena, &elem, &n, &quoted);
        if (!elem)
            return no_memory(err, errlen, "array", len);
        p++; /* the comma, or the closing brace */
        memset(v, 0, sizeof(*v));
        if (!quoted && n == 4 && strncasecmp(elem, "NULL", 4) == 0) {
            v->state = VALUE_NULL;
            continue;
        }
        if (!parse_scalar(t, t->elem, elem, n, arena, v, err, errlen)) {
            char inner[512];

            snprintf(inner, sizeof(inner), "%s", err);
            snprintf(err, errlen, "element %zu of the array: %s", k + 1, inner);
            return false;
        }
    }
    out->state = VALUE_SET;
    out->u.items = items;
    out->len = (uint32_t)count;
    return true;

multidimensional:
    snprintf(err, errlen,
             "multidimensional array values are not supported, Avro carries "
             "one-dimensional arrays: store one-dimensional arrays in this "
             "column, or change its type to jsonb");
    return false;
}

static bool parse_scalar(const pgtype_t *t, coltype_t type, const char *text,
                         size_t len, arena_t *arena, value_t *out, char *err,
                         size_t errlen)
{
    bool oom = false;

    out->state = VALUE_SET;
    out->special = 0;
    switch (type) {
    case COLTYPE_BOOLEAN:
        if (len != 1 || (text[0] != 't' && text[0] != 'f'))
            return invalid(err, errlen, "boolean", text, len, "t or f");
        out->u.b = text[0] == 't';
        return true;
    case COLTYPE_INT:
        if (!parse_int(text, len, INT32_MIN, INT32_MAX, &out->u.i))
            return invalid(err, errlen, "integer", text, len,
                           "digits with an optional minus sign, within "
                           "32 bits");
        return true;
    case COLTYPE_LONG:
        if (!parse_int(text, len, INT64_MIN, INT64_MAX, &out->u.i))
            return invalid(err, errlen, "bigint", text, len,
                           "digits with an optional minus sign, within "
                           "64 bits");
        return true;
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        if (!parse_float(text, len, type == COLTYPE_FLOAT, &out->u.f))
            return invalid(err, errlen,
                           type == COLTYPE_FLOAT ? "real" : "double precision",
                           text, len,
                           "a number within range, NaN, Infinity or "
                           "-Infinity");
        return true;
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
        return parse_numeric(t, type == COLTYPE_DECIMAL, text, len, out, err,
                             errlen);
    case COLTYPE_BYTES:
        if (!parse_bytea(text, len, arena, out, &oom)) {
            if (oom)
                return no_memory(err, errlen, "bytea value", len);
            return invalid(err, errlen, "bytea", text, len,
                           "\\x and pairs of hex digits");
        }
        return true;
    case COLTYPE_UUID:
        if (!uuid_syntax(text, len))
            return invalid(err, errlen, "uuid", text, len,
                           "hex digits grouped 8-4-4-4-12");
        out->u.s = text;
        out->len = (uint32_t)len;
        return true;
    case COLTYPE_DATE:
        if (!parse_date(text, len, &out->u.i))
            return invalid(err, errlen, "date", text, len,
                           "a calendar day as YYYY-MM-DD with an optional "
                           "\" BC\", infinity or -infinity");
        return true;
    case COLTYPE_TIME: {
        const char *p = text;

        if (!parse_hms(&p, text + len, &out->u.i) || p != text + len)
            return invalid(err, errlen, "time", text, len,
                           "HH:MM:SS with up to six fraction digits, at "
                           "most 24:00:00");
        return true;
    }
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ: {
        bool tz = type == COLTYPE_TIMESTAMPTZ;

        switch (parse_timestamp(text, len, tz, &out->u.i)) {
        case TS_OK:
            return true;
        case TS_INVALID:
            return invalid(err, errlen, tz ? "timestamptz" : "timestamp", text,
                           len,
                           tz ? "YYYY-MM-DD HH:MM:SS[.ffffff]+HH with an "
                                "optional \" BC\", infinity or -infinity"
                              : "YYYY-MM-DD HH:MM:SS[.ffffff] with an "
                                "optional \" BC\", infinity or -infinity");
        case TS_RANGE:
            snprintf(err, errlen,
                     "%s value \"%.*s\" is past the range of Avro's %s "
                     "(microseconds since 1970 in 64 bits, up to "
                     "294247-01-10 04:00:54.775806): store an earlier time "
                     "or 'infinity' in this column",
                     tz ? "timestamptz" : "timestamp",
                     (int)(len > 64 ? 64 : len), text,
                     tz ? "timestamp-micros" : "local-timestamp-micros");
            return false;
        }
        return false;
    }
    case COLTYPE_ARRAY:
        return parse_array(t, text, len, arena, out, err, errlen);
    case COLTYPE_STRING:
    case COLTYPE_JSON:
        out->u.s = text;
        out->len = (uint32_t)len;
        return true;
    case COLTYPE_COUNT_:
        break;
    }
    snprintf(err, errlen, "unknown column kind %d", (int)type);
    return false;
}

bool pgtype_parse(const pgtype_t *t, const char *text, size_t len,
                  arena_t *arena, value_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > PGTYPE_MAX_TEXT) {
        snprintf(err, errlen,
                 "value of %zu bytes is longer than PostgreSQL's limit of "
                 "%zu",
                 len, PGTYPE_MAX_TEXT);
        return false;
    }
    return parse_scalar(t, t->type, text, len, arena, out, err, errlen);
}
