/* Confluent framing and the text form of source positions and LSNs. */
#include "wire.h"

#include "../common/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void wire_put_header(uint8_t out[WIRE_HEADER_SIZE], uint32_t schema_id)
{
    out[0] = 0;
    put_be32(out + 1, schema_id);
}

bool wire_get_header(const uint8_t *data, size_t len, uint32_t *schema_id)
{
    if (len < WIRE_HEADER_SIZE || data[0] != 0)
        return false;
    *schema_id = get_be32(data + 1);
    return true;
}

int wire_lsn_format(uint64_t lsn, char out[18])
{
    return snprintf(out, 18, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* Parses up to 8 hex digits; returns the number of characters used. */
static size_t parse_hex32(const char *p, const char *end, uint32_t *out)
{
    size_t n = 0;
    uint32_t v = 0;

    while (p + n < end && n < 9) {
        char c = p[n];
        int d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            break;
        if (n == 8)
            return 0;
        v = v << 4 | (uint32_t)d;
        n++;
    }
    *out = v;
    return n;
}

static size_t parse_lsn(const char *text, const char *end, uint64_t *lsn)
{
    uint32_t hi, lo;
    size_t n1, n2;

    n1 = parse_hex32(text, end, &hi);
    if (n1 == 0 || text + n1 >= end || text[n1] != '/')
        return 0;
    n2 = parse_hex32(text + n1 + 1, end, &lo);
    if (n2 == 0)
        return 0;
    *lsn = (uint64_t)hi << 32 | lo;
    return n1 + 1 + n2;
}

bool wire_lsn_parse(const char *text, size_t len, uint64_t *lsn)
{
    return parse_lsn(text, text + len, lsn) == len && len > 0;
}

int wire_position_format(const wire_position_t *pos,
                         char out[WIRE_POSITION_MAX + 1])
{
    return snprintf(out, WIRE_POSITION_MAX + 1, "%X/%X:%" PRIu64,
                    (unsigned)(pos->commit_lsn >> 32),
                    (unsigned)pos->commit_lsn, pos->seq);
}

bool wire_position_parse(const char *text, size_t len, wire_position_t *pos)
{
    const char *end = text + len;
    size_t n = parse_lsn(text, end, &pos->commit_lsn);
    uint64_t seq = 0;
    const char *p;

    if (n == 0 || text + n >= end || text[n] != ':')
        return false;
    p = text + n + 1;
    if (p == end || end - p > 20)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (seq > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        seq = seq * 10 + (uint64_t)(*p - '0');
    }
    pos->seq = seq;
    return true;
}

int wire_position_cmp(const wire_position_t *a, const wire_position_t *b)
{
    if (a->commit_lsn != b->commit_lsn)
        return a->commit_lsn < b->commit_lsn ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}
