/* Compiles Directus filter JSON (see filter.h for the language) into the
 * flat node array filter_eval.c walks: resolves fields against the table
 * schema and the subscriber's readable columns, types every value by its
 * column, resolves $CURRENT_USER/$CURRENT_ROLE, flattens and sorts
 * _and/_or groups, and builds the canonical text.  Bounded by the limits
 * in filter.h; every refusal names the field, operator or value. */
#define _GNU_SOURCE /* qsort_r */
#include "filter_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of values one filter may keep (strings, lists, folded text);
 * filter.h and the message say 4 MiB. */
#define FILTER_MAX_MEMORY (4u << 20)

/* ---- memory that lives with the filter ---- */

struct filter_pool_block {
    struct filter_pool_block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void *filter_pool_alloc(filter_t *f, size_t size)
{
    struct filter_pool_block *b = f->pool;
    size_t aligned = (size + 15) & ~(size_t)15;

    if (aligned < size || aligned > FILTER_MAX_MEMORY - f->pool_used)
        return NULL;
    f->pool_used += aligned;
    if (!b || b->size - b->used < aligned) {
        /* Blocks grow with the filter, so a small one stays small. */
        size_t want = b ? b->size * 2 : 512;

        if (want > 65536)
            want = 65536;
        if (want < aligned)
            want = aligned;
        b = malloc(sizeof(*b) + want);
        if (!b)
            return NULL;
        b->size = want;
        b->used = 0;
        b->next = f->pool;
        f->pool = b;
    }
    void *p = b->data + b->used;

