/* Change events: decoded pgoutput messages and snapshot rows to Kafka
 * records, with the tail rule that skips what Kafka already holds. */
#include "changes.h"

#include "clock.h"
#include "codec.h"
#include "log.h"
#include "wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* One change may hold values up to PostgreSQL's 1 GB per value, a few
 * times over; past this something is wrong. */
#define CHANGES_ARENA_LIMIT ((size_t)2 << 30)

void changes_init(changes_t *ch, producer_t *producer, relcache_t *relcache,
                  catalog_t *catalog)
{
    memset(ch, 0, sizeof(*ch));
    ch->producer = producer;
    ch->relcache = relcache;
    ch->catalog = catalog;
    pgoutput_decoder_init(&ch->decoder);
    arena_init(&ch->arena, CHANGES_ARENA_LIMIT);
    buf_init(&ch->keybuf, 0);
    buf_init(&ch->valbuf, 0);
}

void changes_free(changes_t *ch)
{
    pgoutput_decoder_free(&ch->decoder);
    arena_free(&ch->arena);
    buf_free(&ch->keybuf);
    buf_free(&ch->valbuf);
}

bool changes_in_transaction(const changes_t *ch)
{
    return ch->txn.open && !ch->txn.snapshot;
}

void changes_abandon(changes_t *ch)
{
    if (ch->txn.open && ch->txn.track)
        producer_txn_commit(ch->producer, ch->txn.track, 0);
    ch->txn.open = false;
    ch->txn.snapshot = false;
    ch->txn.track = NULL;
}

/* Sends one record of the current transaction, unless the partition
 * already holds it (a replay after a restart or reconnect). */
static bool send_record(changes_t *ch, rel_t *rel, int32_t partition,
                        const buf_t *key, const buf_t *value, char *err,
                        size_t errlen)
{
    topic_t *tp = rel->topic;
    wire_position_t pos = {ch->txn.commit_lsn, ++ch->txn.seq};
    produce_status_t st;

    if (wire_position_cmp(&pos, &tp->tail[partition]) <= 0) {
        tp->skipped++;
        return true;
    }
    st =
        producer_send(ch->producer, ch->txn.track, tp->rkt, partition,
                      key ? key->data : NULL, key ? key->len : 0,
                      value ? value->data : NULL, value ? value->len : 0, &pos);
    if (st == PRODUCE_FAILED) {
        snprintf(err, errlen, "%s", producer_error(ch->producer));
        return false;
    }
    /* Later replays of this position are skipped as if it were in Kafka
     * already: if it never gets there the producer fails and we stop. */
    tp->tail[partition] = pos;
    tp->produced++;
    tp->bytes += (key ? key->len : 0) + (value ? value->len : 0);
    return true;
}

static int32_t partition_of(rel_t *rel, const buf_t *key)
{
    if (!key)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(rel->topic->rkt, key->data,
                                            key->len, rel->topic->partitions,
                                            NULL, NULL);
}

static void start_frame(buf_t *b, int schema_id)
{
    buf_reset(b);
    buf_reserve(b, WIRE_HEADER_SIZE);
    wire_put_header(b->data, (uint32_t)schema_id);
    b->len = WIRE_HEADER_SIZE;
}

static bool encode_key(changes_t *ch, rel_t *rel, const value_t *row,
                       buf_t **key, char *err, size_t errlen)
{
    char why[512] = "";

    *key = NULL;
    if (rel->ts->nkeys == 0)
        return true;
    start_frame(&ch->keybuf, rel->ts->key_schema_id);
    if (!codec_encode_key(rel->ts, row, &ch->keybuf, why, sizeof(why))) {
        snprintf(err, errlen,
                 "cannot build the key of a change to \"%s.%s\" in "
                 "transaction %u: %s; a primary key stored out of line "
                 "(TOAST) needs REPLICA IDENTITY FULL",
                 rel->ts->nspname, rel->ts->relname, ch->txn.xid, why);
        return false;
    }
    *key = &ch->keybuf;
    return true;
}

static void fill_source(changes_t *ch, rel_t *rel, change_t *c, uint64_t lsn)
{
    c->source.lsn = lsn;
    c->source.commit_lsn = ch->txn.commit_lsn;
    c->source.txid = ch->txn.xid;
    c->source.commit_ts_us = ch->txn.commit_ts_us;
    c->source.identity = rel->replident;
    c->source.snapshot = ch->txn.snapshot;
    c->source.seq = ch->txn.seq + 1;
    c->ts_ms = clock_wall_ms();
}

