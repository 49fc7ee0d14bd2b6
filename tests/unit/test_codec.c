/* Avro codec: every column kind encoded and decoded back, decimals at the
 * edges, keys, the unchanged list, malformed input; and an independent
 * check that avro-c (Apache's C library) reads our bytes with our schema. */
#include "codec.h"
#include "table_schema.h"

#include <avro.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static table_schema_t *all_kinds(void)
{
    static const struct {
        const char *name;
        const char *pg;
        coltype_t type, elem;
        int precision, scale;
        bool key;
    } cols[] = {
        {"id", "bigint", COLTYPE_LONG, 0, 0, 0, true},
        {"flag", "boolean", COLTYPE_BOOLEAN, 0, 0, 0, false},
        {"small", "integer", COLTYPE_INT, 0, 0, 0, false},
        {"real", "real", COLTYPE_FLOAT, 0, 0, 0, false},
        {"dbl", "double precision", COLTYPE_DOUBLE, 0, 0, 0, false},
        {"title", "text", COLTYPE_STRING, 0, 0, 0, false},
        {"blob", "bytea", COLTYPE_BYTES, 0, 0, 0, false},
        {"price", "numeric(12,3)", COLTYPE_DECIMAL, 0, 12, 3, false},
        {"any num", "numeric", COLTYPE_NUMERIC, 0, 0, 0, false},
        {"day", "date", COLTYPE_DATE, 0, 0, 0, false},
        {"at", "time without time zone", COLTYPE_TIME, 0, 0, 0, false},
        {"local", "timestamp without time zone", COLTYPE_TIMESTAMP, 0, 0, 0,
         false},
        {"ts", "timestamp with time zone", COLTYPE_TIMESTAMPTZ, 0, 0, 0, false},
        {"u", "uuid", COLTYPE_UUID, 0, 0, 0, false},
        {"doc", "jsonb", COLTYPE_JSON, 0, 0, 0, false},
        {"tags", "text[]", COLTYPE_ARRAY, COLTYPE_STRING, 0, 0, false},
    };
    table_schema_t *ts = table_schema_new("db", "public", "kinds", 16);

    for (int i = 0; i < 16; i++)
        assert_true(table_schema_set_column(
            ts, i, cols[i].name, cols[i].pg, cols[i].type, cols[i].elem,
            cols[i].precision, cols[i].scale, cols[i].key));
    return ts;
}

static value_t str(const char *s)
{
    value_t v = {VALUE_SET, 0, (uint32_t)strlen(s), {.s = s}};

    return v;
}

static value_t num(int64_t i)
{
    value_t v = {VALUE_SET, 0, 0, {.i = i}};

    return v;
}

static void fill_row(value_t *row, value_t *tags)
{
    memset(row, 0, 16 * sizeof(value_t));
    row[0] = num(INT64_MIN);
    row[1].state = VALUE_SET;
    row[1].u.b = true;
    row[2] = num(-2147483647 - 1);
    row[3].state = VALUE_SET;
    row[3].u.f = 1.5;
    row[4].state = VALUE_SET;
    row[4].u.f = -0.0;
    row[5] = str("żółw \"quoted\"");
    row[6].state = VALUE_SET;
    row[6].u.s = "\0\xff\0";
    row[6].len = 3;
    row[7] = str("-123456789.500");
    row[8] = str("1e-999");
    row[9] = num(-719528 - 44 * 365); /* a date far before 1970 */
    row[10] = num(86399999999);
    row[11] = num(VALUE_TS_MINUS_INFINITY);
    row[12] = num(1700000000123456);
    row[13] = str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    row[14] = str("{\"k\": [1, null]}");
    tags[0] = str("a");
    tags[1].state = VALUE_NULL;
    tags[2] = str("");
    row[15].state = VALUE_SET;
    row[15].u.items = tags;
    row[15].len = 3;
}

static bool same_value(const column_t *col, const value_t *a, const value_t *b)
{
    if (a->state != b->state)
        return false;
    if (a->state != VALUE_SET)
        return true;
    switch (col->type) {
    case COLTYPE_BOOLEAN:
        return a->u.b == b->u.b;
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        return a->u.f == b->u.f && signbit(a->u.f) == signbit(b->u.f);
    case COLTYPE_ARRAY:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++) {
            column_t elem = *col;

            elem.type = col->elem;
            if (!same_value(&elem, &a->u.items[i], &b->u.items[i]))
                return false;
        }
        return true;
    case COLTYPE_INT:
    case COLTYPE_LONG:
    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return a->u.i == b->u.i;
    default:
        return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    }
}

