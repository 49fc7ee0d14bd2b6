/* Validation: each of graphql-js's specifiedRules on documents that break
 * it (first error, its message and location) and on near misses that are
 * valid, against the test collections; then the error limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql_ast.h"

/* from test_graphql_fixtures.c */
void gqlt_setup(void);
void gqlt_teardown(void);
const gql_collection_t *gqlt_collections(int *n);

typedef struct vcase {
    const char *doc;
    const char *error; /* first error; NULL when the document is valid */
    int line, column;
} vcase_t;

#define V(doc)                                                                 \
    {                                                                          \
        doc, NULL, 0, 0                                                        \
    }
#define E(doc, msg, l, c)                                                      \
    {                                                                          \
        doc, msg, l, c                                                         \
    }

static const vcase_t cases[] = {
    V("subscription { articles_mutated { key event cursor data { id title "
      "views rating updated_at published tags meta price hits "
      "__typename } __typename } }"),
    V("query Q { _empty __typename }"),
    V("mutation M { anything }"),

    /* ExecutableDefinitions */
    E("subscription { articles { key } } scalar X",
      "The \"X\" definition is not executable.", 1, 35),
    E("extend schema @d subscription { articles { key } }",
      "The schema definition is not executable.", 1, 1),

    /* UniqueOperationNames, LoneAnonymousOperation */
    E("subscription A { articles { key } }\nquery A { _empty }",
      "There can be only one operation named \"A\".", 1, 14),
    E("{ _empty }\nsubscription B { articles { key } }",
      "This anonymous operation must be the only defined operation.", 1, 1),
    V("query A { _empty }\nsubscription B { articles { key } }"),

    /* SingleFieldSubscriptions */
    E("subscription { articles { key } authors { key } }",
      "Anonymous Subscription must select only one top level field.", 1, 33),
    E("subscription S { a: articles { key } ...F }\n"
      "fragment F on Subscription { b: articles { key } }",
      "Subscription \"S\" must select only one top level field.", 2, 30),
    E("subscription { __typename }",
      "Anonymous Subscription must not select an introspection top level "
      "field.",
      1, 16),
    V("subscription { articles { key } articles { event } }"),
    V("subscription { articles { key } authors @skip(if: true) { key } }"),
    E("subscription ($s: Boolean!) { articles @skip(if: $s) { key } }",
      "Argument \"if\" of required type \"Boolean!\" was provided the "
      "variable \"$s\" which was not provided a runtime value.",
      1, 50),
    E("subscription { articles @include { key } }",
      "Argument \"if\" of required type \"Boolean!\" was not provided.", 1, 25),

    /* KnownTypeNames */
    E("subscription ($f: articles_filtr) { articles(filter: $f) { key } }",
      "Unknown type \"articles_filtr\". Did you mean \"articles_filter\", "
      "\"articles\", \"articles_mutated\", or \"authors_filter\"?",
      1, 19),
    E("subscription { articles { ... on Nope { key } } }",
      "Unknown type \"Nope\".", 1, 34),

    /* FragmentsOnCompositeTypes */
    E("subscription { articles { ... on ID { key } } }",
      "Fragment cannot condition on non composite type \"ID\".", 1, 34),
    E("subscription { articles { ...F } }\nfragment F on articles_filter "
      "{ a }",
      "Fragment \"F\" cannot condition on non composite type "
      "\"articles_filter\".",
      2, 15),

    /* VariablesAreInputTypes */
    E("subscription ($a: [articles!]) { articles { key } }",
      "Variable \"$a\" cannot be non-input type \"[articles!]\".", 1, 19),

    /* ScalarLeafs */
    E("subscription { articles { key { x } } }",
      "Field \"key\" must not have a selection since type \"ID\" has no "
      "subfields.",
      1, 31),
    E("subscription { articles { data } }",
      "Field \"data\" of type \"articles\" must have a selection of "
      "subfields. Did you mean \"data { ... }\"?",
      1, 27),

    /* FieldsOnCorrectType */
    E("subscription { articles { data { titel } } }",
      "Cannot query field \"titel\" on type \"articles\". Did you mean "
      "\"title\" or \"hits\"?",
      1, 34),
    E("subscription { articles { data { __reserved } } }",
      "Cannot query field \"__reserved\" on type \"articles\".", 1, 34),
    E("subscription { article_mutated { key } }",
      "Cannot query field \"article_mutated\" on type \"Subscription\". Did "
      "you mean \"articles_mutated\" or \"authors_mutated\"?",
      1, 16),

    /* UniqueFragmentNames, KnownFragmentNames, NoUnusedFragments */
    E("subscription { articles { ...F } }\nfragment F on articles_mutated "
      "{ key }\nfragment F on articles_mutated { event }",
      "There can be only one fragment named \"F\".", 2, 10),
    E("subscription { articles { ...Missing } }",
      "Unknown fragment \"Missing\".", 1, 30),
    E("subscription { articles { key } }\nfragment U on articles { id }",
      "Fragment \"U\" is never used.", 2, 1),

    /* PossibleFragmentSpreads */
    E("subscription { articles { data { ...A } } }\nfragment A on authors "
      "{ name }",
      "Fragment \"A\" cannot be spread here as objects of type \"articles\" "
      "can never be of type \"authors\".",
      1, 34),
    E("subscription { articles { ... on authors_mutated { key } } }",
      "Fragment cannot be spread here as objects of type "
      "\"articles_mutated\" can never be of type \"authors_mutated\".",
      1, 27),

    /* NoFragmentCycles */
    E("subscription { articles { ...A } }\nfragment A on articles_mutated "
      "{ key ...B }\nfragment B on articles_mutated { ...A }",
      "Cannot spread fragment \"A\" within itself via \"B\".", 2, 38),

    /* UniqueVariableNames, NoUndefinedVariables, NoUnusedVariables */
    E("subscription ($a: String, $a: String) { articles(after: $a) { key } }",
      "There can be only one variable named \"$a\".", 1, 16),
    E("subscription S { articles(after: $c) { key } }",
      "Variable \"$c\" is not defined by operation \"S\".", 1, 34),
    E("subscription ($u: String) { articles { key } }",
      "Variable \"$u\" is never used.", 1, 15),
    V("subscription ($s: Boolean!) { articles { ...F } }\n"
      "fragment F on articles_mutated { key @skip(if: $s) }"),

    /* KnownDirectives, UniqueDirectivesPerLocation */
    E("subscription { articles { key @live } }", "Unknown directive \"@live\".",
      1, 31),
    E("subscription @include(if: true) { articles { key } }",
      "Directive \"@include\" may not be used on SUBSCRIPTION.", 1, 14),
    E("subscription { articles { key @skip(if: false) @skip(if: false) } }",
      "The directive \"@skip\" can only be used once at this location.", 1, 31),

    /* KnownArgumentNames, UniqueArgumentNames */
    E("subscription { articles(filtre: {}) { key } }",
      "Unknown argument \"filtre\" on field \"Subscription.articles\". Did "
      "you mean \"filter\"?",
      1, 25),
    E("subscription { articles { key @skip(if: true, unless: false) } }",
      "Unknown argument \"unless\" on directive \"@skip\".", 1, 47),
    E("subscription { articles(after: \"a\", after: \"b\") { key } }",
      "There can be only one argument named \"after\".", 1, 25),

    /* ValuesOfCorrectType */
    E("subscription { articles(event: created) { key } }",
      "Value \"created\" does not exist in \"EventEnum\" enum. Did you mean "
      "the enum value \"create\"?",
      1, 32),
    E("subscription { articles(event: \"update\") { key } }",
      "Enum \"EventEnum\" cannot represent non-enum value: \"update\". Did "
      "you mean the enum value \"update\"?",
      1, 32),
    E("subscription { articles(filter: {title: {_eq: 3}}) { key } }",
      "String cannot represent a non string value: 3", 1, 47),
    E("subscription { articles(filter: {id: {_eq: 1.5}}) { key } }",
      "ID cannot represent a non-string and non-integer value: 1.5", 1, 44),
    E("subscription { articles(filter: [{title: {_eq: \"x\"}}]) { key } }",
      "Expected value of type \"articles_filter\", found [{title: {_eq: "
      "\"x\"}}].",
      1, 33),
    E("subscription { articles(filter: {tittle: {_eq: \"x\"}}) { key } }",
      "Field \"tittle\" is not defined by type \"articles_filter\". Did you "
      "mean \"title\"?",
      1, 34),
    E("subscription { articles { key @skip(if: null) } }",
      "Expected value of type \"Boolean!\", found null.", 1, 41),
    V("subscription { articles(filter: {views: {_eq: {any: [1, x, null]}}, "
      "title: {_in: \"one\"}, _or: {id: {_in: [1, \"2\"]}}}) { key } }"),

    /* ProvidedRequiredArguments */
    E("query { __type { name } }",
      "Field \"__type\" argument \"name\" of type \"String!\" is required, "
      "but it was not provided.",
      1, 9),

    /* VariablesInAllowedPosition */
    E("subscription ($e: String) { articles(event: $e) { key } }",
      "Variable \"$e\" of type \"String\" used in position expecting type "
      "\"EventEnum\".",
      1, 15),
    E("subscription ($b: Boolean) { articles { key @include(if: $b) } }",
      "Variable \"$b\" of type \"Boolean\" used in position expecting type "
      "\"Boolean!\".",
      1, 15),
    V("subscription ($b: Boolean = false) { articles { key @include(if: $b) "
      "} }"),
    V("subscription ($t: [String!]!) { articles(filter: {title: {_in: $t}}) "
      "{ key } }"),

    /* OverlappingFieldsCanBeMerged */
    E("subscription { articles { x: key x: cursor } }",
      "Fields \"x\" conflict because \"key\" and \"cursor\" are different "
      "fields. Use different aliases on the fields to fetch both if this "
      "was intentional.",
      1, 27),
    E("subscription { articles(event: create) { key } articles { event } }",
      "Fields \"articles\" conflict because they have differing arguments. "
      "Use different aliases on the fields to fetch both if this was "
      "intentional.",
      1, 16),
    E("subscription { articles { data { a: id } ...F } }\n"
      "fragment F on articles_mutated { data { a: title } }",
      "Fields \"data\" conflict because subfields \"a\" conflict because "
      "\"id\" and \"title\" are different fields. Use different aliases on "
      "the fields to fetch both if this was intentional.",
      1, 27),
    V("subscription { articles(filter: {title: {_eq: \"a\"}, id: {_eq: 1}}) "
      "{ key } articles(filter: {id: {_eq: 1}, title: {_eq: \"a\"}}) "
      "{ event } }"),

    /* UniqueInputFieldNames */
    E("subscription { articles(filter: {title: {_eq: \"a\"}, title: {_eq: "
      "\"b\"}}) { key } }",
      "There can be only one input field named \"title\".", 1, 34),

    /* MaxIntrospectionDepth */
    E("query { __schema { types { fields { type { fields { type { fields { "
      "name } } } } } } } }",
      "Maximum introspection depth exceeded", 1, 9),
    V("query { __schema { types { fields { type { name } } } } }"),
};

