/* The type mapping: built-in PostgreSQL types to column kinds, and parsers
 * from their text output (in the session settings below) to values. */
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

/* Built-in types by OID.  Types absent here and below OID 10000 are carried
 * as their text form. */
static const struct builtin {
    uint32_t oid;
    coltype_t type;
    uint32_t elem_oid; /* arrays: the element type */
} builtins[] = {
    {16, COLTYPE_BOOLEAN, 0},       /* bool */
    {17, COLTYPE_BYTES, 0},         /* bytea */
    {18, COLTYPE_STRING, 0},        /* "char" */
    {19, COLTYPE_STRING, 0},        /* name */
    {20, COLTYPE_LONG, 0},          /* int8 */
    {21, COLTYPE_INT, 0},           /* int2 */
    {23, COLTYPE_INT, 0},           /* int4 */
    {25, COLTYPE_STRING, 0},        /* text */
    {26, COLTYPE_LONG, 0},          /* oid */
    {114, COLTYPE_JSON, 0},         /* json */
    {142, COLTYPE_STRING, 0},       /* xml */
    {700, COLTYPE_FLOAT, 0},        /* float4 */
    {701, COLTYPE_DOUBLE, 0},       /* float8 */
    {1042, COLTYPE_STRING, 0},      /* bpchar */
    {1043, COLTYPE_STRING, 0},      /* varchar */
    {1082, COLTYPE_DATE, 0},        /* date */
    {1083, COLTYPE_TIME, 0},        /* time */
    {1114, COLTYPE_TIMESTAMP, 0},   /* timestamp */
    {1184, COLTYPE_TIMESTAMPTZ, 0}, /* timestamptz */
    {1700, COLTYPE_DECIMAL, 0},     /* numeric: NUMERIC when unconstrained */
    {2950, COLTYPE_UUID, 0},        /* uuid */
    {3802, COLTYPE_JSON, 0},        /* jsonb */
    /* one-dimensional arrays of the scalar types */
    {1000, COLTYPE_ARRAY, 16},   {1001, COLTYPE_ARRAY, 17},
    {1002, COLTYPE_ARRAY, 18},   {1003, COLTYPE_ARRAY, 19},
    {1016, COLTYPE_ARRAY, 20},   {1005, COLTYPE_ARRAY, 21},
    {1007, COLTYPE_ARRAY, 23},   {1009, COLTYPE_ARRAY, 25},
    {1028, COLTYPE_ARRAY, 26},   {199, COLTYPE_ARRAY, 114},
    {143, COLTYPE_ARRAY, 142},   {1021, COLTYPE_ARRAY, 700},
    {1022, COLTYPE_ARRAY, 701},  {1014, COLTYPE_ARRAY, 1042},
    {1015, COLTYPE_ARRAY, 1043}, {1182, COLTYPE_ARRAY, 1082},
    {1183, COLTYPE_ARRAY, 1083}, {1115, COLTYPE_ARRAY, 1114},
    {1185, COLTYPE_ARRAY, 1184}, {1231, COLTYPE_ARRAY, 1700},
    {2951, COLTYPE_ARRAY, 2950}, {3807, COLTYPE_ARRAY, 3802},
    /* arrays of types carried as text: elements are text */
    {791, COLTYPE_ARRAY, 790},   {1040, COLTYPE_ARRAY, 829},
    {1041, COLTYPE_ARRAY, 869},  {651, COLTYPE_ARRAY, 650},
    {775, COLTYPE_ARRAY, 774},   {1187, COLTYPE_ARRAY, 1186},
    {1270, COLTYPE_ARRAY, 1266}, {1561, COLTYPE_ARRAY, 1560},
    {1563, COLTYPE_ARRAY, 1562}, {3643, COLTYPE_ARRAY, 3614},
    {3645, COLTYPE_ARRAY, 3615}, {1263, COLTYPE_ARRAY, 2275},
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
 * allows a negative scale or one above the precision; widen to fit. */
static void numeric_typmod(int32_t typmod, pgtype_t *out)
{
    int precision, scale;

    if (typmod < NUMERIC_VARHDRSZ) {
        out->type = COLTYPE_NUMERIC;
        return;
    }
    typmod -= NUMERIC_VARHDRSZ;
    precision = (typmod >> 16) & 0xFFFF;
    scale = (int)(int16_t)(((typmod & 0x7FF) ^ 1024) - 1024);
    if (scale < 0) {
        precision -= scale;
        scale = 0;
    }
    if (scale > precision)
        precision = scale;
    out->type = COLTYPE_DECIMAL;
    out->precision = precision;
    out->scale = scale;
}

bool pgtype_builtin(uint32_t oid, int32_t typmod, pgtype_t *out)
{
    const struct builtin *b = find_builtin(oid);

    memset(out, 0, sizeof(*out));
    if (!b) {
        /* Other built-in types travel as text: money, intervals, network
         * and bit strings, geometry, text search, ranges and the rest. */
        out->type = COLTYPE_STRING;
        return oid < 10000;
    }
    out->type = b->type;
    if (b->type == COLTYPE_DECIMAL)
        numeric_typmod(typmod, out);
    if (b->type == COLTYPE_ARRAY) {
        pgtype_t elem;

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
    if (row->typcategory == 'A' && row->elemtype && underlying &&
        underlying->type != COLTYPE_ARRAY) {
        out->type = COLTYPE_ARRAY;
        out->elem = underlying->type;
        out->precision = underlying->precision;
        out->scale = underlying->scale;
    }
}

/* Parsers. */

static bool parse_error(char *err, size_t errlen, const char *kind,
                        const char *text, size_t len)
{
    snprintf(err, errlen, "invalid %s value \"%.*s\"", kind,
             (int)(len > 64 ? 64 : len), text);
    return false;
}

static bool parse_int(const char *text, size_t len, int64_t min, int64_t max,
                      int64_t *out)
{
    char tmp[32];
    char *end;
    long long v;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *text, size_t len, double *out)
{
    char tmp[64];
    char *end;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    errno = 0;
    *out = strtod(tmp, &end);
    /* PostgreSQL prints values near the limits exactly; ERANGE for
     * subnormals is not an error here. */
    return *end == '\0';
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

static bool parse_bytea(const char *text, size_t len, arena_t *arena,
                        value_t *out)
{
    uint8_t *bytes;
    size_t n;

    if (len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2)
        return false;
    n = (len - 2) / 2;
    bytes = arena_alloc(arena, n ? n : 1);
    if (!bytes)
        return false;
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

/* Reads exactly n digits. */
static bool digits(const char **p, const char *end, int n, int64_t *out)
{
    int64_t v = 0;

    for (int i = 0; i < n; i++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD" with four or more year digits; BC is handled by callers. */
static bool parse_ymd(const char **p, const char *end, int64_t *days_out,
                      bool bc)
{
    int64_t y = 0, m, d;
    int ydigits = 0;

    while (*p < end && **p >= '0' && **p <= '9' && ydigits < 8) {
        y = y * 10 + (**p - '0');
        (*p)++;
        ydigits++;
    }
    if (ydigits < 4 || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &m) || *p >= end || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, end, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    if (bc)
        y = 1 - y;
    *days_out = datetime_days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* "HH:MM:SS[.ffffff]" to microseconds; 24:00:00 is allowed. */
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
        (*p)++;
        while (*p < end && **p >= '0' && **p <= '9') {
            if (fdigits < 6) {
                frac = frac * 10 + (**p - '0');
                fdigits++;
            }
            (*p)++;
        }
        if (fdigits == 0)
            return false;
        for (int i = fdigits; i < 6; i++)
            frac *= 10;
    }
    if (h > 24 || m > 59 || s > 60)
        return false;
    *usecs = ((h * 60 + m) * 60 + s) * 1000000 + frac;
    return true;
}

static bool ends_with_bc(const char *text, size_t *len)
{
    if (*len > 3 && memcmp(text + *len - 3, " BC", 3) == 0) {
        *len -= 3;
        return true;
    }
    return false;
}

static bool parse_date(const char *text, size_t len, int64_t *out)
{
    const char *p = text;
    bool bc;

    if (len == 8 && memcmp(text, "infinity", 8) == 0) {
        *out = VALUE_DATE_INFINITY;
        return true;
    }
    if (len == 9 && memcmp(text, "-infinity", 9) == 0) {
        *out = VALUE_DATE_MINUS_INFINITY;
        return true;
    }
    bc = ends_with_bc(text, &len);
    return parse_ymd(&p, text + len, out, bc) && p == text + len;
}

/* timestamp and timestamptz; with_zone reads the "+HH[:MM[:SS]]" that
 * follows the time and converts to UTC. */
static bool parse_timestamp(const char *text, size_t len, bool with_zone,
                            int64_t *out)
{
    const char *p = text, *end;
    int64_t days, usecs, zone = 0;
    bool bc;

    if (len == 8 && memcmp(text, "infinity", 8) == 0) {
        *out = VALUE_TS_INFINITY;
        return true;
    }
    if (len == 9 && memcmp(text, "-infinity", 9) == 0) {
        *out = VALUE_TS_MINUS_INFINITY;
        return true;
    }
    bc = ends_with_bc(text, &len);
    end = text + len;
    if (!parse_ymd(&p, end, &days, bc) || p >= end || *p != ' ')
        return false;
    p++;
    if (!parse_hms(&p, end, &usecs))
        return false;
    if (with_zone) {
        int64_t zh, zm = 0, zs = 0;
        int sign;

        if (p >= end || (*p != '+' && *p != '-'))
            return false;
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, end, 2, &zh))
            return false;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &zm))
                return false;
        }
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &zs))
                return false;
        }
        zone = sign * ((zh * 60 + zm) * 60 + zs) * 1000000;
    }
    if (p != end)
        return false;
    *out = days * USECS_PER_DAY + usecs - zone;
    return true;
}

