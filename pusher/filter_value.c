/* Typed values for filters: decimal text compared exactly, shortest float
 * text, uuid, PostgreSQL's boolean spellings, ISO 8601 dates and times,
 * and "$NOW(...)" adjustments.  Parsers take text of a given length (not
 * NUL-terminated), check every byte, and never read past it. */
#include "filter_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

/* Case-insensitive equality of s (n bytes) and the lower-case word. */
static bool word_is(const char *s, size_t n, const char *word)
{
    size_t len = strlen(word);

    if (n != len)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != word[i])
            return false;
    }
    return true;
}

/* ---- decimals ---- */

bool fdec_parse(const char *s, size_t n, fdec_t *d)
{
    const char *end, *first = NULL, *last = NULL;
    int64_t intdigits = 0, lead = 0, e = 0;
    bool negative = false, sign = false, point = false, any = false;

    memset(d, 0, sizeof(*d));
    trim(&s, &n);
    end = s + n;

    if (s < end && (*s == '+' || *s == '-')) {
        negative = *s == '-';
        sign = true;
        s++;
    }
    if (s < end && (lower(*s) == 'n' || lower(*s) == 'i')) {
        if (word_is(s, (size_t)(end - s), "nan") && !sign) {
            d->kind = FDEC_NAN;
            return true;
        }
        if (word_is(s, (size_t)(end - s), "infinity") ||
            word_is(s, (size_t)(end - s), "inf")) {
            d->kind = negative ? FDEC_NINF : FDEC_PINF;
            return true;
        }
        return false;
    }

    /* Digits with at most one point; remember the first and last non-zero
     * digit and how many digits precede the first one. */
    for (; s < end; s++) {
        if (*s == '.') {
            if (point)
                return false;
            point = true;
            continue;
        }
        if (!is_digit(*s))
            break;
        any = true;
        if (!point)
            intdigits++;
        if (*s != '0') {
            if (!first)
                first = s;
            last = s;
        } else if (!first) {
            lead++;
        }
    }
    if (!any)
        return false;

    if (s < end && (*s == 'e' || *s == 'E')) {
        bool eneg = false, edigits = false;

        s++;
        if (s < end && (*s == '+' || *s == '-')) {
            eneg = *s == '-';
            s++;
        }
        for (; s < end && is_digit(*s); s++) {
            edigits = true;
            if (e < 1000000000)
                e = e * 10 + (*s - '0');
        }
        if (!edigits)
            return false;
        if (eneg)
            e = -e;
    }
    if (s != end)
        return false;

    d->kind = FDEC_FINITE;
    if (!first)
        return true; /* zero, whatever its sign */
    int64_t exp = intdigits - lead + e;

    if (exp > INT32_MAX / 2 || exp < -(INT32_MAX / 2))
        return false;
    d->sign = negative ? -1 : 1;
    d->digits = first;
    d->ndigits = (uint32_t)(last - first + 1);
    d->exp = (int32_t)exp;
    return true;
}

static int kind_rank(uint8_t kind)
{
    switch (kind) {
    case FDEC_NINF:
        return 0;
    case FDEC_FINITE:
        return 1;
    case FDEC_PINF:
        return 2;
    default:
        return 3;
    }
}

int fdec_cmp(const fdec_t *a, const fdec_t *b)
{
    if (a->kind != FDEC_FINITE || b->kind != FDEC_FINITE) {
        int ra = kind_rank(a->kind), rb = kind_rank(b->kind);

        return ra < rb ? -1 : ra > rb ? 1 : 0;
    }
    if (a->sign != b->sign)
        return a->sign < b->sign ? -1 : 1;
    if (a->sign == 0)
        return 0;

    int mag = 0;

    if (a->exp != b->exp) {
        mag = a->exp > b->exp ? 1 : -1;
    } else {
        const char *p = a->digits, *pe = p + a->ndigits;
        const char *q = b->digits, *qe = q + b->ndigits;

        for (;;) {
            if (p < pe && *p == '.')
                p++;
            if (q < qe && *q == '.')
                q++;
            if (p == pe || q == qe)
                break;
            if (*p != *q) {
                mag = *p > *q ? 1 : -1;
                break;
            }
            p++;
            q++;
        }
        /* Spans end on a non-zero digit, so the longer one is larger. */
        if (mag == 0 && (p != pe || q != qe))
            mag = p != pe ? 1 : -1;
    }
    return a->sign > 0 ? mag : -mag;
}