static gql_schema_t *build(arena_t *arena)
{
    int n;
    const gql_collection_t *cols = gqlt_collections(&n);

    return gql_schema_build(arena, cols, n);
}

static void test_rules(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const vcase_t *c = &cases[i];
        gql_error_t items[4], perr;
        gql_errors_t errors = {.items = items, .max = 4};
        gql_document_t *doc = gql_parse(c->doc, strlen(c->doc), &perr);
        arena_t arena;
        bool ok;

        if (!doc)
            fail_msg("case %zu does not parse: %s", i, perr.message);
        arena_init(&arena, 0);
        ok = gql_validate(build(&arena), doc, &errors);
        if (!c->error && !ok)
            fail_msg("case %zu: unexpected \"%s\" at %d:%d", i,
                     items[0].message, items[0].line, items[0].column);
        if (c->error && ok)
            fail_msg("case %zu (%s) passed, expected \"%s\"", i, c->doc,
                     c->error);
        if (c->error &&
            (strcmp(items[0].message, c->error) != 0 ||
             items[0].line != c->line || items[0].column != c->column))
            fail_msg("case %zu: got \"%s\" at %d:%d, expected \"%s\" at "
                     "%d:%d",
                     i, items[0].message, items[0].line, items[0].column,
                     c->error, c->line, c->column);
        arena_free(&arena);
        gql_document_free(doc);
    }
}

