/* pgoutput message decoder: every read is bounds-checked, unknown message
 * bytes and tuple kinds are named in the error, counts are capped. */
#include "pgoutput.h"

#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *p;
    const uint8_t *end;
    char *err;
    size_t errlen;
    const char *what; /* message being decoded, for errors */
} cursor_t;

static bool truncated(cursor_t *c, const char *field)
{
    snprintf(c->err, c->errlen, "truncated %s message: %s missing", c->what,
             field);
    return false;
}

static bool get_u8(cursor_t *c, uint8_t *v, const char *field)
{
    if (c->end - c->p < 1)
        return truncated(c, field);
    *v = *c->p++;
    return true;
}

static bool get_u16(cursor_t *c, uint16_t *v, const char *field)
{
    if (c->end - c->p < 2)
        return truncated(c, field);
    *v = get_be16(c->p);
    c->p += 2;
    return true;
}

static bool get_u32(cursor_t *c, uint32_t *v, const char *field)
{
    if (c->end - c->p < 4)
        return truncated(c, field);
    *v = get_be32(c->p);
    c->p += 4;
    return true;
}

static bool get_u64(cursor_t *c, uint64_t *v, const char *field)
{
    if (c->end - c->p < 8)
        return truncated(c, field);
    *v = get_be64(c->p);
    c->p += 8;
    return true;
}

/* A NUL-terminated string inside the message. */
static bool get_str(cursor_t *c, const char **s, const char *field)
{
    const uint8_t *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));

    if (!nul) {
        snprintf(c->err, c->errlen,
                 "truncated %s message: %s is not NUL-terminated", c->what,
                 field);
        return false;
    }
    *s = (const char *)c->p;
    c->p = nul + 1;
    return true;
}

static bool grow(void **array, int *cap, int need, size_t elem)
{
    void *p;

    if (need <= *cap)
        return true;
    p = realloc(*array, (size_t)need * elem);
    if (!p)
        return false;
    *array = p;
    *cap = need;
    return true;
}

void pgoutput_decoder_init(pgoutput_decoder_t *d)
{
    memset(d, 0, sizeof(*d));
}

void pgoutput_decoder_free(pgoutput_decoder_t *d)
{
    free(d->columns);
    free(d->datums);
    free(d->oids);
    memset(d, 0, sizeof(*d));
}

/* Reads TupleData into datums starting at index base. */
static bool get_tuple(pgoutput_decoder_t *d, cursor_t *c, int base,
                      pgoutput_tuple_t *t)
{
    uint16_t ncols;

    if (!get_u16(c, &ncols, "column count"))
        return false;
    if (ncols > PGOUTPUT_MAX_COLUMNS) {
        snprintf(c->err, c->errlen,
                 "%s message has %u columns; PostgreSQL allows at most %d",
                 c->what, ncols, PGOUTPUT_MAX_COLUMNS);
        return false;
    }
    if (!grow((void **)&d->datums, &d->datums_cap, base + ncols,
              sizeof(pgoutput_datum_t))) {
        snprintf(c->err, c->errlen, "out of memory");
        return false;
    }
    t->ncols = ncols;
    t->cols = d->datums + base;
    for (int i = 0; i < ncols; i++) {
        pgoutput_datum_t *v = &t->cols[i];
        uint8_t kind;
        uint32_t len;

        if (!get_u8(c, &kind, "column kind"))
            return false;
        v->kind = (char)kind;
        v->len = 0;
        v->data = NULL;
        switch (kind) {
        case 'n':
        case 'u':
            break;
        case 't':
        case 'b':
            if (!get_u32(c, &len, "value length"))
                return false;
            if (len > (size_t)(c->end - c->p)) {
                snprintf(c->err, c->errlen,
                         "%s message: value of column %d claims %u bytes "
                         "but %zu remain",
                         c->what, i + 1, len, (size_t)(c->end - c->p));
                return false;
            }
            v->data = (const char *)c->p;
            v->len = len;
            c->p += len;
            break;
        default:
            snprintf(c->err, c->errlen,
                     "%s message: unknown kind byte 0x%02x for column %d",
                     c->what, kind, i + 1);
            return false;
        }
    }
    return true;
}

