/* Fuzz target for the filter language: the input is filter JSON text,
 * compiled against a table with one column of every kind, evaluated on
 * rows of ordinary, edge (NaN, infinities, empty, non-ASCII, invalid
 * UTF-8), NULL and unchanged values at several times.  When it compiles,
 * its canonical text must compile to the same canonical text and give
 * the same results. */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NCOLS = 18, NROWS = 5 };

static table_schema_t *table;
static value_t rows[NROWS][NCOLS];
static value_t int_items[3], text_items[2];

static void add(int i, const char *name, coltype_t type, coltype_t elem)
{
    if (!table_schema_set_column(table, i, name, "t", type, elem, 10, 2,
                                 i == 0))
        abort();
}

static value_t set_i(int64_t i)
{
    return (value_t){.state = VALUE_SET, .u.i = i};
}

static value_t set_f(double f)
{
    return (value_t){.state = VALUE_SET, .u.f = f};
}

static value_t set_s(const char *s)
{
    return (value_t){.state = VALUE_SET, .len = (uint32_t)strlen(s), .u.s = s};
}

static void setup(void)
{
    table = table_schema_new("db", "public", "t", NCOLS);
    if (!table)
        abort();
    add(0, "id", COLTYPE_INT, 0);
    add(1, "b", COLTYPE_BOOLEAN, 0);
    add(2, "n", COLTYPE_LONG, 0);
    add(3, "f", COLTYPE_FLOAT, 0);
    add(4, "d", COLTYPE_DOUBLE, 0);
    add(5, "price", COLTYPE_DECIMAL, 0);
    add(6, "amount", COLTYPE_NUMERIC, 0);
    add(7, "title", COLTYPE_STRING, 0);
    add(8, "owner", COLTYPE_UUID, 0);
    add(9, "day", COLTYPE_DATE, 0);
    add(10, "at", COLTYPE_TIME, 0);
    add(11, "ts", COLTYPE_TIMESTAMP, 0);
    add(12, "tz", COLTYPE_TIMESTAMPTZ, 0);
    add(13, "meta", COLTYPE_JSON, 0);
    add(14, "ids", COLTYPE_ARRAY, COLTYPE_INT);
    add(15, "tags", COLTYPE_ARRAY, COLTYPE_STRING);
    add(16, "raw", COLTYPE_BYTES, 0);
    add(17, "role", COLTYPE_STRING, 0);

    int_items[0] = set_i(1);
    int_items[1] = (value_t){.state = VALUE_NULL};
    int_items[2] = set_i(-7);
    text_items[0] = set_s("Ärger");
    text_items[1] = set_s("");

    /* Row 0: ordinary values. */
    value_t *r = rows[0];
    r[0] = set_i(42);
    r[1] = (value_t){.state = VALUE_SET, .u.b = true};
    r[2] = set_i(9007199254740993);
    r[3] = set_f((float)0.1);
    r[4] = set_f(2.5);
    r[5] = set_s("12.50");
    r[6] = set_s("-0.000123");
    r[7] = set_s("Hello ÄRGER Σοφός world");
    r[8] = set_s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    r[9] = set_i(19875);
    r[10] = set_i(3600000000);
    r[11] = set_i(1717000000000000);
    r[12] = set_i(1717000000000000);
    r[13] = set_s("{\"a\": 1}");
    r[14] = (value_t){.state = VALUE_SET, .len = 3, .u.items = int_items};
    r[15] = (value_t){.state = VALUE_SET, .len = 2, .u.items = text_items};
    r[16] = set_s("\x01\x02");
    r[17] = set_s("editor");

    /* Row 1: edges. */
    r = rows[1];
    r[0] = set_i(INT32_MIN);
    r[1] = (value_t){.state = VALUE_SET, .u.b = false};
    r[2] = set_i(INT64_MAX);
    r[3] = set_f(-1.0 / 0.0);
    r[4] = set_f(0.0 / 0.0);
    r[5] = (value_t){.state = VALUE_SET, .special = 1, .len = 3, .u.s = "NaN"};
    r[6] = set_s("Infinity");
    r[7] = set_s("\xff\xc3(\xe2\x82");
    r[8] = set_s("not a uuid");
    r[9] = set_i(VALUE_DATE_INFINITY);
    r[10] = set_i(86400000000);
    r[11] = set_i(VALUE_TS_MINUS_INFINITY);
    r[12] = set_i(VALUE_TS_INFINITY);
    r[13] = set_s(" [ ] ");
    r[14] = (value_t){.state = VALUE_SET, .len = 0, .u.items = NULL};
    r[15] = (value_t){.state = VALUE_SET, .len = 1, .u.items = text_items};
    r[16] = set_s("");
    r[17] = set_s("");

    /* Row 2: every column NULL; row 3: every column unchanged. */
    for (int i = 0; i < NCOLS; i++) {
        rows[2][i].state = VALUE_NULL;
        rows[3][i].state = VALUE_UNCHANGED;
    }
    /* Row 4: a mix. */
    for (int i = 0; i < NCOLS; i++)
        rows[4][i] = i % 3 == 0   ? rows[0][i]
                     : i % 3 == 1 ? rows[2][i]
                                  : rows[3][i];
}

