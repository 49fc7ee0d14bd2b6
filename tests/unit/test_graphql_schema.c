/* The schema derived from collections: the type and filter operators each
 * column kind gets, what is left out (names GraphQL cannot use, hidden
 * columns, collisions), the SDL text, and built-in scalars that exist only
 * when used, as in graphql-js. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql_ast.h"

typedef struct col {
    const char *name;
    coltype_t type;
    bool key;
} col_t;

static table_schema_t *table(const char *name, const col_t *c, int n)
{
    table_schema_t *ts = table_schema_new("db", "public", name, n);

    for (int i = 0; i < n; i++)
        assert_true(table_schema_set_column(
            ts, i, c[i].name, "x", c[i].type,
            c[i].type == COLTYPE_ARRAY ? COLTYPE_INT : COLTYPE_COUNT_, 0, 0,
            c[i].key));
    return ts;
}

static char *sdl_of(const gql_collection_t *cols, int n)
{
    buf_t b;
    char *s;

    buf_init(&b, 0);
    assert_true(gql_print_sdl(cols, n, &b));
    s = buf_cstr(&b);
    assert_non_null(s);
    return s;
}

static void expect_in(const char *sdl, const char *text)
{
    if (!strstr(sdl, text))
        fail_msg("SDL lacks \"%s\":\n%s", text, sdl);
}

static void expect_not_in(const char *sdl, const char *text)
{
    if (strstr(sdl, text))
        fail_msg("SDL has \"%s\":\n%s", text, sdl);
}

typedef struct kind_case {
    col_t col;
    const char *output; /* "  c: Int\n" in type t */
    const char *filter; /* "  c: number_filter_operators\n" */
} kind_case_t;

static const kind_case_t kinds[] = {
    {{"c", COLTYPE_BOOLEAN, false}, "Boolean", "boolean_filter_operators"},
    {{"c", COLTYPE_INT, false}, "Int", "number_filter_operators"},
    {{"c", COLTYPE_LONG, false}, "GraphQLBigInt", "number_filter_operators"},
    {{"c", COLTYPE_FLOAT, false}, "Float", "number_filter_operators"},
    {{"c", COLTYPE_DOUBLE, false}, "Float", "number_filter_operators"},
    {{"c", COLTYPE_DECIMAL, false}, "String", "number_filter_operators"},
    {{"c", COLTYPE_NUMERIC, false}, "String", "number_filter_operators"},
    {{"c", COLTYPE_STRING, false}, "String", "string_filter_operators"},
    {{"c", COLTYPE_BYTES, false}, "String", "string_filter_operators"},
    {{"c", COLTYPE_UUID, false}, "String", "string_filter_operators"},
    {{"c", COLTYPE_DATE, false}, "Date", "date_filter_operators"},
    {{"c", COLTYPE_TIME, false}, "Date", "date_filter_operators"},
    {{"c", COLTYPE_TIMESTAMP, false}, "Date", "date_filter_operators"},
    {{"c", COLTYPE_TIMESTAMPTZ, false}, "Date", "date_filter_operators"},
    {{"c", COLTYPE_JSON, false}, "JSON", "json_filter_operators"},
    {{"c", COLTYPE_ARRAY, false}, "JSON", "json_filter_operators"},
    {{"c", COLTYPE_INT, true}, "ID", "id_filter_operators"},
    {{"c", COLTYPE_LONG, true}, "ID", "id_filter_operators"},
    {{"c", COLTYPE_STRING, true}, "ID", "id_filter_operators"},
    {{"c", COLTYPE_UUID, true}, "ID", "id_filter_operators"},
    {{"c", COLTYPE_BOOLEAN, true}, "Boolean", "boolean_filter_operators"},
    {{"c", COLTYPE_TIMESTAMPTZ, true}, "Date", "date_filter_operators"},
};

static void test_kinds(void **state)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        table_schema_t *ts = table("t", &kinds[i].col, 1);
        gql_collection_t col = {"t", ts, NULL, NULL};
        char *sdl = sdl_of(&col, 1), want[200];

        snprintf(want, sizeof(want), "type t {\n  c: %s\n}", kinds[i].output);
        expect_in(sdl, want);
        snprintf(want, sizeof(want),
                 "input t_filter {\n  c: %s\n  _and: [t_filter]\n"
                 "  _or: [t_filter]\n}",
                 kinds[i].filter);
        expect_in(sdl, want);
        free(sdl);
        table_schema_free(ts);
    }
}

