/* Evaluates a compiled filter on one typed row: the per-event hot path.
 * Walks the pre-order node array with Kleene logic for _and/_or, reads
 * each column in place, and allocates nothing. */
#define _GNU_SOURCE /* memmem */
#include "filter_internal.h"

#include <string.h>

static const filter_result_t RESULT[2] = {FILTER_FALSE, FILTER_TRUE};

/* The row's value as a filter value of type; false when the text is not
 * a value of that kind (which PostgreSQL never sends). */
static inline bool row_fval(coltype_t type, const value_t *v, fval_t *out)
{
    switch (type) {
    case COLTYPE_BOOLEAN:
        out->u.i = v->u.b;
        return true;
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        out->u.f = v->u.f;
        return true;
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
        return fdec_parse(v->u.s, v->len, &out->u.d);
    case COLTYPE_STRING:
        out->u.str.s = v->u.s;
        out->u.str.len = v->len;
        return true;
    case COLTYPE_UUID:
        return fuuid_parse(v->u.s, v->len, &out->u.uuid.hi, &out->u.uuid.lo);
    default:
        out->u.i = v->u.i;
        return true;
    }
}

/* The node's value, with "$NOW" resolved at now_us. */
static inline const fval_t *node_val(const fval_t *v, coltype_t type,
                                     int64_t now_us, fval_t *tmp)
{
    if (!v->is_now)
        return v;
    tmp->u.i = fnow_resolve(&v->u.now, type, now_us);
    return tmp;
}

static bool in_list(const fnode_t *n, const fval_t *x)
{
    uint32_t lo = 0, hi = n->count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = fval_cmp((coltype_t)n->type, &n->list[mid], x);

        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* ---- text ---- */

static bool ci_contains(const ffold_t *fold, const uint8_t *p,
                        const uint8_t *end)
{
    const uint32_t *pat = fold->cp;
    uint32_t j = 0;

    if (fold->n == 0)
        return true;
    while (p < end) {
        uint32_t cp = ffold_cp(futf8_next(&p, end));

        while (j > 0 && pat[j] != cp)
            j = (uint32_t)fold->kmp[j - 1];
        if (pat[j] == cp && ++j == fold->n)
            return true;
    }
    return false;
}

/* Compares the folded text at p with the whole needle; *p ends after the
 * matched part. */
static bool ci_prefix(const ffold_t *fold, const uint8_t **p,
                      const uint8_t *end)
{
    for (uint32_t i = 0; i < fold->n; i++) {
        if (*p == end || ffold_cp(futf8_next(p, end)) != fold->cp[i])
            return false;
    }
    return true;
}

static bool ci_ends(const ffold_t *fold, const uint8_t *p, const uint8_t *end)
{
    const uint8_t *q = p;
    size_t count = 0;

    /* Code points, not bytes: folding may change a character's length. */
    while (q < end) {
        futf8_next(&q, end);
        count++;
    }
    if (count < fold->n)
        return false;
    for (size_t skip = count - fold->n; skip > 0; skip--)
        futf8_next(&p, end);
    return ci_prefix(fold, &p, end);
}

/* memmem is linear but slow to start; short needles are cheaper to find
 * by their first byte, and stay linear times their length. */
static bool contains(const char *s, size_t len, const char *needle, size_t nlen)
{
    const char *p = s, *last = s + len - nlen;

    if (nlen > 16)
        return memmem(s, len, needle, nlen) != NULL;
    while (p <= last) {
        p = memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p)
            return false;
        if (memcmp(p + 1, needle + 1, nlen - 1) == 0)
            return true;
        p++;
    }
    return false;
}

static bool text_match(const fnode_t *n, const value_t *v)
{
    const char *s = v->u.s, *needle = n->a.u.str.s;
    size_t len = v->len, nlen = n->a.u.str.len;
    const uint8_t *p = (const uint8_t *)s, *end = p + len;

    if (n->ci) {
        switch (n->text) {
        case FT_CONTAINS:
            return ci_contains(n->fold, p, end);
        case FT_STARTS:
            return ci_prefix(n->fold, &p, end);
        case FT_ENDS:
            return ci_ends(n->fold, p, end);
        default:
            return ci_prefix(n->fold, &p, end) && p == end;
        }
    }
    switch (n->text) {
    case FT_CONTAINS:
        return nlen == 0 || (len >= nlen && contains(s, len, needle, nlen));
    case FT_STARTS:
        return len >= nlen && memcmp(s, needle, nlen) == 0;
    case FT_ENDS:
        return len >= nlen && memcmp(s + len - nlen, needle, nlen) == 0;
    default:
        return len == nlen && memcmp(s, needle, nlen) == 0;
    }
}

