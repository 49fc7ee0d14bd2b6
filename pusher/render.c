/* JSON rendering of typed values. */
#include "render.h"

#include "datetime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest text that reads back as the same double. */
static bool put_double(buf_t *out, double d, bool as_float)
{
    char tmp[40];

    if (isnan(d))
        return buf_puts(out, "\"NaN\"");
    if (isinf(d))
        return buf_puts(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    for (int prec = as_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (as_float ? (float)strtod(tmp, NULL) == (float)d
                     : strtod(tmp, NULL) == d)
            break;
    }
    return buf_puts(out, tmp);
}

static bool put_scalar(buf_t *out, coltype_t type, const value_t *v)
{
    static const char hex[] = "0123456789abcdef";

    if (v->state != VALUE_SET)
        return buf_puts(out, "null");
    switch (type) {
    case COLTYPE_BOOLEAN:
        return buf_puts(out, v->u.b ? "true" : "false");
    case COLTYPE_INT:
    case COLTYPE_LONG:
        return buf_put_i64(out, v->u.i);
    case COLTYPE_FLOAT:
        return put_double(out, v->u.f, true);
    case COLTYPE_DOUBLE:
        return put_double(out, v->u.f, false);
    case COLTYPE_STRING:
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
        return buf_json_string(out, v->u.s, v->len);
    case COLTYPE_JSON:
        /* PostgreSQL's json and jsonb text is JSON already. */
        if (v->len == 0)
            return buf_puts(out, "null");
        return buf_append(out, v->u.s, v->len);
    case COLTYPE_BYTES:
        if (!buf_reserve(out, (size_t)v->len * 2 + 4))
            return false;
        buf_puts(out, "\"\\\\x");
        for (uint32_t i = 0; i < v->len; i++) {
            uint8_t b = (uint8_t)v->u.s[i];

            out->data[out->len++] = (uint8_t)hex[b >> 4];
            out->data[out->len++] = (uint8_t)hex[b & 15];
        }
        return buf_putc(out, '"');
    case COLTYPE_DATE:
        return buf_putc(out, '"') && datetime_format_date(out, v->u.i) &&
               buf_putc(out, '"');
    case COLTYPE_TIME:
        return buf_putc(out, '"') && datetime_format_time(out, v->u.i) &&
               buf_putc(out, '"');
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return buf_putc(out, '"') &&
               datetime_format_timestamp(out, v->u.i,
                                         type == COLTYPE_TIMESTAMPTZ) &&
               buf_putc(out, '"');
    case COLTYPE_ARRAY:
    case COLTYPE_COUNT_:
        break;
    }
    return buf_puts(out, "null");
}

bool render_value(buf_t *out, const column_t *col, const value_t *v)
{
    if (col->type != COLTYPE_ARRAY || v->state != VALUE_SET)
        return put_scalar(out, col->type, v);
    if (!buf_putc(out, '['))
        return false;
    for (uint32_t i = 0; i < v->len; i++) {
        if (i && !buf_putc(out, ','))
            return false;
        if (!put_scalar(out, col->elem, &v->u.items[i]))
            return false;
    }
    return buf_putc(out, ']');
}

bool render_text(buf_t *out, const column_t *col, const value_t *v)
{
    size_t start = out->len;

    if (v->state != VALUE_SET)
        return false;
    switch (col->type) {
    case COLTYPE_STRING:
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
    case COLTYPE_UUID:
    case COLTYPE_JSON:
        return buf_append(out, v->u.s, v->len);
    default:
        break;
    }
    /* Everything else: its JSON form without the quotes. */
    if (!render_value(out, col, v))
        return false;
    if (out->len - start >= 2 && out->data[start] == '"' &&
        out->data[out->len - 1] == '"') {
        memmove(out->data + start, out->data + start + 1, out->len - start - 2);
        out->len -= 2;
    }
    return true;
}

bool render_key(buf_t *out, const table_schema_t *ts, const value_t *row)
{
    /* Reused between calls: keys are rendered once per event. */
    static __thread buf_t text;
    bool first = true, ok = true;

    if (ts->nkeys == 0 || !row)
        return false;
    buf_reset(&text);
    for (int i = 0; i < ts->ncols && ok; i++) {
        if (!ts->cols[i].key)
            continue;
        if (!first)
            buf_putc(&text, ',');
        first = false;
        ok = render_text(&text, &ts->cols[i], &row[i]);
    }
    if (ok)
        ok = buf_json_string(out, (const char *)text.data, text.len);
    return ok;
}
