/* The compiled form of a filter, shared by the compiler (filter_parse.c),
 * the typed value helpers (filter_value.c), the case folding tables
 * (filter_fold.c) and the evaluator (filter_eval.c).  Not for other
 * modules: they use filter.h. */
#ifndef CDC_FILTER_INTERNAL_H
#define CDC_FILTER_INTERNAL_H

#include "filter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* A decimal number: 0.d1d2d3... x 10^exp.  digits points at the first
 * significant digit and spans ndigits bytes up to the last one; a row's
 * span may hold the decimal point, which readers skip. */
typedef enum fdec_kind {
    FDEC_FINITE,
    FDEC_NINF,
    FDEC_PINF,
    FDEC_NAN,
} fdec_kind_t;

typedef struct fdec {
    const char *digits;
    uint32_t ndigits;
    int32_t exp;
    int8_t sign; /* -1, 0 (zero), 1; finite only */
    uint8_t kind;
} fdec_t;

/* "$NOW" plus an adjustment: months (whole) or microseconds. */
typedef struct fnow {
    int64_t us;
    int32_t months;
} fnow_t;

/* One filter value, typed by the column it is compared with. */
typedef struct fval {
    union {
        int64_t i; /* BOOLEAN (0/1), INT, LONG, DATE, TIME, TIMESTAMP(TZ) */
        double f;  /* FLOAT, DOUBLE */
        fdec_t d;  /* DECIMAL, NUMERIC */
        struct {
            const char *s;
            uint32_t len;
        } str; /* STRING */
        struct {
            uint64_t hi, lo;
        } uuid;
        fnow_t now; /* when the node's FV_NOW flag says so */
    } u;
    uint8_t is_null; /* only inside _in/_nin lists */
    uint8_t is_now;
} fval_t;

typedef enum fnode_kind {
    FN_TRUE,  /* matches every row */
    FN_FALSE, /* a comparison with a variable the client lacks */
    FN_AND,
    FN_OR,
    FN_CMP_I64, /* integer-like column, constant value: the hot case */
    FN_CMP,     /* _eq _neq _lt _lte _gt _gte on any comparable kind */
    FN_BETWEEN,
    FN_IN,
    FN_NULL, /* IS NULL */
    FN_NNULL,
    FN_EMPTY,
    FN_TEXT, /* _contains, _starts_with, _ends_with, _ieq and kin */
    FN_HAS,  /* array has an element equal to the value */
} fnode_kind_t;

/* FN_CMP masks: which orderings of (column, value) satisfy the operator. */
#define CMP_LT 1
#define CMP_EQ 2
#define CMP_GT 4

/* FN_TEXT operations. */
typedef enum ftext_op {
    FT_CONTAINS,
    FT_STARTS,
    FT_ENDS,
    FT_EQ, /* case-insensitive only (_ieq) */
} ftext_op_t;

/* A case-folded needle for the _i... operators. */
typedef struct ffold {
    const uint32_t *cp; /* folded code points */
    const int32_t *kmp; /* failure table for FT_CONTAINS */
    uint32_t n;
} ffold_t;

typedef struct fnode {
    uint8_t kind;     /* fnode_kind_t */
    uint8_t type;     /* coltype_t of the column (element kind for FN_HAS) */
    uint8_t mask;     /* FN_CMP, FN_CMP_I64: CMP_* bits that match */
    uint8_t neg;      /* negated operator (_nin, _nbetween, _ncontains, ...) */
    uint8_t text;     /* FN_TEXT: ftext_op_t */
    uint8_t ci;       /* FN_TEXT: case-insensitive */
    uint8_t has_null; /* FN_IN: the list holds null */
    int32_t col;
    uint32_t size;       /* nodes in this subtree, itself included */
    uint32_t count;      /* FN_AND/FN_OR: children; FN_IN: values */
    fval_t a, b;         /* value; _between's bounds */
    const fval_t *list;  /* FN_IN: sorted, nulls left out */
    const ffold_t *fold; /* FN_TEXT when ci */
} fnode_t;

struct filter_pool_block;

struct filter {
    fnode_t *nodes; /* pre-order; nodes[0] is the root */
    size_t pool_used;
    uint32_t nnodes;
    bool uses_now;
    int *cols;
    int ncols;
    char *canon;
    size_t canon_len;
    struct filter_pool_block *pool;
};

/* Memory that lives as long as the filter; NULL when out of memory. */
void *filter_pool_alloc(filter_t *f, size_t size);

/* ---- filter_value.c: typed values ---- */