/* _empty on json text: "", [], {} or null, with any spacing. */
static bool json_empty(const char *s, size_t n)
{
    size_t i = 0, j = n;

    while (i < j &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t' || s[j - 1] == '\n' ||
                     s[j - 1] == '\r'))
        j--;
    if (j - i == 4 && memcmp(s + i, "null", 4) == 0)
        return true;
    if (j - i < 2)
        return false;
    if (!((s[i] == '[' && s[j - 1] == ']') ||
          (s[i] == '{' && s[j - 1] == '}') ||
          (s[i] == '"' && s[j - 1] == '"' && j - i == 2)))
        return false;
    for (size_t k = i + 1; k < j - 1; k++) {
        if (s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
            return false;
    }
    return true;
}

static bool is_empty(coltype_t type, const value_t *v)
{
    if (type == COLTYPE_JSON)
        return json_empty(v->u.s, v->len);
    return v->len == 0; /* string, bytes, array */
}

/* ---- nodes ---- */

static filter_result_t eval_node(const fnode_t *n, const value_t *row,
                                 int64_t now_us);

static filter_result_t eval_group(const fnode_t *n, const value_t *row,
                                  int64_t now_us)
{
    const fnode_t *kid = n + 1;
    filter_result_t stop = n->kind == FN_AND ? FILTER_FALSE : FILTER_TRUE;
    filter_result_t result = n->kind == FN_AND ? FILTER_TRUE : FILTER_FALSE;

    for (uint32_t i = 0; i < n->count; i++) {
        filter_result_t r = eval_node(kid, row, now_us);

        if (r == stop)
            return stop;
        if (r == FILTER_UNKNOWN)
            result = FILTER_UNKNOWN;
        kid += kid->size;
    }
    return result;
}

static filter_result_t eval_leaf(const fnode_t *n, const value_t *v,
                                 int64_t now_us)
{
    coltype_t type = (coltype_t)n->type;
    fval_t x, tmp, tmp2;
    const fval_t *a, *b;
    int c;

    switch (n->kind) {
    case FN_CMP:
        if (!row_fval(type, v, &x))
            return FILTER_FALSE;
        a = node_val(&n->a, type, now_us, &tmp);
        c = fval_cmp(type, &x, a);
        return RESULT[(n->mask >> (c + 1)) & 1];

    case FN_BETWEEN: {
        bool inside;

        if (!row_fval(type, v, &x))
            return FILTER_FALSE;
        a = node_val(&n->a, type, now_us, &tmp);
        b = node_val(&n->b, type, now_us, &tmp2);
        inside = fval_cmp(type, &x, a) >= 0 && fval_cmp(type, &x, b) <= 0;
        return RESULT[inside != n->neg];
    }

    case FN_IN:
        if (!row_fval(type, v, &x))
            return FILTER_FALSE;
        if (in_list(n, &x))
            return RESULT[!n->neg];
        /* NOT IN with a null in the list is never true in SQL. */
        return RESULT[n->neg && !n->has_null];

    case FN_TEXT:
        return RESULT[text_match(n, v) != n->neg];

    case FN_HAS: {
        bool has_null = false;

        for (uint32_t i = 0; i < v->len; i++) {
            const value_t *e = &v->u.items[i];

            if (e->state != VALUE_SET) {
                has_null = true;
                continue;
            }
            if (row_fval(type, e, &x) && fval_cmp(type, &x, &n->a) == 0)
                return RESULT[!n->neg];
        }
        /* v <> ALL(array) is unknown, so false, when an element is
         * NULL. */
        return RESULT[n->neg && !has_null];
    }

    default:
        return FILTER_FALSE;
    }
}