static uint32_t digit_count(const fdec_t *d)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < d->ndigits; i++)
        n += d->digits[i] != '.';
    return n;
}

bool fdec_is_whole(const fdec_t *d)
{
    return d->kind == FDEC_FINITE &&
           (d->sign == 0 || d->exp >= (int32_t)digit_count(d));
}

bool fdec_to_i64(const fdec_t *d, int64_t *out)
{
    uint64_t v = 0, limit;

    if (d->kind != FDEC_FINITE)
        return false;
    if (d->sign == 0) {
        *out = 0;
        return true;
    }
    if (d->exp < (int32_t)digit_count(d) || d->exp > 19)
        return false;

    limit = d->sign < 0 ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (int32_t i = 0, k = 0; i < d->exp; i++) {
        unsigned dig = 0;

        while (k < (int32_t)d->ndigits && d->digits[k] == '.')
            k++;
        if (k < (int32_t)d->ndigits)
            dig = (unsigned)(d->digits[k++] - '0');
        if (v > (limit - dig) / 10)
            return false;
        v = v * 10 + dig;
    }
    *out = d->sign < 0 ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool fdec_format(const fdec_t *d, buf_t *out)
{
    buf_t dg;
    size_t nd;
    bool ok;

    switch (d->kind) {
    case FDEC_NAN:
        return buf_puts(out, "\"NaN\"");
    case FDEC_PINF:
        return buf_puts(out, "\"Infinity\"");
    case FDEC_NINF:
        return buf_puts(out, "\"-Infinity\"");
    }
    if (d->sign == 0)
        return buf_puts(out, "\"0\"");

    /* The significant digits without the point. */
    buf_init(&dg, 0);
    for (uint32_t i = 0; i < d->ndigits; i++) {
        if (d->digits[i] != '.')
            buf_putc(&dg, (uint8_t)d->digits[i]);
    }
    nd = dg.len;
    ok = !dg.overflow && buf_putc(out, '"');
    if (ok && d->sign < 0)
        ok = buf_putc(out, '-');
    if (!ok) {
        /* nothing more */
    } else if (d->exp > 21 || d->exp < -6) {
        /* Scientific, so that huge exponents stay short. */
        ok = buf_putc(out, dg.data[0]);
        if (ok && nd > 1)
            ok = buf_putc(out, '.') && buf_append(out, dg.data + 1, nd - 1);
        ok = ok && buf_printf(out, "e%d", (int)d->exp - 1);
    } else if (d->exp <= 0) {
        ok = buf_puts(out, "0.");
        for (int32_t i = 0; ok && i < -d->exp; i++)
            ok = buf_putc(out, '0');
        ok = ok && buf_append(out, dg.data, nd);
    } else if ((size_t)d->exp >= nd) {
        ok = buf_append(out, dg.data, nd);
        for (size_t i = nd; ok && i < (size_t)d->exp; i++)
            ok = buf_putc(out, '0');
    } else {
        ok = buf_append(out, dg.data, (size_t)d->exp) && buf_putc(out, '.') &&
             buf_append(out, dg.data + d->exp, nd - (size_t)d->exp);
    }
    ok = ok && buf_putc(out, '"');
    buf_free(&dg);
    return ok;
}

/* ---- floats ---- */

void fdouble_format(double d, bool as_float, char *out, size_t outlen)
{
    if (isnan(d)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, outlen, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0)
        d = 0; /* -0 equals 0: one spelling */

    /* The fewest digits that read back as the same value. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (as_float ? strtof(out, NULL) == (float)d : strtod(out, NULL) == d)
            return;
    }
}

/* ---- uuid ---- */

/* Hex digit values, -1 for other bytes. */
static const int8_t hex_digit[256] = {
    ['0'] = 0,  ['1'] = 1,  ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,
    ['6'] = 6,  ['7'] = 7,  ['8'] = 8,  ['9'] = 9,  ['a'] = 10, ['b'] = 11,
    ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15, ['A'] = 10, ['B'] = 11,
    ['C'] = 12, ['D'] = 13, ['E'] = 14, ['F'] = 15,
};

static int hexval(char c)
{
    unsigned char u = (unsigned char)c;

    if (hex_digit[u] == 0 && u != '0')
        return -1;
    return hex_digit[u];
}

/* The form PostgreSQL prints: 8-4-4-4-12 hex digits. */
static bool uuid_canonical(const char *s, uint64_t *hi, uint64_t *lo)
{
    static const uint8_t pos[32] = {
        0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11, 12, 14, 15, 16, 17,
        19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    };
    uint64_t h = 0, l = 0;
    int bad = 0;

    if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    for (int i = 0; i < 16; i++) {
        int v = hexval(s[pos[i]]), w = hexval(s[pos[i + 16]]);

        bad |= v | w;
        h = h << 4 | (uint64_t)(v & 0xF);
        l = l << 4 | (uint64_t)(w & 0xF);
    }
    if (bad < 0)
        return false;
    *hi = h;
    *lo = l;
    return true;
}

bool fuuid_parse(const char *s, size_t n, uint64_t *hi, uint64_t *lo)
{
    const char *end = s + n;
    uint64_t h = 0, l = 0;
    int count = 0;

    if (n == 36 && uuid_canonical(s, hi, lo))
        return true;

    if (n && *s == '{') {
        s++;
        if (end == s || end[-1] != '}')
            return false;
        end--;
    }

    /* 32 hex digits; a hyphen may follow any group of four. */
    for (; s < end; s++) {
        int v;

        if (*s == '-' && count > 0 && count < 32 && count % 4 == 0 &&
            s[-1] != '-')
            continue;
        v = hexval(*s);
        if (v < 0 || count == 32)
            return false;
        if (count < 16)
            h = h << 4 | (uint64_t)v;
        else
            l = l << 4 | (uint64_t)v;
        count++;
    }
    if (count != 32)
        return false;
    *hi = h;
    *lo = l;
    return true;
}

void fuuid_format(uint64_t hi, uint64_t lo, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int k = 0;

    for (int i = 0; i < 32; i++) {
        uint64_t half = i < 16 ? hi : lo;
        int shift = 60 - 4 * (i % 16);

        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[k++] = '-';
        out[k++] = hex[(half >> shift) & 0xF];
    }
    out[k] = '\0';
}

/* ---- booleans ---- */

/* True when s is a non-empty prefix of word at least min bytes long. */
static bool prefix_of(const char *s, size_t n, const char *word, size_t min)
{
    size_t len = strlen(word);

    if (n < min || n > len)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != word[i])
            return false;
    }
    return true;
}

