/* Growable byte buffer with an optional size limit. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool buf_reserve(buf_t *b, size_t n)
{
    size_t want, cap;
    uint8_t *data;

    if (b->cap - b->len > n)
        return true;
    if (b->overflow)
        return false;
    want = b->len + n + 1;
    if (want < b->len || (b->limit && want > b->limit + 1)) {
        b->overflow = true;
        return false;
    }
    cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    if (b->limit && cap > b->limit + 1)
        cap = b->limit + 1;
    data = realloc(b->data, cap);
    if (!data) {
        b->overflow = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

bool buf_append(buf_t *b, const void *data, size_t n)
{
    if (!buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

bool buf_putc(buf_t *b, uint8_t c)
{
    if (!buf_reserve(b, 1))
        return false;
    b->data[b->len++] = c;
    return true;
}

bool buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

bool buf_put_i64(buf_t *b, int64_t v)
{
    char digits[20];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = 0;

    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (!buf_reserve(b, (size_t)n + 1))
        return false;
    if (v < 0)
        b->data[b->len++] = '-';
    while (n > 0)
        b->data[b->len++] = (uint8_t)digits[--n];
    return true;
}

bool buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

/* Length of the valid UTF-8 sequence at p, or 0 when it is not valid. */
static size_t utf8_sequence(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool buf_json_string(buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)(n ? s : "");
    const uint8_t *end = p + n;

    /* Worst case is six bytes per input byte; reserve once for the usual
     * short strings so the loop below rarely grows the buffer. */
    if (!buf_reserve(b, n + 2))
        return false;
    b->data[b->len++] = '"';
    while (p < end) {
        const uint8_t *run = p;
        size_t seq;

        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run && !buf_append(b, run, (size_t)(p - run)))
            return false;
        if (p == end)
            break;
        if (*p >= 0x80) {
            seq = utf8_sequence(p, (size_t)(end - p));
            if (seq == 0) {
                if (!buf_append(b, "\xEF\xBF\xBD", 3))
                    return false;
                p++;
            } else {
                if (!buf_append(b, p, seq))
                    return false;
                p += seq;
            }
            continue;
        }
        switch (*p) {
        case '"':
            if (!buf_append(b, "\\\"", 2))
                return false;
            break;
        case '\\':
            if (!buf_append(b, "\\\\", 2))
                return false;
            break;
        case '\n':
            if (!buf_append(b, "\\n", 2))
                return false;
            break;
        case '\r':
            if (!buf_append(b, "\\r", 2))
                return false;
            break;
        case '\t':
            if (!buf_append(b, "\\t", 2))
                return false;
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};

            if (!buf_append(b, esc, 6))
                return false;
        }
        }
        p++;
    }
    return buf_putc(b, '"');
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

char *buf_cstr(buf_t *b)
{
    if (!buf_reserve(b, 1))
        return NULL;
    b->data[b->len] = '\0';
    return (char *)b->data;
}