static void test_sdl(void **state)
{
    static const col_t cols[] = {
        {"id", COLTYPE_INT, true},        {"title", COLTYPE_STRING, false},
        {"bad-name", COLTYPE_INT, false}, {"__x", COLTYPE_INT, false},
        {"9lives", COLTYPE_INT, false},   {"_and", COLTYPE_STRING, false},
    };
    table_schema_t *ts = table("posts", cols, 6);
    gql_collection_t col = {"posts", ts, NULL, NULL};
    char *sdl = sdl_of(&col, 1);
    gql_error_t err;
    gql_document_t *doc;

    expect_in(sdl, "type Query {\n  _empty: Boolean\n}");
    expect_in(sdl, "type Subscription {\n"
                   "  posts_mutated(event: EventEnum, filter: posts_filter, "
                   "after: String): posts_mutated\n"
                   "  posts(event: EventEnum, filter: posts_filter, after: "
                   "String): posts_mutated\n}");
    expect_in(sdl, "enum EventEnum {\n  create\n  update\n  delete\n  init\n}");
    expect_in(sdl, "scalar JSON\n");
    expect_in(sdl, "scalar GraphQLStringOrFloat\n");
    expect_in(sdl, "type posts {\n  id: ID\n  title: String\n  _and: String\n"
                   "}");
    expect_in(sdl, "type posts_mutated {\n  key: ID\n  event: EventEnum\n"
                   "  cursor: String\n  data: posts\n}");
    expect_in(sdl, "input posts_filter {\n  id: id_filter_operators\n"
                   "  title: string_filter_operators\n"
                   "  _and: [posts_filter]\n  _or: [posts_filter]\n}");
    expect_in(sdl, "  _in: [String]\n");
    expect_in(sdl, "  _between: [GraphQLStringOrFloat]\n");
    expect_not_in(sdl, "bad");
    expect_not_in(sdl, "__x");
    expect_not_in(sdl, "9lives");
    expect_not_in(sdl, "scalar String");
    expect_not_in(sdl, "__Schema");

    /* every definition reads back as type system definitions */
    doc = gql_parse(sdl, strlen(sdl), &err);
    if (!doc)
        fail_msg("%s at %d:%d", err.message, err.line, err.column);
    for (int i = 0; i < doc->ndefs; i++)
        assert_int_equal(doc->defs[i]->kind, GQL_DEF_TYPE_SYSTEM);
    gql_document_free(doc);
    free(sdl);
    table_schema_free(ts);
}

static bool hide_all(void *arg, int col)
{
    return false;
}

/* Collections whose names cannot be exposed are left out whole. */
static void test_collections_left_out(void **state)
{
    static const col_t one[] = {{"id", COLTYPE_INT, true}};
    table_schema_t *ts = table("x", one, 1);
    gql_collection_t cols[] = {
        {"news", ts, NULL, NULL},
        {"news_mutated", ts, NULL, NULL}, /* collides with news's */
        {"news", ts, NULL, NULL},         /* twice */
        {"Query", ts, NULL, NULL},        /* a root type */
        {"Mutation", ts, NULL, NULL},     /* would become a root */
        {"string_filter_operators", ts, NULL, NULL},
        {"bad-name", ts, NULL, NULL},
        {"__meta", ts, NULL, NULL},
        {"hidden", ts, hide_all, NULL}, /* nothing readable */
        {"later", ts, NULL, NULL},
    };
    char *sdl = sdl_of(cols, (int)(sizeof(cols) / sizeof(*cols)));

    expect_in(sdl, "type news {");
    expect_in(sdl, "type later {");
    expect_not_in(sdl, "news_mutated_mutated");
    expect_not_in(sdl, "Query_mutated");
    expect_not_in(sdl, "type Mutation");
    expect_not_in(sdl, "string_filter_operators_mutated");
    expect_not_in(sdl, "bad");
    expect_not_in(sdl, "__meta");
    expect_not_in(sdl, "hidden");
    free(sdl);
    table_schema_free(ts);
}

static int compile_errors(const gql_collection_t *cols, int n, const char *doc,
                          gql_error_t *first)
{
    gql_error_t errors[4];
    int nerr = 0;
    gql_plan_t *plan =
        gql_compile(doc, strlen(doc), NULL, NULL, cols, n, errors, 4, &nerr);

    gql_plan_free(plan);
    if (nerr)
        *first = errors[0];
    return nerr;
}

/* Without a readable collection there is no subscription root. */
static void test_no_collections(void **state)
{
    char *sdl = sdl_of(NULL, 0);
    gql_error_t err;

    expect_in(sdl, "type Query {");
    expect_not_in(sdl, "Subscription");
    free(sdl);
    assert_int_equal(compile_errors(NULL, 0, "subscription { x { y } }", &err),
                     1);
    assert_string_equal(err.message,
                        "Schema is not configured to execute subscription "
                        "operation: no collection is readable.");
}

/* graphql-js knows Int, Float and ID only when the schema uses them. */
static void test_builtin_scalars(void **state)
{
    static const col_t plain[] = {{"name", COLTYPE_STRING, false}};
    static const col_t numbers[] = {{"name", COLTYPE_STRING, false},
                                    {"ratio", COLTYPE_DOUBLE, false}};
    static const char doc[] =
        "subscription ($x: Float) { t(filter: {name: {_eq: \"a\"}, "
        "_or: {name: {_in: []}}}) { data { name } key @skip(if: false) } "
        "}\nfragment F on t { name } fragment G on t { ...F ...G }";
    table_schema_t *a = table("t", plain, 1), *b = table("t", numbers, 2);
    gql_collection_t ca = {"t", a, NULL, NULL}, cb = {"t", b, NULL, NULL};
    gql_error_t err;

    assert_true(compile_errors(&ca, 1, doc, &err) > 0);
    assert_string_equal(err.message, "Unknown type \"Float\".");
    assert_true(compile_errors(&cb, 1, doc, &err) > 0);
    assert_string_not_equal(err.message, "Unknown type \"Float\".");
    assert_true(compile_errors(&cb, 1, "subscription ($x: ID) { t { key } }",
                               &err) > 0);
    assert_string_equal(err.message, "Variable \"$x\" is never used.");
    table_schema_free(a);
    table_schema_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_sdl),
        cmocka_unit_test(test_collections_left_out),
        cmocka_unit_test(test_no_collections),
        cmocka_unit_test(test_builtin_scalars),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