bool fbool_parse(const char *s, size_t n, bool *out)
{
    trim(&s, &n);
    if (prefix_of(s, n, "true", 1) || prefix_of(s, n, "yes", 1) ||
        prefix_of(s, n, "on", 2) || (n == 1 && s[0] == '1')) {
        *out = true;
        return true;
    }
    if (prefix_of(s, n, "false", 1) || prefix_of(s, n, "no", 1) ||
        prefix_of(s, n, "off", 2) || (n == 1 && s[0] == '0')) {
        *out = false;
        return true;
    }
    return false;
}

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;

    return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- dates and times ---- */

/* Reads exactly n digits at *p (before end) as a number. */
static bool read_digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;

    if (end - *p < n)
        return false;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* HH:MM[:SS[.frac]] to microseconds of the day (up to 24:00:00 and a
 * leap second); the caller has checked that *p starts with two digits. */
static bool read_time(const char **p, const char *end, int64_t *us,
                      const char **why)
{
    int h, mi, sec = 0;
    int64_t frac = 0;

    *why = "expected a time as HH:MM or HH:MM:SS";
    if (!read_digits(p, end, 2, &h) || *p == end || **p != ':')
        return false;
    (*p)++;
    if (!read_digits(p, end, 2, &mi))
        return false;
    if (*p < end && **p == ':') {
        (*p)++;
        if (!read_digits(p, end, 2, &sec))
            return false;
        if (*p < end && (**p == '.' || **p == ',')) {
            int ndig = 0;
            bool round_up = false, sticky = false;
            int last = 0;

            (*p)++;
            if (*p == end || !is_digit(**p))
                return false;
            /* Microseconds, the rest rounded half to even as PostgreSQL
             * does. */
            for (; *p < end && is_digit(**p); (*p)++, ndig++) {
                int dig = **p - '0';

                if (ndig < 6) {
                    frac = frac * 10 + dig;
                    last = dig;
                } else if (ndig == 6) {
                    round_up = dig > 5;
                    sticky = dig == 5;
                } else if (dig != 0 && sticky) {
                    round_up = true;
                }
            }
            if (ndig > 6 && sticky && !round_up)
                round_up = last % 2 == 1;
            for (int i = ndig; i < 6; i++)
                frac *= 10;
            if (round_up)
                frac++;
        }
    }
    *why = "time of day out of range";
    if (h > 24 || mi > 59 || sec > 60)
        return false;
    *us = ((int64_t)h * 3600 + mi * 60 + sec) * US_PER_SEC + frac;
    if (*us > US_PER_DAY)
        return false;
    return true;
}