static bool decode_relation(pgoutput_decoder_t *d, cursor_t *c,
                            pgoutput_msg_t *m)
{
    uint8_t replident;
    uint16_t ncols;

    if (!get_u32(c, &m->u.relation.oid, "relation id") ||
        !get_str(c, &m->u.relation.nspname, "namespace") ||
        !get_str(c, &m->u.relation.relname, "relation name") ||
        !get_u8(c, &replident, "replica identity") ||
        !get_u16(c, &ncols, "column count"))
        return false;
    if (!strchr("dnfi", replident) || replident == 0) {
        snprintf(c->err, c->errlen,
                 "relation message: unknown replica identity 0x%02x",
                 replident);
        return false;
    }
    if (ncols > PGOUTPUT_MAX_COLUMNS) {
        snprintf(c->err, c->errlen,
                 "relation message has %u columns; PostgreSQL allows at "
                 "most %d",
                 ncols, PGOUTPUT_MAX_COLUMNS);
        return false;
    }
    if (!grow((void **)&d->columns, &d->columns_cap, ncols,
              sizeof(pgoutput_column_t))) {
        snprintf(c->err, c->errlen, "out of memory");
        return false;
    }
    m->u.relation.replident = (char)replident;
    m->u.relation.ncols = ncols;
    m->u.relation.cols = d->columns;
    for (int i = 0; i < ncols; i++) {
        pgoutput_column_t *col = &d->columns[i];
        uint8_t flags;
        uint32_t typmod;

        if (!get_u8(c, &flags, "column flags") ||
            !get_str(c, &col->name, "column name") ||
            !get_u32(c, &col->type_oid, "column type") ||
            !get_u32(c, &typmod, "column type modifier"))
            return false;
        col->key = (flags & 1) != 0;
        col->typmod = (int32_t)typmod;
    }
    return true;
}

static bool decode_change(pgoutput_decoder_t *d, cursor_t *c, pgoutput_msg_t *m)
{
    uint8_t tag;
    int base = 0;

    m->u.change.old_kind = 0;
    m->u.change.old_tuple.ncols = 0;
    m->u.change.new_tuple.ncols = 0;
    if (!get_u32(c, &m->u.change.oid, "relation id") ||
        !get_u8(c, &tag, "tuple tag"))
        return false;

    if (m->kind != PGO_INSERT && (tag == 'K' || tag == 'O')) {
        m->u.change.old_kind = (char)tag;
        if (!get_tuple(d, c, 0, &m->u.change.old_tuple))
            return false;
        base = m->u.change.old_tuple.ncols;
        if (m->kind == PGO_DELETE)
            return true;
        if (!get_u8(c, &tag, "new tuple tag"))
            return false;
    }
    if (m->kind == PGO_DELETE) {
        snprintf(c->err, c->errlen,
                 "delete message: expected tuple tag 'K' or 'O', got 0x%02x",
                 tag);
        return false;
    }
    if (tag != 'N') {
        snprintf(c->err, c->errlen,
                 "%s message: expected tuple tag 'N', got 0x%02x", c->what,
                 tag);
        return false;
    }
    if (!get_tuple(d, c, base, &m->u.change.new_tuple))
        return false;
    /* Reading the new tuple may have moved the datum array. */
    m->u.change.old_tuple.cols = d->datums;
    return true;
}

