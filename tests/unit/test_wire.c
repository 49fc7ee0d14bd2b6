/* Confluent framing and the text forms of positions and LSNs. */
#include "wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void test_header(void **state)
{
    uint8_t h[WIRE_HEADER_SIZE];
    uint32_t id = 0;

    (void)state;
    wire_put_header(h, 0x01020304);
    assert_memory_equal(h, "\0\1\2\3\4", 5);
    assert_true(wire_get_header(h, 5, &id));
    assert_int_equal(id, 0x01020304);
    assert_false(wire_get_header(h, 4, &id));
    h[0] = 1;
    assert_false(wire_get_header(h, 5, &id));
}

static void test_positions(void **state)
{
    static const struct {
        const char *text;
        bool ok;
        uint64_t lsn, seq;
    } cases[] = {
        {"16/B374D848:12", true, 0x16B374D848, 12},
        {"0/0:0", true, 0, 0},
        {"FFFFFFFF/FFFFFFFF:18446744073709551615", true, UINT64_MAX,
         UINT64_MAX},
        {"16/b374d848:1", true, 0x16B374D848, 1},
        {"16/B374D848", false, 0, 0},
        {"16/B374D848:", false, 0, 0},
        {"16B374D848:1", false, 0, 0},
        {"1FFFFFFFF/0:1", false, 0, 0},
        {"0/0:18446744073709551616", false, 0, 0},
        {"0/0:-1", false, 0, 0},
        {"", false, 0, 0},
    };
    char out[WIRE_POSITION_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wire_position_t pos;
        bool ok =
            wire_position_parse(cases[i].text, strlen(cases[i].text), &pos);

        if (ok != cases[i].ok)
            fail_msg("\"%s\": parse gave %d", cases[i].text, ok);
        if (!ok)
            continue;
        assert_int_equal(pos.commit_lsn, cases[i].lsn);
        assert_int_equal(pos.seq, cases[i].seq);
        wire_position_format(&pos, out);
        if (strcmp(cases[i].text, "16/b374d848:1") != 0)
            assert_string_equal(out, cases[i].text);
    }
}

static void test_order(void **state)
{
    wire_position_t a = {10, 5}, b = {10, 6}, c = {11, 1};

    (void)state;
    assert_true(wire_position_cmp(&a, &b) < 0);
    assert_true(wire_position_cmp(&b, &c) < 0);
    assert_true(wire_position_cmp(&c, &a) > 0);
    assert_int_equal(wire_position_cmp(&a, &a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
