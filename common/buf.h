/* A growable byte buffer, reused across events so hot paths do not
 * allocate; also the small readers and writers the codecs share. */
#ifndef CDC_BUF_H
#define CDC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0: no limit; appends past it fail and set overflow */
    bool overflow;
} buf_t;

void buf_init(buf_t *b, size_t limit);
void buf_free(buf_t *b);

/* Empties the buffer, keeping its memory for the next use. */
static inline void buf_reset(buf_t *b)
{
    b->len = 0;
    b->overflow = false;
}

/* Makes room for n more bytes; false (and overflow set) past the limit or
 * when memory runs out. */
bool buf_reserve(buf_t *b, size_t n);
bool buf_append(buf_t *b, const void *data, size_t n);
bool buf_putc(buf_t *b, uint8_t c);
bool buf_puts(buf_t *b, const char *s);
/* Decimal text of v, without printf's cost on hot paths. */
bool buf_put_i64(buf_t *b, int64_t v);
bool buf_printf(buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as the contents of a JSON string (quotes included), escaping
 * what JSON requires; invalid UTF-8 bytes become U+FFFD. */
bool buf_json_string(buf_t *b, const char *s, size_t n);

/* Removes the first n bytes. */
void buf_consume(buf_t *b, size_t n);

/* Returns the contents as a NUL-terminated string (the NUL is not counted
 * in len); NULL on allocation failure. */
char *buf_cstr(buf_t *b);

/* Big-endian helpers for wire formats. */
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

#endif