static bool decode_truncate(pgoutput_decoder_t *d, cursor_t *c,
                            pgoutput_msg_t *m)
{
    uint32_t nrels;

    if (!get_u32(c, &nrels, "relation count") ||
        !get_u8(c, &m->u.truncate.options, "options"))
        return false;
    if (nrels > PGOUTPUT_MAX_TRUNCATE ||
        (size_t)nrels * 4 > (size_t)(c->end - c->p)) {
        snprintf(c->err, c->errlen,
                 "truncate message claims %u relations but has room for "
                 "%zu",
                 nrels, (size_t)(c->end - c->p) / 4);
        return false;
    }
    if (!grow((void **)&d->oids, &d->oids_cap, (int)nrels ? (int)nrels : 1,
              sizeof(uint32_t))) {
        snprintf(c->err, c->errlen, "out of memory");
        return false;
    }
    m->u.truncate.nrels = (int)nrels;
    m->u.truncate.oids = d->oids;
    for (uint32_t i = 0; i < nrels; i++) {
        if (!get_u32(c, &d->oids[i], "relation id"))
            return false;
    }
    return true;
}

bool pgoutput_decode(pgoutput_decoder_t *d, const uint8_t *data, size_t len,
                     pgoutput_msg_t *m, char *err, size_t errlen)
{
    cursor_t c = {data + 1, data + len, err, errlen, "pgoutput"};
    uint64_t u64 = 0;
    bool ok;

    if (len == 0) {
        snprintf(err, errlen, "empty pgoutput message");
        return false;
    }
    m->kind = (pgoutput_kind_t)data[0];
    switch (data[0]) {
    case PGO_BEGIN:
        c.what = "begin";
        ok = get_u64(&c, &m->u.begin.final_lsn, "final LSN") &&
             get_u64(&c, &u64, "commit time") &&
             get_u32(&c, &m->u.begin.xid, "transaction id");
        m->u.begin.commit_ts = (int64_t)u64;
        break;
    case PGO_COMMIT:
        c.what = "commit";
        ok = get_u8(&c, &m->u.commit.flags, "flags") &&
             get_u64(&c, &m->u.commit.commit_lsn, "commit LSN") &&
             get_u64(&c, &m->u.commit.end_lsn, "end LSN") &&
             get_u64(&c, &u64, "commit time");
        m->u.commit.commit_ts = (int64_t)u64;
        break;
    case PGO_ORIGIN:
        c.what = "origin";
        ok = get_u64(&c, &m->u.origin.commit_lsn, "origin LSN") &&
             get_str(&c, &m->u.origin.name, "origin name");
        break;
    case PGO_RELATION:
        c.what = "relation";
        ok = decode_relation(d, &c, m);
        break;
    case PGO_TYPE:
        c.what = "type";
        ok = get_u32(&c, &m->u.type.oid, "type id") &&
             get_str(&c, &m->u.type.nspname, "namespace") &&
             get_str(&c, &m->u.type.name, "type name");
        break;
    case PGO_INSERT:
        c.what = "insert";
        ok = decode_change(d, &c, m);
        break;
    case PGO_UPDATE:
        c.what = "update";
        ok = decode_change(d, &c, m);
        break;
    case PGO_DELETE:
        c.what = "delete";
        ok = decode_change(d, &c, m);
        break;
    case PGO_TRUNCATE:
        c.what = "truncate";
        ok = decode_truncate(d, &c, m);
        break;
    case PGO_MESSAGE: {
        uint32_t n;

        c.what = "message";
        ok = get_u8(&c, &m->u.message.flags, "flags") &&
             get_u64(&c, &m->u.message.lsn, "LSN") &&
             get_str(&c, &m->u.message.prefix, "prefix") &&
             get_u32(&c, &n, "content length");
        if (ok && n > (size_t)(c.end - c.p)) {
            snprintf(err, errlen,
                     "message message claims %u bytes of content but %zu "
                     "remain",
                     n, (size_t)(c.end - c.p));
            return false;
        }
        if (ok) {
            m->u.message.content = (const char *)c.p;
            m->u.message.len = n;
            c.p += n;
        }
        break;
    }
    default:
        snprintf(err, errlen,
                 "unknown pgoutput message byte 0x%02x; this reader "
                 "understands protocol version 1 without streaming",
                 data[0]);
        return false;
    }
    if (!ok)
        return false;
    if (c.p != c.end) {
        snprintf(err, errlen, "%s message has %zu unexpected trailing bytes",
                 c.what, (size_t)(c.end - c.p));
        return false;
    }
    return true;
}
