/* The GraphQL parser: each grammar feature, checked through the canonical
 * print of what was built (and a few nodes checked field by field), each
 * syntax error with its location, and the size, depth and token limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql_ast.h"

typedef struct parse_case {
    const char *input;
    const char *printed; /* NULL when an error is expected */
    const char *error;
    int line, column;
} parse_case_t;

#define OK(in, out)                                                            \
    {                                                                          \
        in, out, NULL, 0, 0                                                    \
    }
#define ERR(in, msg, l, c)                                                     \
    {                                                                          \
        in, NULL, msg, l, c                                                    \
    }

static const parse_case_t cases[] = {
    OK("subscription { a }", "subscription { a }"),
    OK("{ a }", "{ a }"),
    OK("query { a }", "query { a }"),
    OK("mutation M { a }", "mutation M { a }"),
    OK("subscription S($a: Int = 1, $b: [String!]! @dir(x: 1)) @op "
       "{ alias: field(arg: $a, o: {k: [1, 2.5, \"s\", true, null, ENUM, "
       "$b]}) @d { sub } }",
       "subscription S($a: Int = 1, $b: [String!]! @dir(x: 1)) @op "
       "{ alias: field(arg: $a, o: {k: [1, 2.5, \"s\", true, null, ENUM, "
       "$b]}) @d { sub } }"),
    OK("{ ...F ... on T { a } ... @include(if: true) { b } ... { c } }\n"
       "fragment F on T @d { c }",
       "{ ...F ... on T { a } ... @include(if: true) { b } ... { c } }\n"
       "fragment F on T @d { c }"),
    OK("{ ...F @skip(if: $x) }", "{ ...F @skip(if: $x) }"),
    OK("\"about Q\" query Q { a }", "query Q { a }"),
    OK("\"\"\"about F\"\"\" fragment F on T { a } { ...F }",
       "fragment F on T { a }\n{ ...F }"),
    OK("query ( \"the x\" $x: Int) { a(x: $x) }",
       "query($x: Int) { a(x: $x) }"),
    OK("{ a(x: -1.5e3, y: 0, z: -0, w: 1E+2) }",
       "{ a(x: -1.5e3, y: 0, z: -0, w: 1E+2) }"),
    OK("{ a(x: [[1], {b: {c: []}}, {}]) }",
       "{ a(x: [[1], {b: {c: []}}, {}]) }"),
    OK("{ a(x: \"q\\\"\\\\\\n\\u0001\xc3\xa9\") }",
       "{ a(x: \"q\\\"\\\\\\n\\u0001\xc3\xa9\") }"),
    OK("{ a(x: \"\"\"  b  \"\"\") }", "{ a(x: \"\"\"  b  \"\"\") }"),
    OK("{ a(onlyName: on, fragment: fragment, query: null) }",
       "{ a(onlyName: on, fragment: fragment, query: null) }"),
    OK("{ on fragment query: subscription }",
       "{ on fragment query: subscription }"),
    OK("query Q($v: [[Int!]]! = [[1]]) { a }",
       "query Q($v: [[Int!]]! = [[1]]) { a }"),
    OK(",,{,a,,b,},,", "{ a b }"),
    OK("type T { a: Int } { a }", "<type system definition T>\n{ a }"),
    OK("schema @d { query: Q, subscription: S }\n"
       "scalar S @specifiedBy(url: \"u\")\n"
       "\"doc\" type T implements & A & B @d { f(a: Int = 1 @d): [T!]! @d }\n"
       "interface I implements A { f: Int }\n"
       "union U = | A | B\n"
       "enum E { A @deprecated B }\n"
       "input In { a: Int = 1, b: [In!] }\n"
       "directive @dd(a: Int) repeatable on FIELD | QUERY\n"
       "extend schema @x\n"
       "extend scalar S @d\n"
       "extend type T { g: Int }\n"
       "extend interface I @d\n"
       "extend union U = C\n"
       "extend enum E { C }\n"
       "extend input In { c: Int }\n",
       "<type system definition schema>\n<type system definition S>\n"
       "<type system definition T>\n<type system definition I>\n"
       "<type system definition U>\n<type system definition E>\n"
       "<type system definition In>\n<type system definition dd>\n"
       "<type system definition schema>\n<type system definition S>\n"
       "<type system definition T>\n<type system definition I>\n"
       "<type system definition U>\n<type system definition E>\n"
       "<type system definition In>"),
    ERR("", "Syntax Error: Unexpected <EOF>.", 1, 1),
    ERR("  # nothing\n", "Syntax Error: Unexpected <EOF>.", 2, 1),
    ERR("{", "Syntax Error: Expected Name, found <EOF>.", 1, 2),
    ERR("{ }", "Syntax Error: Expected Name, found \"}\".", 1, 3),
    ERR("{ a(x: ) }", "Syntax Error: Unexpected \")\".", 1, 8),
    ERR("{ a() }", "Syntax Error: Expected Name, found \")\".", 1, 5),
    ERR("query Q($a Int) { a }",
        "Syntax Error: Expected \":\", found Name \"Int\".", 1, 12),
    ERR("query Q() { a }", "Syntax Error: Expected \"$\", found \")\".", 1, 9),
    ERR("fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", 1,
        10),
    ERR("fragment F T { a }",
        "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12),
    ERR("fragment F on T", "Syntax Error: Expected \"{\", found <EOF>.", 1, 16),
    ERR("{ ...on }", "Syntax Error: Expected Name, found \"}\".", 1, 9),
    ERR("{ ... }", "Syntax Error: Expected \"{\", found \"}\".", 1, 7),
    ERR("query ($x: Int = $y) { a }",
        "Syntax Error: Unexpected variable \"$y\" in constant value.", 1, 18),
    ERR("query ($x: Int = $) { a }", "Syntax Error: Unexpected \"$\".", 1, 18),
    ERR("query ($x: Int @d(a: $y)) { a }",
        "Syntax Error: Unexpected variable \"$y\" in constant value.", 1, 22),
    ERR("query ($x: [Int) { a }", "Syntax Error: Expected \"]\", found \")\".",
        1, 16),
    ERR("\"d\" { a }",
        "Syntax Error: Unexpected description, descriptions are not "
        "supported on shorthand queries.",
        1, 1),
    ERR("\"d\" extend type T { a: Int }",
        "Syntax Error: Unexpected description, only GraphQL definitions "
        "support descriptions.",
        1, 1),
    ERR("\"d\" foo",
        "Syntax Error: Unexpected description, only GraphQL definitions "
        "support descriptions.",
        1, 1),
    ERR("foo", "Syntax Error: Unexpected Name \"foo\".", 1, 1),
    ERR("extend foo", "Syntax Error: Unexpected Name \"foo\".", 1, 8),
    ERR("extend type T", "Syntax Error: Unexpected <EOF>.", 1, 14),
    ERR("extend schema { }", "Syntax Error: Expected Name, found \"}\".", 1,
        17),
    ERR("enum E { null }",
        "Syntax Error: Name \"null\" is reserved and cannot be used for an "
        "enum value.",
        1, 10),
    ERR("directive @d on NOWHERE",
        "Syntax Error: Unexpected Name "
        "\"NOWHERE\".",
        1, 17),
    ERR("schema { fetch: Q }", "Syntax Error: Unexpected Name \"fetch\".", 1,
        10),
    ERR("{ a } }", "Syntax Error: Unexpected \"}\".", 1, 7),
    ERR("{ a(b: {c: 1 d: 2 e}) }",
        "Syntax Error: Expected \":\", found "
        "\"}\".",
        1, 20),
    ERR("subscriptions { a }",
        "Syntax Error: Unexpected Name "
        "\"subscriptions\".",
        1, 1),
    ERR("query Q { a }\n  query", "Syntax Error: Expected \"{\", found <EOF>.",
        2, 8),
    ERR("{ a @ }", "Syntax Error: Expected Name, found \"}\".", 1, 7),
    ERR("{ a: }", "Syntax Error: Expected Name, found \"}\".", 1, 6),
    ERR("{ a(x: \"s\" }", "Syntax Error: Expected Name, found \"}\".", 1, 12),
    ERR("query Q { a(x: 1.) }",
        "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 18),
    ERR("{ a(x: [1, 2 }) }", "Syntax Error: Unexpected \"}\".", 1, 14),
};

static void test_cases(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const parse_case_t *c = &cases[i];
        gql_error_t err;
        gql_document_t *doc = gql_parse(c->input, strlen(c->input), &err);
        buf_t out;

        if (!c->printed) {
            if (doc)
                fail_msg("case %zu (%s) parsed, expected an error", i,
                         c->input);
            if (strcmp(err.message, c->error) != 0 || err.line != c->line ||
                err.column != c->column)
                fail_msg("case %zu: got \"%s\" at %d:%d, expected \"%s\" at "
                         "%d:%d",
                         i, err.message, err.line, err.column, c->error,
                         c->line, c->column);
            continue;
        }
        if (!doc)
            fail_msg("case %zu (%s): %s at %d:%d", i, c->input, err.message,
                     err.line, err.column);
        buf_init(&out, 0);
        gql_print_document(&out, doc);
        buf_putc(&out, 0);
        assert_string_equal((char *)out.data, c->printed);
        buf_free(&out);
        gql_document_free(doc);
    }
}

static gql_document_t *parse_ok(const char *text)
{
    gql_error_t err;
    gql_document_t *doc = gql_parse(text, strlen(text), &err);

    if (!doc)
        fail_msg("%s: %s", text, err.message);
    return doc;
}

/* What printing cannot show: kinds, names, decoded values, locations. */
static void test_nodes(void **state)
{
    gql_document_t *doc = parse_ok(
        "subscription Watch($after: String = \"\") {\n"
        "  live: articles(after: $after, n: \"a\\u0000b\", b: false) {\n"
        "    key\n"
        "  }\n"
        "}");
    const gql_definition_t *d = doc->defs[0];
    const gql_selection_t *f = d->selection_set->items[0];

    assert_int_equal(doc->ndefs, 1);
    assert_int_equal(d->kind, GQL_DEF_OPERATION);
    assert_int_equal(d->operation, GQL_OP_SUBSCRIPTION);
    assert_false(d->shorthand);
    assert_string_equal(d->name, "Watch");
    assert_int_equal(d->name_loc.column, 14);
    assert_int_equal(d->nvar_defs, 1);
    assert_string_equal(d->var_defs[0]->name, "after");
    assert_int_equal(d->var_defs[0]->loc.column, 20);
    assert_int_equal(d->var_defs[0]->name_loc.column, 21);
    assert_int_equal(d->var_defs[0]->default_value->kind, GQL_VAL_STRING);
    assert_int_equal(d->var_defs[0]->default_value->len, 0);

    assert_int_equal(f->kind, GQL_SEL_FIELD);
    assert_string_equal(f->alias, "live");
    assert_string_equal(f->name, "articles");
    assert_int_equal(f->loc.line, 2);
    assert_int_equal(f->loc.column, 3);
    assert_int_equal(f->name_loc.column, 9);
    assert_int_equal(f->nargs, 3);
    assert_int_equal(f->args[0]->value->kind, GQL_VAL_VARIABLE);
    assert_string_equal(f->args[0]->value->str, "after");
    assert_int_equal(f->args[1]->value->len, 3);
    assert_memory_equal(f->args[1]->value->str, "a\0b", 3);
    assert_int_equal(f->args[2]->value->kind, GQL_VAL_BOOLEAN);
    assert_false(f->args[2]->value->boolean);
    assert_int_equal(f->args[2]->loc.column, 48);
    assert_int_equal(f->selection_set->items[0]->loc.line, 3);
    assert_null(f->selection_set->items[0]->selection_set);
    gql_document_free(doc);
}

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    size_t len = strlen(head) + strlen(unit) * (size_t)n + strlen(tail);
    char *s = malloc(len + 1);

    strcpy(s, head);
    for (int i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, tail);
    return s;
}