/* Encodes and sends one change; a delete is followed by a tombstone. */
static bool emit(changes_t *ch, rel_t *rel, change_op_t op, value_t *before,
                 value_t *after, uint64_t lsn, char *err, size_t errlen)
{
    change_t c = {op, before, after, {0}, 0};
    char why[512] = "";
    buf_t *key;
    int32_t partition;

    fill_source(ch, rel, &c, lsn);
    if (!encode_key(ch, rel, after ? after : before, &key, err, errlen))
        return false;
    partition = partition_of(rel, key);

    start_frame(&ch->valbuf, rel->ts->value_schema_id);
    if (!codec_encode_change(rel->ts, &c, &ch->valbuf, why, sizeof(why))) {
        snprintf(err, errlen, "%s (transaction %u)", why, ch->txn.xid);
        return false;
    }
    if (!send_record(ch, rel, partition, key, &ch->valbuf, err, errlen))
        return false;
    if (op == OP_DELETE && key)
        return send_record(ch, rel, partition, key, NULL, err, errlen);
    return true;
}

/* Parses one value in PostgreSQL's text form into row[i]. */
static bool parse_value(changes_t *ch, rel_t *rel, int i, const char *text,
                        size_t len, value_t *out, char *err, size_t errlen)
{
    char why[512];

    if (pgtype_parse(&rel->types[i], text, len, &ch->arena, out, why,
                     sizeof(why)))
        return true;
    ch->refused = true;
    snprintf(err, errlen,
             "could not read column \"%s\" of \"%s.%s\" (type "
             "%s): %s",
             rel->ts->cols[i].name, rel->ts->nspname, rel->ts->relname,
             rel->ts->cols[i].pg_type, why);
    return false;
}

static value_t *new_row(changes_t *ch, rel_t *rel, char *err, size_t errlen)
{
    value_t *row = arena_alloc(
        &ch->arena, (size_t)(rel->ncols ? rel->ncols : 1) * sizeof(value_t));

    if (!row)
        snprintf(err, errlen,
                 "a change to \"%s.%s\" needs more memory than "
                 "allowed",
                 rel->ts->nspname, rel->ts->relname);
    return row;
}

/* Parses a tuple into values of rel's columns. */
static value_t *tuple_values(changes_t *ch, rel_t *rel,
                             const pgoutput_tuple_t *t, uint64_t lsn, char *err,
                             size_t errlen)
{
    value_t *row;

    if (t->ncols != rel->ncols) {
        snprintf(err, errlen,
                 "change at %" PRIX64 " to \"%s.%s\" has %d "
                 "columns but its relation has %d",
                 lsn, rel->ts->nspname, rel->ts->relname, t->ncols, rel->ncols);
        return NULL;
    }
    row = new_row(ch, rel, err, errlen);
    for (int i = 0; row && i < t->ncols; i++) {
        const pgoutput_datum_t *d = &t->cols[i];

        memset(&row[i], 0, sizeof(value_t));
        switch (d->kind) {
        case 'n':
            row[i].state = VALUE_NULL;
            break;
        case 'u':
            row[i].state = VALUE_UNCHANGED;
            break;
        case 't':
            if (!parse_value(ch, rel, i, d->data, d->len, &row[i], err, errlen))
                return NULL;
            break;
        default:
            snprintf(err, errlen,
                     "column \"%s\" of \"%s.%s\" arrived in "
                     "binary form, which this reader does not "
                     "request",
                     rel->ts->cols[i].name, rel->ts->nspname, rel->ts->relname);
            return NULL;
        }
    }
    return row;
}

static bool key_changed(const rel_t *rel, const pgoutput_tuple_t *old_tuple,
                        const pgoutput_tuple_t *new_tuple)
{
    for (int i = 0; i < rel->ncols; i++) {
        const pgoutput_datum_t *a = &old_tuple->cols[i];
        const pgoutput_datum_t *b = &new_tuple->cols[i];

        if (!rel->ts->cols[i].key || b->kind == 'u')
            continue;
        if (a->kind != b->kind || a->len != b->len ||
            (a->len && memcmp(a->data, b->data, a->len) != 0))
            return true;
    }
    return false;
}

static rel_t *change_rel(changes_t *ch, uint32_t oid, char *err, size_t errlen)
{
    rel_t *rel = relcache_get(ch->relcache, oid);

    if (!rel) {
        snprintf(err, errlen,
                 "change refers to relation %u, which no "
                 "relation message described",
                 oid);
        return NULL;
    }
    if (!changes_in_transaction(ch)) {
        snprintf(err, errlen,
                 "change to \"%s.%s\" arrived outside a "
                 "transaction",
                 rel->ts->nspname, rel->ts->relname);
        return NULL;
    }
    return rel;
}