    b->used += aligned;
    return p;
}

/* ---- operators ---- */

typedef enum fop {
    OP_EQ,
    OP_NEQ,
    OP_LT,
    OP_LTE,
    OP_GT,
    OP_GTE,
    OP_IN,
    OP_NIN,
    OP_NULL,
    OP_NNULL,
    OP_CONTAINS,
    OP_NCONTAINS,
    OP_ICONTAINS,
    OP_NICONTAINS,
    OP_STARTS,
    OP_NSTARTS,
    OP_ISTARTS,
    OP_NISTARTS,
    OP_ENDS,
    OP_NENDS,
    OP_IENDS,
    OP_NIENDS,
    OP_BETWEEN,
    OP_NBETWEEN,
    OP_EMPTY,
    OP_NEMPTY,
    OP_IEQ,
    OP_NIEQ,
    OP_COUNT_
} fop_t;

static const char *const op_names[OP_COUNT_] = {
    [OP_EQ] = "_eq",
    [OP_NEQ] = "_neq",
    [OP_LT] = "_lt",
    [OP_LTE] = "_lte",
    [OP_GT] = "_gt",
    [OP_GTE] = "_gte",
    [OP_IN] = "_in",
    [OP_NIN] = "_nin",
    [OP_NULL] = "_null",
    [OP_NNULL] = "_nnull",
    [OP_CONTAINS] = "_contains",
    [OP_NCONTAINS] = "_ncontains",
    [OP_ICONTAINS] = "_icontains",
    [OP_NICONTAINS] = "_nicontains",
    [OP_STARTS] = "_starts_with",
    [OP_NSTARTS] = "_nstarts_with",
    [OP_ISTARTS] = "_istarts_with",
    [OP_NISTARTS] = "_nistarts_with",
    [OP_ENDS] = "_ends_with",
    [OP_NENDS] = "_nends_with",
    [OP_IENDS] = "_iends_with",
    [OP_NIENDS] = "_niends_with",
    [OP_BETWEEN] = "_between",
    [OP_NBETWEEN] = "_nbetween",
    [OP_EMPTY] = "_empty",
    [OP_NEMPTY] = "_nempty",
    [OP_IEQ] = "_ieq",
    [OP_NIEQ] = "_nieq",
};

static int op_lookup(const char *name)
{
    for (int i = 0; i < OP_COUNT_; i++) {
        if (strcmp(op_names[i], name) == 0)
            return i;
    }
    return -1;
}

static bool is_geometry_op(const char *name)
{
    return strcmp(name, "_intersects") == 0 ||
           strcmp(name, "_nintersects") == 0 ||
           strcmp(name, "_intersects_bbox") == 0 ||
           strcmp(name, "_nintersects_bbox") == 0;
}

static bool is_relation_op(const char *name)
{
    return strcmp(name, "_some") == 0 || strcmp(name, "_none") == 0;
}

/* ---- compile state ---- */

typedef struct cnode cnode_t;

struct cnode {
    fnode_t n;
    cnode_t **kids;
    uint32_t nkids;
    uint32_t cap;
    char *canon; /* canonical JSON text, NUL-terminated */
    size_t canon_len;
};

typedef struct cctx {
    const table_schema_t *ts;
    filter_may_filter_fn may_filter;
    void *arg;
    const filter_vars_t *vars;
    filter_t *f;
    int nodes;
    int list_values;
    char *err;
    size_t errlen;
    char quoted[4][96];
    int nquoted;
} cctx_t;

/* A value after Directus's own reading of it: "null", "true", "false"
 * and the dynamic variables replaced. */
typedef enum rkind {
    R_NULL,
    R_BOOL,
    R_INT,
    R_REAL,
    R_STRING,
    R_NOW,
    R_ABSENT, /* a variable the client has no value for */
} rkind_t;

typedef struct raw {
    rkind_t k;
    bool b;
    int64_t i;
    double r;
    const char *s;
    size_t len;
    fnow_t now;
    const char *var; /* "$CURRENT_USER" when the value came from one */
} raw_t;

static void *fail(cctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void *fail(cctx_t *c, const char *fmt, ...)
{
    va_list ap;

    if (c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

/* A user-supplied name or value made safe and short for a message. */
static const char *q(cctx_t *c, const char *s, size_t n)
{
    char *out = c->quoted[c->nquoted++ % 4];
    size_t k = 0, max = sizeof(c->quoted[0]) - 4;

    for (size_t i = 0; i < n && k < max; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[k++] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
    }
    if (k == max && n > max) {
        /* Do not end inside a UTF-8 sequence. */
        while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && (unsigned char)out[k - 1] >= 0xC0)
            k--;
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static const char *qs(cctx_t *c, const char *s)
{
    return q(c, s, strlen(s));
}

static const char *colname(cctx_t *c, int col)
{
    return qs(c, c->ts->cols[col].name);
}

static bool count_node(cctx_t *c)
{
    if (++c->nodes > FILTER_MAX_NODES) {
        fail(c, "filter has more than %d conditions", FILTER_MAX_NODES);
        return false;
    }
    return true;
}

static bool check_depth(cctx_t *c, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        fail(c, "filter is nested more than %d levels deep", FILTER_MAX_DEPTH);
        return false;
    }
    return true;
}

static void cnode_free(cnode_t *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        cnode_free(n->kids[i]);
    free(n->kids);
    free(n->canon);
    free(n);
}

/* Counts leaves and _and/_or groups only: the objects that merely hold
 * them collapse when compiled. */
static cnode_t *cnode_new(cctx_t *c, fnode_kind_t kind, bool counted)
{
    cnode_t *n;

    if (counted && !count_node(c))
        return NULL;
    n = calloc(1, sizeof(*n));
    if (!n)
        return fail(c, "out of memory");
    n->n.kind = (uint8_t)kind;
    n->n.col = -1;
    return n;
}

static bool cnode_add(cctx_t *c, cnode_t *parent, cnode_t *kid)
{
    if (parent->nkids == parent->cap) {
        uint32_t cap = parent->cap ? parent->cap * 2 : 4;
        cnode_t **kids = realloc(parent->kids, cap * sizeof(*kids));

        if (!kids) {
            fail(c, "out of memory");
            return false;
        }
        parent->kids = kids;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return true;
}

/* Takes the text of b as n's canonical form; frees b's memory. */
static bool set_canon(cctx_t *c, cnode_t *n, buf_t *b)
{
    char *text = b->overflow ? NULL : buf_cstr(b);

    if (!text) {
        buf_free(b);
        fail(c, "out of memory");
        return false;
    }
    n->canon = text;
    n->canon_len = b->len;
    b->data = NULL;
    buf_free(b);
    return true;
}

static void *pool_copy(cctx_t *c, const void *src, size_t n)
{
    void *p = filter_pool_alloc(c->f, n ? n : 1);

    if (!p)
        return fail(c, "filter holds more than 4 MiB of values");
    if (n)
        memcpy(p, src, n);
    return p;
}

/* ---- values ---- */

static bool is_int_like(coltype_t t)
{
    return t == COLTYPE_INT || t == COLTYPE_LONG || t == COLTYPE_DATE ||
           t == COLTYPE_TIME || t == COLTYPE_TIMESTAMP ||
           t == COLTYPE_TIMESTAMPTZ;
}

static bool is_time_type(coltype_t t)
{
    return t == COLTYPE_DATE || t == COLTYPE_TIME || t == COLTYPE_TIMESTAMP ||
           t == COLTYPE_TIMESTAMPTZ;
}

/* Kinds that compare with _eq, _lt, _in, _between. */
static bool is_comparable(coltype_t t)
{
    return t != COLTYPE_BYTES && t != COLTYPE_JSON && t != COLTYPE_ARRAY &&
           t < COLTYPE_COUNT_;
}

static bool raw_from_text(cctx_t *c, int col, const char *op, const char *s,
                          size_t n, raw_t *r)
{
    const char *why;

    memset(r, 0, sizeof(*r));
    if (n > FILTER_MAX_STRING) {
        fail(c, "value for \"%s\" on field \"%s\" is longer than %d bytes", op,
             colname(c, col), FILTER_MAX_STRING);
        return false;
    }
    if ((n == 4 && memcmp(s, "null", 4) == 0) ||
        (n == 4 && memcmp(s, "NULL", 4) == 0)) {
        r->k = R_NULL;
        return true;
    }
    if ((n == 4 && memcmp(s, "true", 4) == 0) ||
        (n == 5 && memcmp(s, "false", 5) == 0)) {
        r->k = R_BOOL;
        r->b = n == 4;
        return true;
    }
    if (n >= 4 && memcmp(s, "$NOW", 4) == 0) {
        if (!fnow_parse(s, n, &r->now, &why)) {
            fail(c, "invalid \"%s\" for \"%s\" on field \"%s\": %s", q(c, s, n),
                 op, colname(c, col), why);
            return false;
        }
        r->k = R_NOW;
        return true;
    }
    if (n >= 8 && memcmp(s, "$CURRENT", 8) == 0) {
        const char *value;

        if (n == 13 && memcmp(s, "$CURRENT_USER", 13) == 0) {
            r->var = "$CURRENT_USER";
            value = c->vars ? c->vars->current_user : NULL;
        } else if (n == 13 && memcmp(s, "$CURRENT_ROLE", 13) == 0) {
            r->var = "$CURRENT_ROLE";
            value = c->vars ? c->vars->current_role : NULL;
        } else {
            fail(c,
                 "dynamic variable \"%s\" is not supported; use "
                 "\"$CURRENT_USER\" or \"$CURRENT_ROLE\"",
                 q(c, s, n));
            return false;
        }
        if (!value) {
            r->k = R_ABSENT;
            return true;
        }
        r->k = R_STRING;
        r->s = value;
        r->len = strlen(value);
        if (r->len > FILTER_MAX_STRING) {
            fail(c, "value of \"%s\" is longer than %d bytes", r->var,
                 FILTER_MAX_STRING);
            return false;
        }
        return true;
    }
    r->k = R_STRING;
    r->s = s;
    r->len = n;
    return true;
}

/* One JSON scalar; arrays and objects are refused by the caller. */
static bool raw_from_json(cctx_t *c, int col, const char *op, const json_t *j,
                          raw_t *r)
{
    memset(r, 0, sizeof(*r));
    switch (json_typeof(j)) {
    case JSON_NULL:
        r->k = R_NULL;
        return true;
    case JSON_TRUE:
    case JSON_FALSE:
        r->k = R_BOOL;
        r->b = json_is_true(j);
        return true;
    case JSON_INTEGER:
        r->k = R_INT;
        r->i = (int64_t)json_integer_value(j);
        return true;
    case JSON_REAL:
        r->k = R_REAL;
        r->r = json_real_value(j);
        return true;
    case JSON_STRING:
        return raw_from_text(c, col, op, json_string_value(j),
                             json_string_length(j), r);
    default:
        fail(c,
             "operator \"%s\" on field \"%s\" takes a single value, not an "
             "array or object",
             op, colname(c, col));
        return false;
    }
}

/* The value as the user wrote it, for messages. */
static const char *raw_show(cctx_t *c, const raw_t *r, char *buf, size_t n)
{
    if (r->var)
        snprintf(buf, n, "\"%s\"", r->var);
    else if (r->k == R_STRING)
        snprintf(buf, n, "\"%s\"", q(c, r->s, r->len));
    else if (r->k == R_INT)
        snprintf(buf, n, "%lld", (long long)r->i);
    else if (r->k == R_REAL)
        snprintf(buf, n, "%.17g", r->r);
    else if (r->k == R_BOOL)
        snprintf(buf, n, "%s", r->b ? "true" : "false");
    else if (r->k == R_NOW)
        snprintf(buf, n, "\"$NOW\"");
    else
        snprintf(buf, n, "null");
    return buf;
}

static bool bad_value(cctx_t *c, int col, coltype_t type, const char *op,
                      const raw_t *r, const char *why)
{
    char shown[128];

    fail(c, "invalid value %s for \"%s\" on field \"%s\" of type %s: %s",
         raw_show(c, r, shown, sizeof(shown)), op, colname(c, col),
         coltype_name(type), why);
    return false;
}

/* Text of a number or boolean, as Directus hands it to PostgreSQL. */
static const char *raw_text(const raw_t *r, char *buf, size_t n, size_t *len)
{
    if (r->k == R_STRING) {
        *len = r->len;
        return r->s;
    }
    if (r->k == R_INT)
        snprintf(buf, n, "%lld", (long long)r->i);
    else if (r->k == R_REAL)
        fdouble_format(r->r, false, buf, n);
    else
        snprintf(buf, n, "%s", r->b ? "true" : "false");
    *len = strlen(buf);
    return buf;
}

static bool parse_float(cctx_t *c, int col, coltype_t type, const char *op,
                        const raw_t *r, double *out)
{
    char num[40], *copy;
    const char *text;
    size_t len;
    fdec_t d;
    double v;

    if (r->k == R_BOOL)
        return bad_value(c, col, type, op, r, "expected a number");
    if (r->k == R_REAL && type == COLTYPE_DOUBLE) {
        *out = r->r;
        return true;
    }
    text = raw_text(r, num, sizeof(num), &len);
    if (!fdec_parse(text, len, &d))
        return bad_value(c, col, type, op, r, "expected a number");
    if (d.kind != FDEC_FINITE) {
        *out = d.kind == FDEC_NAN    ? NAN
               : d.kind == FDEC_PINF ? INFINITY
                                     : -INFINITY;
        return true;
    }

    /* strtod needs a terminated copy; fdec_parse vouched for its form. */
    copy = malloc(len + 1);
    if (!copy) {
        fail(c, "out of memory");
        return false;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    errno = 0;
    v = type == COLTYPE_FLOAT ? (double)strtof(copy, NULL) : strtod(copy, NULL);
    free(copy);
    if (errno == ERANGE && (v == 0 || isinf(v)))
        return bad_value(c, col, type, op, r, "out of range");
    *out = v;
    return true;
}

/* Converts r to a value of type (the column's, or its element kind). */
static bool to_fval(cctx_t *c, int col, coltype_t type, const char *op,
                    const raw_t *r, fval_t *out)
{
    char num[40];
    const char *text, *why;
    size_t len;
    fdec_t d;
    bool b;

    memset(out, 0, sizeof(*out));
    if (r->k == R_NOW) {
        if (!is_time_type(type)) {
            fail(c,
                 "\"$NOW\" can only be compared with date and time fields; "
                 "field \"%s\" is of type %s",
                 colname(c, col), coltype_name(type));
            return false;
        }
        out->is_now = 1;
        out->u.now = r->now;
        return true;
    }

    switch (type) {
    case COLTYPE_BOOLEAN:
        if (r->k == R_BOOL) {
            out->u.i = r->b;
            return true;
        }
        if (r->k == R_INT && (r->i == 0 || r->i == 1)) {
            out->u.i = r->i;
            return true;
        }
        if (r->k == R_STRING && fbool_parse(r->s, r->len, &b)) {
            out->u.i = b;
            return true;
        }
        return bad_value(c, col, type, op, r, "expected true or false");

    case COLTYPE_INT:
    case COLTYPE_LONG:
        if (r->k == R_BOOL)
            return bad_value(c, col, type, op, r, "expected a number");
        if (r->k == R_INT) {
            out->u.i = r->i;
        } else {
            text = raw_text(r, num, sizeof(num), &len);
            if (!fdec_parse(text, len, &d) || d.kind != FDEC_FINITE)
                return bad_value(c, col, type, op, r, "expected a number");
            if (!fdec_to_i64(&d, &out->u.i))
                return bad_value(c, col, type, op, r,
                                 fdec_is_whole(&d) ? "out of range"
                                                   : "not a whole number");
        }
        if (type == COLTYPE_INT &&
            (out->u.i < INT32_MIN || out->u.i > INT32_MAX))
            return bad_value(c, col, type, op, r, "out of range");
        return true;

    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        return parse_float(c, col, type, op, r, &out->u.f);

    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC: {
        char *copy;

        if (r->k == R_BOOL)
            return bad_value(c, col, type, op, r, "expected a number");
        text = raw_text(r, num, sizeof(num), &len);
        copy = pool_copy(c, text, len);
        if (!copy)
            return false;
        if (!fdec_parse(copy, len, &out->u.d))
            return bad_value(c, col, type, op, r, "expected a number");
        return true;
    }

    case COLTYPE_STRING: {
        char *copy;

        text = raw_text(r, num, sizeof(num), &len);
        copy = pool_copy(c, text, len);
        if (!copy)
            return false;
        out->u.str.s = copy;
        out->u.str.len = (uint32_t)len;
        return true;
    }

    case COLTYPE_UUID:
        if (r->k != R_STRING ||
            !fuuid_parse(r->s, r->len, &out->u.uuid.hi, &out->u.uuid.lo))
            return bad_value(c, col, type, op, r, "expected a uuid");
        return true;

    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        if (r->k != R_STRING)
            return bad_value(c, col, type, op, r,
                             type == COLTYPE_TIME
                                 ? "expected a time of day as HH:MM:SS"
                                 : "expected an ISO 8601 date or date "
                                   "and time, or \"$NOW\"");
        if (!ftime_parse(type, r->s, r->len, &out->u.i, &why))
            return bad_value(c, col, type, op, r, why);
        return true;

    default:
        fail(c, "field \"%s\" of type %s cannot be compared", colname(c, col),
             coltype_name(type));
        return false;
    }
}

/* Appends the canonical JSON token of a typed value. */
static bool fval_format(coltype_t type, const fval_t *v, buf_t *out)
{
    char text[40];

    if (v->is_null)
        return buf_puts(out, "null");
    if (v->is_now)
        return fnow_format(&v->u.now, out);
    switch (type) {
    case COLTYPE_BOOLEAN:
        return buf_puts(out, v->u.i ? "true" : "false");
    case COLTYPE_INT:
    case COLTYPE_LONG:
        return buf_printf(out, "%lld", (long long)v->u.i);
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        fdouble_format(v->u.f, type == COLTYPE_FLOAT, text, sizeof(text));
        if (isnan(v->u.f) || isinf(v->u.f))
            return buf_printf(out, "\"%s\"", text);
        return buf_puts(out, text);
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
        return fdec_format(&v->u.d, out);
    case COLTYPE_STRING:
        return buf_json_string(out, v->u.str.s, v->u.str.len);
    case COLTYPE_UUID:
        fuuid_format(v->u.uuid.hi, v->u.uuid.lo, text);
        return buf_printf(out, "\"%s\"", text);
    default:
        return ftime_format(type, v->u.i, out);
    }
}

static int fval_sort_cmp(const void *a, const void *b, void *type)
{
    return fval_cmp(*(const coltype_t *)type, a, b);
}

/* ---- leaves ---- */

/* Starts a leaf's canonical text: {"<field>":{"<op>": */
static bool leaf_open(cctx_t *c, buf_t *b, int col, const char *op)
{
    const char *name = c->ts->cols[col].name;

    buf_init(b, 0);
    return buf_putc(b, '{') && buf_json_string(b, name, strlen(name)) &&
           buf_puts(b, ":{\"") && buf_puts(b, op) && buf_puts(b, "\":");
}

static cnode_t *leaf_finish(cctx_t *c, cnode_t *n, buf_t *b)
{
    if (!buf_puts(b, "}}")) {
        buf_free(b);
        cnode_free(n);
        return fail(c, "out of memory");
    }
    if (!set_canon(c, n, b)) {
        cnode_free(n);
        return NULL;
    }
    return n;
}

static cnode_t *leaf_new(cctx_t *c, fnode_kind_t kind, int col)
{
    cnode_t *n = cnode_new(c, kind, true);

    if (!n)
        return NULL;
    n->n.col = col;
    n->n.type = (uint8_t)c->ts->cols[col].type;
    return n;
}

/* _null, _nnull, _empty, _nempty (and _eq/_neq null). */
static cnode_t *leaf_nulltest(cctx_t *c, int col, fnode_kind_t kind, bool neg)
{
    cnode_t *n = leaf_new(c, kind, col);
    buf_t b;
    const char *op;

    if (!n)
        return NULL;
    n->n.neg = neg;
    if (kind == FN_EMPTY)
        op = neg ? "_nempty" : "_empty";
    else
        op = kind == FN_NULL ? "_null" : "_nnull";
    if (!leaf_open(c, &b, col, op) || !buf_puts(&b, "true")) {
        buf_free(&b);
        cnode_free(n);
        return fail(c, "out of memory");
    }
    return leaf_finish(c, n, &b);
}

/* A comparison with a variable the client lacks: false, and spelled
 * with the variable in the canonical text. */
static cnode_t *leaf_absent(cctx_t *c, int col, const char *op,
                            const char *body)
{
    cnode_t *n = leaf_new(c, FN_FALSE, col);
    buf_t b;

    if (!n)
        return NULL;
    if (!leaf_open(c, &b, col, op) || !buf_puts(&b, body)) {
        buf_free(&b);
        cnode_free(n);
        return fail(c, "out of memory");
    }
    return leaf_finish(c, n, &b);
}

static const char *cmp_op_name(uint8_t mask)
{
    switch (mask) {
    case CMP_EQ:
        return "_eq";
    case CMP_LT | CMP_GT:
        return "_neq";
    case CMP_LT:
        return "_lt";
    case CMP_LT | CMP_EQ:
        return "_lte";
    case CMP_GT:
        return "_gt";
    default:
        return "_gte";
    }
}

static cnode_t *leaf_cmp(cctx_t *c, int col, fop_t op, const json_t *v)
{
    static const uint8_t masks[] = {
        [OP_EQ] = CMP_EQ, [OP_NEQ] = CMP_LT | CMP_GT,
        [OP_LT] = CMP_LT, [OP_LTE] = CMP_LT | CMP_EQ,
        [OP_GT] = CMP_GT, [OP_GTE] = CMP_GT | CMP_EQ,
    };
    coltype_t type = c->ts->cols[col].type;
    const char *name = op_names[op];
    cnode_t *n;
    raw_t r;
    buf_t b;
    char body[32];

    if (!raw_from_json(c, col, name, v, &r))
        return NULL;
    if (r.k == R_NULL) {
        if (op == OP_EQ || op == OP_NEQ)
            return leaf_nulltest(c, col, op == OP_EQ ? FN_NULL : FN_NNULL,
                                 false);
        return fail(c,
                    "operator \"%s\" on field \"%s\" needs a value, not "
                    "null",
                    name, colname(c, col));
    }
    if (r.k == R_ABSENT) {
        snprintf(body, sizeof(body), "\"%s\"", r.var);
        return leaf_absent(c, col, cmp_op_name(masks[op]), body);
    }

    n = leaf_new(c, FN_CMP, col);
    if (!n)
        return NULL;
    n->n.mask = masks[op];
    if (!to_fval(c, col, type, name, &r, &n->n.a)) {
        cnode_free(n);
        return NULL;
    }
    if (is_int_like(type) && !n->n.a.is_now)
        n->n.kind = FN_CMP_I64;
    if (!leaf_open(c, &b, col, cmp_op_name(n->n.mask)) ||
        !fval_format(type, &n->n.a, &b)) {
        buf_free(&b);
        cnode_free(n);
        return fail(c, "out of memory");
    }
    return leaf_finish(c, n, &b);
}

/* Splits a Directus list value: an array, a comma-separated string, or a
 * single scalar. */
typedef struct rlist {
    raw_t *items;
    size_t n;
} rlist_t;

static bool list_collect(cctx_t *c, int col, const char *op, const json_t *v,
                         rlist_t *out)
{
    size_t n = 0;

    out->items = NULL;
    out->n = 0;
    if (json_is_object(v)) {
        fail(c,
             "operator \"%s\" on field \"%s\" takes an array of values or a "
             "comma-separated string",
             op, colname(c, col));
        return false;
    }
    if (json_is_array(v)) {
        n = json_array_size(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);

        n = 1;
        for (size_t i = 0; i < len; i++)
            n += s[i] == ',';
    } else {
        n = 1;
    }
    if (n > FILTER_MAX_LIST) {
        fail(c, "list of \"%s\" on field \"%s\" has more than %d values", op,
             colname(c, col), FILTER_MAX_LIST);
        return false;
    }
    if (c->list_values + (int)n > FILTER_MAX_LIST) {
        fail(c, "filter has more than %d values in lists", FILTER_MAX_LIST);
        return false;
    }
    c->list_values += (int)n;
    out->items = calloc(n ? n : 1, sizeof(raw_t));
    if (!out->items) {
        fail(c, "out of memory");
        return false;
    }

    if (json_is_array(v)) {
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);

            if (json_is_array(e) || json_is_object(e)) {
                fail(c,
                     "values of \"%s\" on field \"%s\" must be scalars, not "
                     "arrays or objects",
                     op, colname(c, col));
                return false;
            }
            if (!raw_from_json(c, col, op, e, &out->items[out->n++]))
                return false;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v), *end = s + json_string_length(v);

        for (;;) {
            const char *comma = memchr(s, ',', (size_t)(end - s));
            const char *stop = comma ? comma : end;

            if (!raw_from_text(c, col, op, s, (size_t)(stop - s),
                               &out->items[out->n++]))
                return false;
            if (!comma)
                break;
            s = comma + 1;
        }
    } else if (!raw_from_json(c, col, op, v, &out->items[out->n++])) {
        return false;
    }
    return true;
}

static cnode_t *leaf_in(cctx_t *c, int col, fop_t op, const json_t *v)
{
    coltype_t type = c->ts->cols[col].type;
    const char *name = op_names[op];
    cnode_t *n = NULL;
    rlist_t list;
    fval_t *vals = NULL;
    size_t nvals = 0;
    buf_t b;

    buf_init(&b, 0);
    if (!list_collect(c, col, name, v, &list))
        goto fail;
    n = leaf_new(c, FN_IN, col);
    if (!n)
        goto fail;
    n->n.neg = op == OP_NIN;
    vals = filter_pool_alloc(c->f, (list.n ? list.n : 1) * sizeof(fval_t));
    if (!vals) {
        fail(c, "filter holds more than 4 MiB of values");
        goto fail;
    }
    for (size_t i = 0; i < list.n; i++) {
        const raw_t *r = &list.items[i];

        if (r->k == R_NOW) {
            fail(c,
                 "\"$NOW\" cannot be used in \"%s\"; use \"_between\" or "
                 "\"_gte\" and \"_lte\"",
                 name);
            goto fail;
        }
        if (r->k == R_NULL || r->k == R_ABSENT) {
            n->n.has_null = 1;
            continue;
        }
        if (!to_fval(c, col, type, name, r, &vals[nvals]))
            goto fail;
        nvals++;
    }

    /* Sorted without duplicates, for binary search and one spelling. */
    if (nvals > 1) {
        size_t k = 1;

        qsort_r(vals, nvals, sizeof(fval_t), fval_sort_cmp, &type);
        for (size_t i = 1; i < nvals; i++) {
            if (fval_cmp(type, &vals[k - 1], &vals[i]) != 0)
                vals[k++] = vals[i];
        }
        nvals = k;
    }
    n->n.list = vals;
    n->n.count = (uint32_t)nvals;
    if (nvals == 0 && !n->n.has_null) {
        /* Knex writes "_in": [] as 1 = 0 and "_nin": [] as 1 = 1, NULL
         * rows included. */
        if (op == OP_NIN) {
            n->n.kind = FN_TRUE;
            free(list.items);
            if (!buf_puts(&b, "{}") || !set_canon(c, n, &b)) {
                buf_free(&b);
                cnode_free(n);
                return fail(c, "out of memory");
            }
            return n;
        }
        n->n.kind = FN_FALSE;
    }

    bool ok = leaf_open(c, &b, col, name) && buf_putc(&b, '[');

    if (ok && n->n.has_null)
        ok = buf_puts(&b, nvals ? "null," : "null");
    for (size_t i = 0; ok && i < nvals; i++) {
        ok = (i == 0 || buf_putc(&b, ',')) && fval_format(type, &vals[i], &b);
    }
    if (!ok || !buf_putc(&b, ']')) {
        fail(c, "out of memory");
        goto fail;
    }
    free(list.items);
    return leaf_finish(c, n, &b);

fail:
    buf_free(&b);
    free(list.items);
    cnode_free(n);
    return NULL;
}

static cnode_t *leaf_between(cctx_t *c, int col, fop_t op, const json_t *v)
{
    coltype_t type = c->ts->cols[col].type;
    const char *name = op_names[op];
    cnode_t *n = NULL;
    rlist_t list;
    buf_t b;
    bool absent = false, ok;

    buf_init(&b, 0);
    if (!list_collect(c, col, name, v, &list))
        goto fail;
    if (list.n != 2) {
        fail(c,
             "operator \"%s\" on field \"%s\" needs two values, as [low, "
             "high] or \"low,high\"",
             name, colname(c, col));
        goto fail;
    }
    n = leaf_new(c, FN_BETWEEN, col);
    if (!n)
        goto fail;
    n->n.neg = op == OP_NBETWEEN;
    for (int i = 0; i < 2; i++) {
        const raw_t *r = &list.items[i];
        fval_t *dst = i == 0 ? &n->n.a : &n->n.b;

        if (r->k == R_NULL) {
            fail(c,
                 "operator \"%s\" on field \"%s\" needs two values that are "
                 "not null",
                 name, colname(c, col));
            goto fail;
        }
        if (r->k == R_ABSENT) {
            absent = true;
            continue;
        }
        if (!to_fval(c, col, type, name, r, dst))
            goto fail;
    }

    ok = leaf_open(c, &b, col, name) && buf_putc(&b, '[');
    for (int i = 0; ok && i < 2; i++) {
        const raw_t *r = &list.items[i];

        ok = i == 0 || buf_putc(&b, ',');
        if (ok && r->k == R_ABSENT)
            ok = buf_printf(&b, "\"%s\"", r->var);
        else if (ok)
            ok = fval_format(type, i == 0 ? &n->n.a : &n->n.b, &b);
    }
    if (!ok || !buf_putc(&b, ']')) {
        fail(c, "out of memory");
        goto fail;
    }
    if (absent) {
        n->n.kind = FN_FALSE;
        memset(&n->n.a, 0, sizeof(n->n.a));
        memset(&n->n.b, 0, sizeof(n->n.b));
    }
    free(list.items);
    return leaf_finish(c, n, &b);

fail:
    buf_free(&b);
    free(list.items);
    cnode_free(n);
    return NULL;
}

/* Folds needle into code points, with the KMP failure table used by
 * _icontains. */
static const ffold_t *fold_needle(cctx_t *c, const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    ffold_t *fold = filter_pool_alloc(c->f, sizeof(*fold));
    uint32_t *cp = filter_pool_alloc(c->f, (len ? len : 1) * 4);
    int32_t *kmp = filter_pool_alloc(c->f, (len ? len : 1) * 4);
    uint32_t n = 0;

    if (!fold || !cp || !kmp)
        return fail(c, "filter holds more than 4 MiB of values");
    while (p < end)
        cp[n++] = ffold_cp(futf8_next(&p, end));

    /* kmp[i]: length of the longest proper prefix of cp[0..i] that is
     * also its suffix. */
    if (n)
        kmp[0] = 0;
    for (uint32_t i = 1, k = 0; i < n; i++) {
        while (k > 0 && cp[i] != cp[k])
            k = (uint32_t)kmp[k - 1];
        if (cp[i] == cp[k])
            k++;
        kmp[i] = (int32_t)k;
    }
    fold->cp = cp;
    fold->kmp = kmp;
    fold->n = n;
    return fold;
}

static cnode_t *leaf_text(cctx_t *c, int col, fop_t op, const json_t *v)
{
    static const struct {
        uint8_t text, ci, neg;
    } kinds[] = {
        [OP_CONTAINS] = {FT_CONTAINS, 0, 0},
        [OP_NCONTAINS] = {FT_CONTAINS, 0, 1},
        [OP_ICONTAINS] = {FT_CONTAINS, 1, 0},
        [OP_NICONTAINS] = {FT_CONTAINS, 1, 1},
        [OP_STARTS] = {FT_STARTS, 0, 0},
        [OP_NSTARTS] = {FT_STARTS, 0, 1},
        [OP_ISTARTS] = {FT_STARTS, 1, 0},
        [OP_NISTARTS] = {FT_STARTS, 1, 1},
        [OP_ENDS] = {FT_ENDS, 0, 0},
        [OP_NENDS] = {FT_ENDS, 0, 1},
        [OP_IENDS] = {FT_ENDS, 1, 0},
        [OP_NIENDS] = {FT_ENDS, 1, 1},
        [OP_IEQ] = {FT_EQ, 1, 0},
        [OP_NIEQ] = {FT_EQ, 1, 1},
    };
    const char *name = op_names[op];
    cnode_t *n;
    raw_t r;
    buf_t b;
    char body[32];
    bool ok;

    if (!raw_from_json(c, col, name, v, &r))
        return NULL;
    if (r.k == R_NULL || r.k == R_NOW)
        return fail(c, "operator \"%s\" on field \"%s\" needs a text value",
                    name, colname(c, col));
    if (r.k == R_ABSENT) {
        snprintf(body, sizeof(body), "\"%s\"", r.var);
        return leaf_absent(c, col, name, body);
    }

    n = leaf_new(c, FN_TEXT, col);
    if (!n)
        return NULL;
    n->n.text = kinds[op].text;
    n->n.ci = kinds[op].ci;
    n->n.neg = kinds[op].neg;
    if (!to_fval(c, col, COLTYPE_STRING, name, &r, &n->n.a))
        goto fail;
    if (n->n.ci) {
        n->n.fold = fold_needle(c, n->n.a.u.str.s, n->n.a.u.str.len);
        if (!n->n.fold)
            goto fail;
    }

    ok = leaf_open(c, &b, col, name);
    if (ok && n->n.ci) {
        /* The folded needle: "ÄRG" and "ärg" are the same filter. */
        buf_t folded;

        buf_init(&folded, 0);
        for (uint32_t i = 0; ok && i < n->n.fold->n; i++)
            ok = futf8_put(&folded, n->n.fold->cp[i]);
        ok = ok && buf_json_string(&b, (const char *)folded.data, folded.len);
        buf_free(&folded);
    } else if (ok) {
        ok = buf_json_string(&b, n->n.a.u.str.s, n->n.a.u.str.len);
    }
    if (!ok) {
        buf_free(&b);
        fail(c, "out of memory");
        goto fail;
    }
    return leaf_finish(c, n, &b);

fail:
    cnode_free(n);
    return NULL;
}

/* _contains/_ncontains on an array: has an element equal to the value. */
static cnode_t *leaf_has(cctx_t *c, int col, fop_t op, const json_t *v)
{
    coltype_t elem = c->ts->cols[col].elem;
    const char *name = op_names[op];
    cnode_t *n;
    raw_t r;
    buf_t b;
    char body[32];

    if (!raw_from_json(c, col, name, v, &r))
        return NULL;
    if (r.k == R_NULL)
        return fail(c,
                    "operator \"%s\" on field \"%s\" needs a value, not "
                    "null",
                    name, colname(c, col));
    if (r.k == R_ABSENT) {
        snprintf(body, sizeof(body), "\"%s\"", r.var);
        return leaf_absent(c, col, name, body);
    }
    n = leaf_new(c, FN_HAS, col);
    if (!n)
        return NULL;
    n->n.type = (uint8_t)elem;
    n->n.neg = op == OP_NCONTAINS;
    if (!to_fval(c, col, elem, name, &r, &n->n.a)) {
        cnode_free(n);
        return NULL;
    }
    if (!leaf_open(c, &b, col, name) || !fval_format(elem, &n->n.a, &b)) {
        buf_free(&b);
        cnode_free(n);
        return fail(c, "out of memory");
    }
    return leaf_finish(c, n, &b);
}

/* Refuses an operator a column kind does not have, saying what it has. */
static bool check_op_type(cctx_t *c, int col, fop_t op)
{
    const column_t *cd = &c->ts->cols[col];
    coltype_t t = cd->type;
    const char *hint = NULL;
    bool text = op >= OP_CONTAINS && op <= OP_NIENDS;

    text = text || op == OP_IEQ || op == OP_NIEQ;
    if (op == OP_NULL || op == OP_NNULL)
        return true;

    if (t == COLTYPE_JSON || t == COLTYPE_BYTES) {
        if (op == OP_EMPTY || op == OP_NEMPTY)
            return true;
        hint = "; it supports \"_null\", \"_nnull\", \"_empty\" and "
               "\"_nempty\" only";
    } else if (t == COLTYPE_ARRAY) {
        if (op == OP_EMPTY || op == OP_NEMPTY)
            return true;
        if (op == OP_CONTAINS || op == OP_NCONTAINS) {
            if (is_comparable(cd->elem))
                return true;
            hint = "; its elements cannot be compared";
        } else {
            hint = "; arrays support \"_null\", \"_nnull\", \"_empty\", "
                   "\"_nempty\", and \"_contains\" and \"_ncontains\" to "
                   "test for an element";
        }
    } else if (text) {
        if (t == COLTYPE_STRING)
            return true;
        hint = "; it applies to text fields only";
    } else if (op == OP_EMPTY || op == OP_NEMPTY) {
        if (t == COLTYPE_STRING)
            return true;
        hint = "; use \"_null\" or \"_nnull\"";
    } else {
        return true;
    }
    fail(c, "operator \"%s\" is not supported on field \"%s\" of type %s%s",
         op_names[op], colname(c, col), coltype_name(t), hint);
    return false;
}

/* A value Directus reads as false: false or "false". */
static bool is_false(const json_t *v)
{
    return json_is_false(v) ||
           (json_is_string(v) && strcmp(json_string_value(v), "false") == 0);
}

static cnode_t *parse_op(cctx_t *c, int col, const char *name, const json_t *v)
{
    int op = op_lookup(name);

    if (op < 0) {
        if (is_relation_op(name))
            return fail(c,
                        "operator \"%s\" on field \"%s\" is not supported: "
                        "it filters on related items; subscribe to the "
                        "related collection instead",
                        qs(c, name), colname(c, col));
        if (is_geometry_op(name))
            return fail(c,
                        "geometry operator \"%s\" on field \"%s\" is not "
                        "supported; subscribe without it and test the "
                        "geometry in the client",
                        qs(c, name), colname(c, col));
        if (strcmp(name, "_regex") == 0)
            return fail(c,
                        "operator \"_regex\" on field \"%s\" is not "
                        "supported (Directus allows it in validation rules "
                        "only); use \"_contains\", \"_starts_with\" or "
                        "\"_ends_with\"",
                        colname(c, col));
        return fail(c, "unknown filter operator \"%s\" on field \"%s\"",
                    qs(c, name), colname(c, col));
    }

    /* _eq and _neq with null are null tests, valid on every kind. */
    if ((op == OP_EQ || op == OP_NEQ) &&
        (json_is_null(v) ||
         (json_is_string(v) && (strcmp(json_string_value(v), "null") == 0 ||
                                strcmp(json_string_value(v), "NULL") == 0))))
        return leaf_nulltest(c, col, op == OP_EQ ? FN_NULL : FN_NNULL, false);
    if (!check_op_type(c, col, (fop_t)op))
        return NULL;

    switch (op) {
    case OP_EQ:
    case OP_NEQ:
    case OP_LT:
    case OP_LTE:
    case OP_GT:
    case OP_GTE:
        return leaf_cmp(c, col, (fop_t)op, v);
    case OP_IN:
    case OP_NIN:
        return leaf_in(c, col, (fop_t)op, v);
    case OP_BETWEEN:
    case OP_NBETWEEN:
        return leaf_between(c, col, (fop_t)op, v);
    case OP_NULL:
    case OP_NNULL:
        /* Directus: false turns each into the other. */
        return leaf_nulltest(
            c, col, (op == OP_NULL) != is_false(v) ? FN_NULL : FN_NNULL, false);
    case OP_EMPTY:
    case OP_NEMPTY:
        return leaf_nulltest(c, col, FN_EMPTY,
                             (op == OP_NEMPTY) != is_false(v));
    case OP_CONTAINS:
    case OP_NCONTAINS:
        if (c->ts->cols[col].type == COLTYPE_ARRAY)
            return leaf_has(c, col, (fop_t)op, v);
        return leaf_text(c, col, (fop_t)op, v);
    default:
        return leaf_text(c, col, (fop_t)op, v);
    }
}

/* ---- groups ---- */

static int canon_cmp(const void *a, const void *b)
{
    const cnode_t *x = *(cnode_t *const *)a, *y = *(cnode_t *const *)b;
    size_t n = x->canon_len < y->canon_len ? x->canon_len : y->canon_len;
    int r = memcmp(x->canon, y->canon, n);

    if (r)
        return r;
    return x->canon_len < y->canon_len ? -1 : x->canon_len > y->canon_len;
}

/* Flattens nested groups of the same kind, drops what cannot change the
 * result, sorts and removes duplicates, and writes the canonical text.
 * Takes g; returns it, the one child left, or NULL on failure. */
static cnode_t *group_finish(cctx_t *c, cnode_t *g)
{
    cnode_t **kids = g->kids;
    uint32_t n = g->nkids, i, k;
    bool everything = false; /* an _or branch matches every row */
    buf_t b;
    bool ok;

    g->kids = NULL;
    g->nkids = g->cap = 0;
    for (i = 0; i < n; i++) {
        cnode_t *kid = kids[i];

        if (kid->n.kind == FN_TRUE || everything) {
            everything = everything || g->n.kind == FN_OR;
            cnode_free(kid);
        } else if (kid->n.kind == g->n.kind) {
            /* Nested group of the same kind: adopt its children. */
            for (k = 0; k < kid->nkids; k++) {
                if (!cnode_add(c, g, kid->kids[k]))
                    goto fail;
                kid->kids[k] = NULL;
            }
            cnode_free(kid);
        } else if (!cnode_add(c, g, kid)) {
            goto fail;
        }
        kids[i] = NULL;
    }
    free(kids);
    kids = NULL;

    if (everything) {
        for (k = 0; k < g->nkids; k++)
            cnode_free(g->kids[k]);
        g->nkids = 0;
    }
    if (g->nkids > 1) {
        qsort(g->kids, g->nkids, sizeof(cnode_t *), canon_cmp);
        k = 1;
        for (i = 1; i < g->nkids; i++) {
            if (canon_cmp(&g->kids[k - 1], &g->kids[i]) == 0)
                cnode_free(g->kids[i]);
            else
                g->kids[k++] = g->kids[i];
        }
        g->nkids = k;
    }
    if (g->nkids == 1) {
        cnode_t *one = g->kids[0];

        g->nkids = 0;
        cnode_free(g);
        return one;
    }
    if (g->nkids == 0)
        g->n.kind = FN_TRUE; /* {} and empty groups match every row */

    buf_init(&b, 0);
    if (g->n.kind == FN_TRUE) {
        ok = buf_puts(&b, "{}");
    } else {
        ok = buf_puts(&b, g->n.kind == FN_AND ? "{\"_and\":[" : "{\"_or\":[");
        for (i = 0; ok && i < g->nkids; i++) {
            ok = (i == 0 || buf_putc(&b, ',')) &&
                 buf_append(&b, g->kids[i]->canon, g->kids[i]->canon_len);
        }
        ok = ok && buf_puts(&b, "]}");
    }
    if (!ok) {
        buf_free(&b);
        fail(c, "out of memory");
        goto fail;
    }
    if (!set_canon(c, g, &b))
        goto fail;
    return g;

fail:
    for (; kids && i < n; i++)
        cnode_free(kids[i]);
    free(kids);
    cnode_free(g);
    return NULL;
}

static cnode_t *parse_filter(cctx_t *c, const json_t *j, int depth);
static cnode_t *parse_ops(cctx_t *c, int col, const json_t *j, int depth);

/* "_and"/"_or": an array of filters, or of operator objects when under a
 * field (col >= 0). */
static cnode_t *parse_logical(cctx_t *c, const char *key, const json_t *arr,
                              int col, int depth)
{
    cnode_t *g;
    size_t i;
    const json_t *e;

    if (!json_is_array(arr))
        return fail(c, "\"%s\" takes an array of filters", key);
    if (!check_depth(c, depth + 1))
        return NULL;
    g = cnode_new(c, strcmp(key, "_and") == 0 ? FN_AND : FN_OR, true);
    if (!g)
        return NULL;
    json_array_foreach(arr, i, e)
    {
        cnode_t *kid = col < 0 ? parse_filter(c, e, depth + 2)
                               : parse_ops(c, col, e, depth + 2);

        if (!kid || !cnode_add(c, g, kid)) {
            cnode_free(kid);
            cnode_free(g);
            return NULL;
        }
    }
    return group_finish(c, g);
}

/* {"<op>": value, ...} for one column; several operators mean AND. */
static cnode_t *parse_ops(cctx_t *c, int col, const json_t *j, int depth)
{
    const char *key;
    const json_t *v;
    cnode_t *g;

    if (!json_is_object(j))
        return fail(c,
                    "field \"%s\" needs an operator object such as "
                    "{\"_eq\": value}",
                    colname(c, col));
    if (!check_depth(c, depth))
        return NULL;
    if (json_object_size(j) == 0)
        return fail(c,
                    "field \"%s\" has no operator; give one such as "
                    "{\"_eq\": value}",
                    colname(c, col));
    g = cnode_new(c, FN_AND, false);
    if (!g)
        return NULL;
    json_object_foreach((json_t *)j, key, v)
    {
        cnode_t *kid;

        if (strcmp(key, "_and") == 0 || strcmp(key, "_or") == 0) {
            kid = parse_logical(c, key, v, col, depth);
        } else if (key[0] != '_') {
            kid = fail(c,
                       "filtering on related field \"%s.%s\" is not "
                       "supported; filter on \"%s\" itself (the key it "
                       "holds) or subscribe to the related collection",
                       colname(c, col), qs(c, key), colname(c, col));
        } else {
            kid = parse_op(c, col, key, v);
        }
        if (!kid || !cnode_add(c, g, kid)) {
            cnode_free(kid);
            cnode_free(g);
            return NULL;
        }
    }
    return group_finish(c, g);
}

static int find_column(cctx_t *c, const char *name)
{
    for (int i = 0; i < c->ts->ncols; i++) {
        if (strcmp(c->ts->cols[i].name, name) == 0) {
            if (c->may_filter && !c->may_filter(c->arg, i))
                return -1;
            return i;
        }
    }
    return -1;
}

static cnode_t *parse_field(cctx_t *c, const char *key, const json_t *v,
                            int depth)
{
    int col;

    if (strchr(key, '(') && strchr(key, ')'))
        return fail(c,
                    "function field \"%s\" is not supported in filters; "
                    "compare the field itself, for example with "
                    "\"_between\" for a date range",
                    qs(c, key));
    col = find_column(c, key);
    if (col < 0 && key[0] == '_') {
        /* Named for the operator whether or not a column of that name
         * exists, so the message does not reveal one. */
        if (is_relation_op(key))
            return fail(c,
                        "operator \"%s\" is not supported: it filters on "
                        "related items; subscribe to the related "
                        "collection instead",
                        key);
        if (op_lookup(key) >= 0 || is_geometry_op(key))
            return fail(c,
                        "operator \"%s\" must be given under a field, as "
                        "in {\"<field>\": {\"%s\": value}}",
                        key, key);
    }
    if (col < 0)
        return fail(c,
                    "cannot filter on field \"%s\": there is no such field, "
                    "or your role may not read it",
                    qs(c, key));

    if (json_is_object(v))
        return parse_ops(c, col, v, depth + 1);
    if (json_is_array(v) || json_is_null(v))
        return fail(c,
                    "field \"%s\" needs an operator object such as "
                    "{\"_eq\": value}, not %s",
                    colname(c, col), json_is_null(v) ? "null" : "an array");
    /* A bare value means equality. */
    return parse_op(c, col, "_eq", v);
}

/* An object: its entries are fields and _and/_or, all of which hold. */
static cnode_t *parse_filter(cctx_t *c, const json_t *j, int depth)
{
    const char *key;
    const json_t *v;
    cnode_t *g;

    if (!json_is_object(j))
        return fail(c, "a filter must be a JSON object such as "
                       "{\"title\": {\"_eq\": \"hello\"}}");
    if (!check_depth(c, depth))
        return NULL;
    g = cnode_new(c, FN_AND, false);
    if (!g)
        return NULL;
    json_object_foreach((json_t *)j, key, v)
    {
        cnode_t *kid;

        if (strcmp(key, "_and") == 0 || strcmp(key, "_or") == 0)
            kid = parse_logical(c, key, v, -1, depth);
        else
            kid = parse_field(c, key, v, depth);
        if (!kid || !cnode_add(c, g, kid)) {
            cnode_free(kid);
            cnode_free(g);
            return NULL;
        }
    }
    return group_finish(c, g);
}

/* ---- packing ---- */

static uint32_t count_tree(const cnode_t *n)
{
    uint32_t total = 1;

    for (uint32_t i = 0; i < n->nkids; i++)
        total += count_tree(n->kids[i]);
    return total;
}

static uint32_t pack(filter_t *f, const cnode_t *n, uint32_t at)
{
    uint32_t next = at + 1;

    f->nodes[at] = n->n;
    if (n->n.kind == FN_AND || n->n.kind == FN_OR)
        f->nodes[at].count = n->nkids;
    for (uint32_t i = 0; i < n->nkids; i++)
        next = pack(f, n->kids[i], next);
    f->nodes[at].size = next - at;
    return next;
}

static int int_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

static bool finish_filter(cctx_t *c, cnode_t *root)
{
    filter_t *f = c->f;
    int k = 0;

    f->nnodes = count_tree(root);
    f->nodes = calloc(f->nnodes, sizeof(fnode_t));
    f->cols = calloc(f->nnodes, sizeof(int));
    if (!f->nodes || !f->cols) {
        fail(c, "out of memory");
        return false;
    }
    pack(f, root, 0);

    for (uint32_t i = 0; i < f->nnodes; i++) {
        const fnode_t *n = &f->nodes[i];

        if (n->kind == FN_AND || n->kind == FN_OR || n->kind == FN_TRUE ||
            n->kind == FN_FALSE)
            continue;
        f->cols[k++] = n->col;
        if (n->a.is_now || n->b.is_now)
            f->uses_now = true;
    }
    qsort(f->cols, (size_t)k, sizeof(int), int_cmp);
    f->ncols = 0;
    for (int i = 0; i < k; i++) {
        if (f->ncols == 0 || f->cols[f->ncols - 1] != f->cols[i])
            f->cols[f->ncols++] = f->cols[i];
    }

    f->canon = root->canon;
    f->canon_len = root->canon_len;
    /* The text now belongs to the filter. */
    ((cnode_t *)root)->canon = NULL;
    return true;
}

/* ---- public ---- */

filter_t *filter_compile(const json_t *json, const table_schema_t *ts,
                         filter_may_filter_fn may_filter, void *arg,
                         const filter_vars_t *vars, char *err, size_t errlen)
{
    cctx_t c;
    cnode_t *root = NULL;
    filter_t *f;

    memset(&c, 0, sizeof(c));
    c.ts = ts;
    c.may_filter = may_filter;
    c.arg = arg;
    c.vars = vars;
    c.err = err;
    c.errlen = errlen;
    if (errlen)
        err[0] = '\0';

    f = calloc(1, sizeof(*f));
    if (!f)
        return fail(&c, "out of memory");
    c.f = f;
    if (!json || !ts) {
        fail(&c, "no filter or no table to compile it for");
        goto fail;
    }

    root = parse_filter(&c, json, 1);
    if (!root || !finish_filter(&c, root))
        goto fail;
    cnode_free(root);
    return f;

fail:
    cnode_free(root);
    filter_free(f);
    return NULL;
}

filter_t *filter_compile_text(const char *text, size_t len,
                              const table_schema_t *ts,
                              filter_may_filter_fn may_filter, void *arg,
                              const filter_vars_t *vars, char *err,
                              size_t errlen)
{
    json_error_t jerr;
    json_t *json;
    filter_t *f;

    if (len > FILTER_MAX_TEXT) {
        if (errlen)
            snprintf(err, errlen, "filter text is longer than %d bytes",
                     FILTER_MAX_TEXT);
        return NULL;
    }
    json = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!json) {
        if (errlen)
            snprintf(err, errlen,
                     "filter is not valid JSON: %s at line %d, column %d",
                     jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    f = filter_compile(json, ts, may_filter, arg, vars, err, errlen);
    json_decref(json);
    return f;
}

bool filter_canonical(const filter_t *f, buf_t *out)
{
    return buf_append(out, f->canon, f->canon_len);
}

bool filter_uses_now(const filter_t *f)
{
    return f->uses_now;
}

bool filter_matches_all(const filter_t *f)
{
    return f->nodes[0].kind == FN_TRUE;
}

int filter_columns(const filter_t *f, const int **cols)
{
    *cols = f->cols;
    return f->ncols;
}

void filter_free(filter_t *f)
{
    struct filter_pool_block *b;

    if (!f)
        return;
    b = f->pool;
    while (b) {
        struct filter_pool_block *next = b->next;

        free(b);
        b = next;
    }
    free(f->nodes);
    free(f->cols);
    free(f->canon);
    free(f);
}