static bool parse_scalar(const pgtype_t *t, coltype_t type, const char *text,
                         size_t len, arena_t *arena, value_t *out, char *err,
                         size_t errlen);

/* One-dimensional array literal: {a,"b c",NULL}.  Element text is
 * unescaped into the arena, then parsed as the element kind. */
static bool parse_array(const pgtype_t *t, const char *text, size_t len,
                        arena_t *arena, value_t *out, char *err,
                        size_t errlen)
{
    const char *p = text, *end = text + len;
    size_t count = 0, cap = 0;
    value_t *items = NULL;

    /* A lower bound other than 1 prints as "[0:2]={...}"; the bounds are
     * not carried. */
    if (p < end && *p == '[') {
        const char *eq = memchr(p, '=', len);

        if (!eq)
            return parse_error(err, errlen, "array", text, len);
        p = eq + 1;
    }
    if (p >= end || *p != '{' || end[-1] != '}')
        return parse_error(err, errlen, "array", text, len);
    p++;
    end--;
    if (p < end && *p == '{') {
        snprintf(err, errlen,
                 "multidimensional array values are not supported: store "
                 "one-dimensional arrays or use jsonb");
        return false;
    }

    while (p < end) {
        char *elem = arena_alloc(arena, (size_t)(end - p) + 1);
        size_t n = 0;
        bool quoted = false;
        value_t *v;

        if (!elem)
            return parse_error(err, errlen, "array", text, len);
        if (*p == '"') {
            quoted = true;
            p++;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                elem[n++] = *p++;
            }
            if (p >= end)
                return parse_error(err, errlen, "array", text, len);
            p++;
        } else {
            while (p < end && *p != ',')
                elem[n++] = *p++;
        }
        elem[n] = '\0';

        if (count == cap) {
            size_t newcap = cap ? cap * 2 : 8;
            value_t *grown = arena_alloc(arena, newcap * sizeof(value_t));

            if (!grown)
                return parse_error(err, errlen, "array", text, len);
            if (count)
                memcpy(grown, items, count * sizeof(value_t));
            items = grown;
            cap = newcap;
        }
        v = &items[count++];
        memset(v, 0, sizeof(*v));
        if (!quoted && n == 4 && strncasecmp(elem, "NULL", 4) == 0) {
            v->state = VALUE_NULL;
        } else if (!parse_scalar(t, t->elem, elem, n, arena, v, err,
                                 errlen)) {
            return false;
        }

        if (p < end) {
            if (*p != ',')
                return parse_error(err, errlen, "array", text, len);
            p++;
        }
    }
    out->state = VALUE_SET;
    out->u.items = items;
    out->len = (uint32_t)count;
    return true;
}