/* graphql-js stops at 100 errors with one saying so. */
static void test_error_limit(void **state)
{
    buf_t doc;
    gql_error_t *items = calloc(200, sizeof(*items)), perr;
    gql_errors_t errors = {.items = items, .max = 200};
    gql_document_t *parsed;
    arena_t arena;

    buf_init(&doc, 0);
    buf_puts(&doc, "subscription { articles { ");
    for (int i = 0; i < 150; i++)
        buf_printf(&doc, "f%d ", i);
    buf_puts(&doc, "} }");
    parsed = gql_parse((char *)doc.data, doc.len, &perr);
    assert_non_null(parsed);
    arena_init(&arena, 0);
    assert_false(gql_validate(build(&arena), parsed, &errors));
    assert_int_equal(errors.count, 101);
    assert_string_equal(items[99].message, "Cannot query field \"f99\" on type "
                                           "\"articles_mutated\".");
    assert_string_equal(items[100].message,
                        "Too many validation errors, error limit reached. "
                        "Validation aborted.");
    arena_free(&arena);
    gql_document_free(parsed);
    buf_free(&doc);
    free(items);
}

/* All errors of a document come in document order, each at its node. */
static void test_several_errors(void **state)
{
    static const char text[] = "subscription S($unused: Int) {\n"
                               "  articles(event: nope) {\n"
                               "    missing\n"
                               "    data { id { x } }\n"
                               "  }\n"
                               "}\n";
    gql_error_t items[8], perr;
    gql_errors_t errors = {.items = items, .max = 8};
    gql_document_t *doc = gql_parse(text, strlen(text), &perr);
    arena_t arena;

    arena_init(&arena, 0);
    assert_false(gql_validate(build(&arena), doc, &errors));
    assert_int_equal(errors.count, 4);
    assert_string_equal(items[0].message,
                        "Value \"nope\" does not exist in \"EventEnum\" "
                        "enum.");
    assert_int_equal(items[0].line, 2);
    assert_string_equal(items[1].message,
                        "Cannot query field \"missing\" on type "
                        "\"articles_mutated\".");
    assert_int_equal(items[1].line, 3);
    assert_int_equal(items[1].column, 5);
    assert_int_equal(items[2].line, 4);
    assert_int_equal(items[2].column, 15);
    assert_string_equal(items[3].message,
                        "Variable \"$unused\" is never used in operation "
                        "\"S\".");
    assert_int_equal(items[3].line, 1);
    assert_int_equal(items[3].column, 16);
    arena_free(&arena);
    gql_document_free(doc);
}

static int setup(void **state)
{
    gqlt_setup();
    return 0;
}

static int teardown(void **state)
{
    gqlt_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_error_limit),
        cmocka_unit_test(test_several_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