static void test_round_trip(void **state)
{
    table_schema_t *ts = all_kinds();
    value_t before[16], after[16], tags[3], tags2[3];
    change_t in = {OP_UPDATE, before, after, {0}, 0}, out;
    arena_t arena;
    buf_t bytes;
    char err[256];

    (void)state;
    fill_row(before, tags);
    fill_row(after, tags2);
    after[5] = str("changed");
    after[14].state = VALUE_UNCHANGED;
    in.source.lsn = 0x16B374D848;
    in.source.commit_lsn = 0x16B374D900;
    in.source.txid = 4242;
    in.source.commit_ts_us = 1700000000000001;
    in.source.seq = 7;
    in.source.identity = 'f';
    in.ts_ms = 1700000000123;

    buf_init(&bytes, 0);
    arena_init(&arena, 0);
    assert_true(codec_encode_change(ts, &in, &bytes, err, sizeof(err)));
    assert_true(codec_decode_change(ts, bytes.data, bytes.len, &arena, &out,
                                    err, sizeof(err)));
    assert_int_equal(out.op, OP_UPDATE);
    assert_int_equal(out.source.commit_lsn, in.source.commit_lsn);
    assert_int_equal(out.source.seq, 7);
    assert_int_equal(out.source.identity, 'f');
    assert_int_equal(out.ts_ms, in.ts_ms);
    for (int i = 0; i < ts->ncols; i++) {
        if (!same_value(&ts->cols[i], &before[i], &out.before[i]))
            fail_msg("before column %s differs", ts->cols[i].name);
        if (!same_value(&ts->cols[i], &after[i], &out.after[i]))
            fail_msg("after column %s differs", ts->cols[i].name);
    }
    /* The unchanged value comes back as unchanged, not as null. */
    assert_int_equal(out.after[14].state, VALUE_UNCHANGED);

    /* Every truncation of a valid record is refused cleanly. */
    for (size_t n = 0; n < bytes.len; n++) {
        arena_reset(&arena);
        assert_false(codec_decode_change(ts, bytes.data, n, &arena, &out, err,
                                         sizeof(err)));
        assert_non_null(strstr(err, "malformed Avro"));
    }
    arena_free(&arena);
    buf_free(&bytes);
    table_schema_free(ts);
}

static void test_decimals(void **state)
{
    static const struct {
        const char *text;
        int scale;
        const char *back;
    } cases[] = {
        {"0", 0, "0"},
        {"-1", 0, "-1"},
        {"127", 0, "127"},
        {"128", 0, "128"},
        {"-128", 0, "-128"},
        {"-129", 0, "-129"},
        {"12.5", 2, "12.50"},
        {"-0.01", 2, "-0.01"},
        {"0.001", 3, "0.001"},
        {"99999999999999999999.99", 2, "99999999999999999999.99"},
        {"-1.5", 1, "-1.5"},
        {"3.10", 3, "3.100"},
    };
    buf_t bytes, text;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *p;
        size_t n;

        buf_init(&bytes, 0);
        buf_init(&text, 0);
        assert_true(codec_decimal_to_bytes(cases[i].text, strlen(cases[i].text),
                                           cases[i].scale, &bytes));
        /* skip the Avro length prefix (one byte for these sizes) */
        p = bytes.data + 1;
        n = bytes.len - 1;
        assert_true(codec_decimal_from_bytes(p, n, cases[i].scale, &text));
        buf_cstr(&text);
        assert_string_equal((char *)text.data, cases[i].back);
        buf_free(&bytes);
        buf_free(&text);
    }

    /* 1000 digits, as numeric(1000,0) allows. */
    {
        char digits[1002];

        memset(digits, '9', 1000);
        digits[1000] = '\0';
        buf_init(&bytes, 0);
        buf_init(&text, 0);
        assert_true(codec_decimal_to_bytes(digits, 1000, 0, &bytes));
        /* Avro long prefix of 416 bytes takes two bytes */
        assert_true(
            codec_decimal_from_bytes(bytes.data + 2, bytes.len - 2, 0, &text));
        buf_cstr(&text);
        assert_string_equal((char *)text.data, digits);
        buf_free(&bytes);
        buf_free(&text);
    }

    /* More fraction digits than the scale allows are refused. */
    buf_init(&bytes, 0);
    assert_false(codec_decimal_to_bytes("1.234", 5, 2, &bytes));
    assert_false(codec_decimal_to_bytes("12a", 3, 0, &bytes));
    assert_false(codec_decimal_to_bytes("-", 1, 0, &bytes));
    buf_free(&bytes);
}

