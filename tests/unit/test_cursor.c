/* Cursors: round trip, and every way a cursor can be refused. */
#include "cursor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void make(buf_t *out, const uint8_t key[CURSOR_KEY_SIZE],
                 const char *topic)
{
    cursor_part_t parts[4] = {
        {0, {0, 0}, {0, 0}},
        {17, {0x16B374D848, 3}, {0x16B374D848, 3}},
        {123456789, {0xFFFFFFFFFF, 9}, {0xFFFFFFFFFF, 12}},
        {1, {5, 1}, {5, 1}},
    };
    uint8_t hash[8];

    cursor_topic_hash(topic, hash);
    assert_true(cursor_encode(hash, parts, 4, key, out));
}

static void test_round_trip(void **state)
{
    uint8_t key[CURSOR_KEY_SIZE], hash[8];
    cursor_t *c = NULL;
    buf_t text;
    char err[256];

    (void)state;
    cursor_derive_key("a shared secret", key);
    buf_init(&text, 0);
    make(&text, key, "cdc.public.articles");
    cursor_topic_hash("cdc.public.articles", hash);
    assert_int_equal(cursor_decode((char *)text.data, text.len, hash, key, &c,
                                   err, sizeof(err)),
                     CURSOR_OK);
    assert_int_equal(c->nparts, 4);
    assert_int_equal(c->parts[2].next_offset, 123456789);
    assert_int_equal(c->parts[1].last_pos.commit_lsn, 0x16B374D848);
    assert_int_equal(c->parts[2].max_pos.seq, 12);
    assert_int_equal(c->parts[2].last_pos.seq, 9);
    /* URL-safe: no padding, no '+' or '/'. */
    assert_null(memchr(text.data, '=', text.len));
    assert_null(memchr(text.data, '+', text.len));
    assert_null(memchr(text.data, '/', text.len));
    free(c);
    buf_free(&text);
}

static void test_refusals(void **state)
{
    uint8_t key[CURSOR_KEY_SIZE], other[CURSOR_KEY_SIZE], hash[8];
    cursor_t *c = NULL;
    buf_t text, foreign;
    char err[256], *copy;

    (void)state;
    cursor_derive_key("a shared secret", key);
    cursor_derive_key("another secret", other);
    cursor_topic_hash("cdc.public.articles", hash);
    buf_init(&text, 0);
    make(&text, key, "cdc.public.articles");

    /* Every single-character change is refused. */
    copy = malloc(text.len);
    for (size_t i = 0; i < text.len; i++) {
        cursor_status_t st;

        memcpy(copy, text.data, text.len);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        st = cursor_decode(copy, text.len, hash, key, &c, err, sizeof(err));
        if (st == CURSOR_OK)
            fail_msg("changed character %zu accepted", i);
        assert_null(c);
    }
    free(copy);

    /* Signed with another secret: forged. */
    buf_init(&foreign, 0);
    make(&foreign, other, "cdc.public.articles");
    assert_int_equal(cursor_decode((char *)foreign.data, foreign.len, hash, key,
                                   &c, err, sizeof(err)),
                     CURSOR_FORGED);

    /* A good cursor of another topic. */
    buf_reset(&foreign);
    make(&foreign, key, "cdc.public.authors");
    assert_int_equal(cursor_decode((char *)foreign.data, foreign.len, hash, key,
                                   &c, err, sizeof(err)),
                     CURSOR_FOREIGN);

    /* Garbage, empty, too long, truncated. */
    assert_int_equal(
        cursor_decode("hello world", 11, hash, key, &c, err, sizeof(err)),
        CURSOR_MALFORMED);
    assert_int_equal(cursor_decode("", 0, hash, key, &c, err, sizeof(err)),
                     CURSOR_MALFORMED);
    assert_int_not_equal(cursor_decode((char *)text.data, text.len - 3, hash,
                                       key, &c, err, sizeof(err)),
                         CURSOR_OK);
    {
        char *big = malloc(CURSOR_MAX_TEXT + 2);

        memset(big, 'A', CURSOR_MAX_TEXT + 1);
        assert_int_equal(cursor_decode(big, CURSOR_MAX_TEXT + 1, hash, key, &c,
                                       err, sizeof(err)),
                         CURSOR_MALFORMED);
        free(big);
    }
    buf_free(&text);
    buf_free(&foreign);
}

/* Signs version, topic and body into cursor text. */
static cursor_status_t decode_body(const uint8_t *body, size_t len,
                                   const char *extra)
{
    uint8_t key[CURSOR_KEY_SIZE], raw[64];
    cursor_t *c = NULL;
    cursor_status_t st;
    buf_t text;
    char err[256];

    cursor_derive_key("a shared secret", key);
    raw[0] = CURSOR_VERSION;
    cursor_topic_hash("cdc.public.articles", raw + 1);
    memcpy(raw + 9, body, len);
    buf_init(&text, 0);
    assert_true(cursor_seal(raw, 9 + len, key, &text));
    buf_puts(&text, extra);
    st = cursor_decode((char *)text.data, text.len, raw + 1, key, &c, err,
                       sizeof(err));
    if (st == CURSOR_OK)
        free(c);
    else
        assert_true(strlen(err) > 0);
    buf_free(&text);
    return st;
}

/* A cursor has one spelling: a signed body written any other way than the
 * encoder writes it is refused, so equal cursors are equal strings. */
static void test_one_spelling(void **state)
{
    static const struct {
        const char *what;
        uint8_t body[16];
        size_t len;
        const char *extra;
        cursor_status_t want;
    } cases[] = {
        {"canonical", {1, 5, 100, 0, 0}, 5, "", CURSOR_OK},
        {"canonical with a highest position",
         {1, 5, 100, 0, 1, 100, 2},
         7,
         "",
         CURSOR_OK},
        {"over-long offset varint",
         {1, 0x85, 0x00, 100, 0, 0},
         6,
         "",
         CURSOR_MALFORMED},
        {"over-long count varint",
         {0x81, 0x00, 5, 100, 0, 0},
         6,
         "",
         CURSOR_MALFORMED},
        {"highest position equal to the last",
         {1, 5, 100, 0, 1, 100, 0},
         7,
         "",
         CURSOR_MALFORMED},
        {"bytes after the last partition",
         {1, 5, 100, 0, 0, 0},
         6,
         "",
         CURSOR_MALFORMED},
        {"partition count past the body",
         {2, 5, 100, 0, 0},
         5,
         "",
         CURSOR_MALFORMED},
        {"unknown flag", {1, 5, 100, 0, 2}, 5, "", CURSOR_MALFORMED},
        {"an extra base64 character",
         {1, 5, 100, 0, 0},
         5,
         "A",
         CURSOR_MALFORMED},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cursor_status_t st =
            decode_body(cases[i].body, cases[i].len, cases[i].extra);

        if (st != cases[i].want)
            fail_msg("%s: status %d, want %d", cases[i].what, (int)st,
                     (int)cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_one_spelling),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