static const int64_t times[] = {0, 1717000000000000, -62135596800000000,
                                INT64_MAX, INT64_MIN};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    filter_vars_t with = {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "editor"};
    const filter_vars_t *vars = size % 2 ? &with : NULL;
    filter_t *f, *again;
    char err[512];
    buf_t canon, canon2;

    if (!table)
        setup();
    f = filter_compile_text((const char *)data, size, table, NULL, NULL, vars,
                            err, sizeof(err));
    if (!f) {
        if (!err[0])
            abort(); /* a refusal always says why */
        return 0;
    }

    buf_init(&canon, 0);
    buf_init(&canon2, 0);
    if (!filter_canonical(f, &canon))
        abort();
    again = filter_compile_text((const char *)canon.data, canon.len, table,
                                NULL, NULL, vars, err, sizeof(err));
    if (!again) {
        fprintf(stderr, "canonical text does not compile: %.*s: %s\n",
                (int)canon.len, (const char *)canon.data, err);
        abort();
    }
    if (!filter_canonical(again, &canon2) || canon.len != canon2.len ||
        memcmp(canon.data, canon2.data, canon.len) != 0) {
        fprintf(stderr, "canonical text changed: %.*s -> %.*s\n",
                (int)canon.len, (const char *)canon.data, (int)canon2.len,
                (const char *)canon2.data);
        abort();
    }
    if (filter_uses_now(f) != filter_uses_now(again))
        abort();

    for (int r = 0; r < NROWS; r++) {
        for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
            filter_result_t a = filter_eval(f, rows[r], times[t]);
            filter_result_t b = filter_eval(again, rows[r], times[t]);

            if (a != b || (unsigned)a > FILTER_UNKNOWN) {
                fprintf(stderr, "results differ on row %d: %d, %d for %.*s\n",
                        r, a, b, (int)canon.len, (const char *)canon.data);
                abort();
            }
            /* A filter on NULLs and known values never answers unknown. */
            if ((r == 0 || r == 1 || r == 2) && a == FILTER_UNKNOWN)
                abort();
        }
    }
    if (filter_eval(f, NULL, 0) == FILTER_FALSE)
        abort();

    /* The pusher finds a group by the value its filter requires: a row the
     * filter accepts must hash as that value, and the canonical text must
     * require the same one. */
    filter_eq_t eq, eq2;

    if (filter_required_eq(f, &eq)) {
        if (!filter_required_eq(again, &eq2) || eq.col != eq2.col ||
            eq.kind != eq2.kind || eq.hash != eq2.hash)
            abort();
        for (int r = 0; r < NROWS; r++) {
            uint64_t hash;

            if (filter_eval(f, rows[r], times[0]) == FILTER_TRUE &&
                (!filter_value_hash(eq.kind, &rows[r][eq.col], &hash) ||
                 hash != eq.hash)) {
                fprintf(stderr, "row %d matches %.*s but not its index\n", r,
                        (int)canon.len, (const char *)canon.data);
                abort();
            }
        }
    } else if (filter_required_eq(again, &eq2)) {
        abort();
    }

    const int *cols;
    int ncols = filter_columns(f, &cols);

    for (int i = 0; i < ncols; i++) {
        if (cols[i] < 0 || cols[i] >= NCOLS || (i && cols[i] <= cols[i - 1]))
            abort();
    }

    buf_free(&canon);
    buf_free(&canon2);
    filter_free(again);
    filter_free(f);
    return 0;
}
