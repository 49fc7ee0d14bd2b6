/* The GraphQL lexer: every token kind, string escapes and block string
 * dedent, ignored tokens (white space, commas, comments, byte order
 * marks), the line and column of tokens as graphql-js counts them, and
 * each lexical error with its position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql_ast.h"

/* Tokens as "Kind:value", with bytes outside printable ASCII as \xHH. */
static bool lex_all(const char *src, size_t len, buf_t *out, gql_error_t *err)
{
    arena_t arena;
    gql_lexer_t lx;
    gql_token_t tok;
    bool ok = true;

    arena_init(&arena, 0);
    gql_lexer_init(&lx, src, len, &arena);
    for (;;) {
        if (!gql_lexer_next(&lx, &tok, err)) {
            ok = false;
            break;
        }
        if (tok.kind == GQL_TOK_EOF)
            break;
        if (out->len)
            buf_putc(out, ' ');
        switch (tok.kind) {
        case GQL_TOK_NAME:
            buf_puts(out, "Name:");
            break;
        case GQL_TOK_INT:
            buf_puts(out, "Int:");
            break;
        case GQL_TOK_FLOAT:
            buf_puts(out, "Float:");
            break;
        case GQL_TOK_STRING:
            buf_puts(out, "String:");
            break;
        case GQL_TOK_BLOCK_STRING:
            buf_puts(out, "Block:");
            break;
        default: {
            const char *k = gql_tok_kind_name(tok.kind);

            /* punctuators print as themselves, without the quotes */
            buf_append(out, k + 1, strlen(k) - 2);
            continue;
        }
        }
        for (size_t i = 0; i < tok.len; i++) {
            unsigned char c = (unsigned char)tok.value[i];

            if (c >= 0x20 && c < 0x7f)
                buf_putc(out, c);
            else
                buf_printf(out, "\\x%02x", c);
        }
    }
    arena_free(&arena);
    buf_putc(out, 0);
    return ok;
}

typedef struct lex_case {
    const char *input;
    const char *tokens; /* NULL when an error is expected */
    const char *error;
    int line, column;
} lex_case_t;

#define OK(in, toks)                                                           \
    {                                                                          \
        in, toks, NULL, 0, 0                                                   \
    }
#define ERR(in, msg, l, c)                                                     \
    {                                                                          \
        in, NULL, msg, l, c                                                    \
    }

static const lex_case_t cases[] = {
    OK("{ } ( ) [ ] ! $ & : = @ | ...", "{ } ( ) [ ] ! $ & : = @ | ..."),
    OK("query _x1 X_Y __typename",
       "Name:query Name:_x1 Name:X_Y Name:__typename"),
    OK("0 -0 12 -34 1.5 -2.25e3 1E-2 6.02e+23 0.0",
       "Int:0 Int:-0 Int:12 Int:-34 Float:1.5 Float:-2.25e3 Float:1E-2 "
       "Float:6.02e+23 Float:0.0"),
    OK("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"",
       "String:a\"b\\c/d\\x08e\\x0cf\\x0ag\\x0dh\\x09i"),
    OK("\"\\u0041\\u00e9\\u4E2D\"", "String:A\\xc3\\xa9\\xe4\\xb8\\xad"),
    OK("\"\\uD83D\\uDE00\"", "String:\\xf0\\x9f\\x98\\x80"),
    OK("\"\\u{1F600}\\u{41}\\u{0000041}\"", "String:\\xf0\\x9f\\x98\\x80AA"),
    OK("\"caf\xc3\xa9 \xf0\x9d\x84\x9e\"",
       "String:caf\\xc3\\xa9 \\xf0\\x9d\\x84\\x9e"),
    OK("\"\"", "String:"),
    OK("\"a\x01\x7f\"", "String:a\\x01\\x7f"),
    OK("\"\"\"\n    hello\n      world\n    \"\"\"", "Block:hello\\x0a  world"),
    OK("\"\"\"  first\n  second\"\"\"", "Block:  first\\x0asecond"),
    OK("\"\"\"x \\\"\"\" y\"\"\"", "Block:x \"\"\" y"),
    OK("\"\"\"\"\"\"", "Block:"),
    OK("\"\"\"a\\nb\"\"\"", "Block:a\\nb"),
    OK("\"\"\"\r\n\r\n  a\r\n\r\n   b\r\n  \r\n\"\"\"", "Block:a\\x0a\\x0a b"),
    OK("\"\"\"\n\t\tx\n\t y\n\"\"\"", "Block:x\\x0ay"),
    OK("\xef\xbb\xbf# comment\n,a,#x\r\nb\xef\xbb\xbf\tc",
       "Name:a Name:b Name:c"),
    OK("# only a comment", ""),
    OK("", ""),
    ERR("'x'",
        "Syntax Error: Unexpected single quote character ('), did you mean to "
        "use a double quote (\")?",
        1, 1),
    ERR("a ?", "Syntax Error: Unexpected character: \"?\".", 1, 3),
    ERR("\"abc", "Syntax Error: Unterminated string.", 1, 5),
    ERR("\"a\nb\"", "Syntax Error: Unterminated string.", 1, 3),
    ERR("\"\\x\"", "Syntax Error: Invalid character escape sequence: \"\\x\".",
        1, 2),
    ERR("\"\\u12\"",
        "Syntax Error: Invalid Unicode escape sequence: \"\\u12\"\".", 1, 2),
    ERR("\"\\uD800\"",
        "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 2),
    ERR("\"\\uDE00\\uD83D\"",
        "Syntax Error: Invalid Unicode escape sequence: \"\\uDE00\".", 1, 2),
    ERR("\"\\u{110000}\"",
        "Syntax Error: Invalid Unicode escape sequence: \"\\u{110000}\".", 1,
        2),
    ERR("\"\\u{}\"",
        "Syntax Error: Invalid Unicode escape sequence: \"\\u{}\".", 1, 2),
    ERR("01",
        "Syntax Error: Invalid number, unexpected digit after 0: "
        "\"1\".",
        1, 2),
    ERR("1.", "Syntax Error: Invalid number, expected digit but got: <EOF>.", 1,
        3),
    ERR("1a", "Syntax Error: Invalid number, expected digit but got: \"a\".", 1,
        2),
    ERR("1.5.2", "Syntax Error: Invalid number, expected digit but got: \".\".",
        1, 4),
    ERR("-", "Syntax Error: Invalid number, expected digit but got: <EOF>.", 1,
        2),
    ERR("1e+", "Syntax Error: Invalid number, expected digit but got: <EOF>.",
        1, 4),
    ERR(".5", "Syntax Error: Unexpected character: \".\".", 1, 1),
    ERR("..", "Syntax Error: Unexpected character: \".\".", 1, 1),
    ERR("\xc3\xa9", "Syntax Error: Unexpected character: U+00E9.", 1, 1),
    ERR("a\n  \xff",
        "Syntax Error: Invalid character: invalid UTF-8 byte 0xFF.", 2, 3),
    ERR("\"ab\xc3\"",
        "Syntax Error: Invalid character within String: invalid UTF-8 byte "
        "0xC3.",
        1, 4),
    ERR("# \xed\xa0\x80 surrogate",
        "Syntax Error: Invalid character: invalid UTF-8 byte 0xED.", 1, 3),
    ERR("\"\"\"abc", "Syntax Error: Unterminated string.", 1, 7),
    ERR("\"\"\"a\n\nb", "Syntax Error: Unterminated string.", 3, 2),
};

static void test_tokens(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const lex_case_t *c = &cases[i];
        gql_error_t err = {0};
        buf_t out;
        bool ok;

        buf_init(&out, 0);
        ok = lex_all(c->input, strlen(c->input), &out, &err);
        if (c->tokens) {
            if (!ok)
                fail_msg("case %zu: unexpected error %s", i, err.message);
            assert_string_equal((char *)out.data, c->tokens);
        } else {
            if (ok)
                fail_msg("case %zu: lexed \"%s\", expected an error", i,
                         (char *)out.data);
            assert_string_equal(err.message, c->error);
            assert_int_equal(err.line, c->line);
            assert_int_equal(err.column, c->column);
        }
        buf_free(&out);
    }
}

