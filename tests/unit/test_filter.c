/* Tests of the filter language (pusher/filter.h): evaluation of every
 * operator on every column kind, with NULL, unchanged (TOAST) values, NaN,
 * infinities, non-ASCII case folding and $NOW at a given time; _and/_or
 * with Kleene logic; every compile error message; canonical text; limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

/* 2024-05-31T12:00:00Z, and that day's number since 1970-01-01. */
#define NOW   INT64_C(1717156800000000)
#define DAY   19874
#define HOUR  (INT64_C(3600) * 1000000)
#define USDAY (24 * HOUR)

#define USER "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

enum { NCOLS = 20 };

static const struct {
    const char *name;
    coltype_t type;
    coltype_t elem;
} columns[NCOLS] = {
    {"id", COLTYPE_INT, 0},
    {"b", COLTYPE_BOOLEAN, 0},
    {"n", COLTYPE_LONG, 0},
    {"f", COLTYPE_FLOAT, 0},
    {"d", COLTYPE_DOUBLE, 0},
    {"price", COLTYPE_DECIMAL, 0},
    {"amount", COLTYPE_NUMERIC, 0},
    {"title", COLTYPE_STRING, 0},
    {"owner", COLTYPE_UUID, 0},
    {"day", COLTYPE_DATE, 0},
    {"at", COLTYPE_TIME, 0},
    {"ts", COLTYPE_TIMESTAMP, 0},
    {"tz", COLTYPE_TIMESTAMPTZ, 0},
    {"meta", COLTYPE_JSON, 0},
    {"ids", COLTYPE_ARRAY, COLTYPE_INT},
    {"tags", COLTYPE_ARRAY, COLTYPE_STRING},
    {"raw", COLTYPE_BYTES, 0},
    {"role", COLTYPE_STRING, 0},
    {"secret", COLTYPE_STRING, 0},
    {"docs", COLTYPE_ARRAY, COLTYPE_JSON},
};

static table_schema_t *table;

/* The subscriber may not read (nor filter on) "secret". */
static bool may_filter(void *arg, int col)
{
    (void)arg;
    return strcmp(columns[col].name, "secret") != 0;
}

static const filter_vars_t vars_user = {USER, "editor"};

static int col_index(const char *name)
{
    for (int i = 0; i < NCOLS; i++) {
        if (strcmp(columns[i].name, name) == 0)
            return i;
    }
    fail_msg("no test column \"%s\"", name);
    return -1;
}

static filter_t *compile(const char *text, const filter_vars_t *vars, char *err,
                         size_t errlen)
{
    return filter_compile_text(text, strlen(text), table, may_filter, NULL,
                               vars, err, errlen);
}

static char *canonical(const filter_t *f)
{
    buf_t b;
    char *s;

    buf_init(&b, 0);
    assert_true(filter_canonical(f, &b));
    s = buf_cstr(&b);
    assert_non_null(s);
    return s; /* owned by the caller, freed with free() */
}

/* ---- values ---- */

/* clang-format off */
#define V_I(x)  {.state = VALUE_SET, .u.i = (x)}
#define V_F(x)  {.state = VALUE_SET, .u.f = (x)}
#define V_B(x)  {.state = VALUE_SET, .u.b = (x)}
#define V_S(x)  {.state = VALUE_SET, .len = sizeof(x) - 1, .u.s = (x)}
#define V_NULL  {.state = VALUE_NULL}
#define V_UNCH  {.state = VALUE_UNCHANGED}
#define V_DNAN  {.state = VALUE_SET, .special = 1, .len = 3, .u.s = "NaN"}
#define V_ARR(a) {.state = VALUE_SET, .len = sizeof(a) / sizeof(a[0]), \
                  .u.items = (a)}
#define V_EMPTY_ARR {.state = VALUE_SET, .len = 0, .u.items = NULL}
/* clang-format on */

static value_t ids_with_null[] = {V_I(1), V_NULL, V_I(-7)};
static value_t ids_plain[] = {V_I(1), V_I(-7)};
static value_t tags_list[] = {V_S("Ärger"), V_S("")};

#define T FILTER_TRUE
#define F FILTER_FALSE
#define U FILTER_UNKNOWN

/* Column values other than col (and col2) are NULL. */
typedef struct eval_case {
    const char *filter;
    const char *col;
    value_t v;
    filter_result_t want;
    int64_t now; /* 0: NOW */
    const char *col2;
    value_t v2;
    bool public_client; /* no $CURRENT_USER, no $CURRENT_ROLE */
} eval_case_t;

/* clang-format off */
#define E(f, c, val, w) {.filter = f, .col = c, .v = val, .want = w}
#define EN(f, c, val, w, t) \
    {.filter = f, .col = c, .v = val, .want = w, .now = t}
#define E2(f, c, val, w, c2, val2) \
    {.filter = f, .col = c, .v = val, .want = w, .col2 = c2, .v2 = val2}
#define EP(f, c, val, w) \
    {.filter = f, .col = c, .v = val, .want = w, .public_client = true}
/* clang-format on */