static bool parse_scalar(const pgtype_t *t, coltype_t type, const char *text,
                         size_t len, arena_t *arena, value_t *out, char *err,
                         size_t errlen)
{
    out->state = VALUE_SET;
    out->special = 0;
    switch (type) {
    case COLTYPE_BOOLEAN:
        if (len != 1 || (text[0] != 't' && text[0] != 'f'))
            return parse_error(err, errlen, "boolean", text, len);
        out->u.b = text[0] == 't';
        return true;
    case COLTYPE_INT:
        if (!parse_int(text, len, INT32_MIN, INT32_MAX, &out->u.i))
            return parse_error(err, errlen, "integer", text, len);
        return true;
    case COLTYPE_LONG:
        if (!parse_int(text, len, INT64_MIN, INT64_MAX, &out->u.i))
            return parse_error(err, errlen, "bigint", text, len);
        return true;
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        if (!parse_float(text, len, &out->u.f))
            return parse_error(err, errlen, "floating point", text, len);
        return true;
    case COLTYPE_DECIMAL:
        out->u.s = text;
        out->len = (uint32_t)len;
        /* NaN and the infinities have no decimal form: they travel in the
         * string branch of the union. */
        out->special = (len > 0 && (text[0] == 'N' || text[0] == 'I' ||
                                    (text[0] == '-' && len > 1 &&
                                     text[1] == 'I')));
        return true;
    case COLTYPE_BYTES:
        if (!parse_bytea(text, len, arena, out))
            return parse_error(err, errlen, "bytea", text, len);
        return true;
    case COLTYPE_DATE:
        if (!parse_date(text, len, &out->u.i))
            return parse_error(err, errlen, "date", text, len);
        return true;
    case COLTYPE_TIME: {
        const char *p = text;

        if (!parse_hms(&p, text + len, &out->u.i) || p != text + len)
            return parse_error(err, errlen, "time", text, len);
        return true;
    }
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        if (!parse_timestamp(text, len, type == COLTYPE_TIMESTAMPTZ,
                             &out->u.i))
            return parse_error(err, errlen, "timestamp", text, len);
        return true;
    case COLTYPE_ARRAY:
        return parse_array(t, text, len, arena, out, err, errlen);
    case COLTYPE_STRING:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
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
    return parse_scalar(t, t->type, text, len, arena, out, err, errlen);
}