/* Z, or +HH, +HHMM, +HH:MM (and -); seconds east of UTC. */
static bool read_zone(const char **p, const char *end, int64_t *offset,
                      const char **why)
{
    int sign, h, mi = 0;

    *why = "expected a time zone as Z or +HH:MM";
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *offset = 0;
        return true;
    }
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (!read_digits(p, end, 2, &h))
        return false;
    if (*p < end && **p == ':') {
        (*p)++;
        if (!read_digits(p, end, 2, &mi))
            return false;
    } else if (*p < end && is_digit(**p)) {
        if (!read_digits(p, end, 2, &mi))
            return false;
    }
    if (h > 15 || mi > 59) {
        *why = "time zone offset out of range";
        return false;
    }
    *offset = sign * ((int64_t)h * 3600 + mi * 60);
    return true;
}

bool ftime_parse(coltype_t type, const char *s, size_t n, int64_t *out,
                 const char **why)
{
    const char *p, *end;
    int y = 1970, m = 1, d = 1;
    int64_t tod = 0, zone = 0;
    bool has_time = false;

    trim(&s, &n);
    p = s;
    end = s + n;

    if (word_is(s, n, "infinity") || word_is(s, n, "+infinity") ||
        word_is(s, n, "-infinity")) {
        bool neg = s[0] == '-';

        if (type == COLTYPE_TIME) {
            *why = "a time of day cannot be infinite";
            return false;
        }
        if (type == COLTYPE_DATE)
            *out = neg ? VALUE_DATE_MINUS_INFINITY : VALUE_DATE_INFINITY;
        else
            *out = neg ? VALUE_TS_MINUS_INFINITY : VALUE_TS_INFINITY;
        return true;
    }
    if (word_is(s, n, "epoch") && type != COLTYPE_TIME) {
        *out = 0;
        return true;
    }
    if (word_is(s, n, "now") || word_is(s, n, "today") ||
        word_is(s, n, "tomorrow") || word_is(s, n, "yesterday")) {
        *why = "use \"$NOW\" or \"$NOW(-1 day)\" for times relative to now";
        return false;
    }

    /* A date first, unless a time column got a bare time. */
    if (!(type == COLTYPE_TIME && end - p >= 3 && p[2] == ':')) {
        *why = "expected an ISO 8601 date as YYYY-MM-DD";
        if (!read_digits(&p, end, 4, &y) || p == end || *p++ != '-' ||
            !read_digits(&p, end, 2, &m) || p == end || *p++ != '-' ||
            !read_digits(&p, end, 2, &d))
            return false;
        if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
            *why = "date out of range";
            return false;
        }
        if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
            p++;
            if (!read_time(&p, end, &tod, why))
                return false;
            has_time = true;
        } else if (type == COLTYPE_TIME) {
            *why = "expected a time of day as HH:MM:SS";
            return false;
        }
    } else if (!read_time(&p, end, &tod, why)) {
        return false;
    } else {
        has_time = true;
    }
    /* After a bare date "-" would read as part of it: PostgreSQL takes
     * a zone there only as Z or +. */
    if (p < end &&
        (*p == 'Z' || *p == 'z' || *p == '+' || (*p == '-' && has_time))) {

        if (!read_zone(&p, end, &zone, why))
            return false;
    }
    if (p != end) {
        *why = "unexpected text after the date and time";
        return false;
    }

    switch (type) {
    case COLTYPE_DATE:
        *out = days_from_civil(y, m, d);
        return true;
    case COLTYPE_TIME:
        *out = tod;
        return true;
    case COLTYPE_TIMESTAMP:
        *out = days_from_civil(y, m, d) * US_PER_DAY + tod;
        return true;
    default:
        *out = days_from_civil(y, m, d) * US_PER_DAY + tod - zone * US_PER_SEC;
        return true;
    }
}