/* avro-c reads what we write, with the schema we register. */
static void test_avro_c_reads_our_records(void **state)
{
    table_schema_t *ts = all_kinds();
    value_t after[16], tags[3];
    change_t in = {OP_CREATE, NULL, after, {0}, 0};
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    avro_reader_t reader;
    buf_t text, bytes;
    char err[256], *json;
    json_t *root, *row;

    (void)state;
    fill_row(after, tags);
    buf_init(&text, 0);
    buf_init(&bytes, 0);
    assert_true(table_schema_value_avro(ts, "cdc", &text));
    buf_cstr(&text);
    if (avro_schema_from_json_length((char *)text.data, text.len, &schema))
        fail_msg("avro-c refused our schema: %s", avro_strerror());
    assert_true(codec_encode_change(ts, &in, &bytes, err, sizeof(err)));

    iface = avro_generic_class_from_schema(schema);
    avro_generic_value_new(iface, &value);
    reader = avro_reader_memory((const char *)bytes.data, (int64_t)bytes.len);
    if (avro_value_read(reader, &value))
        fail_msg("avro-c could not read our record: %s", avro_strerror());
    assert_int_equal(avro_value_to_json(&value, 1, &json), 0);

    root = json_loads(json, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "op")), "c");
    assert_true(json_is_null(json_object_get(root, "before")));
    row = json_object_get(json_object_get(root, "after"), "Value");
    assert_non_null(row);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(row, "id"), "long")),
        INT64_MIN);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(row, "title"), "string")),
                        "żółw \"quoted\"");
    assert_non_null(json_object_get(row, "any_num"));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(row, "tags"), "array")),
        3);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(root, "source"), "seq")),
                     0);

    json_decref(root);
    free(json);
    avro_reader_free(reader);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    buf_free(&text);
    buf_free(&bytes);
    table_schema_free(ts);
}

/* The schema we write reads back as the same table. */
static void test_schema_round_trip(void **state)
{
    table_schema_t *ts = all_kinds(), *back;
    buf_t text;
    char err[256];

    (void)state;
    buf_init(&text, 0);
    assert_true(table_schema_value_avro(ts, "cdc", &text));
    back =
        table_schema_from_avro((char *)text.data, text.len, err, sizeof(err));
    assert_non_null(back);
    assert_true(table_schema_equal(ts, back));
    /* "any num" is not an Avro name; clients still see the column name. */
    assert_string_equal(back->cols[8].name, "any num");
    assert_string_equal(back->cols[8].field, "any_num");
    table_schema_free(back);

    /* Not an envelope: refused with a reason. */
    assert_null(
        table_schema_from_avro("{\"type\":\"string\"}", 17, err, sizeof(err)));
    assert_non_null(strstr(err, "not a change envelope"));
    assert_null(table_schema_from_avro("{", 1, err, sizeof(err)));
    assert_non_null(strstr(err, "not JSON"));
    buf_free(&text);
    table_schema_free(ts);
}

static void test_key(void **state)
{
    table_schema_t *ts = all_kinds();
    value_t row[16], tags[3];
    buf_t bytes, text;
    char err[256];

    (void)state;
    fill_row(row, tags);
    buf_init(&bytes, 0);
    buf_init(&text, 0);
    assert_true(codec_encode_key(ts, row, &bytes, err, sizeof(err)));
    /* INT64_MIN zigzag-encodes to ten bytes, and the key holds only id. */
    assert_int_equal(bytes.len, 10);
    assert_true(table_schema_key_avro(ts, "cdc", &text));
    buf_cstr(&text);
    assert_non_null(strstr((char *)text.data, "\"name\":\"Key\""));
    assert_null(strstr((char *)text.data, "title"));

    row[0].state = VALUE_NULL;
    buf_reset(&bytes);
    assert_false(codec_encode_key(ts, row, &bytes, err, sizeof(err)));
    assert_non_null(strstr(err, "key column \"id\""));
    buf_free(&bytes);
    buf_free(&text);
    table_schema_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decimals),
        cmocka_unit_test(test_avro_c_reads_our_records),
        cmocka_unit_test(test_schema_round_trip),
        cmocka_unit_test(test_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