/* Parses decimal text (whitespace, sign, digits, point, exponent, NaN,
 * [+-]Infinity, inf) into d, pointing into s.  false when malformed. */
bool fdec_parse(const char *s, size_t n, fdec_t *d);
/* Orders two decimals as PostgreSQL's numeric: -1, 0 or 1. */
int fdec_cmp(const fdec_t *a, const fdec_t *b);
/* Converts a whole decimal in range to int64; false otherwise. */
bool fdec_to_i64(const fdec_t *d, int64_t *out);
/* True when d is finite and has no fraction. */
bool fdec_is_whole(const fdec_t *d);
/* Appends the canonical text of d (a JSON string). */
bool fdec_format(const fdec_t *d, buf_t *out);

/* Writes the shortest text that reads back as d (as float when
 * as_float), NUL-terminated, into out (at least 32 bytes). */
void fdouble_format(double d, bool as_float, char *out, size_t outlen);
/* PostgreSQL's float order: NaN equals NaN and sorts last. */
static inline int fdouble_cmp(double a, double b)
{
    if (a != a)
        return b != b ? 0 : 1;
    if (b != b)
        return -1;
    return a < b ? -1 : a > b ? 1 : 0;
}

/* uuid text in PostgreSQL's accepted forms to two 64-bit halves. */
bool fuuid_parse(const char *s, size_t n, uint64_t *hi, uint64_t *lo);
void fuuid_format(uint64_t hi, uint64_t lo, char out[37]);

/* PostgreSQL's boolean spellings; false when s is none of them. */
bool fbool_parse(const char *s, size_t n, bool *out);

/* Date and time text for a column kind (DATE: days, TIME: microseconds
 * of the day, TIMESTAMP(TZ): microseconds since 1970).  On failure err
 * gets the reason (a phrase for a message). */
bool ftime_parse(coltype_t type, const char *s, size_t n, int64_t *out,
                 const char **why);
bool ftime_format(coltype_t type, int64_t v, buf_t *out);

/* "$NOW" or "$NOW(<adjustment>)"; false with *why set when malformed. */
bool fnow_parse(const char *s, size_t n, fnow_t *out, const char **why);
bool fnow_format(const fnow_t *now, buf_t *out);
/* The instant now_us adjusted by now, seen as a value of type. */
int64_t fnow_resolve(const fnow_t *now, coltype_t type, int64_t now_us);

/* ---- filter_fold.c: UTF-8 and simple case folding ---- */

/* Decodes the code point at *p (before end) and advances; a byte that
 * does not start a valid sequence decodes alone as 0xDC00 + byte. */
uint32_t futf8_next_slow(const uint8_t **p, const uint8_t *end);
/* Unicode simple case folding (CaseFolding.txt statuses C and S). */
uint32_t ffold_cp_slow(uint32_t cp);

/* Decodes the code point at *p (before end) and advances; a byte that
 * does not start a valid sequence decodes alone as 0xDC00 + byte. */
static inline uint32_t futf8_next(const uint8_t **p, const uint8_t *end)
{
    if (**p < 0x80)
        return *(*p)++;
    return futf8_next_slow(p, end);
}

static inline uint32_t ffold_cp(uint32_t cp)
{
    if (cp < 0x80)
        return cp - 'A' < 26u ? cp + 32 : cp;
    return ffold_cp_slow(cp);
}

/* Appends cp as UTF-8. */
bool futf8_put(buf_t *out, uint32_t cp);

/* ---- comparing values of one kind ---- */

static inline int fval_cmp(coltype_t type, const fval_t *a, const fval_t *b)
{
    switch (type) {
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        return fdouble_cmp(a->u.f, b->u.f);
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
        return fdec_cmp(&a->u.d, &b->u.d);
    case COLTYPE_STRING: {
        uint32_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
        int r = n ? memcmp(a->u.str.s, b->u.str.s, n) : 0;

        if (r)
            return r < 0 ? -1 : 1;
        return a->u.str.len < b->u.str.len   ? -1
               : a->u.str.len > b->u.str.len ? 1
                                             : 0;
    }
    case COLTYPE_UUID:
        if (a->u.uuid.hi != b->u.uuid.hi)
            return a->u.uuid.hi < b->u.uuid.hi ? -1 : 1;
        return a->u.uuid.lo < b->u.uuid.lo   ? -1
               : a->u.uuid.lo > b->u.uuid.lo ? 1
                                             : 0;
    default: /* BOOLEAN and the integer kinds */
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i ? 1 : 0;
    }
}

#endif