static bool put_tod(buf_t *out, int64_t us)
{
    int64_t sec = us / US_PER_SEC, frac = us % US_PER_SEC;
    bool ok = buf_printf(out, "%02d:%02d:%02d", (int)(sec / 3600),
                         (int)(sec / 60 % 60), (int)(sec % 60));

    if (ok && frac) {
        char digits[8];
        int len = 6;

        snprintf(digits, sizeof(digits), "%06d", (int)frac);
        while (digits[len - 1] == '0')
            len--;
        ok = buf_printf(out, ".%.*s", len, digits);
    }
    return ok;
}

bool ftime_format(coltype_t type, int64_t v, buf_t *out)
{
    int64_t y, days;
    int m, d;
    bool ok;

    if (type == COLTYPE_DATE ? v >= VALUE_DATE_INFINITY : v == INT64_MAX)
        return buf_puts(out, "\"infinity\"");
    if (type == COLTYPE_DATE ? v <= VALUE_DATE_MINUS_INFINITY : v == INT64_MIN)
        return buf_puts(out, "\"-infinity\"");
    if (type == COLTYPE_TIME)
        return buf_putc(out, '"') && put_tod(out, v) && buf_putc(out, '"');

    days = type == COLTYPE_DATE ? v : floor_div(v, US_PER_DAY);
    civil_from_days(days, &y, &m, &d);
    ok = buf_printf(out, "\"%04lld-%02d-%02d", (long long)y, m, d);
    if (type != COLTYPE_DATE) {
        ok = ok && buf_putc(out, 'T') && put_tod(out, floor_mod(v, US_PER_DAY));
        if (type == COLTYPE_TIMESTAMPTZ)
            ok = ok && buf_putc(out, 'Z');
    }
    return ok && buf_putc(out, '"');
}

/* ---- $NOW ---- */

#define MAX_ADJUST_MONTHS (10000 * 12)
#define MAX_ADJUST_US     (INT64_C(10000) * 366 * US_PER_DAY)

typedef struct now_unit {
    const char *name;
    int64_t us; /* 0: months */
    int months;
} now_unit_t;

/* The units and spellings Directus's adjustDate accepts. */
static const now_unit_t now_units[] = {
    {"milliseconds", 1000, 0},
    {"millisecond", 1000, 0},
    {"msecs", 1000, 0},
    {"msec", 1000, 0},
    {"ms", 1000, 0},
    {"seconds", US_PER_SEC, 0},
    {"second", US_PER_SEC, 0},
    {"secs", US_PER_SEC, 0},
    {"sec", US_PER_SEC, 0},
    {"s", US_PER_SEC, 0},
    {"minutes", 60 * US_PER_SEC, 0},
    {"minute", 60 * US_PER_SEC, 0},
    {"mins", 60 * US_PER_SEC, 0},
    {"min", 60 * US_PER_SEC, 0},
    {"m", 60 * US_PER_SEC, 0},
    {"hours", 3600 * US_PER_SEC, 0},
    {"hour", 3600 * US_PER_SEC, 0},
    {"hrs", 3600 * US_PER_SEC, 0},
    {"hr", 3600 * US_PER_SEC, 0},
    {"h", 3600 * US_PER_SEC, 0},
    {"days", US_PER_DAY, 0},
    {"day", US_PER_DAY, 0},
    {"d", US_PER_DAY, 0},
    {"weeks", 7 * US_PER_DAY, 0},
    {"week", 7 * US_PER_DAY, 0},
    {"w", 7 * US_PER_DAY, 0},
    {"months", 0, 1},
    {"month", 0, 1},
    {"mth", 0, 1},
    {"mo", 0, 1},
    {"years", 0, 12},
    {"year", 0, 12},
    {"yrs", 0, 12},
    {"yr", 0, 12},
    {"y", 0, 12},
};

