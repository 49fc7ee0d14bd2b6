/* JSON rendering of values, as clients receive them, one row per kind. */
#include "render.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void check(coltype_t type, coltype_t elem, value_t v, const char *want)
{
    column_t col = {
        .name = "c", .field = "c", .pg_type = "t", .type = type, .elem = elem};
    buf_t out;

    buf_init(&out, 0);
    assert_true(render_value(&out, &col, &v));
    buf_cstr(&out);
    if (strcmp((char *)out.data, want) != 0)
        fail_msg("%s: got %s, want %s", coltype_name(type), (char *)out.data,
                 want);
    buf_free(&out);
}

static value_t i(int64_t n)
{
    return (value_t){VALUE_SET, 0, 0, {.i = n}};
}

static value_t f(double d)
{
    return (value_t){VALUE_SET, 0, 0, {.f = d}};
}

static value_t s(const char *t)
{
    return (value_t){VALUE_SET, 0, (uint32_t)strlen(t), {.s = t}};
}

static void test_kinds(void **state)
{
    value_t b = {VALUE_SET, 0, 0, {.b = false}};
    value_t null = {VALUE_NULL, 0, 0, {.i = 0}};
    value_t unknown = {VALUE_UNCHANGED, 0, 0, {.i = 0}};
    value_t bytes = {VALUE_SET, 0, 3, {.s = "\x00\x7f\xff"}};
    value_t items[3] = {i(1), null, i(-3)};
    value_t arr = {VALUE_SET, 0, 3, {.items = items}};
    value_t nan_decimal = s("NaN");

    (void)state;
    nan_decimal.special = 1;
    check(COLTYPE_BOOLEAN, 0, b, "false");
    check(COLTYPE_INT, 0, i(-2147483648LL), "-2147483648");
    check(COLTYPE_LONG, 0, i(INT64_MAX), "9223372036854775807");
    check(COLTYPE_LONG, 0, i(INT64_MIN), "-9223372036854775808");
    check(COLTYPE_LONG, 0, i(0), "0");
    check(COLTYPE_INT, 0, i(-7), "-7");
    check(COLTYPE_FLOAT, 0, f(1.1f), "1.1");
    check(COLTYPE_DOUBLE, 0, f(0.1), "0.1");
    check(COLTYPE_DOUBLE, 0, f(1e300), "1e+300");
    check(COLTYPE_DOUBLE, 0, f(NAN), "\"NaN\"");
    check(COLTYPE_DOUBLE, 0, f(-INFINITY), "\"-Infinity\"");
    check(COLTYPE_STRING, 0, s("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
    check(COLTYPE_STRING, 0, s("\xff"), "\"\xEF\xBF\xBD\"");
    check(COLTYPE_DECIMAL, 0, s("-12.50"), "\"-12.50\"");
    check(COLTYPE_DECIMAL, 0, nan_decimal, "\"NaN\"");
    check(COLTYPE_NUMERIC, 0, s("1e-999"), "\"1e-999\"");
    check(COLTYPE_UUID, 0, s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
          "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    check(COLTYPE_JSON, 0, s("{\"k\": [1, null]}"), "{\"k\": [1, null]}");
    check(COLTYPE_BYTES, 0, bytes, "\"\\\\x007fff\"");
    check(COLTYPE_DATE, 0, i(0), "\"1970-01-01\"");
    check(COLTYPE_DATE, 0, i(11016), "\"2000-02-29\"");
    check(COLTYPE_DATE, 0, i(-719529), "\"-0001-12-31\"");
    check(COLTYPE_DATE, 0, i(VALUE_DATE_INFINITY), "\"infinity\"");
    check(COLTYPE_TIME, 0, i(45296500000), "\"12:34:56.5\"");
    check(COLTYPE_TIMESTAMP, 0, i(951825600123456),
          "\"2000-02-29T12:00:00.123456\"");
    check(COLTYPE_TIMESTAMPTZ, 0, i(-1), "\"1969-12-31T23:59:59.999999Z\"");
    check(COLTYPE_TIMESTAMPTZ, 0, i(VALUE_TS_MINUS_INFINITY), "\"-infinity\"");
    check(COLTYPE_ARRAY, COLTYPE_INT, arr, "[1,null,-3]");
    check(COLTYPE_STRING, 0, null, "null");
    check(COLTYPE_STRING, 0, unknown, "null");
}

static void test_keys(void **state)
{
    table_schema_t *ts = table_schema_new("db", "public", "t", 3);
    value_t row[3] = {i(42), s("x"), s("a,b")};
    buf_t out;

    (void)state;
    table_schema_set_column(ts, 0, "id", "integer", COLTYPE_INT, 0, 0, 0, true);
    table_schema_set_column(ts, 1, "title", "text", COLTYPE_STRING, 0, 0, 0,
                            false);
    table_schema_set_column(ts, 2, "code", "text", COLTYPE_STRING, 0, 0, 0,
                            false);
    buf_init(&out, 0);
    assert_true(render_key(&out, ts, row));
    buf_cstr(&out);
    assert_string_equal((char *)out.data, "\"42\"");

    /* A key of two columns joins their texts. */
    ts->cols[2].key = true;
    ts->nkeys = 2;
    buf_reset(&out);
    assert_true(render_key(&out, ts, row));
    buf_cstr(&out);
    assert_string_equal((char *)out.data, "\"42,a,b\"");

    /* A missing key value has no key. */
    row[0].state = VALUE_NULL;
    buf_reset(&out);
    assert_false(render_key(&out, ts, row));
    buf_free(&out);
    table_schema_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