static bool handle_change(changes_t *ch, const pgoutput_msg_t *m, uint64_t lsn,
                          char *err, size_t errlen)
{
    rel_t *rel = change_rel(ch, m->u.change.oid, err, errlen);
    value_t *before = NULL, *after = NULL;
    const pgoutput_tuple_t *old_tuple = &m->u.change.old_tuple;
    const pgoutput_tuple_t *new_tuple = &m->u.change.new_tuple;

    if (!rel)
        return false;
    if (m->u.change.old_kind) {
        before = tuple_values(ch, rel, old_tuple, lsn, err, errlen);
        if (!before)
            return false;
    }
    if (m->kind != PGO_DELETE) {
        after = tuple_values(ch, rel, new_tuple, lsn, err, errlen);
        if (!after)
            return false;
    }

    switch (m->kind) {
    case PGO_INSERT:
        return emit(ch, rel, OP_CREATE, NULL, after, lsn, err, errlen);
    case PGO_DELETE:
        return emit(ch, rel, OP_DELETE, before, NULL, lsn, err, errlen);
    case PGO_UPDATE:
        /* Unchanged TOAST values are known when the old row holds them:
         * all of them with the whole old row, the identity columns with
         * the old key (sent when one of them is stored out of line). */
        if (before) {
            for (int i = 0; i < rel->ncols; i++) {
                if (after[i].state == VALUE_UNCHANGED &&
                    before[i].state == VALUE_SET)
                    after[i] = before[i];
            }
        }
        if (before && rel->ts->nkeys > 0 &&
            key_changed(rel, old_tuple, new_tuple)) {
            return emit(ch, rel, OP_DELETE, before, NULL, lsn, err, errlen) &&
                   emit(ch, rel, OP_CREATE, NULL, after, lsn, err, errlen);
        }
        return emit(ch, rel, OP_UPDATE, before, after, lsn, err, errlen);
    default:
        snprintf(err, errlen, "message '%c' is not a row change", m->kind);
        return false;
    }
}

static bool handle_truncate(changes_t *ch, const pgoutput_msg_t *m,
                            uint64_t lsn, char *err, size_t errlen)
{
    for (int i = 0; i < m->u.truncate.nrels; i++) {
        rel_t *rel = change_rel(ch, m->u.truncate.oids[i], err, errlen);
        change_t c = {OP_TRUNCATE, NULL, NULL, {0}, 0};
        char why[512] = "";
        uint64_t seq;

        if (!rel)
            return false;
        fill_source(ch, rel, &c, lsn);
        start_frame(&ch->valbuf, rel->ts->value_schema_id);
        if (!codec_encode_change(rel->ts, &c, &ch->valbuf, why, sizeof(why))) {
            snprintf(err, errlen, "%s", why);
            return false;
        }
        /* Every partition learns of the truncate, each at the same
         * position, so per-partition order holds for every key. */
        seq = ch->txn.seq;
        for (int p = 0; p < rel->topic->partitions; p++) {
            ch->txn.seq = seq;
            if (!send_record(ch, rel, p, NULL, &ch->valbuf, err, errlen))
                return false;
        }
    }
    return true;
}

static bool handle_relation(changes_t *ch, const pgoutput_msg_t *m, char *err,
                            size_t errlen)
{
    int n = m->u.relation.ncols;
    const char **names = calloc((size_t)n + 1, sizeof(char *));
    uint32_t *oids = calloc((size_t)n + 1, sizeof(uint32_t));
    int32_t *mods = calloc((size_t)n + 1, sizeof(int32_t));
    bool *keys = calloc((size_t)n + 1, sizeof(bool));
    rel_desc_t d;
    char why[1024] = "";
    bool ok = false;

    if (!names || !oids || !mods || !keys) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        names[i] = m->u.relation.cols[i].name;
        oids[i] = m->u.relation.cols[i].type_oid;
        mods[i] = m->u.relation.cols[i].typmod;
        keys[i] = m->u.relation.cols[i].key;
    }
    d.oid = m->u.relation.oid;
    d.nspname = m->u.relation.nspname;
    d.relname = m->u.relation.relname;
    d.replident = m->u.relation.replident;
    d.ncols = n;
    d.names = names;
    d.type_oids = oids;
    d.typmods = mods;
    d.key_flags = keys;
    if (!relcache_apply(ch->relcache, &d, why, sizeof(why)))
        snprintf(err, errlen, "could not prepare table \"%s.%s\": %s",
                 d.nspname, d.relname, why);
    else
        ok = true;

out:
    free(names);
    free(oids);
    free(mods);
    free(keys);
    return ok;
}