static void expect_limit(const char *text, const char *fragment)
{
    gql_error_t err;
    gql_document_t *doc = gql_parse(text, strlen(text), &err);

    if (doc)
        fail_msg("parsed a document past a limit (%.40s...)", text);
    if (!strstr(err.message, fragment))
        fail_msg("\"%s\" does not say \"%s\"", err.message, fragment);
}

static void test_limits(void **state)
{
    char *s, *open, *close;
    int depth = GQL_MAX_DEPTH;

    /* size */
    s = repeat("{ a ", "         ", GQL_MAX_DOCUMENT / 9 + 1, "}");
    expect_limit(s, "larger than 65536 bytes");
    free(s);

    /* nesting: selection sets */
    open = repeat("", "{ a ", depth, "");
    close = repeat("", "}", depth, "");
    s = malloc(strlen(open) + strlen(close) + 1);
    sprintf(s, "%s%s", open, close);
    gql_document_free(parse_ok(s));
    free(s);
    free(open);
    free(close);
    open = repeat("", "{ a ", depth + 1, "");
    close = repeat("", "}", depth + 1, "");
    s = malloc(strlen(open) + strlen(close) + 1);
    sprintf(s, "%s%s", open, close);
    expect_limit(s, "nested more than 64 levels");
    free(s);
    free(open);
    free(close);

    /* nesting: values and types */
    s = repeat("{ a(x: ", "[", depth + 1, "1");
    expect_limit(s, "nested more than 64 levels");
    free(s);
    s = repeat("{ a(x: ", "{a: ", depth + 1, "1");
    expect_limit(s, "nested more than 64 levels");
    free(s);
    s = repeat("query($x: ", "[", depth + 1, "Int");
    expect_limit(s, "nested more than 64 levels");
    free(s);

    /* tokens: "{" and "}" plus one per field */
    s = repeat("{", " a", GQL_MAX_TOKENS - 2, " }");
    gql_document_free(parse_ok(s));
    free(s);
    s = repeat("{", " a", GQL_MAX_TOKENS - 1, " }");
    expect_limit(s, "more than 12000 tokens");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