/* A NUL byte is a character like any other, not the end of the text. */
static void test_nul_byte(void **state)
{
    static const char src[] = {'a', ' ', 0, ' ', 'b'};
    gql_error_t err = {0};
    buf_t out;

    buf_init(&out, 0);
    assert_false(lex_all(src, sizeof(src), &out, &err));
    assert_string_equal(err.message,
                        "Syntax Error: Unexpected character: U+0000.");
    assert_int_equal(err.column, 3);
    buf_reset(&out);
    assert_true(lex_all("\"\\u0000\"", 8, &out, &err));
    assert_string_equal((char *)out.data, "String:\\x00");
    buf_free(&out);
}

typedef struct loc_case {
    const char *input;
    int token; /* 0-based index of the token to locate */
    int line, column;
} loc_case_t;

static const loc_case_t locations[] = {
    {"a\nb", 1, 2, 1},
    {"a\r\nb", 1, 2, 1},
    {"a\rb", 1, 2, 1},
    {"a\n\r\n\rb", 1, 4, 1},
    {"  a  b", 1, 1, 6},
    {"\"\xf0\x9d\x84\x9e\" x", 1, 1, 6}, /* U+1D11E counts two units */
    {"\"\xc3\xa9\" x", 1, 1, 5},
    {"\"\"\"a\nbc\"\"\" d", 1, 2, 7},
    {"x \"\"\"a\r\nb\"\"\"", 1, 1, 3},
    {"\xef\xbb\xbf"
     "a",
     0, 1, 2},
    {"# c\n  { }", 1, 2, 5},
};

static void test_locations(void **state)
{
    for (size_t i = 0; i < sizeof(locations) / sizeof(*locations); i++) {
        const loc_case_t *c = &locations[i];
        arena_t arena;
        gql_lexer_t lx;
        gql_token_t tok;
        gql_error_t err;

        arena_init(&arena, 0);
        gql_lexer_init(&lx, c->input, strlen(c->input), &arena);
        for (int t = 0; t <= c->token; t++)
            assert_true(gql_lexer_next(&lx, &tok, &err));
        if (tok.loc.line != c->line || tok.loc.column != c->column)
            fail_msg("case %zu: token at %d:%d, expected %d:%d", i,
                     tok.loc.line, tok.loc.column, c->line, c->column);
        arena_free(&arena);
    }
}

static void test_string_limit(void **state)
{
    size_t n = GQL_MAX_STRING + 10;
    char *src = malloc(n + 3);
    gql_error_t err = {0};
    buf_t out;

    src[0] = '"';
    memset(src + 1, 'a', n);
    src[n + 1] = '"';
    src[n + 2] = 0;
    buf_init(&out, 0);
    assert_false(lex_all(src, n + 2, &out, &err));
    assert_non_null(strstr(err.message, "String is longer than 16384 bytes"));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);

    /* exactly at the limit is fine */
    src[GQL_MAX_STRING + 1] = '"';
    buf_reset(&out);
    assert_true(lex_all(src, GQL_MAX_STRING + 2, &out, &err));
    buf_free(&out);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_string_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