static bool handle_begin(changes_t *ch, const pgoutput_msg_t *m, char *err,
                         size_t errlen)
{
    /* A Begin without the Commit of the previous transaction: the server
     * started over, so the earlier one comes again. */
    changes_abandon(ch);
    ch->txn.xid = m->u.begin.xid;
    ch->txn.commit_lsn = m->u.begin.final_lsn;
    ch->txn.commit_ts_us = m->u.begin.commit_ts + PG_EPOCH_OFFSET_US;
    ch->txn.seq = 0;
    ch->txn.track = producer_txn_begin(ch->producer, ch->txn.commit_ts_us);
    if (!ch->txn.track) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    ch->txn.open = true;
    return true;
}

static bool handle_commit(changes_t *ch, const pgoutput_msg_t *m, uint64_t lsn,
                          char *err, size_t errlen)
{
    if (!changes_in_transaction(ch)) {
        snprintf(err, errlen, "commit at %X/%X without a transaction",
                 (unsigned)(lsn >> 32), (unsigned)lsn);
        return false;
    }
    if (m->u.commit.commit_lsn != ch->txn.commit_lsn) {
        snprintf(err, errlen,
                 "commit of transaction %u is at %X/%X but its "
                 "begin announced %X/%X",
                 ch->txn.xid, (unsigned)(m->u.commit.commit_lsn >> 32),
                 (unsigned)m->u.commit.commit_lsn,
                 (unsigned)(ch->txn.commit_lsn >> 32),
                 (unsigned)ch->txn.commit_lsn);
        return false;
    }
    producer_txn_commit(ch->producer, ch->txn.track, m->u.commit.end_lsn);
    ch->txn.open = false;
    ch->txn.track = NULL;
    ch->transactions++;
    return true;
}

bool changes_apply(changes_t *ch, const uint8_t *data, size_t len, uint64_t lsn,
                   char *err, size_t errlen)
{
    pgoutput_msg_t m;
    char why[512];

    ch->refused = false;
    if (ch->txn.snapshot) {
        snprintf(err, errlen, "a change arrived while the snapshot is read");
        return false;
    }
    if (!pgoutput_decode(&ch->decoder, data, len, &m, why, sizeof(why))) {
        ch->decode_errors++;
        snprintf(err, errlen,
                 "could not decode the change stream at %X/%X: "
                 "%s",
                 (unsigned)(lsn >> 32), (unsigned)lsn, why);
        return false;
    }
    arena_reset(&ch->arena);

    switch (m.kind) {
    case PGO_BEGIN:
        return handle_begin(ch, &m, err, errlen);
    case PGO_COMMIT:
        return handle_commit(ch, &m, lsn, err, errlen);
    case PGO_RELATION:
        return handle_relation(ch, &m, err, errlen);
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        return handle_change(ch, &m, lsn, err, errlen);
    case PGO_TRUNCATE:
        return handle_truncate(ch, &m, lsn, err, errlen);
    case PGO_TYPE:
        if (ch->catalog)
            catalog_forget_types(ch->catalog);
        return true;
    case PGO_ORIGIN:
    case PGO_MESSAGE:
        return true;
    }
    return true;
}

bool changes_snapshot_begin(changes_t *ch, uint64_t consistent_lsn,
                            uint64_t seq_base, int64_t ts_us)
{
    changes_abandon(ch);
    ch->txn.track = producer_txn_begin(ch->producer, ts_us);
    if (!ch->txn.track)
        return false;
    ch->txn.open = true;
    ch->txn.snapshot = true;
    ch->txn.xid = 0;
    ch->txn.commit_lsn = consistent_lsn - 1;
    ch->txn.snapshot_lsn = consistent_lsn;
    ch->txn.commit_ts_us = ts_us;
    ch->txn.seq = seq_base;
    return true;
}

bool changes_snapshot_row(changes_t *ch, rel_t *rel, const char *const *texts,
                          const int *lens, char *err, size_t errlen)
{
    value_t *row;

    if (!ch->txn.snapshot) {
        snprintf(err, errlen, "snapshot row outside the snapshot");
        return false;
    }
    arena_reset(&ch->arena);
    row = new_row(ch, rel, err, errlen);
    if (!row)
        return false;
    for (int i = 0; i < rel->ncols; i++) {
        memset(&row[i], 0, sizeof(value_t));
        if (!texts[i])
            row[i].state = VALUE_NULL;
        else if (!parse_value(ch, rel, i, texts[i], (size_t)lens[i], &row[i],
                              err, errlen))
            return false;
    }
    return emit(ch, rel, OP_READ, NULL, row, ch->txn.snapshot_lsn, err, errlen);
}

void changes_snapshot_end(changes_t *ch)
{
    if (ch->txn.snapshot)
        changes_abandon(ch);
}
