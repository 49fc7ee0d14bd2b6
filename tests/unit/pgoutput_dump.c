/* Text form of decoded pgoutput messages. */
#include "pgoutput_dump.h"

#include <inttypes.h>

static void dump_tuple(buf_t *out, const pgoutput_tuple_t *t)
{
    buf_putc(out, '(');
    for (int i = 0; i < t->ncols; i++) {
        const pgoutput_datum_t *d = &t->cols[i];

        if (i)
            buf_puts(out, ", ");
        switch (d->kind) {
        case 'n':
            buf_puts(out, "null");
            break;
        case 'u':
            buf_puts(out, "unchanged-toast");
            break;
        default:
            buf_printf(out, "%c:", d->kind);
            if (d->len > 60) {
                buf_json_string(out, d->data, 40);
                buf_printf(out, "...[%u bytes]", d->len);
            } else {
                buf_json_string(out, d->data, d->len);
            }
        }
    }
    buf_putc(out, ')');
}

void pgoutput_dump(const pgoutput_msg_t *m, buf_t *out)
{
    switch (m->kind) {
    case PGO_BEGIN:
        /* Commit time and xid vary from run to run; the LSN too, so only
         * the shape is kept. */
        buf_puts(out, "BEGIN\n");
        break;
    case PGO_COMMIT:
        buf_printf(out, "COMMIT flags=%u%s\n", m->u.commit.flags,
                   m->u.commit.end_lsn > m->u.commit.commit_lsn
                       ? " end>commit"
                       : " end<=commit");
        break;
    case PGO_ORIGIN:
        buf_printf(out, "ORIGIN %s\n", m->u.origin.name);
        break;
    case PGO_RELATION:
        buf_printf(out, "RELATION %s.%s identity=%c columns=%d\n",
                   m->u.relation.nspname, m->u.relation.relname,
                   m->u.relation.replident, m->u.relation.ncols);
        for (int i = 0; i < m->u.relation.ncols; i++) {
            const pgoutput_column_t *c = &m->u.relation.cols[i];

            buf_printf(out, "  %s type=%u typmod=%d%s\n", c->name, c->type_oid,
                       c->typmod, c->key ? " key" : "");
        }
        break;
    case PGO_TYPE:
        buf_printf(out, "TYPE %s.%s\n", m->u.type.nspname, m->u.type.name);
        break;
    case PGO_INSERT:
        buf_puts(out, "INSERT new=");
        dump_tuple(out, &m->u.change.new_tuple);
        buf_putc(out, '\n');
        break;
    case PGO_UPDATE:
        buf_puts(out, "UPDATE");
        if (m->u.change.old_kind) {
            buf_printf(out,
                       " %s=", m->u.change.old_kind == 'K' ? "key" : "old");
            dump_tuple(out, &m->u.change.old_tuple);
        }
        buf_puts(out, " new=");
        dump_tuple(out, &m->u.change.new_tuple);
        buf_putc(out, '\n');
        break;
    case PGO_DELETE:
        buf_printf(out,
                   "DELETE %s=", m->u.change.old_kind == 'K' ? "key" : "old");
        dump_tuple(out, &m->u.change.old_tuple);
        buf_putc(out, '\n');
        break;
    case PGO_TRUNCATE:
        buf_printf(out, "TRUNCATE relations=%d options=%u\n",
                   m->u.truncate.nrels, m->u.truncate.options);
        break;
    case PGO_MESSAGE:
        buf_printf(out, "MESSAGE %s %u bytes\n", m->u.message.prefix,
                   m->u.message.len);
        break;
    }
}
