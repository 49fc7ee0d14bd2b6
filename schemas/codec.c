/* Avro binary for change envelopes and keys: the encoder the reader uses and
 * the decoder the pusher uses, next to each other so they stay in step. */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encoding. */

static bool put_long(buf_t *out, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t tmp[10];
    size_t n = 0;

    while (z >= 0x80) {
        tmp[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    tmp[n++] = (uint8_t)z;
    return buf_append(out, tmp, n);
}

static bool put_bytes(buf_t *out, const void *p, size_t n)
{
    return put_long(out, (int64_t)n) && buf_append(out, p, n);
}

static bool put_float(buf_t *out, float f)
{
    uint8_t b[4];
    uint32_t u;

    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    return buf_append(out, b, 4);
}

static bool put_double(buf_t *out, double d)
{
    uint8_t b[8];
    uint64_t u;

    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    return buf_append(out, b, 8);
}

bool codec_decimal_to_bytes(const char *text, size_t len, int scale, buf_t *out)
{
    uint8_t *mag;
    size_t maglen = 1, ndigits = 0, frac = 0, i = 0;
    bool negative = false, seen_point = false;

    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        i = 1;
    }
    if (i == len)
        return false;

    /* Magnitude in base 256, little-endian while we build it.  Each decimal
     * digit needs less than half a byte, so len/2 + 2 bytes always fit. */
    mag = calloc(len / 2 + (size_t)scale / 2 + 4, 1);
    if (!mag)
        return false;
    for (; i < len || frac < (size_t)scale; i++) {
        unsigned carry;

        if (i < len && text[i] == '.' && !seen_point) {
            seen_point = true;
            continue;
        }
        if (i < len && (text[i] < '0' || text[i] > '9'))
            goto bad;
        if (seen_point || i >= len) {
            if (frac == (size_t)scale) {
                /* More fraction digits than the scale: only zeros may go. */
                if (i < len && text[i] != '0')
                    goto bad;
                continue;
            }
            frac++;
        }
        carry = i < len ? (unsigned)(text[i] - '0') : 0;
        for (size_t k = 0; k < maglen; k++) {
            unsigned v = mag[k] * 10u + carry;

            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry)
            mag[maglen++] = (uint8_t)carry;
        ndigits++;
    }
    if (ndigits == 0)
        goto bad;

    /* Two's complement, big-endian, with room for the sign bit. */
    while (maglen > 1 && mag[maglen - 1] == 0)
        maglen--;
    if (mag[maglen - 1] & 0x80)
        mag[maglen++] = 0;
    if (negative) {
        unsigned carry = 1;

        for (size_t k = 0; k < maglen; k++) {
            unsigned v = (uint8_t)~mag[k] + carry;

            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    if (!put_long(out, (int64_t)maglen) || !buf_reserve(out, maglen))
        goto bad;
    for (size_t k = 0; k < maglen; k++)
        out->data[out->len++] = mag[maglen - 1 - k];
    free(mag);
    return true;

bad:
    free(mag);
    return false;
}

static bool put_shape(buf_t *out, coltype_t type, int scale, const value_t *v);

/* One value of a column or array element: union branch, then the shape.
 * required drops the null branch (key fields). */
static bool put_value(buf_t *out, coltype_t type, coltype_t elem, int scale,
                      const value_t *v, bool required)
{
    int base = required ? 0 : 1;

    if (v->state != VALUE_SET) {
        if (required)
            return false;
        return put_long(out, 0);
    }
    if (type == COLTYPE_DECIMAL && v->special) {
        return put_long(out, base + 1) && put_bytes(out, v->u.s, v->len);
    }
    if (!required || type == COLTYPE_DECIMAL) {
        if (!put_long(out, base))
            return false;
    }
    if (type != COLTYPE_ARRAY)
        return put_shape(out, type, scale, v);

    if (v->len > 0) {
        if (!put_long(out, v->len))
            return false;
        for (uint32_t k = 0; k < v->len; k++) {
            if (!put_value(out, elem, elem, scale, &v->u.items[k], false))
                return false;
        }
    }
    return put_long(out, 0);
}

static bool put_shape(buf_t *out, coltype_t type, int scale, const value_t *v)
{
    switch (type) {
    case COLTYPE_BOOLEAN:
        return buf_putc(out, v->u.b ? 1 : 0);
    case COLTYPE_INT:
    case COLTYPE_LONG:
    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return put_long(out, v->u.i);
    case COLTYPE_FLOAT:
        return put_float(out, (float)v->u.f);
    case COLTYPE_DOUBLE:
        return put_double(out, v->u.f);
    case COLTYPE_STRING:
    case COLTYPE_BYTES:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
    case COLTYPE_JSON:
        return put_bytes(out, v->u.s, v->len);
    case COLTYPE_DECIMAL:
        return codec_decimal_to_bytes(v->u.s, v->len, scale, out);
    case COLTYPE_ARRAY:
    case COLTYPE_COUNT_:
        break;
    }
    return false;
}

static const struct {
    char code;
    const char *name;
} identities[] = {
    {'d', "default"},
    {'f', "full"},
    {'i', "index"},
    {'n', "nothing"},
};

static bool put_identity(buf_t *out, char identity)
{
    for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
        if (identities[i].code == identity)
            return put_bytes(out, identities[i].name,
                             strlen(identities[i].name));
    }
    return put_bytes(out, "", 0);
}

static bool put_row(buf_t *out, const table_schema_t *ts, const value_t *row,
                    char *err, size_t errlen)
{
    for (int i = 0; i < ts->ncols; i++) {
        const column_t *col = &ts->cols[i];

        if (!put_value(out, col->type, col->elem, col->scale, &row[i], false)) {
            snprintf(err, errlen,
                     "value of column \"%s\" does not fit its type %s",
                     col->name, col->pg_type);
            return false;
        }
    }
    return true;
}

bool codec_encode_key(const table_schema_t *ts, const value_t *row, buf_t *out,
                      char *err, size_t errlen)
{
    for (int i = 0; i < ts->ncols; i++) {
        const column_t *col = &ts->cols[i];

        if (!col->key)
            continue;
        if (!put_value(out, col->type, col->elem, col->scale, &row[i], true)) {
            snprintf(err, errlen,
                     "key column \"%s\" is null or does not fit its type %s",
                     col->name, col->pg_type);
            return false;
        }
    }
    return true;
}

bool codec_encode_change(const table_schema_t *ts, const change_t *ch,
                         buf_t *out, char *err, size_t errlen)
{
    const change_source_t *src = &ch->source;
    char op = (char)ch->op;
    int unchanged = 0;

    if (ch->before) {
        if (!put_long(out, 1) || !put_row(out, ts, ch->before, err, errlen))
            goto fail;
    } else if (!put_long(out, 0)) {
        goto fail;
    }
    if (ch->after) {
        if (!put_long(out, 1) || !put_row(out, ts, ch->after, err, errlen))
            goto fail;
    } else if (!put_long(out, 0)) {
        goto fail;
    }

    if (!put_bytes(out, &op, 1) ||
        !put_bytes(out, ts->database, strlen(ts->database)) ||
        !put_bytes(out, ts->nspname, strlen(ts->nspname)) ||
        !put_bytes(out, ts->relname, strlen(ts->relname)) ||
        !put_long(out, (int64_t)src->lsn) ||
        !put_long(out, (int64_t)src->commit_lsn) || !put_long(out, src->txid) ||
        !put_long(out, src->commit_ts_us) ||
        !put_long(out, (int64_t)src->seq) ||
        !buf_putc(out, src->snapshot ? 1 : 0) ||
        !put_identity(out, src->identity) || !put_long(out, ch->ts_ms))
        goto fail;

    if (ch->after) {
        for (int i = 0; i < ts->ncols; i++)
            unchanged += ch->after[i].state == VALUE_UNCHANGED;
    }
    if (unchanged > 0) {
        if (!put_long(out, unchanged))
            goto fail;
        for (int i = 0; i < ts->ncols; i++) {
            const char *field = ts->cols[i].field;

            if (ch->after[i].state == VALUE_UNCHANGED &&
                !put_bytes(out, field, strlen(field)))
                goto fail;
        }
    }
    return put_long(out, 0);

fail:
    if (out->overflow || !*err)
        snprintf(err, errlen, "could not encode change of \"%s.%s\": %s",
                 ts->nspname, ts->relname,
                 out->overflow ? "record larger than the limit"
                               : "invalid value");
    return false;
}

/* Decoding. */

typedef struct reader {
    const uint8_t *p;
    const uint8_t *end;
    arena_t *arena;
    char *err;
    size_t errlen;
} reader_t;

static bool bad(reader_t *r, const char *what)
{
    if (!*r->err)
        snprintf(r->err, r->errlen, "malformed Avro: %s", what);
    return false;
}

static bool get_long(reader_t *r, int64_t *v)
{
    uint64_t z = 0;
    int shift = 0;

    for (;;) {
        uint8_t b;

        if (r->p >= r->end)
            return bad(r, "truncated number");
        if (shift > 63)
            return bad(r, "number longer than 10 bytes");
        b = *r->p++;
        z |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return true;
}

/* The item count of an Avro array block.  A negative count is followed by
 * the block's size in bytes, which is not needed here. */
static bool get_block_count(reader_t *r, int64_t *count)
{
    int64_t size;

    if (!get_long(r, count))
        return false;
    if (*count >= 0)
        return true;
    if (*count == INT64_MIN)
        return bad(r, "block count out of range");
    *count = -*count;
    return get_long(r, &size);
}

static bool get_length(reader_t *r, size_t *n)
{
    int64_t v;

    if (!get_long(r, &v))
        return false;
    if (v < 0 || (uint64_t)v > (uint64_t)(r->end - r->p))
        return bad(r, "length past the end of the record");
    *n = (size_t)v;
    return true;
}

static bool get_bytes(reader_t *r, const char **s, uint32_t *len)
{
    size_t n;

    if (!get_length(r, &n))
        return false;
    if (n > UINT32_MAX)
        return bad(r, "value longer than 4 GiB");
    *s = (const char *)r->p;
    *len = (uint32_t)n;
    r->p += n;
    return true;
}

bool codec_decimal_from_bytes(const uint8_t *bytes, size_t len, int scale,
                              buf_t *out)
{
    uint8_t *mag;
    char *digits;
    size_t nd = 0, maglen = len;
    bool negative = len > 0 && (bytes[0] & 0x80);

    if (len == 0)
        return false;
    mag = malloc(len);
    digits = malloc(len * 3 + (size_t)scale + 2);
    if (!mag || !digits)
        goto fail;
    memcpy(mag, bytes, len);
    if (negative) {
        unsigned carry = 1;

        for (size_t k = len; k-- > 0;) {
            unsigned v = (uint8_t)~mag[k] + carry;

            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
    }

    /* Repeated division by ten of the big-endian magnitude. */
    size_t start = 0;
    do {
        unsigned rem = 0;

        for (size_t k = start; k < maglen; k++) {
            unsigned v = rem << 8 | mag[k];

            mag[k] = (uint8_t)(v / 10);
            rem = v % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < maglen && mag[start] == 0)
            start++;
    } while (start < maglen);

    while (nd <= (size_t)scale)
        digits[nd++] = '0';
    if (negative && !buf_putc(out, '-'))
        goto fail;
    for (size_t k = nd; k-- > 0;) {
        if (!buf_putc(out, (uint8_t)digits[k]))
            goto fail;
        if (k == (size_t)scale && scale > 0 && !buf_putc(out, '.'))
            goto fail;
    }
    free(mag);
    free(digits);
    return true;

fail:
    free(mag);
    free(digits);
    return false;
}

static bool get_shape(reader_t *r, coltype_t type, int scale, value_t *v)
{
    int64_t n;

    v->state = VALUE_SET;
    switch (type) {
    case COLTYPE_BOOLEAN:
        if (r->p >= r->end || *r->p > 1)
            return bad(r, "invalid boolean");
        v->u.b = *r->p++ == 1;
        return true;
    case COLTYPE_INT:
    case COLTYPE_DATE:
        if (!get_long(r, &n))
            return false;
        if (n < INT32_MIN || n > INT32_MAX)
            return bad(r, "int out of range");
        v->u.i = n;
        return true;
    case COLTYPE_LONG:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return get_long(r, &v->u.i);
    case COLTYPE_FLOAT: {
        uint32_t u = 0;
        float f;

        if (r->end - r->p < 4)
            return bad(r, "truncated float");
        for (int i = 0; i < 4; i++)
            u |= (uint32_t)r->p[i] << (8 * i);
        r->p += 4;
        memcpy(&f, &u, 4);
        v->u.f = f;
        return true;
    }
    case COLTYPE_DOUBLE: {
        uint64_t u = 0;

        if (r->end - r->p < 8)
            return bad(r, "truncated double");
        for (int i = 0; i < 8; i++)
            u |= (uint64_t)r->p[i] << (8 * i);
        r->p += 8;
        memcpy(&v->u.f, &u, 8);
        return true;
    }
    case COLTYPE_STRING:
    case COLTYPE_BYTES:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
    case COLTYPE_JSON:
        return get_bytes(r, &v->u.s, &v->len);
    case COLTYPE_DECIMAL: {
        const char *raw;
        uint32_t rawlen;
        buf_t text;
        char *copy;

        if (!get_bytes(r, &raw, &rawlen))
            return false;
        buf_init(&text, 0);
        if (!codec_decimal_from_bytes((const uint8_t *)raw, rawlen, scale,
                                      &text)) {
            buf_free(&text);
            return bad(r, "invalid decimal");
        }
        copy = arena_strndup(r->arena, (char *)text.data, text.len);
        v->len = (uint32_t)text.len;
        buf_free(&text);
        if (!copy)
            return bad(r, "record needs more memory than the decode limit");
        v->u.s = copy;
        return true;
    }
    case COLTYPE_ARRAY:
    case COLTYPE_COUNT_:
        break;
    }
    return bad(r, "unknown column kind");
}

static bool get_value(reader_t *r, coltype_t type, coltype_t elem, int scale,
                      value_t *v, bool required);

static bool get_array(reader_t *r, coltype_t elem, int scale, value_t *v)
{
    value_t *items = NULL;
    size_t count = 0, cap = 0;

    for (;;) {
        int64_t block;

        if (!get_block_count(r, &block))
            return false;
        if (block == 0)
            break;
        /* Every element takes at least one byte (its union branch). */
        if ((uint64_t)block > (uint64_t)(r->end - r->p))
            return bad(r, "array longer than the record");
        if (count + (size_t)block > cap) {
            size_t newcap = count + (size_t)block;
            value_t *grown = arena_alloc(r->arena, newcap * sizeof(value_t));

            if (!grown)
                return bad(r, "record needs more memory than the decode "
                              "limit");
            if (count)
                memcpy(grown, items, count * sizeof(value_t));
            items = grown;
            cap = newcap;
        }
        for (int64_t k = 0; k < block; k++) {
            memset(&items[count], 0, sizeof(value_t));
            if (!get_value(r, elem, elem, scale, &items[count], false))
                return false;
            count++;
        }
    }
    if (count > UINT32_MAX)
        return bad(r, "array too long");
    v->state = VALUE_SET;
    v->u.items = items;
    v->len = (uint32_t)count;
    return true;
}

static bool get_value(reader_t *r, coltype_t type, coltype_t elem, int scale,
                      value_t *v, bool required)
{
    int64_t branch = required ? 1 : 0;

    memset(v, 0, sizeof(*v));
    if (!required || type == COLTYPE_DECIMAL) {
        if (!get_long(r, &branch))
            return false;
        if (required)
            branch++;
    }
    if (branch == 0) {
        v->state = VALUE_NULL;
        return true;
    }
    if (branch == 2 && type == COLTYPE_DECIMAL) {
        v->state = VALUE_SET;
        v->special = 1;
        return get_bytes(r, &v->u.s, &v->len);
    }
    if (branch != 1)
        return bad(r, "invalid union branch");
    if (type == COLTYPE_ARRAY)
        return get_array(r, elem, scale, v);
    return get_shape(r, type, scale, v);
}

static bool get_row(reader_t *r, const table_schema_t *ts, value_t **row)
{
    int64_t branch;

    if (!get_long(r, &branch))
        return false;
    if (branch == 0) {
        *row = NULL;
        return true;
    }
    if (branch != 1)
        return bad(r, "invalid row union branch");
    *row = arena_alloc(r->arena,
                       (size_t)(ts->ncols ? ts->ncols : 1) * sizeof(value_t));
    if (!*row)
        return bad(r, "record needs more memory than the decode limit");
    for (int i = 0; i < ts->ncols; i++) {
        const column_t *col = &ts->cols[i];

        if (!get_value(r, col->type, col->elem, col->scale, &(*row)[i], false))
            return false;
    }
    return true;
}

static bool skip_string(reader_t *r)
{
    const char *s;
    uint32_t n;

    return get_bytes(r, &s, &n);
}

static bool get_unchanged(reader_t *r, const table_schema_t *ts, value_t *after)
{
    for (;;) {
        int64_t block;

        if (!get_block_count(r, &block))
            return false;
        if (block == 0)
            return true;
        if ((uint64_t)block > (uint64_t)(r->end - r->p))
            return bad(r, "unchanged list longer than the record");
        for (int64_t k = 0; k < block; k++) {
            const char *name;
            uint32_t len;

            if (!get_bytes(r, &name, &len))
                return false;
            for (int i = 0; after && i < ts->ncols; i++) {
                if (strlen(ts->cols[i].field) == len &&
                    memcmp(ts->cols[i].field, name, len) == 0)
                    after[i].state = VALUE_UNCHANGED;
            }
        }
    }
}

bool codec_decode_change(const table_schema_t *ts, const uint8_t *data,
                         size_t len, arena_t *arena, change_t *out, char *err,
                         size_t errlen)
{
    reader_t r = {data, data + len, arena, err, errlen};
    const char *op;
    uint32_t oplen;
    int64_t lsn, commit_lsn, seq;

    *err = '\0';
    memset(out, 0, sizeof(*out));
    if (!get_row(&r, ts, &out->before) || !get_row(&r, ts, &out->after) ||
        !get_bytes(&r, &op, &oplen))
        return false;
    if (oplen != 1 || !strchr("cudrt", op[0]))
        return bad(&r, "unknown op");
    out->op = (change_op_t)op[0];

    if (!skip_string(&r) || !skip_string(&r) || !skip_string(&r) ||
        !get_long(&r, &lsn) || !get_long(&r, &commit_lsn) ||
        !get_long(&r, &out->source.txid) ||
        !get_long(&r, &out->source.commit_ts_us) || !get_long(&r, &seq))
        return false;
    if (r.p >= r.end || *r.p > 1)
        return bad(&r, "invalid snapshot flag");
    out->source.snapshot = *r.p++ == 1;
    if (!get_bytes(&r, &op, &oplen))
        return false;
    out->source.identity = 0;
    for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
        if (strlen(identities[i].name) == oplen &&
            memcmp(identities[i].name, op, oplen) == 0)
            out->source.identity = identities[i].code;
    }
    out->source.lsn = (uint64_t)lsn;
    out->source.commit_lsn = (uint64_t)commit_lsn;
    out->source.seq = (uint64_t)seq;
    if (!get_long(&r, &out->ts_ms) || !get_unchanged(&r, ts, out->after))
        return false;
    if (r.p != r.end)
        return bad(&r, "bytes left after the envelope");
    return true;
}