bool fnow_parse(const char *s, size_t n, fnow_t *out, const char **why)
{
    const char *p, *end, *unit;
    const now_unit_t *u = NULL;
    bool neg = false, any = false;
    __int128 whole = 0, frac = 0, scale = 1, v;

    memset(out, 0, sizeof(*out));
    *why = "expected \"$NOW\" or \"$NOW(<adjustment>)\" such as "
           "\"$NOW(-1 day)\"";
    if (n < 4 || memcmp(s, "$NOW", 4) != 0)
        return false;
    if (n == 4)
        return true;
    if (s[4] != '(' || s[n - 1] != ')')
        return false;
    p = s + 5;
    end = s + n - 1;
    if (p == end)
        return true; /* "$NOW()", as Directus reads it */

    /* [+-] digits [. digits] [spaces] [unit] */
    *why = "the adjustment of \"$NOW\" must look like \"-1 day\" or "
           "\"+2 hours\"";
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    for (; p < end && is_digit(*p); p++) {
        any = true;
        if (whole < INT64_MAX)
            whole = whole * 10 + (*p - '0');
    }
    if (p < end && *p == '.') {
        bool fdigits = false;

        for (p++; p < end && is_digit(*p); p++) {
            fdigits = true;
            if (scale < INT64_C(1000000000000)) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        }
        if (!fdigits)
            return false;
        any = true;
    }
    if (!any)
        return false;
    while (p < end && *p == ' ')
        p++;
    unit = p;
    if (unit == end) {
        u = &now_units[20]; /* no unit: days */
    } else {
        for (size_t i = 0; i < sizeof(now_units) / sizeof(now_units[0]); i++) {
            if (word_is(unit, (size_t)(end - unit), now_units[i].name)) {
                u = &now_units[i];
                break;
            }
        }
    }
    if (!u) {
        *why = "unknown unit in the adjustment of \"$NOW\"; use ms, "
               "seconds, minutes, hours, days, weeks, months or years";
        return false;
    }

    if (u->months) {
        if (frac != 0) {
            *why = "months and years in \"$NOW\" must be whole numbers; "
                   "use days for fractions";
            return false;
        }
        v = whole * u->months;
        if (v > MAX_ADJUST_MONTHS) {
            *why = "the adjustment of \"$NOW\" is too large";
            return false;
        }
        out->months = (int32_t)(neg ? -v : v);
        return true;
    }
    v = whole * u->us + frac * u->us / scale;
    if (whole > MAX_ADJUST_US || v > MAX_ADJUST_US) {
        *why = "the adjustment of \"$NOW\" is too large";
        return false;
    }
    out->us = (int64_t)(neg ? -v : v);
    return true;
}

bool fnow_format(const fnow_t *now, buf_t *out)
{
    int64_t mag;

    if (now->months)
        return buf_printf(out, "\"$NOW(%+d months)\"", (int)now->months);
    if (now->us == 0)
        return buf_puts(out, "\"$NOW\"");

    mag = now->us < 0 ? -now->us : now->us;
    if (!buf_printf(out, "\"$NOW(%c%lld", now->us < 0 ? '-' : '+',
                    (long long)(mag / US_PER_SEC)))
        return false;
    if (mag % US_PER_SEC) {
        char digits[8];
        int len = 6;

        snprintf(digits, sizeof(digits), "%06d", (int)(mag % US_PER_SEC));
        while (digits[len - 1] == '0')
            len--;
        if (!buf_printf(out, ".%.*s", len, digits))
            return false;
    }
    return buf_puts(out, " seconds)\"");
}

int64_t fnow_resolve(const fnow_t *now, coltype_t type, int64_t now_us)
{
    int64_t t = now_us;

    if (now->months) {
        int64_t days = floor_div(t, US_PER_DAY), y, total, ny;
        int64_t tod = floor_mod(t, US_PER_DAY);
        int m, d, nm, nd;
        __int128 t128;

        civil_from_days(days, &y, &m, &d);
        total = y * 12 + (m - 1) + now->months;
        ny = floor_div(total, 12);
        nm = (int)floor_mod(total, 12) + 1;
        nd = d < days_in_month(ny, nm) ? d : days_in_month(ny, nm);
        t128 = (__int128)days_from_civil(ny, nm, nd) * US_PER_DAY + tod;
        t = t128 > INT64_MAX   ? INT64_MAX
            : t128 < INT64_MIN ? INT64_MIN
                               : (int64_t)t128;
    }
    t = sat_add(t, now->us);

    switch (type) {
    case COLTYPE_DATE:
        return floor_div(t, US_PER_DAY);
    case COLTYPE_TIME:
        return floor_mod(t, US_PER_DAY);
    default:
        return t;
    }
}