static const eval_case_t eval_cases[] = {
    /* boolean */
    E("{\"b\": {\"_eq\": true}}", "b", V_B(true), T),
    E("{\"b\": {\"_eq\": true}}", "b", V_B(false), F),
    E("{\"b\": {\"_eq\": true}}", "b", V_NULL, F),
    E("{\"b\": {\"_eq\": true}}", "b", V_UNCH, U),
    E("{\"b\": {\"_eq\": \"false\"}}", "b", V_B(false), T),
    E("{\"b\": {\"_eq\": \"yes\"}}", "b", V_B(true), T),
    E("{\"b\": {\"_eq\": \"of\"}}", "b", V_B(false), T),
    E("{\"b\": {\"_eq\": 1}}", "b", V_B(true), T),
    E("{\"b\": {\"_neq\": true}}", "b", V_B(false), T),
    E("{\"b\": {\"_neq\": true}}", "b", V_NULL, F),
    E("{\"b\": {\"_in\": [true]}}", "b", V_B(false), F),
    E("{\"b\": {\"_gt\": false}}", "b", V_B(true), T),
    E("{\"b\": true}", "b", V_B(true), T),

    /* int */
    E("{\"id\": {\"_eq\": 42}}", "id", V_I(42), T),
    E("{\"id\": {\"_eq\": 42}}", "id", V_I(41), F),
    E("{\"id\": {\"_eq\": 42}}", "id", V_NULL, F),
    E("{\"id\": {\"_eq\": 42}}", "id", V_UNCH, U),
    E("{\"id\": {\"_eq\": \"42\"}}", "id", V_I(42), T),
    E("{\"id\": {\"_eq\": \" 42 \"}}", "id", V_I(42), T),
    E("{\"id\": {\"_eq\": 42.0}}", "id", V_I(42), T),
    E("{\"id\": {\"_eq\": \"4.2e1\"}}", "id", V_I(42), T),
    E("{\"id\": {\"_neq\": 42}}", "id", V_I(41), T),
    E("{\"id\": {\"_neq\": 42}}", "id", V_I(42), F),
    E("{\"id\": {\"_neq\": 42}}", "id", V_NULL, F),
    E("{\"id\": {\"_neq\": 42}}", "id", V_UNCH, U),
    E("{\"id\": {\"_lt\": 0}}", "id", V_I(-1), T),
    E("{\"id\": {\"_lt\": 0}}", "id", V_I(0), F),
    E("{\"id\": {\"_lte\": 0}}", "id", V_I(0), T),
    E("{\"id\": {\"_lte\": 0}}", "id", V_I(1), F),
    E("{\"id\": {\"_gt\": 0}}", "id", V_I(1), T),
    E("{\"id\": {\"_gt\": 0}}", "id", V_I(0), F),
    E("{\"id\": {\"_gte\": 0}}", "id", V_I(0), T),
    E("{\"id\": {\"_gte\": 0}}", "id", V_I(-1), F),
    E("{\"id\": {\"_gte\": -2147483648}}", "id", V_I(INT32_MIN), T),
    E("{\"id\": {\"_in\": [1, 2, 42]}}", "id", V_I(42), T),
    E("{\"id\": {\"_in\": [1, 2, 42]}}", "id", V_I(3), F),
    E("{\"id\": {\"_in\": [1, 2, 42]}}", "id", V_NULL, F),
    E("{\"id\": {\"_in\": \"1,2,42\"}}", "id", V_I(42), T),
    E("{\"id\": {\"_in\": 42}}", "id", V_I(42), T),
    E("{\"id\": {\"_in\": []}}", "id", V_I(1), F),
    E("{\"id\": {\"_in\": []}}", "id", V_NULL, F),
    E("{\"id\": {\"_nin\": [1, 2]}}", "id", V_I(3), T),
    E("{\"id\": {\"_nin\": [1, 2]}}", "id", V_I(1), F),
    E("{\"id\": {\"_nin\": [1, 2]}}", "id", V_NULL, F),
    E("{\"id\": {\"_nin\": [1, 2]}}", "id", V_UNCH, U),
    E("{\"id\": {\"_nin\": [1, null]}}", "id", V_I(3), F),
    E("{\"id\": {\"_in\": [1, null]}}", "id", V_I(1), T),
    E("{\"id\": {\"_nin\": []}}", "id", V_I(5), T),
    E("{\"id\": {\"_nin\": []}}", "id", V_NULL, T),
    E("{\"id\": {\"_between\": [1, 10]}}", "id", V_I(1), T),
    E("{\"id\": {\"_between\": [1, 10]}}", "id", V_I(10), T),
    E("{\"id\": {\"_between\": [1, 10]}}", "id", V_I(11), F),
    E("{\"id\": {\"_between\": [1, 10]}}", "id", V_I(0), F),
    E("{\"id\": {\"_between\": [1, 10]}}", "id", V_NULL, F),
    E("{\"id\": {\"_between\": \"1,10\"}}", "id", V_I(5), T),
    E("{\"id\": {\"_between\": [10, 1]}}", "id", V_I(5), F),
    E("{\"id\": {\"_nbetween\": [1, 10]}}", "id", V_I(11), T),
    E("{\"id\": {\"_nbetween\": [1, 10]}}", "id", V_I(5), F),
    E("{\"id\": {\"_nbetween\": [1, 10]}}", "id", V_NULL, F),
    E("{\"id\": {\"_nbetween\": [1, 10]}}", "id", V_UNCH, U),
    E("{\"id\": {\"_null\": true}}", "id", V_NULL, T),
    E("{\"id\": {\"_null\": true}}", "id", V_I(0), F),

    /* long: exact beyond a double's 53 bits */
    E("{\"n\": {\"_eq\": 9007199254740993}}", "n", V_I(9007199254740993), T),
    E("{\"n\": {\"_eq\": 9007199254740993}}", "n", V_I(9007199254740992), F),
    E("{\"n\": {\"_eq\": \"9223372036854775807\"}}", "n", V_I(INT64_MAX), T),
    E("{\"n\": {\"_lt\": \"-9223372036854775808\"}}", "n", V_I(INT64_MIN), F),
    E("{\"n\": {\"_lte\": \"-9223372036854775808\"}}", "n", V_I(INT64_MIN), T),
    E("{\"n\": {\"_in\": [\"9007199254740993\", 5]}}", "n",
      V_I(9007199254740993), T),

    /* float: the value is rounded to float precision, as float4 does */
    E("{\"f\": {\"_eq\": 0.1}}", "f", V_F((float)0.1), T),
    E("{\"f\": {\"_eq\": \"0.1\"}}", "f", V_F((float)0.1), T),
    E("{\"f\": {\"_gt\": 0.1}}", "f", V_F((float)0.1), F),
    E("{\"f\": {\"_eq\": \"NaN\"}}", "f", V_F(NAN), T),
    E("{\"f\": {\"_gt\": 1e30}}", "f", V_F(NAN), T),
    E("{\"f\": {\"_lt\": \"Infinity\"}}", "f", V_F(NAN), F),
    E("{\"f\": {\"_eq\": \"-Infinity\"}}", "f", V_F(-INFINITY), T),
    E("{\"f\": {\"_eq\": \"inf\"}}", "f", V_F(INFINITY), T),
    E("{\"f\": {\"_lt\": -1e30}}", "f", V_F(-INFINITY), T),

    /* double */
    E("{\"d\": {\"_eq\": 0.1}}", "d", V_F(0.1), T),
    E("{\"d\": {\"_eq\": 0.1}}", "d", V_F((float)0.1), F),
    E("{\"d\": {\"_gt\": \"Infinity\"}}", "d", V_F(NAN), T),
    E("{\"d\": {\"_eq\": \"NaN\"}}", "d", V_F(NAN), T),
    E("{\"d\": {\"_neq\": \"NaN\"}}", "d", V_F(NAN), F),
    E("{\"d\": {\"_lt\": \"NaN\"}}", "d", V_F(INFINITY), T),
    E("{\"d\": {\"_in\": [\"NaN\", 1]}}", "d", V_F(NAN), T),
    E("{\"d\": {\"_between\": [-1, 1]}}", "d", V_F(-0.0), T),
    E("{\"d\": {\"_eq\": 0}}", "d", V_F(-0.0), T),
    E("{\"d\": {\"_gte\": 1e308}}", "d", V_F(INFINITY), T),

    /* decimal: exact, NaN above everything */
    E("{\"price\": {\"_eq\": \"12.5\"}}", "price", V_S("12.50"), T),
    E("{\"price\": {\"_eq\": 12.5}}", "price", V_S("12.50"), T),
    E("{\"price\": {\"_eq\": \"12.500000000000000000001\"}}", "price",
      V_S("12.50"), F),
    E("{\"price\": {\"_gt\": \"12.49999999999999999999\"}}", "price",
      V_S("12.50"), T),
    E("{\"price\": {\"_eq\": \"NaN\"}}", "price", V_DNAN, T),
    E("{\"price\": {\"_gt\": \"Infinity\"}}", "price", V_DNAN, T),
    E("{\"price\": {\"_lt\": \"1e100\"}}", "price", V_DNAN, F),
    E("{\"price\": {\"_lt\": 0}}", "price", V_S("-0.01"), T),
    E("{\"price\": {\"_eq\": 0}}", "price", V_S("0.00"), T),
    E("{\"price\": {\"_eq\": \"-0\"}}", "price", V_S("0.00"), T),
    E("{\"price\": {\"_gt\": -5}}", "price", V_S("-4.99"), T),
    E("{\"price\": {\"_lt\": \"-4.99\"}}", "price", V_S("-5.00"), T),
    E("{\"price\": {\"_in\": [\"1.0\", \"12.5\"]}}", "price", V_S("12.50"), T),
    E("{\"price\": {\"_between\": [\"10\", \"12.5\"]}}", "price", V_S("12.50"),
      T),
    E("{\"price\": {\"_between\": [\"10\", \"12.5\"]}}", "price", V_S("12.51"),
      F),
    E("{\"price\": {\"_nbetween\": [\"10\", \"12.5\"]}}", "price", V_S("9.99"),
      T),
    E("{\"price\": {\"_gte\": \"0.5\"}}", "price", V_S("0.05"), F),
    E("{\"price\": {\"_eq\": 12.5}}", "price", V_NULL, F),
    E("{\"price\": {\"_eq\": 12.5}}", "price", V_UNCH, U),

    /* numeric without precision: exact text, infinities */
    E("{\"amount\": {\"_eq\": \"123456789012345678901234567890.123456789\"}}",
      "amount", V_S("123456789012345678901234567890.12345678900"), T),
    E("{\"amount\": {\"_gt\": \"1e29\"}}", "amount",
      V_S("123456789012345678901234567890"), T),
    E("{\"amount\": {\"_lt\": \"1.23456789012345678901234567891e29\"}}",
      "amount", V_S("123456789012345678901234567890"), T),
    E("{\"amount\": {\"_lt\": \"1.23456789012345678901234567890e29\"}}",
      "amount", V_S("123456789012345678901234567890"), F),
    E("{\"amount\": {\"_lt\": \"-Infinity\"}}", "amount", V_S("-Infinity"), F),
    E("{\"amount\": {\"_lte\": \"-Infinity\"}}", "amount", V_S("-Infinity"), T),
    E("{\"amount\": {\"_eq\": \"Infinity\"}}", "amount", V_S("Infinity"), T),
    E("{\"amount\": {\"_gt\": \"Infinity\"}}", "amount", V_S("NaN"), T),
    E("{\"amount\": {\"_gt\": 1}}", "amount", V_S("0.000001"), F),
    E("{\"amount\": {\"_lt\": \"0.00001\"}}", "amount", V_S("0.000001"), T),

    /* string: bytewise order, literal substrings, Unicode folding */
    E("{\"title\": {\"_eq\": \"Hello ÄRGER world\"}}", "title",
      V_S("Hello ÄRGER world"), T),
    E("{\"title\": {\"_eq\": \"hello ärger world\"}}", "title",
      V_S("Hello ÄRGER world"), F),
    E("{\"title\": {\"_ieq\": \"HELLO ärger WORLD\"}}", "title",
      V_S("Hello ÄRGER world"), T),
    E("{\"title\": {\"_nieq\": \"HELLO ärger WORLD\"}}", "title",
      V_S("Hello ÄRGER world"), F),
    E("{\"title\": {\"_nieq\": \"x\"}}", "title", V_S("Hello"), T),
    E("{\"title\": {\"_nieq\": \"x\"}}", "title", V_NULL, F),
    E("{\"title\": {\"_lt\": \"Hellp\"}}", "title", V_S("Hello"), T),
    E("{\"title\": {\"_gt\": \"Hello\"}}", "title", V_S("Hello "), T),
    E("{\"title\": {\"_lt\": \"a\"}}", "title", V_S("B"), T),
    E("{\"title\": {\"_contains\": \"ÄRG\"}}", "title",
      V_S("Hello ÄRGER world"), T),
    E("{\"title\": {\"_contains\": \"ärg\"}}", "title",
      V_S("Hello ÄRGER world"), F),
    E("{\"title\": {\"_icontains\": \"ärg\"}}", "title",
      V_S("Hello ÄRGER world"), T),
    E("{\"title\": {\"_icontains\": \"ÄRG\"}}", "title", V_S("ärgerlich"), T),
    E("{\"title\": {\"_icontains\": \"aab\"}}", "title", V_S("AAAAB"), T),
    E("{\"title\": {\"_ncontains\": \"xyz\"}}", "title", V_S("Hello"), T),
    E("{\"title\": {\"_ncontains\": \"ell\"}}", "title", V_S("Hello"), F),
    E("{\"title\": {\"_ncontains\": \"xyz\"}}", "title", V_NULL, F),
    E("{\"title\": {\"_ncontains\": \"xyz\"}}", "title", V_UNCH, U),
    E("{\"title\": {\"_nicontains\": \"ÄRGER\"}}", "title", V_S("ärger"), F),
    E("{\"title\": {\"_starts_with\": \"Hello\"}}", "title", V_S("Hello world"),
      T),
    E("{\"title\": {\"_starts_with\": \"hello\"}}", "title", V_S("Hello world"),
      F),
    E("{\"title\": {\"_istarts_with\": \"hELLO ä\"}}", "title",
      V_S("Hello Ärger"), T),
    E("{\"title\": {\"_nstarts_with\": \"Hello\"}}", "title",
      V_S("Hello world"), F),
    E("{\"title\": {\"_nistarts_with\": \"x\"}}", "title", V_S("Hello"), T),
    E("{\"title\": {\"_ends_with\": \"world\"}}", "title", V_S("Hello world"),
      T),
    E("{\"title\": {\"_iends_with\": \"ÄRGER WORLD\"}}", "title",
      V_S("hello ärger world"), T),
    E("{\"title\": {\"_nends_with\": \"world\"}}", "title", V_S("Hello world"),
      F),
    E("{\"title\": {\"_niends_with\": \"WORLD\"}}", "title", V_S("Hello world"),
      F),
    E("{\"title\": {\"_icontains\": \"σοφος\"}}", "title", V_S("ΣΟΦΟΣ"), T),
    E("{\"title\": {\"_ieq\": \"σοφοσ\"}}", "title", V_S("σοφος"), T),
    E("{\"title\": {\"_istarts_with\": \"привет\"}}", "title",
      V_S("ПРИВЕТ мир"), T),
    E("{\"title\": {\"_iends_with\": \"МИР\"}}", "title", V_S("ПРИВЕТ мир"), T),
    /* KELVIN SIGN (3 bytes) folds to "k" (1 byte) */
    E("{\"title\": {\"_iends_with\": \"ok\"}}", "title", V_S("O\xe2\x84\xaa"),
      T),
    E("{\"title\": {\"_ieq\": \"\xe2\x84\xaa\"}}", "title", V_S("k"), T),
    E("{\"title\": {\"_contains\": \"%\"}}", "title", V_S("50%"), T),
    E("{\"title\": {\"_contains\": \"_\"}}", "title", V_S("ab"), F),
    E("{\"title\": {\"_contains\": \"a%c\"}}", "title", V_S("abc"), F),
    E("{\"title\": {\"_contains\": \"\"}}", "title", V_S(""), T),
    E("{\"title\": {\"_contains\": \"\"}}", "title", V_NULL, F),
    E("{\"title\": {\"_contains\": \"aaab\"}}", "title", V_S("aaaaab"), T),
    E("{\"title\": {\"_icontains\": \"a\"}}", "title", V_S("\xff\xfe"), F),
    E("{\"title\": {\"_iends_with\": \"\"}}", "title", V_S("\xff\xfe"), T),
    E("{\"title\": {\"_icontains\": \"b\"}}", "title",
      V_S("\xe2\x82"
          "b"),
      T),
    E("{\"title\": {\"_empty\": true}}", "title", V_S(""), T),
    E("{\"title\": {\"_empty\": true}}", "title", V_S("x"), F),
    E("{\"title\": {\"_empty\": true}}", "title", V_NULL, T),
    E("{\"title\": {\"_empty\": true}}", "title", V_UNCH, F),
    E("{\"title\": {\"_nempty\": true}}", "title", V_S("x"), T),
    E("{\"title\": {\"_nempty\": true}}", "title", V_NULL, F),
    E("{\"title\": {\"_nempty\": true}}", "title", V_UNCH, T),
    E("{\"title\": {\"_empty\": false}}", "title", V_S("x"), T),
    E("{\"title\": {\"_eq\": \"null\"}}", "title", V_NULL, T),
    E("{\"title\": {\"_eq\": \"null\"}}", "title", V_S("null"), F),
    E("{\"title\": {\"_eq\": null}}", "title", V_NULL, T),
    E("{\"title\": {\"_neq\": null}}", "title", V_NULL, F),
    E("{\"title\": {\"_neq\": null}}", "title", V_S("x"), T),
    E("{\"title\": {\"_null\": true}}", "title", V_NULL, T),
    E("{\"title\": {\"_null\": true}}", "title", V_S("x"), F),
    E("{\"title\": {\"_null\": true}}", "title", V_UNCH, F),
    E("{\"title\": {\"_nnull\": true}}", "title", V_UNCH, T),
    E("{\"title\": {\"_null\": false}}", "title", V_S("x"), T),
    E("{\"title\": {\"_null\": \"false\"}}", "title", V_NULL, F),
    E("{\"title\": {\"_nnull\": false}}", "title", V_NULL, T),
    E("{\"title\": {\"_null\": 1}}", "title", V_NULL, T),
    E("{\"title\": {\"_eq\": 5}}", "title", V_S("5"), T),
    E("{\"title\": {\"_eq\": true}}", "title", V_S("true"), T),
    E("{\"title\": {\"_in\": \"a,b\"}}", "title", V_S("b"), T),
    E("{\"title\": {\"_in\": \"a,b\"}}", "title", V_S("a,b"), F),
    E("{\"title\": {\"_in\": [\"a\", null]}}", "title", V_S("c"), F),
    E("{\"title\": {\"_nin\": [\"a\", null]}}", "title", V_S("c"), F),
    E("{\"title\": {\"_nin\": [\"a\"]}}", "title", V_S("c"), T),
    E("{\"title\": {\"_between\": [\"a\", \"c\"]}}", "title", V_S("b"), T),
    E("{\"title\": \"x\"}", "title", V_S("x"), T),

    /* uuid: compared as 128-bit values */
    E("{\"owner\": {\"_eq\": \"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\"}}",
      "owner", V_S(USER), T),
    E("{\"owner\": {\"_eq\": \"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}\"}}",
      "owner", V_S(USER), T),
    E("{\"owner\": {\"_eq\": \"a0eebc999c0b4ef8bb6d6bb9bd380a11\"}}", "owner",
      V_S(USER), T),
    E("{\"owner\": {\"_eq\": \"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11\"}}",
      "owner", V_S(USER), T),
    E("{\"owner\": {\"_neq\": \"00000000-0000-0000-0000-000000000000\"}}",
      "owner", V_S(USER), T),
    E("{\"owner\": {\"_in\": [\"00000000-0000-0000-0000-000000000000\", "
      "\"" USER "\"]}}",
      "owner", V_S("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), T),
    E("{\"owner\": {\"_lt\": \"ffffffff-ffff-ffff-ffff-ffffffffffff\"}}",
      "owner", V_S(USER), T),
    E("{\"owner\": {\"_gt\": \"b0000000-0000-0000-0000-000000000000\"}}",
      "owner", V_S(USER), F),
    E("{\"owner\": {\"_eq\": \"" USER "\"}}", "owner", V_NULL, F),
    E("{\"owner\": {\"_eq\": \"" USER "\"}}", "owner", V_UNCH, U),
    E("{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}", "owner", V_S(USER), T),
    E("{\"owner\": {\"_neq\": \"$CURRENT_USER\"}}", "owner", V_S(USER), F),

    /* date (days) */
    E("{\"day\": {\"_eq\": \"2024-05-31\"}}", "day", V_I(DAY), T),
    E("{\"day\": {\"_eq\": \"2024-05-31T23:59:59-05:00\"}}", "day", V_I(DAY),
      T),
    E("{\"day\": {\"_gt\": \"2024-05-30\"}}", "day", V_I(DAY), T),
    E("{\"day\": {\"_lt\": \"2024-06-01\"}}", "day", V_I(DAY), T),
    E("{\"day\": {\"_eq\": \"2024-02-29\"}}", "day", V_I(DAY - 92), T),
    E("{\"day\": {\"_eq\": \"$NOW\"}}", "day", V_I(DAY), T),
    E("{\"day\": {\"_lte\": \"$NOW(-1 day)\"}}", "day", V_I(DAY), F),
    E("{\"day\": {\"_gte\": \"$NOW(-1 day)\"}}", "day", V_I(DAY), T),
    EN("{\"day\": {\"_eq\": \"$NOW(+1 day)\"}}", "day", V_I(DAY), T,
       NOW - USDAY),
    EN("{\"day\": {\"_eq\": \"$NOW\"}}", "day", V_I(DAY - 1), T,
       NOW - 13 * HOUR),
    E("{\"day\": {\"_gt\": \"2024-01-01\"}}", "day", V_I(VALUE_DATE_INFINITY),
      T),
    E("{\"day\": {\"_eq\": \"infinity\"}}", "day", V_I(VALUE_DATE_INFINITY), T),
    E("{\"day\": {\"_lt\": \"0001-01-01\"}}", "day",
      V_I(VALUE_DATE_MINUS_INFINITY), T),
    E("{\"day\": {\"_between\": [\"2024-05-01\", \"2024-05-31\"]}}", "day",
      V_I(DAY), T),
    E("{\"day\": {\"_eq\": \"epoch\"}}", "day", V_I(0), T),
    E("{\"day\": {\"_eq\": \"1969-12-31\"}}", "day", V_I(-1), T),

    /* time (microseconds of the day): 10:30:00.5 */
    E("{\"at\": {\"_eq\": \"10:30:00.5\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_gt\": \"10:30\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_lt\": \"10:30:01\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_eq\": \"2024-01-01T10:30:00.5+02:00\"}}", "at",
      V_I(37800500000), T),
    E("{\"at\": {\"_eq\": \"10:30:00.5000004\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_eq\": \"10:30:00.4999995\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_eq\": \"24:00:00\"}}", "at", V_I(86400000000), T),
    E("{\"at\": {\"_lte\": \"$NOW\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_gt\": \"$NOW(-2 hours)\"}}", "at", V_I(37800500000), T),
    E("{\"at\": {\"_gt\": \"$NOW(-1 hours)\"}}", "at", V_I(37800500000), F),

    /* timestamp without zone: 2024-05-31T10:00:00 */
    E("{\"ts\": {\"_eq\": \"2024-05-31T10:00:00\"}}", "ts", V_I(NOW - 2 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"2024-05-31 10:00:00\"}}", "ts", V_I(NOW - 2 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"2024-05-31T10:00:00+02:00\"}}", "ts",
      V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_eq\": \"2024-05-31T10:00:00Z\"}}", "ts",
      V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_eq\": \"2024-05-31T10:00\"}}", "ts", V_I(NOW - 2 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"2024-05-30T24:00:00\"}}", "ts",
      V_I(NOW - 12 * HOUR), T),
    E("{\"ts\": {\"_gt\": \"$NOW(-3 hours)\"}}", "ts", V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_gt\": \"$NOW(-1 hours)\"}}", "ts", V_I(NOW - 2 * HOUR), F),
    E("{\"ts\": {\"_eq\": \"$NOW(-2 h)\"}}", "ts", V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_eq\": \"$NOW(-120 minutes)\"}}", "ts", V_I(NOW - 2 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"$NOW(-7200 s)\"}}", "ts", V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_eq\": \"$NOW(-7200000 ms)\"}}", "ts", V_I(NOW - 2 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"$NOW(-1 month)\"}}", "ts", V_I(NOW - USDAY * 31),
      T),
    E("{\"ts\": {\"_eq\": \"$NOW(-3 months)\"}}", "ts", V_I(NOW - USDAY * 92),
      T),
    EN("{\"ts\": {\"_eq\": \"$NOW(+1 year)\"}}", "ts",
       V_I(INT64_C(1740744000000000)), T, INT64_C(1709208000000000)),
    EN("{\"ts\": {\"_eq\": \"$NOW(+1 month)\"}}", "ts",
       V_I(INT64_C(1709208000000000)), T, INT64_C(1706702400000000)),
    E("{\"ts\": {\"_eq\": \"$NOW(-0.5 days)\"}}", "ts", V_I(NOW - 12 * HOUR),
      T),
    E("{\"ts\": {\"_eq\": \"$NOW(+1.5 hours)\"}}", "ts",
      V_I(NOW + 90 * 60 * INT64_C(1000000)), T),
    EN("{\"ts\": {\"_eq\": \"$NOW(2)\"}}", "ts", V_I(NOW), T, NOW - 2 * USDAY),
    E("{\"ts\": {\"_eq\": \"$NOW(+1 w)\"}}", "ts", V_I(NOW + 7 * USDAY), T),
    E("{\"ts\": {\"_gt\": \"9999-12-31T23:59:59\"}}", "ts",
      V_I(VALUE_TS_INFINITY), T),
    E("{\"ts\": {\"_eq\": \"infinity\"}}", "ts", V_I(VALUE_TS_INFINITY), T),
    E("{\"ts\": {\"_gt\": \"$NOW(+100 years)\"}}", "ts", V_I(VALUE_TS_INFINITY),
      T),
    E("{\"ts\": {\"_between\": [\"$NOW(-1 week)\", \"$NOW\"]}}", "ts",
      V_I(NOW - 2 * HOUR), T),
    E("{\"ts\": {\"_between\": [\"$NOW(-1 week)\", \"$NOW\"]}}", "ts",
      V_I(NOW + 1), F),
    E("{\"ts\": {\"_nbetween\": \"$NOW(-1 week),$NOW\"}}", "ts", V_I(NOW + 1),
      T),

    /* timestamp with zone: 2024-05-31T08:00:00Z */
    E("{\"tz\": {\"_eq\": \"2024-05-31T10:00:00+02:00\"}}", "tz",
      V_I(NOW - 4 * HOUR), T),
    E("{\"tz\": {\"_eq\": \"2024-05-31T08:00:00\"}}", "tz", V_I(NOW - 4 * HOUR),
      T),
    E("{\"tz\": {\"_eq\": \"2024-05-31T08:00:00.000Z\"}}", "tz",
      V_I(NOW - 4 * HOUR), T),
    E("{\"tz\": {\"_eq\": \"2024-05-31T03:00:00-0500\"}}", "tz",
      V_I(NOW - 4 * HOUR), T),
    E("{\"tz\": {\"_eq\": \"2024-05-31T13:30+05:30\"}}", "tz",
      V_I(NOW - 4 * HOUR), T),
    E("{\"tz\": {\"_lt\": \"$NOW\"}}", "tz", V_I(NOW - 4 * HOUR), T),
    E("{\"tz\": {\"_gt\": \"$NOW(-4 hours)\"}}", "tz", V_I(NOW - 4 * HOUR), F),
    E("{\"tz\": {\"_gte\": \"$NOW(-4 hours)\"}}", "tz", V_I(NOW - 4 * HOUR), T),
    EN("{\"tz\": {\"_gte\": \"$NOW(-4 hours)\"}}", "tz", V_I(NOW - 4 * HOUR), F,
       NOW + 1),
    E("{\"tz\": {\"_eq\": \"2024-05-31\"}}", "tz", V_I(NOW - 12 * HOUR), T),
    E("{\"tz\": {\"_lt\": \"0001-01-01\"}}", "tz", V_I(VALUE_TS_MINUS_INFINITY),
      T),
    E("{\"tz\": {\"_gt\": \"$NOW(+1000 years)\"}}", "tz",
      V_I(VALUE_TS_INFINITY), T),
    E("{\"tz\": {\"_lt\": \"$NOW\"}}", "tz", V_NULL, F),
    E("{\"tz\": {\"_lt\": \"$NOW\"}}", "tz", V_UNCH, U),
    E("{\"tz\": {\"_null\": true}}", "tz", V_UNCH, F),

    /* json */
    E("{\"meta\": {\"_null\": true}}", "meta", V_NULL, T),
    E("{\"meta\": {\"_nnull\": true}}", "meta", V_S("{}"), T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("{}"), T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S(" [ ] "), T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("\"\""), T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("null"), T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("[1]"), F),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("{\"a\": 1}"), F),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_S("\" \""), F),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_NULL, T),
    E("{\"meta\": {\"_empty\": true}}", "meta", V_UNCH, F),
    E("{\"meta\": {\"_nempty\": true}}", "meta", V_S("[1]"), T),
    E("{\"meta\": {\"_eq\": null}}", "meta", V_NULL, T),

    /* arrays */
    E("{\"ids\": {\"_contains\": 1}}", "ids", V_ARR(ids_with_null), T),
    E("{\"ids\": {\"_contains\": \"-7\"}}", "ids", V_ARR(ids_with_null), T),
    E("{\"ids\": {\"_contains\": 2}}", "ids", V_ARR(ids_with_null), F),
    E("{\"ids\": {\"_ncontains\": 2}}", "ids", V_ARR(ids_with_null), F),
    E("{\"ids\": {\"_ncontains\": 2}}", "ids", V_ARR(ids_plain), T),
    E("{\"ids\": {\"_ncontains\": 1}}", "ids", V_ARR(ids_plain), F),
    E("{\"ids\": {\"_contains\": 1}}", "ids", V_NULL, F),
    E("{\"ids\": {\"_contains\": 1}}", "ids", V_UNCH, U),
    E("{\"ids\": {\"_empty\": true}}", "ids", V_EMPTY_ARR, T),
    E("{\"ids\": {\"_empty\": true}}", "ids", V_NULL, T),
    E("{\"ids\": {\"_empty\": true}}", "ids", V_ARR(ids_plain), F),
    E("{\"ids\": {\"_empty\": true}}", "ids", V_UNCH, F),
    E("{\"ids\": {\"_nempty\": true}}", "ids", V_ARR(ids_plain), T),
    E("{\"tags\": {\"_contains\": \"Ärger\"}}", "tags", V_ARR(tags_list), T),
    E("{\"tags\": {\"_contains\": \"ärger\"}}", "tags", V_ARR(tags_list), F),
    E("{\"tags\": {\"_contains\": \"\"}}", "tags", V_ARR(tags_list), T),

    /* bytes */
    E("{\"raw\": {\"_empty\": true}}", "raw", V_S(""), T),
    E("{\"raw\": {\"_nempty\": true}}", "raw", V_S("\x01"), T),
    E("{\"raw\": {\"_null\": true}}", "raw", V_NULL, T),

    /* variables, with and without a user */
    E("{\"role\": {\"_eq\": \"$CURRENT_ROLE\"}}", "role", V_S("editor"), T),
    EP("{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}", "owner", V_NULL, F),
    EP("{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}", "owner", V_S(USER), F),
    EP("{\"role\": {\"_neq\": \"$CURRENT_ROLE\"}}", "role", V_S("x"), F),
    EP("{\"role\": {\"_in\": [\"$CURRENT_ROLE\", \"editor\"]}}", "role",
       V_S("editor"), T),
    EP("{\"role\": {\"_nin\": [\"$CURRENT_ROLE\"]}}", "role", V_S("x"), F),
    EP("{\"role\": {\"_icontains\": \"$CURRENT_ROLE\"}}", "role", V_S("x"), F),
    EP("{\"_or\": [{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}, "
       "{\"role\": {\"_eq\": \"x\"}}]}",
       "role", V_S("x"), T),

    /* _and, _or and Kleene logic */
    E2("{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(1), U, "n", V_UNCH),
    E2("{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(2), F, "n", V_UNCH),
    E2("{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(1), T, "n", V_I(2)),
    E2("{\"_or\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(1), T, "n", V_UNCH),
    E2("{\"_or\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(2), U, "n", V_UNCH),
    E2("{\"_or\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_eq\": 2}}]}", "id",
       V_I(2), F, "n", V_I(3)),
    E2("{\"id\": {\"_eq\": 1}, \"n\": {\"_eq\": 2}}", "id", V_I(1), T, "n",
       V_I(2)),
    E2("{\"id\": {\"_eq\": 1}, \"n\": {\"_eq\": 2}}", "id", V_I(1), F, "n",
       V_I(3)),
    E("{\"_or\": []}", "id", V_I(1), T),
    E("{\"_and\": []}", "id", V_I(1), T),
    E("{}", "id", V_NULL, T),
    E("{\"_or\": [{}, {\"id\": {\"_eq\": 2}}]}", "id", V_I(1), T),
    E("{\"n\": {\"_or\": [{\"_lt\": 1}, {\"_gt\": 9}]}}", "n", V_I(10), T),
    E("{\"n\": {\"_or\": [{\"_lt\": 1}, {\"_gt\": 9}]}}", "n", V_I(5), F),
    E("{\"n\": {\"_gt\": 1, \"_lt\": 5}}", "n", V_I(3), T),
    E("{\"n\": {\"_gt\": 1, \"_lt\": 5}}", "n", V_I(5), F),
    E2("{\"_or\": [{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"n\": {\"_neq\": "
       "2}}]},"
       " {\"title\": {\"_null\": true}}]}",
       "id", V_I(5), T, "n", V_UNCH),
    E2("{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"_or\": [{\"n\": {\"_eq\": 2}}, "
       "{\"n\": {\"_eq\": 3}}]}]}",
       "id", V_I(1), F, "n", V_NULL),
    E2("{\"_and\": [{\"id\": {\"_eq\": 1}}, {\"_or\": [{\"n\": {\"_eq\": 2}}, "
       "{\"n\": {\"_eq\": 3}}]}]}",
       "id", V_I(1), T, "n", V_I(3)),
    E2("{\"_or\": [{\"id\": {\"_nin\": [1]}}, {\"n\": {\"_nbetween\": [1, "
       "2]}}]}",
       "id", V_UNCH, U, "n", V_UNCH),
    E2("{\"_or\": [{\"id\": {\"_nin\": [1]}}, {\"n\": {\"_nbetween\": [1, "
       "2]}}]}",
       "id", V_UNCH, T, "n", V_I(3)),
};

static void test_eval_table(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const eval_case_t *tc = &eval_cases[i];
        const filter_vars_t *vars = tc->public_client ? NULL : &vars_user;
        value_t row[NCOLS];
        char err[512];
        filter_t *f, *again;
        char *canon;
        filter_result_t got, got_again;

        memset(row, 0, sizeof(row)); /* VALUE_NULL */
        row[col_index(tc->col)] = tc->v;
        if (tc->col2)
            row[col_index(tc->col2)] = tc->v2;

        f = compile(tc->filter, vars, err, sizeof(err));
        if (!f) {
            print_error("case %zu %s: does not compile: %s\n", i, tc->filter,
                        err);
            failures++;
            continue;
        }
        got = filter_eval(f, row, tc->now ? tc->now : NOW);

        /* The canonical text is a filter that means the same. */
        canon = canonical(f);
        again = compile(canon, vars, err, sizeof(err));
        got_again = again ? filter_eval(again, row, tc->now ? tc->now : NOW)
                          : FILTER_UNKNOWN;

        if (got != tc->want || !again || got_again != got) {
            print_error("case %zu %s on %s: got %d, want %d; canonical %s "
                        "gives %d\n",
                        i, tc->filter, tc->col, got, tc->want, canon,
                        again ? (int)got_again : -1);
            failures++;
        }
        free(canon);
        filter_free(again);
        filter_free(f);
    }
    assert_int_equal(failures, 0);
}

/* ---- compile errors ---- */

typedef struct error_case {
    const char *filter;
    const char *message;
} error_case_t;

static const error_case_t error_cases[] = {
    {"[]", "a filter must be a JSON object such as {\"title\": {\"_eq\": "
           "\"hello\"}}"},
    {"\"x\"", "a filter must be a JSON object such as {\"title\": {\"_eq\": "
              "\"hello\"}}"},
    {"{\"title\": {\"_foo\": 1}}",
     "unknown filter operator \"_foo\" on field \"title\""},
    {"{\"nope\": {\"_eq\": 1}}",
     "cannot filter on field \"nope\": there is no such field, or your role "
     "may not read it"},
    {"{\"secret\": {\"_eq\": \"x\"}}",
     "cannot filter on field \"secret\": there is no such field, or your "
     "role may not read it"},
    {"{\"owner\": {\"name\": {\"_eq\": \"x\"}}}",
     "filtering on related field \"owner.name\" is not supported; filter on "
     "\"owner\" itself (the key it holds) or subscribe to the related "
     "collection"},
    {"{\"ids\": {\"_some\": {\"x\": {\"_eq\": 1}}}}",
     "operator \"_some\" on field \"ids\" is not supported: it filters on "
     "related items; subscribe to the related collection instead"},
    {"{\"_none\": {\"x\": {\"_eq\": 1}}}",
     "operator \"_none\" is not supported: it filters on related items; "
     "subscribe to the related collection instead"},
    {"{\"year(day)\": {\"_eq\": 2024}}",
     "function field \"year(day)\" is not supported in filters; compare the "
     "field itself, for example with \"_between\" for a date range"},
    {"{\"title\": {\"_intersects\": {\"type\": \"Point\"}}}",
     "geometry operator \"_intersects\" on field \"title\" is not supported; "
     "subscribe without it and test the geometry in the client"},
    {"{\"title\": {\"_nintersects_bbox\": {}}}",
     "geometry operator \"_nintersects_bbox\" on field \"title\" is not "
     "supported; subscribe without it and test the geometry in the client"},
    {"{\"title\": {\"_regex\": \"x\"}}",
     "operator \"_regex\" on field \"title\" is not supported (Directus "
     "allows it in validation rules only); use \"_contains\", "
     "\"_starts_with\" or \"_ends_with\""},
    {"{\"_eq\": 1}", "operator \"_eq\" must be given under a field, as in "
                     "{\"<field>\": {\"_eq\": value}}"},
    {"{\"_and\": {}}", "\"_and\" takes an array of filters"},
    {"{\"id\": {\"_or\": 1}}", "\"_or\" takes an array of filters"},
    {"{\"_or\": [1]}", "a filter must be a JSON object such as {\"title\": "
                       "{\"_eq\": \"hello\"}}"},
    {"{\"title\": {}}", "field \"title\" has no operator; give one such as "
                        "{\"_eq\": value}"},
    {"{\"title\": null}", "field \"title\" needs an operator object such as "
                          "{\"_eq\": value}, not null"},
    {"{\"title\": [\"a\"]}", "field \"title\" needs an operator object such "
                             "as {\"_eq\": value}, not an array"},
    {"{\"n\": {\"_contains\": \"1\"}}",
     "operator \"_contains\" is not supported on field \"n\" of type long; "
     "it applies to text fields only"},
    {"{\"day\": {\"_istarts_with\": \"2024\"}}",
     "operator \"_istarts_with\" is not supported on field \"day\" of type "
     "date; it applies to text fields only"},
    {"{\"owner\": {\"_contains\": \"a0\"}}",
     "operator \"_contains\" is not supported on field \"owner\" of type "
     "uuid; it applies to text fields only"},
    {"{\"n\": {\"_empty\": true}}",
     "operator \"_empty\" is not supported on field \"n\" of type long; use "
     "\"_null\" or \"_nnull\""},
    {"{\"meta\": {\"_eq\": \"{}\"}}",
     "operator \"_eq\" is not supported on field \"meta\" of type json; it "
     "supports \"_null\", \"_nnull\", \"_empty\" and \"_nempty\" only"},
    {"{\"raw\": {\"_in\": [\"a\"]}}",
     "operator \"_in\" is not supported on field \"raw\" of type bytes; it "
     "supports \"_null\", \"_nnull\", \"_empty\" and \"_nempty\" only"},
    {"{\"ids\": {\"_eq\": 1}}",
     "operator \"_eq\" is not supported on field \"ids\" of type array; "
     "arrays support \"_null\", \"_nnull\", \"_empty\", \"_nempty\", and "
     "\"_contains\" and \"_ncontains\" to test for an element"},
    {"{\"ids\": {\"_icontains\": \"1\"}}",
     "operator \"_icontains\" is not supported on field \"ids\" of type "
     "array; arrays support \"_null\", \"_nnull\", \"_empty\", \"_nempty\", "
     "and \"_contains\" and \"_ncontains\" to test for an element"},
    {"{\"id\": {\"_eq\": \"abc\"}}",
     "invalid value \"abc\" for \"_eq\" on field \"id\" of type int: "
     "expected a number"},
    {"{\"id\": {\"_eq\": \"\"}}",
     "invalid value \"\" for \"_eq\" on field \"id\" of type int: expected a "
     "number"},
    {"{\"id\": {\"_eq\": 1.5}}",
     "invalid value 1.5 for \"_eq\" on field \"id\" of type int: not a whole "
     "number"},
    {"{\"id\": {\"_in\": [1, \"2.5\"]}}",
     "invalid value \"2.5\" for \"_in\" on field \"id\" of type int: not a "
     "whole number"},
    {"{\"id\": {\"_eq\": 3000000000}}",
     "invalid value 3000000000 for \"_eq\" on field \"id\" of type int: out "
     "of range"},
    {"{\"n\": {\"_eq\": \"99999999999999999999\"}}",
     "invalid value \"99999999999999999999\" for \"_eq\" on field \"n\" of "
     "type long: out of range"},
    {"{\"id\": {\"_eq\": true}}",
     "invalid value true for \"_eq\" on field \"id\" of type int: expected a "
     "number"},
    {"{\"price\": {\"_gt\": \"12,5\"}}",
     "invalid value \"12,5\" for \"_gt\" on field \"price\" of type "
     "decimal: expected a number"},
    {"{\"price\": {\"_gt\": \"1.2.3\"}}",
     "invalid value \"1.2.3\" for \"_gt\" on field \"price\" of type "
     "decimal: expected a number"},
    {"{\"b\": {\"_eq\": \"maybe\"}}",
     "invalid value \"maybe\" for \"_eq\" on field \"b\" of type boolean: "
     "expected true or false"},
    {"{\"owner\": {\"_eq\": \"xyz\"}}",
     "invalid value \"xyz\" for \"_eq\" on field \"owner\" of type uuid: "
     "expected a uuid"},
    {"{\"day\": {\"_eq\": \"31/05/2024\"}}",
     "invalid value \"31/05/2024\" for \"_eq\" on field \"day\" of type "
     "date: expected an ISO 8601 date as YYYY-MM-DD"},
    {"{\"day\": {\"_eq\": \"2024-02-30\"}}",
     "invalid value \"2024-02-30\" for \"_eq\" on field \"day\" of type "
     "date: date out of range"},
    {"{\"day\": {\"_eq\": 20240531}}",
     "invalid value 20240531 for \"_eq\" on field \"day\" of type date: "
     "expected an ISO 8601 date or date and time, or \"$NOW\""},
    {"{\"at\": {\"_eq\": \"25:00\"}}",
     "invalid value \"25:00\" for \"_eq\" on field \"at\" of type time: "
     "time of day out of range"},
    {"{\"at\": {\"_eq\": \"infinity\"}}",
     "invalid value \"infinity\" for \"_eq\" on field \"at\" of type time: "
     "a time of day cannot be infinite"},
    {"{\"tz\": {\"_eq\": \"today\"}}",
     "invalid value \"today\" for \"_eq\" on field \"tz\" of type "
     "timestamptz: use \"$NOW\" or \"$NOW(-1 day)\" for times relative to "
     "now"},
    {"{\"tz\": {\"_eq\": \"2024-05-31T10:00:00 Europe/Paris\"}}",
     "invalid value \"2024-05-31T10:00:00 Europe/Paris\" for \"_eq\" on "
     "field \"tz\" of type timestamptz: unexpected text after the date and "
     "time"},
    {"{\"tz\": {\"_eq\": \"2024-05-31T10:00:00+25:00\"}}",
     "invalid value \"2024-05-31T10:00:00+25:00\" for \"_eq\" on field "
     "\"tz\" of type timestamptz: time zone offset out of range"},
    {"{\"tz\": {\"_gt\": \"$NOW(-1 fortnight)\"}}",
     "invalid \"$NOW(-1 fortnight)\" for \"_gt\" on field \"tz\": unknown "
     "unit in the adjustment of \"$NOW\"; use ms, seconds, minutes, hours, "
     "days, weeks, months or years"},
    {"{\"tz\": {\"_gt\": \"$NOW(-1.5 months)\"}}",
     "invalid \"$NOW(-1.5 months)\" for \"_gt\" on field \"tz\": months and "
     "years in \"$NOW\" must be whole numbers; use days for fractions"},
    {"{\"tz\": {\"_gt\": \"$NOW(- 1 day)\"}}",
     "invalid \"$NOW(- 1 day)\" for \"_gt\" on field \"tz\": the adjustment "
     "of \"$NOW\" must look like \"-1 day\" or \"+2 hours\""},
    {"{\"tz\": {\"_gt\": \"$NOW(-99999 years)\"}}",
     "invalid \"$NOW(-99999 years)\" for \"_gt\" on field \"tz\": the "
     "adjustment of \"$NOW\" is too large"},
    {"{\"tz\": {\"_gt\": \"$NOW-1\"}}",
     "invalid \"$NOW-1\" for \"_gt\" on field \"tz\": expected \"$NOW\" or "
     "\"$NOW(<adjustment>)\" such as \"$NOW(-1 day)\""},
    {"{\"id\": {\"_gt\": \"$NOW\"}}",
     "\"$NOW\" can only be compared with date and time fields; field \"id\" "
     "is of type int"},
    {"{\"title\": {\"_eq\": \"$NOW\"}}",
     "\"$NOW\" can only be compared with date and time fields; field "
     "\"title\" is of type string"},
    {"{\"tz\": {\"_in\": [\"$NOW\"]}}",
     "\"$NOW\" cannot be used in \"_in\"; use \"_between\" or \"_gte\" and "
     "\"_lte\""},
    {"{\"owner\": {\"_eq\": \"$CURRENT_USER.email\"}}",
     "dynamic variable \"$CURRENT_USER.email\" is not supported; use "
     "\"$CURRENT_USER\" or \"$CURRENT_ROLE\""},
    {"{\"role\": {\"_in\": [\"$CURRENT_POLICIES\"]}}",
     "dynamic variable \"$CURRENT_POLICIES\" is not supported; use "
     "\"$CURRENT_USER\" or \"$CURRENT_ROLE\""},
    {"{\"id\": {\"_gt\": null}}",
     "operator \"_gt\" on field \"id\" needs a value, not null"},
    {"{\"ids\": {\"_contains\": null}}",
     "operator \"_contains\" on field \"ids\" needs a value, not null"},
    {"{\"id\": {\"_between\": [1]}}",
     "operator \"_between\" on field \"id\" needs two values, as [low, high] "
     "or \"low,high\""},
    {"{\"id\": {\"_nbetween\": \"1,2,3\"}}",
     "operator \"_nbetween\" on field \"id\" needs two values, as [low, "
     "high] or \"low,high\""},
    {"{\"id\": {\"_between\": [1, null]}}",
     "operator \"_between\" on field \"id\" needs two values that are not "
     "null"},
    {"{\"id\": {\"_in\": {\"a\": 1}}}",
     "operator \"_in\" on field \"id\" takes an array of values or a "
     "comma-separated string"},
    {"{\"id\": {\"_in\": [[1]]}}",
     "values of \"_in\" on field \"id\" must be scalars, not arrays or "
     "objects"},
    {"{\"id\": {\"_eq\": [1]}}",
     "operator \"_eq\" on field \"id\" takes a single value, not an array or "
     "object"},
    {"{\"docs\": {\"_contains\": \"x\"}}",
     "operator \"_contains\" is not supported on field \"docs\" of type "
     "array; its elements cannot be compared"},
    {"{\"id\": {\"_or\": [1]}}",
     "field \"id\" needs an operator object such as {\"_eq\": value}"},
    {"{\"f\": {\"_eq\": true}}",
     "invalid value true for \"_eq\" on field \"f\" of type float: "
     "expected a number"},
    {"{\"price\": {\"_eq\": false}}",
     "invalid value false for \"_eq\" on field \"price\" of type decimal: "
     "expected a number"},
    {"{\"title\": {\"_contains\": null}}",
     "operator \"_contains\" on field \"title\" needs a text value"},
    {"{\"f\": {\"_eq\": \"1e999\"}}",
     "invalid value \"1e999\" for \"_eq\" on field \"f\" of type float: out "
     "of range"},
    {"{\"d\": {\"_eq\": \"1e-999\"}}",
     "invalid value \"1e-999\" for \"_eq\" on field \"d\" of type double: "
     "out of range"},
    {"{\"title\": {\"_eq\": ", "filter is not valid JSON: "},
};

static void test_error_table(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *tc = &error_cases[i];
        char err[512];
        filter_t *f = compile(tc->filter, &vars_user, err, sizeof(err));
        bool prefix_only = tc->message[strlen(tc->message) - 1] == ' ';

        if (f) {
            print_error("case %zu %s: compiled, want \"%s\"\n", i, tc->filter,
                        tc->message);
            filter_free(f);
            failures++;
            continue;
        }
        if (prefix_only ? strncmp(err, tc->message, strlen(tc->message)) != 0
                        : strcmp(err, tc->message) != 0) {
            print_error("case %zu %s:\n  got  %s\n  want %s\n", i, tc->filter,
                        err, tc->message);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A hidden column is refused exactly as a missing one: only the name in
 * the message differs. */
static void test_hidden_column_like_unknown(void **state)
{
    char hidden[512], unknown[512];
    const char *name_hidden = "\"secret\"", *name_unknown = "\"secrets\"";
    char *p;

    (void)state;
    assert_null(compile("{\"secret\": {\"_eq\": \"x\"}}", NULL, hidden,
                        sizeof(hidden)));
    assert_null(compile("{\"secrets\": {\"_eq\": \"x\"}}", NULL, unknown,
                        sizeof(unknown)));
    p = strstr(hidden, name_hidden);
    assert_non_null(p);
    memmove(p + strlen(name_unknown), p + strlen(name_hidden),
            strlen(p + strlen(name_hidden)) + 1);
    memcpy(p, name_unknown, strlen(name_unknown));
    assert_string_equal(hidden, unknown);

    /* Operator names at the top level get the same answer whether or not a
     * column of that name exists. */
    assert_null(compile("{\"_some\": {}}", NULL, hidden, sizeof(hidden)));
    assert_non_null(strstr(hidden, "\"_some\""));
}

/* Variables are typed by the field like any value; their content is not
 * shown in messages. */
static void test_variable_values(void **state)
{
    filter_vars_t bob = {"bob", NULL};
    filter_vars_t huge = {NULL, NULL};
    char err[512], *role;

    (void)state;
    assert_null(compile("{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}", &bob, err,
                        sizeof(err)));
    assert_string_equal(err, "invalid value \"$CURRENT_USER\" for \"_eq\" on "
                             "field \"owner\" of type uuid: expected a uuid");

    role = malloc(FILTER_MAX_STRING + 2);
    memset(role, 'r', FILTER_MAX_STRING + 1);
    role[FILTER_MAX_STRING + 1] = '\0';
    huge.current_role = role;
    assert_null(compile("{\"role\": {\"_eq\": \"$CURRENT_ROLE\"}}", &huge, err,
                        sizeof(err)));
    assert_string_equal(err, "value of \"$CURRENT_ROLE\" is longer than 16384 "
                             "bytes");
    free(role);
}

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    buf_t b;

    buf_init(&b, 0);
    buf_puts(&b, head);
    for (int i = 0; i < n; i++)
        buf_puts(&b, unit);
    buf_puts(&b, tail);
    return buf_cstr(&b);
}

static void expect_error(const char *text, size_t len, const char *message)
{
    char err[512];
    filter_t *f = filter_compile_text(text, len, table, NULL, NULL, NULL, err,
                                      sizeof(err));

    if (f)
        filter_free(f);
    assert_null(f);
    assert_string_equal(err, message);
}

static void test_limits(void **state)
{
    char *text;
    buf_t b;
    char err[256];
    filter_t *f;

    (void)state;

    /* Depth: 15 nested _and compile, 16 do not (each is two levels). */
    buf_init(&b, 0);
    for (int i = 0; i < 15; i++)
        buf_puts(&b, "{\"_and\": [");
    buf_puts(&b, "{\"id\": {\"_eq\": 1}}");
    for (int i = 0; i < 15; i++)
        buf_puts(&b, "]}");
    text = buf_cstr(&b);
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    filter_free(f);
    buf_free(&b);
    buf_init(&b, 0);
    for (int i = 0; i < 16; i++)
        buf_puts(&b, "{\"_and\": [");
    buf_puts(&b, "{\"id\": {\"_eq\": 1}}");
    for (int i = 0; i < 16; i++)
        buf_puts(&b, "]}");
    text = buf_cstr(&b);
    expect_error(text, strlen(text),
                 "filter is nested more than 32 levels "
                 "deep");
    buf_free(&b);

    /* Conditions. */
    text = repeat("{\"_or\": [", "{\"id\": {\"_eq\": 1}},", 1000,
                  "{\"id\": {\"_eq\": 2}}]}");
    expect_error(text, strlen(text), "filter has more than 1000 conditions");
    free(text);
    text = repeat("{\"_or\": [", "{\"id\": {\"_eq\": 1}},", 990,
                  "{\"id\": {\"_eq\": 2}}]}");
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    filter_free(f);
    free(text);

    /* List values, in one list and in all together. */
    text = repeat("{\"id\": {\"_in\": [", "1,", 10000, "2]}}");
    expect_error(text, strlen(text),
                 "list of \"_in\" on field \"id\" has "
                 "more than 10000 values");
    free(text);
    text = repeat("{\"id\": {\"_in\": \"", "1,", 10000, "2\"}}");
    expect_error(text, strlen(text),
                 "list of \"_in\" on field \"id\" has "
                 "more than 10000 values");
    free(text);
    text = repeat("{\"id\": {\"_in\": [", "1,", 9999, "2]}}");
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    filter_free(f);
    free(text);
    text = repeat("{\"_and\": [{\"id\": {\"_in\": [", "1,", 6000,
                  "2]}}, {\"n\": {\"_nin\": \"1,2,3,4,5,6,7,8,9\"}},"
                  "{\"n\": {\"_in\": [");
    {
        char *full = repeat(text, "1,", 4000, "2]}}]}");

        expect_error(full, strlen(full),
                     "filter has more than 10000 values "
                     "in lists");
        free(full);
    }
    free(text);

    /* String values. */
    text =
        repeat("{\"title\": {\"_eq\": \"", "x", FILTER_MAX_STRING + 1, "\"}}");
    expect_error(text, strlen(text),
                 "value for \"_eq\" on field \"title\" "
                 "is longer than 16384 bytes");
    free(text);
    text = repeat("{\"title\": {\"_icontains\": \"", "\xc3\xa4",
                  FILTER_MAX_STRING / 2, "\"}}");
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    filter_free(f);
    free(text);

    /* Memory kept for values, reachable through the JSON form. */
    {
        json_t *list = json_array();
        char *big = malloc(FILTER_MAX_STRING + 1);

        memset(big, 'x', FILTER_MAX_STRING);
        big[FILTER_MAX_STRING] = '\0';
        for (int i = 0; i < 300; i++) {
            big[0] = (char)('a' + i % 26);
            big[1] = (char)('a' + i / 26);
            json_array_append_new(list, json_string(big));
        }
        json_t *json = json_pack("{s:{s:o}}", "title", "_in", list);

        f = filter_compile(json, table, NULL, NULL, NULL, err, sizeof(err));
        assert_null(f);
        assert_string_equal(err, "filter holds more than 4 MiB of values");
        json_decref(json);
        free(big);
    }

    /* Text size. */
    text = repeat("{\"title\": {\"_in\": \"", "          ",
                  FILTER_MAX_TEXT / 10, "\"}}");
    expect_error(text, strlen(text),
                 "filter text is longer than 1048576 "
                 "bytes");
    free(text);

    /* Long names are cut in messages. */
    text = repeat("{\"", "n", 500, "\": {\"_eq\": 1}}");
    f = compile(text, NULL, err, sizeof(err));
    assert_null(f);
    assert_non_null(strstr(err, "nnn...\": there is no such field"));
    assert_true(strlen(err) < 200);
    free(text);

    /* Control characters do not reach messages. */
    f = compile("{\"a\\nb\": {\"_eq\": 1}}", NULL, err, sizeof(err));
    assert_null(f);
    assert_non_null(strstr(err, "\"a?b\""));

    /* A short error buffer is cut, not overrun. */
    f = compile("{\"nope\": 1}", NULL, err, 8);
    assert_null(f);
    assert_string_equal(err, "cannot ");
}

/* ---- canonical text ---- */

typedef struct canon_case {
    const char *a;
    const char *b;
    bool same;
} canon_case_t;

static const canon_case_t canon_cases[] = {
    {"{\"id\": {\"_eq\": 5}, \"n\": {\"_gt\": 1}}",
     "{\"n\": {\"_gt\": \"1\"}, \"id\": {\"_eq\": \"5\"}}", true},
    {"{\"_and\": [{\"id\": {\"_eq\": 5}}, {\"_and\": [{\"n\": {\"_gt\": "
     "1}}]}]}",
     "{\"id\": {\"_eq\": 5}, \"n\": {\"_gt\": 1}}", true},
    {"{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}",
     "{\"owner\": {\"_eq\": \"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\"}}", true},
    {"{\"id\": {\"_in\": [3, 1, 2, 1]}}", "{\"id\": {\"_in\": \"1,2,3\"}}",
     true},
    {"{\"title\": {\"_icontains\": \"ÄRGER\"}}",
     "{\"title\": {\"_icontains\": \"ärger\"}}", true},
    {"{\"price\": {\"_eq\": \"12.50\"}}", "{\"price\": {\"_eq\": 12.5}}", true},
    {"{\"amount\": {\"_eq\": \"1e30\"}}",
     "{\"amount\": {\"_eq\": \"1000000000000000000000000000000.000\"}}", true},
    {"{\"title\": {\"_null\": false}}", "{\"title\": {\"_nnull\": true}}",
     true},
    {"{\"title\": {\"_eq\": null}}", "{\"title\": {\"_null\": true}}", true},
    {"{\"title\": \"x\"}", "{\"title\": {\"_eq\": \"x\"}}", true},
    {"{\"tz\": {\"_lt\": \"$NOW()\"}}", "{\"tz\": {\"_lt\": \"$NOW\"}}", true},
    {"{\"tz\": {\"_gt\": \"$NOW(-1 day)\"}}",
     "{\"tz\": {\"_gt\": \"$NOW(-24 hours)\"}}", true},
    {"{\"tz\": {\"_gt\": \"2024-05-31T10:00:00+02:00\"}}",
     "{\"tz\": {\"_gt\": \"2024-05-31T08:00:00Z\"}}", true},
    {"{\"_or\": [{\"id\": {\"_eq\": 1}}, {\"id\": {\"_eq\": 1}}]}",
     "{\"id\": {\"_eq\": 1}}", true},
    {"{\"_or\": []}", "{}", true},
    {"{\"id\": {\"_nin\": []}}", "{}", true},
    {"{\"_or\": [{\"id\": {\"_eq\": 1}}, {}]}", "{}", true},
    {"{\"n\": {\"_gt\": 1, \"_lt\": 5}}",
     "{\"_and\": [{\"n\": {\"_lt\": 5}}, {\"n\": {\"_gt\": 1}}]}", true},
    {"{\"f\": {\"_eq\": 0.1}}", "{\"f\": {\"_eq\": \"0.100000001\"}}", true},
    {"{\"title\": {\"_contains\": \"A\"}}",
     "{\"title\": {\"_contains\": \"a\"}}", false},
    {"{\"tz\": {\"_gt\": \"$NOW(-1 month)\"}}",
     "{\"tz\": {\"_gt\": \"$NOW(-30 days)\"}}", false},
    {"{\"id\": {\"_in\": [1, null]}}", "{\"id\": {\"_in\": [1]}}", false},
    {"{\"d\": {\"_eq\": 0.1}}", "{\"d\": {\"_eq\": \"0.100000001\"}}", false},
};

static void test_canonical(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
        const canon_case_t *tc = &canon_cases[i];
        char err[512];
        filter_t *a = compile(tc->a, &vars_user, err, sizeof(err));
        filter_t *b = compile(tc->b, &vars_user, err, sizeof(err));
        char *ca, *cb;

        assert_non_null(a);
        assert_non_null(b);
        ca = canonical(a);
        cb = canonical(b);
        if ((strcmp(ca, cb) == 0) != tc->same) {
            print_error("case %zu: %s -> %s\n         %s -> %s\n", i, tc->a, ca,
                        tc->b, cb);
            failures++;
        }
        free(ca);
        free(cb);
        filter_free(a);
        filter_free(b);
    }
    assert_int_equal(failures, 0);
}

static void test_canonical_text(void **state)
{
    filter_vars_t other = {"00000000-0000-0000-0000-000000000001", NULL};
    const char *text = "{\"title\": {\"_icontains\": \"ÄRG\"}, \"_or\": "
                       "[{\"id\": {\"_in\": \"3,1\"}}, {\"tz\": {\"_gte\": "
                       "\"$NOW(-1 week)\"}}], \"price\": {\"_between\": "
                       "[\"1.50\", 1e3]}}";
    const char *own = "{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}";
    char err[512];
    filter_t *f, *g;
    char *c, *d;

    (void)state;
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    c = canonical(f);
    assert_string_equal(
        c, "{\"_and\":[{\"_or\":[{\"id\":{\"_in\":[1,3]}},{\"tz\":{\"_gte\":"
           "\"$NOW(-604800 seconds)\"}}]},{\"price\":{\"_between\":[\"1.5\","
           "\"1000\"]}},{\"title\":{\"_icontains\":\"ärg\"}}]}");
    free(c);
    filter_free(f);

    /* Another user, or none, is another filter. */
    f = compile(own, &vars_user, err, sizeof(err));
    g = compile(own, &other, err, sizeof(err));
    c = canonical(f);
    d = canonical(g);
    assert_string_not_equal(c, d);
    free(d);
    filter_free(g);
    g = compile(own, NULL, err, sizeof(err));
    d = canonical(g);
    assert_string_equal(d, "{\"owner\":{\"_eq\":\"$CURRENT_USER\"}}");
    assert_string_not_equal(c, d);
    free(c);
    free(d);
    filter_free(f);
    filter_free(g);
}

/* ---- the rest of the API ---- */

static void test_api(void **state)
{
    const char *text = "{\"n\": {\"_gt\": 1}, \"id\": {\"_eq\": 1}, \"_or\": "
                       "[{\"id\": {\"_lt\": 0}}, {\"title\": {\"_null\": "
                       "true}}]}";
    char err[512];
    const int *cols;
    filter_t *f;
    json_t *json;

    (void)state;
    f = compile(text, NULL, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(filter_columns(f, &cols), 3);
    assert_int_equal(cols[0], col_index("id"));
    assert_int_equal(cols[1], col_index("n"));
    assert_int_equal(cols[2], col_index("title"));
    assert_false(filter_uses_now(f));
    assert_false(filter_matches_all(f));
    assert_int_equal(filter_eval(f, NULL, NOW), FILTER_UNKNOWN);
    filter_free(f);

    f = compile("{\"tz\": {\"_lt\": \"$NOW\"}}", NULL, err, sizeof(err));
    assert_true(filter_uses_now(f));
    filter_free(f);
    f = compile("{\"tz\": {\"_lt\": \"2024-01-01\"}}", NULL, err, sizeof(err));
    assert_false(filter_uses_now(f));
    filter_free(f);

    f = compile("{}", NULL, err, sizeof(err));
    assert_true(filter_matches_all(f));
    assert_int_equal(filter_columns(f, &cols), 0);
    assert_int_equal(filter_eval(f, NULL, NOW), FILTER_TRUE);
    filter_free(f);

    /* A comparison with a missing user reads no column. */
    f = compile("{\"owner\": {\"_eq\": \"$CURRENT_USER\"}}", NULL, err,
                sizeof(err));
    assert_int_equal(filter_columns(f, &cols), 0);
    assert_false(filter_matches_all(f));
    filter_free(f);

    /* The JSON form, and nothing kept of it. */
    json = json_pack("{s:{s:i}}", "id", "_eq", 7);
    f = filter_compile(json, table, NULL, NULL, NULL, err, sizeof(err));
    json_decref(json);
    assert_non_null(f);
    {
        value_t row[NCOLS];

        memset(row, 0, sizeof(row));
        row[0] = (value_t)V_I(7);
        assert_int_equal(filter_eval(f, row, 0), FILTER_TRUE);
    }
    filter_free(f);
    assert_null(
        filter_compile(NULL, table, NULL, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, "no filter or no table to compile it for");
    filter_free(NULL);
}

/* The value a filter requires, and the hash a row's value must share for
 * the filter to match it. */
static void test_required_eq(void **state)
{
    static const struct {
        const char *filter;
        const char *column; /* NULL: no required value */
        filter_eq_kind_t kind;
        value_t equal;  /* a row value the filter accepts */
        value_t differ; /* one it refuses */
    } cases[] = {
        {"{\"id\": {\"_eq\": 5}}", "id", FILTER_EQ_INT, V_I(5), V_I(6)},
        {"{\"n\": {\"_eq\": \"-9\"}}", "n", FILTER_EQ_INT, V_I(-9), V_I(9)},
        {"{\"day\": {\"_eq\": \"2024-05-31\"}}", "day", FILTER_EQ_INT, V_I(DAY),
         V_I(DAY + 1)},
        {"{\"title\": {\"_eq\": \"Ärger\"}}", "title", FILTER_EQ_TEXT,
         V_S("Ärger"), V_S("ärger")},
        {"{\"title\": {\"_eq\": \"\"}}", "title", FILTER_EQ_TEXT, V_S(""),
         V_S(" ")},
        {"{\"owner\": {\"_eq\": \"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\"}}",
         "owner", FILTER_EQ_UUID, V_S(USER),
         V_S("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12")},
        /* Several: the lowest column, whatever the order. */
        {"{\"title\": {\"_eq\": \"x\"}, \"id\": {\"_eq\": 3}}", "id",
         FILTER_EQ_INT, V_I(3), V_I(4)},
        {"{\"_and\": [{\"n\": {\"_gt\": 1}}, {\"title\": {\"_eq\": "
         "\"x\"}}]}",
         "title", FILTER_EQ_TEXT, V_S("x"), V_S("y")},
        {"{\"id\": {\"_gt\": 5}}", NULL, 0, V_NULL, V_NULL},
        {"{\"id\": {\"_neq\": 5}}", NULL, 0, V_NULL, V_NULL},
        {"{\"_or\": [{\"id\": {\"_eq\": 1}}, {\"id\": {\"_eq\": 2}}]}", NULL, 0,
         V_NULL, V_NULL},
        {"{\"d\": {\"_eq\": 1.5}}", NULL, 0, V_NULL, V_NULL},
        {"{\"tz\": {\"_eq\": \"$NOW\"}}", NULL, 0, V_NULL, V_NULL},
        {"{\"title\": {\"_ieq\": \"x\"}}", NULL, 0, V_NULL, V_NULL},
    };
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        filter_t *f = compile(cases[i].filter, NULL, err, sizeof(err));
        filter_eq_t eq;
        uint64_t hash;
        value_t row[NCOLS];

        assert_non_null(f);
        if (!cases[i].column) {
            assert_false(filter_required_eq(f, &eq));
            filter_free(f);
            continue;
        }
        assert_true(filter_required_eq(f, &eq));
        assert_int_equal(eq.col, col_index(cases[i].column));
        assert_int_equal(eq.kind, cases[i].kind);

        /* What the filter accepts hashes alike; what it refuses differs. */
        for (int c = 0; c < NCOLS; c++)
            row[c] = (value_t)V_NULL;
        row[eq.col] = cases[i].equal;
        if (strstr(cases[i].filter, "\"n\": {\"_gt\""))
            row[col_index("n")] = (value_t)V_I(2);
        if (strstr(cases[i].filter, "\"title\": {\"_eq\": \"x\"}, "))
            row[col_index("title")] = (value_t)V_S("x");
        assert_int_equal(filter_eval(f, row, NOW), FILTER_TRUE);
        assert_true(filter_value_hash(eq.kind, &cases[i].equal, &hash));
        assert_true(hash == eq.hash);
        assert_true(filter_value_hash(eq.kind, &cases[i].differ, &hash));
        assert_true(hash != eq.hash);

        /* Null and unsent values have no hash. */
        row[0] = (value_t)V_NULL;
        assert_false(filter_value_hash(eq.kind, &row[0], &hash));
        row[0] = (value_t)V_UNCH;
        assert_false(filter_value_hash(eq.kind, &row[0], &hash));
        filter_free(f);
    }
    assert_false(filter_required_eq(NULL, &(filter_eq_t){0}));
}

static int setup(void **state)
{
    (void)state;
    table = table_schema_new("db", "public", "articles", NCOLS);
    assert_non_null(table);
    for (int i = 0; i < NCOLS; i++) {
        assert_true(table_schema_set_column(table, i, columns[i].name, "t",
                                            columns[i].type, columns[i].elem,
                                            10, 2, i == 0));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    table_schema_free(table);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_hidden_column_like_unknown),
        cmocka_unit_test(test_variable_values),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_required_eq),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