static filter_result_t eval_node(const fnode_t *n, const value_t *row,
                                 int64_t now_us)
{
    const value_t *v;

    switch (n->kind) {
    case FN_TRUE:
        return FILTER_TRUE;
    case FN_FALSE:
        return FILTER_FALSE;
    case FN_AND:
    case FN_OR:
        return eval_group(n, row, now_us);
    default:
        break;
    }

    v = &row[n->col];
    switch (n->kind) {
    case FN_NULL:
    case FN_NNULL:
        /* An unchanged TOASTed value exists, so it is not null. */
        return RESULT[(v->state == VALUE_NULL) == (n->kind == FN_NULL)];
    case FN_EMPTY:
        /* Nor is it empty: only large values are stored out of line. */
        if (v->state == VALUE_SET)
            return RESULT[is_empty((coltype_t)n->type, v) != n->neg];
        return RESULT[(v->state == VALUE_NULL) != n->neg];
    case FN_CMP_I64:
        if (v->state != VALUE_SET)
            break;
        return RESULT[(n->mask >>
                       ((v->u.i > n->a.u.i) - (v->u.i < n->a.u.i) + 1)) &
                      1];
    default:
        if (v->state != VALUE_SET)
            break;
        return eval_leaf(n, v, now_us);
    }
    /* Comparisons with NULL are false, negated ones too (SQL's NOT NULL is
     * NULL); an unsent value leaves them open. */
    return v->state == VALUE_NULL ? FILTER_FALSE : FILTER_UNKNOWN;
}

filter_result_t filter_eval(const filter_t *f, const value_t *row,
                            int64_t now_us)
{
    if (!row)
        return f->nodes[0].kind == FN_TRUE ? FILTER_TRUE : FILTER_UNKNOWN;
    return eval_node(f->nodes, row, now_us);
}

/* ---- required values ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * UINT64_C(0x100000001b3);
    return mix64(h);
}

static uint64_t hash_uuid(uint64_t hi, uint64_t lo)
{
    return mix64(hi ^ mix64(lo));
}

/* Equality leaves compare exactly as their hash does: FN_CMP_I64 reads the
 * value's integer, text compares bytes, a uuid its parsed bits. */
static bool eq_leaf(const fnode_t *n, filter_eq_t *eq)
{
    if (n->kind == FN_CMP_I64 && n->mask == CMP_EQ) {
        eq->kind = FILTER_EQ_INT;
        eq->hash = mix64((uint64_t)n->a.u.i);
    } else if (n->kind == FN_CMP && n->mask == CMP_EQ && !n->a.is_now &&
               n->type == COLTYPE_STRING) {
        eq->kind = FILTER_EQ_TEXT;
        eq->hash = hash_bytes(n->a.u.str.s, n->a.u.str.len);
    } else if (n->kind == FN_CMP && n->mask == CMP_EQ && !n->a.is_now &&
               n->type == COLTYPE_UUID) {
        eq->kind = FILTER_EQ_UUID;
        eq->hash = hash_uuid(n->a.u.uuid.hi, n->a.u.uuid.lo);
    } else {
        return false;
    }
    eq->col = n->col;
    return true;
}

bool filter_required_eq(const filter_t *f, filter_eq_t *eq)
{
    const fnode_t *root, *kid;
    bool found = false;

    if (!f || f->nnodes == 0)
        return false;
    root = f->nodes;
    if (root->kind != FN_AND)
        return eq_leaf(root, eq);
    /* The lowest column, so that the conditions' order does not matter. */
    kid = root + 1;
    for (uint32_t i = 0; i < root->count; i++) {
        filter_eq_t this;

        if (eq_leaf(kid, &this) && (!found || this.col < eq->col)) {
            *eq = this;
            found = true;
        }
        kid += kid->size;
    }
    return found;
}

bool filter_value_hash(filter_eq_kind_t kind, const value_t *v, uint64_t *hash)
{
    uint64_t hi, lo;

    if (v->state != VALUE_SET)
        return false;
    switch (kind) {
    case FILTER_EQ_INT:
        *hash = mix64((uint64_t)v->u.i);
        return true;
    case FILTER_EQ_TEXT:
        *hash = hash_bytes(v->u.s, v->len);
        return true;
    case FILTER_EQ_UUID:
        if (!fuuid_parse(v->u.s, v->len, &hi, &lo))
            return false;
        *hash = hash_uuid(hi, lo);
        return true;
    }
    return false;
}
