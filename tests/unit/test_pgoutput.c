/* pgoutput decoder: golden files captured from PostgreSQL 15 (one case per
 * folder of tests/golden/pgoutput: NNN.bin messages and the expected text),
 * and a table of malformed messages with the error each must give. */
#include "buf.h"
#include "pgoutput.h"
#include "pgoutput_dump.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define GOLDEN "golden/pgoutput"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void check_case(const char *name)
{
    char path[512];
    pgoutput_decoder_t d;
    buf_t got;
    size_t len;
    char *expected;

    pgoutput_decoder_init(&d);
    buf_init(&got, 0);
    for (int i = 1;; i++) {
        pgoutput_msg_t m;
        char err[256];
        char *msg;

        snprintf(path, sizeof(path), "%s/%s/%03d.bin", GOLDEN, name, i);
        msg = read_file(path, &len);
        if (!msg)
            break;
        if (!pgoutput_decode(&d, (uint8_t *)msg, len, &m, err, sizeof(err)))
            fail_msg("%s: %s", path, err);
        pgoutput_dump(&m, &got);
        free(msg);
    }
    snprintf(path, sizeof(path), "%s/%s/expected.txt", GOLDEN, name);
    expected = read_file(path, &len);
    assert_non_null(expected);
    buf_cstr(&got);
    assert_string_equal((char *)got.data, expected);
    free(expected);
    buf_free(&got);
    pgoutput_decoder_free(&d);
}

static void test_golden(void **state)
{
    static const char *const cases[] = {
        "basic",    "full-identity",   "multi-statement", "primary-key-change",
        "truncate", "toast-unchanged", "types",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(cases[i]);
}

/* Malformed input: each must be refused with an error naming the fault. */
static void test_malformed(void **state)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *error;
    } cases[] = {
        {"empty", "", 0, "empty pgoutput message"},
        {"unknown byte", "Z\0\0", 3, "unknown pgoutput message byte 0x5a"},
        {"stream start (protocol 2)", "S\0\0\0\1\1", 6,
         "unknown pgoutput message byte 0x53"},
        {"short begin", "B\0\0\0\0", 5, "truncated begin message"},
        {"commit with trailing bytes",
         "C\0"
         "\0\0\0\0\0\0\0\1"
         "\0\0\0\0\0\0\0\2"
         "\0\0\0\0\0\0\0\3"
         "!",
         27, "unexpected trailing bytes"},
        {"relation name without NUL", "R\0\0\0\1public", 11,
         "not NUL-terminated"},
        {"relation with absurd column count", "R\0\0\0\1p\0t\0d\xff\xff", 13,
         "PostgreSQL allows at most"},
        {"relation with unknown identity", "R\0\0\0\1p\0t\0x\0\0", 13,
         "unknown replica identity 0x78"},
        {"insert with unknown tuple tag", "I\0\0\0\1X", 6,
         "expected tuple tag 'N'"},
        {"insert with unknown column kind", "I\0\0\0\1N\0\1q", 9,
         "unknown kind byte 0x71 for column 1"},
        {"value longer than the message", "I\0\0\0\1N\0\1t\0\0\1\0ab", 15,
         "claims 256 bytes but 2 remain"},
        {"delete without old tuple", "D\0\0\0\1N\0\0", 8,
         "expected tuple tag 'K' or 'O'"},
        {"truncate claiming many relations", "T\xff\xff\xff\xff\0", 6,
         "claims 4294967295 relations"},
        {"message content past the end",
         "M\1"
         "\0\0\0\0\0\0\0\1"
         "p\0"
         "\0\0\0\x10"
         "abc",
         19, "claims 16 bytes of content but 3 remain"},
    };
    pgoutput_decoder_t d;

    (void)state;
    pgoutput_decoder_init(&d);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pgoutput_msg_t m;
        char err[256] = "";

        if (pgoutput_decode(&d, (const uint8_t *)cases[i].bytes, cases[i].len,
                            &m, err, sizeof(err)))
            fail_msg("%s: accepted", cases[i].name);
        if (!strstr(err, cases[i].error))
            fail_msg("%s: error \"%s\" does not contain \"%s\"", cases[i].name,
                     err, cases[i].error);
    }
    pgoutput_decoder_free(&d);
}

/* An update with both tuples keeps both readable (the datum array grows
 * while the new tuple is read). */
static void test_update_tuples_survive_growth(void **state)
{
    buf_t msg;
    pgoutput_decoder_t d;
    pgoutput_msg_t m;
    char err[256];

    (void)state;
    buf_init(&msg, 0);
#define PUT(lit) buf_append(&msg, lit, sizeof(lit) - 1)
    PUT("U\0\0\0\1O");
    PUT("\0\2t\0\0\0\1at\0\0\0\1b");
    PUT("N\0\2t\0\0\0\1cu");
#undef PUT
    pgoutput_decoder_init(&d);
    assert_true(pgoutput_decode(&d, msg.data, msg.len, &m, err, sizeof(err)));
    assert_int_equal(m.u.change.old_tuple.ncols, 2);
    assert_memory_equal(m.u.change.old_tuple.cols[0].data, "a", 1);
    assert_memory_equal(m.u.change.old_tuple.cols[1].data, "b", 1);
    assert_memory_equal(m.u.change.new_tuple.cols[0].data, "c", 1);
    assert_int_equal(m.u.change.new_tuple.cols[1].kind, 'u');
    pgoutput_decoder_free(&d);
    buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_update_tuples_survive_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
