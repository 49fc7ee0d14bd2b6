/* Subscription plans: what gql_compile makes of aliases, fragments,
 * @skip/@include, variables and the filter argument; when two plans share
 * a projection key; permission hiding; and the requests it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphql.h"

/* from test_graphql_fixtures.c */
void gqlt_setup(void);
void gqlt_teardown(void);
const gql_collection_t *gqlt_collections(int *n);
void gqlt_hide(const char *collection, const char *column);
int gqlt_column(const char *collection, const char *column);

static gql_error_t first_error;

/* Compiles doc with variables given as JSON text (or NULL); on failure
 * keeps the first error in first_error. */
static gql_plan_t *compile(const char *doc, const char *vars, const char *op)
{
    gql_error_t errors[4];
    int n = 0, ncols;
    const gql_collection_t *cols = gqlt_collections(&ncols);
    json_t *v = NULL;
    gql_plan_t *plan;

    if (vars) {
        json_error_t jerr;

        v = json_loads(vars, JSON_DECODE_ANY, &jerr);
        if (!v)
            fail_msg("bad test variables %s: %s", vars, jerr.text);
    }
    plan = gql_compile(doc, strlen(doc), op, v, cols, ncols, errors, 4, &n);
    json_decref(v);
    memset(&first_error, 0, sizeof(first_error));
    if (!plan) {
        assert_true(n >= 1);
        first_error = errors[0];
    }
    return plan;
}

static gql_plan_t *compile_ok(const char *doc, const char *vars)
{
    gql_plan_t *plan = compile(doc, vars, NULL);

    if (!plan)
        fail_msg("%s: %s (%d:%d)", doc, first_error.message, first_error.line,
                 first_error.column);
    return plan;
}

/* "key:key,e:event,d:data{id:#0}" from the plan's lists. */
static void shape(buf_t *b, const gql_out_field_t *f, int n)
{
    static const char *const kinds[] = {"key",      "event", "cursor",
                                        "typename", "data",  "column"};

    for (int i = 0; i < n; i++) {
        buf_printf(b, "%s%s:%s", i ? "," : "", f[i].response_key,
                   kinds[f[i].kind]);
        if (f[i].kind == GQL_OUT_COLUMN)
            buf_printf(b, "#%d", f[i].column);
        if (f[i].kind == GQL_OUT_TYPENAME)
            buf_printf(b, "=%s", f[i].type_name);
        if (f[i].kind == GQL_OUT_DATA) {
            buf_putc(b, '{');
            shape(b, f[i].fields, f[i].nfields);
            buf_putc(b, '}');
        }
    }
}

static void expect_shape(const char *doc, const char *vars,
                         const char *expected)
{
    gql_plan_t *plan = compile_ok(doc, vars);
    buf_t b;

    buf_init(&b, 0);
    buf_printf(&b, "%s:", plan->response_key);
    shape(&b, plan->top, plan->ntop);
    buf_putc(&b, 0);
    if (strcmp((char *)b.data, expected) != 0)
        fail_msg("%s\n  got      %s\n  expected %s", doc, (char *)b.data,
                 expected);
    buf_free(&b);
    gql_plan_free(plan);
}

static void test_basic(void **state)
{
    gql_plan_t *plan = compile_ok(
        "subscription { articles_mutated { key event cursor __typename "
        "data { id hits __typename } } }",
        NULL);

    assert_string_equal(plan->collection, "articles");
    assert_string_equal(plan->response_key, "articles_mutated");
    assert_false(plan->short_form);
    assert_int_equal(plan->events, GQL_EVENT_ALL);
    assert_null(plan->filter);
    assert_false(plan->has_after);
    assert_int_equal(plan->ntop, 5);
    assert_int_equal(plan->top[0].kind, GQL_OUT_KEY);
    assert_int_equal(plan->top[1].kind, GQL_OUT_EVENT);
    assert_int_equal(plan->top[2].kind, GQL_OUT_CURSOR);
    assert_int_equal(plan->top[3].kind, GQL_OUT_TYPENAME);
    assert_string_equal(plan->top[3].type_name, "articles_mutated");
    assert_int_equal(plan->top[4].kind, GQL_OUT_DATA);
    assert_ptr_equal(plan->data, plan->top[4].fields);
    assert_int_equal(plan->ndata, 3);
    assert_int_equal(plan->data[0].column, gqlt_column("articles", "id"));
    /* columns keep their table index past the ones left out of GraphQL */
    assert_int_equal(plan->data[1].column, gqlt_column("articles", "hits"));
    assert_int_equal(plan->data[2].kind, GQL_OUT_TYPENAME);
    assert_int_equal(plan->data[2].column, -1);
    assert_string_equal(plan->data[2].type_name, "articles");
    gql_plan_free(plan);

    plan = compile_ok("subscription { authors(event: delete, after: \"\") "
                      "{ key } }",
                      NULL);
    assert_string_equal(plan->collection, "authors");
    assert_true(plan->short_form);
    assert_int_equal(plan->events, GQL_EVENT_DELETE);
    assert_true(plan->has_after);
    assert_string_equal(plan->after, "");
    assert_null(plan->data);
    assert_int_equal(plan->ndata, 0);
    gql_plan_free(plan);
}

typedef struct shape_case {
    const char *doc;
    const char *vars;
    const char *shape;
} shape_case_t;

static const shape_case_t shapes[] = {
    {"subscription { live: articles { k: key d: data { i: id t: title } } }",
     NULL, "live:k:key,d:data{i:column#0,t:column#1}"},
    {"subscription { articles { data { views title } cursor event key } }",
     NULL,
     "articles:data:data{views:column#3,title:column#1},cursor:cursor,"
     "event:event,key:key"},
    {"subscription { articles { key data { id } key data { title id } "
     "event } }",
     NULL,
     "articles:key:key,data:data{id:column#0,title:column#1},"
     "event:event"},
    {"subscription { articles { ...M } }\nfragment M on articles_mutated "
     "{ key data { ...R title } }\nfragment R on articles { id title }",
     NULL, "articles:key:key,data:data{id:column#0,title:column#1}"},
    {"subscription { articles { ... on articles_mutated { key } ... { event "
     "} data { ... on articles { id } } } }",
     NULL, "articles:key:key,event:event,data:data{id:column#0}"},
    {"subscription { ...Root }\nfragment Root on Subscription { authors "
     "{ __typename data { name __typename } } }",
     NULL,
     "authors:__typename:typename=authors_mutated,"
     "data:data{name:column#1,__typename:typename=authors}"},
    {"subscription { articles { a: data { id } b: data { title } } }", NULL,
     "articles:a:data{id:column#0},b:data{title:column#1}"},
    {"subscription { articles { key event @skip(if: true) cursor "
     "@include(if: false) data { id @include(if: true) title @skip(if: "
     "false) } } }",
     NULL, "articles:key:key,data:data{id:column#0,title:column#1}"},
    {"subscription ($b: Boolean!) { articles { key cursor @include(if: $b) "
     "...F @skip(if: $b) } }\nfragment F on articles_mutated { event }",
     "{\"b\": true}", "articles:key:key,cursor:cursor"},
    {"subscription ($b: Boolean!) { articles { key cursor @include(if: $b) "
     "...F @skip(if: $b) } }\nfragment F on articles_mutated { event }",
     "{\"b\": false}", "articles:key:key,event:event"},
    {"subscription ($b: Boolean = true) { articles { key data @skip(if: $b) "
     "{ id } } }",
     NULL, "articles:key:key"},
    {"subscription { articles { key } articles { data { id } } }", NULL,
     "articles:key:key,data:data{id:column#0}"},
};

static void test_shapes(void **state)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(*shapes); i++)
        expect_shape(shapes[i].doc, shapes[i].vars, shapes[i].shape);
}

typedef struct filter_case {
    const char *doc;
    const char *vars;
    const char *filter; /* JSON, or NULL for no filter */
} filter_case_t;

static const filter_case_t filters[] = {
    {"subscription { articles(filter: {status: {_eq: \"published\"}, "
     "views: {_gt: 10}}) { key } }",
     NULL, "{\"status\": {\"_eq\": \"published\"}, \"views\": {\"_gt\": 10}}"},
    {"subscription { articles(filter: {_and: [{status: {_eq: \"a\"}}, "
     "{_or: [{views: {_gte: 100}}, {rating: {_gt: 4.5}}]}]}) { key } }",
     NULL,
     "{\"_and\": [{\"status\": {\"_eq\": \"a\"}}, {\"_or\": [{\"views\": "
     "{\"_gte\": 100}}, {\"rating\": {\"_gt\": 4.5}}]}]}"},
    /* a single value where a list is expected is a list of one */
    {"subscription { articles(filter: {_or: {title: {_in: \"x\"}}}) "
     "{ key } }",
     NULL, "{\"_or\": [{\"title\": {\"_in\": [\"x\"]}}]}"},
    {"subscription { articles(filter: {views: {_between: [1, 2.5], "
     "_in: [\"3\", -4]}, published: {_eq: true, _null: false}}) { key } }",
     NULL,
     "{\"views\": {\"_between\": [1, 2.5], \"_in\": [\"3\", -4]}, "
     "\"published\": {\"_eq\": true, \"_null\": false}}"},
    /* ID values are text, as GraphQL's ID coerces them */
    {"subscription { articles(filter: {id: {_eq: 5, _in: [\"6\", 7]}}) "
     "{ key } }",
     NULL, "{\"id\": {\"_eq\": \"5\", \"_in\": [\"6\", \"7\"]}}"},
    {"subscription { articles(filter: {views: {_eq: {deep: [1, null, "
     "HIGH]}}}) { key } }",
     NULL, "{\"views\": {\"_eq\": {\"deep\": [1, null, \"HIGH\"]}}}"},
    {"subscription { articles(filter: {}) { key } }", NULL, "{}"},
    {"subscription { articles(filter: null) { key } }", NULL, NULL},
    {"subscription ($f: articles_filter) { articles(filter: $f) { key } }",
     NULL, NULL},
    {"subscription ($f: articles_filter) { articles(filter: $f) { key } }",
     "{\"f\": {\"status\": {\"_in\": \"a\"}, \"_or\": [{\"id\": {\"_eq\": "
     "7}}]}}",
     "{\"status\": {\"_in\": [\"a\"]}, \"_or\": [{\"id\": {\"_eq\": "
     "\"7\"}}]}"},
    {"subscription ($s: String, $v: GraphQLStringOrFloat) { articles(filter: "
     "{status: {_eq: $s}, views: {_gt: $v}}) { key } }",
     "{\"s\": \"draft\", \"v\": 3}",
     "{\"status\": {\"_eq\": \"draft\"}, \"views\": {\"_gt\": 3}}"},
    /* a variable not given: left out of an object, null in a list */
    {"subscription ($s: String) { articles(filter: {status: {_eq: $s, _in: "
     "[$s, \"x\"]}}) { key } }",
     NULL, "{\"status\": {\"_in\": [null, \"x\"]}}"},
    {"subscription ($s: String) { articles(filter: {status: {_eq: $s}}) "
     "{ key } }",
     "{\"s\": null}", "{\"status\": {\"_eq\": null}}"},
    {"subscription ($f: articles_filter = {title: {_eq: \"d\"}}) "
     "{ articles(filter: $f) { key } }",
     NULL, "{\"title\": {\"_eq\": \"d\"}}"},
    {"subscription { articles(filter: {hits: {_gt: 9007199254740993}, "
     "meta: {_nnull: true}}) { key } }",
     NULL,
     "{\"hits\": {\"_gt\": 9007199254740993}, \"meta\": {\"_nnull\": "
     "true}}"},
};

static void test_filters(void **state)
{
    for (size_t i = 0; i < sizeof(filters) / sizeof(*filters); i++) {
        const filter_case_t *c = &filters[i];
        gql_plan_t *plan = compile_ok(c->doc, c->vars);
        json_t *want = c->filter ? json_loads(c->filter, 0, NULL) : NULL;

        if (c->filter && !want)
            fail_msg("case %zu: bad expected JSON", i);
        if (!want != !plan->filter ||
            (want && !json_equal(want, plan->filter))) {
            char *got = plan->filter ? json_dumps(plan->filter, 0) : NULL;

            fail_msg("case %zu: filter %s, expected %s", i,
                     got ? got : "(none)", c->filter ? c->filter : "(none)");
        }
        json_decref(want);
        gql_plan_free(plan);
    }
}

typedef struct var_case {
    const char *doc;
    const char *vars;
    const char *error; /* NULL: compiles */
    unsigned events;
    const char *after;
} var_case_t;

static const var_case_t var_cases[] = {
    {"subscription ($e: EventEnum!) { articles(event: $e) { key } }",
     "{\"e\": \"update\"}", NULL, GQL_EVENT_UPDATE, NULL},
    {"subscription ($e: EventEnum = delete) { articles(event: $e) { key } }",
     NULL, NULL, GQL_EVENT_DELETE, NULL},
    {"subscription ($e: EventEnum = delete) { articles(event: $e) { key } }",
     "{\"e\": null}", NULL, GQL_EVENT_ALL, NULL},
    {"subscription ($a: String) { articles(after: $a) { key } }",
     "{\"a\": \"c-1\"}", NULL, GQL_EVENT_ALL, "c-1"},
    {"subscription ($a: String) { articles(after: $a) { key } }",
     "{\"a\": \"\"}", NULL, GQL_EVENT_ALL, ""},
    {"subscription ($a: String) { articles(after: $a) { key } }",
     "{\"other\": 1}", NULL, GQL_EVENT_ALL, NULL},
    {"subscription ($e: EventEnum!) { articles(event: $e) { key } }", NULL,
     "Variable \"$e\" of required type \"EventEnum!\" was not provided.", 0,
     NULL},

    {"subscription ($e: EventEnum!) { articles(event: $e) { key } }",
     "{\"e\": null}",
     "Variable \"$e\" of non-null type \"EventEnum!\" must not be null.", 0,
     NULL},

    {"subscription ($e: EventEnum) { articles(event: $e) { key } }",
     "{\"e\": \"removed\"}",
     "Variable \"$e\" got invalid value \"removed\"; Value \"removed\" does "
     "not exist in \"EventEnum\" enum.",
     0, NULL},

    {"subscription ($e: EventEnum) { articles(event: $e) { key } }",
     "{\"e\": \"updat\"}",
     "Variable \"$e\" got invalid value \"updat\"; Value \"updat\" does not "
     "exist in \"EventEnum\" enum. Did you mean the enum value \"update\"?",
     0, NULL},

    {"subscription ($a: String) { articles(after: $a) { key } }", "{\"a\": 12}",
     "Variable \"$a\" got invalid value 12; String cannot represent a non "
     "string value: 12",
     0, NULL},

    {"subscription ($f: articles_filter) { articles(filter: $f) { key } }",
     "{\"f\": {\"_and\": [{\"title\": {\"_eq\": 5}}]}}",
     "Variable \"$f\" got invalid value 5 at \"f._and[0].title._eq\"; "
     "String cannot represent a non string value: 5",
     0, NULL},
    {"subscription ($f: articles_filter) { articles(filter: $f) { key } }",
     "{\"f\": {\"titel\": {}}}",
     "Variable \"$f\" got invalid value { titel: {} }; Field \"titel\" is not "
     "defined by type \"articles_filter\". Did you mean \"title\" or "
     "\"hits\"?",
     0, NULL},
    {"subscription ($f: articles_filter) { articles(filter: $f) { key } }",
     "{\"f\": \"views > 3\"}",
     "Variable \"$f\" got invalid value \"views > 3\"; Expected type "
     "\"articles_filter\" to be an object.",
     0, NULL},
    {"subscription ($t: [String!]) { articles(filter: {title: {_in: $t}}) "
     "{ key } }",
     "{\"t\": [\"a\", null]}",
     "Variable \"$t\" got invalid value null at \"t[1]\"; Expected "
     "non-nullable type \"String!\" not to be null.",
     0, NULL},
    {"subscription ($b: Boolean = true) { articles { key event @skip(if: $b) "
     "} }",
     "{\"b\": null}",
     "Argument \"if\" of non-null type \"Boolean!\" must not be null.", 0,
     NULL},
    {"subscription ($a: String) { articles(after: $a) { key } }", "\"x\"",
     "Variables must be provided as an Object where each property is a "
     "variable value. Perhaps look to see if an unparsed JSON string was "
     "provided.",
     0, NULL},
};

static void test_variables(void **state)
{
    for (size_t i = 0; i < sizeof(var_cases) / sizeof(*var_cases); i++) {
        const var_case_t *c = &var_cases[i];
        gql_plan_t *plan = compile(c->doc, c->vars, NULL);

        if (c->error) {
            if (plan)
                fail_msg("case %zu compiled, expected \"%s\"", i, c->error);
            assert_string_equal(first_error.message, c->error);
            continue;
        }
        if (!plan)
            fail_msg("case %zu: %s", i, first_error.message);
        assert_int_equal(plan->events, c->events);
        assert_int_equal(plan->has_after, c->after != NULL);
        if (c->after)
            assert_string_equal(plan->after, c->after);
        gql_plan_free(plan);
    }
}

typedef struct projection_case {
    const char *a;
    const char *b;
    bool same;
} projection_case_t;

static const projection_case_t projections[] = {
    {"subscription { articles { key data { id } } }",
     "subscription { articles { ...F } }\nfragment F on articles_mutated "
     "{ key data { id } }",
     true},
    {"subscription { articles { key data { id } } }",
     "subscription { articles { key data { id } key ... { data { id } } } }",
     true},
    {"subscription { articles { key data { id } } }",
     "subscription { articles(event: update, filter: {views: {_gt: 1}}, "
     "after: \"c\") { key data { id } } }",
     true},
    {"subscription { articles { key data { id } } }",
     "subscription { articles { key data { id title @skip(if: true) } } }",
     true},
    {"subscription { articles { key data { id } } }",
     "subscription ($b: Boolean = true) { articles { key data { id "
     "@include(if: $b) } } }",
     true},
    {"subscription { articles { key } }",
     "subscription { articles_mutated { key } }", false},
    {"subscription { articles { key } }",
     "subscription { a: articles { key } }", false},
    {"subscription { articles { key data { id } } }",
     "subscription { articles { data { id } key } }", false},
    {"subscription { articles { key } }",
     "subscription { articles { k: key } }", false},
    {"subscription { articles { data { id title } } }",
     "subscription { articles { data { title id } } }", false},
    {"subscription { articles { key } }", "subscription { authors { key } }",
     false},
    {"subscription { articles { key } }",
     "subscription { articles { key __typename } }", false},
    {"subscription { articles { event } }",
     "subscription { articles { event: cursor } }", false},
};

static void test_projection_keys(void **state)
{
    for (size_t i = 0; i < sizeof(projections) / sizeof(*projections); i++) {
        const projection_case_t *c = &projections[i];
        gql_plan_t *a = compile_ok(c->a, NULL), *b = compile_ok(c->b, NULL);
        bool same = strcmp(a->projection_key, b->projection_key) == 0;

        if (same != c->same)
            fail_msg("case %zu: \"%s\" and \"%s\" should %s", i,
                     a->projection_key, b->projection_key,
                     c->same ? "be equal" : "differ");
        gql_plan_free(a);
        gql_plan_free(b);
    }
}

/* A column the subscriber may not read does not exist for it: not in the
 * selection, not in the filter, not suggested. */
static void test_permissions(void **state)
{
    static const char *const hidden[] = {
        "subscription { articles { data { secret_note } } }",
        "subscription { articles { data { s: secret_note } } }",
        "subscription { articles { data { ...R } } }\nfragment R on articles "
        "{ id secret_note }",
        "subscription { articles { data { ... on articles { secret_note } } "
        "} }",
    };
    gql_plan_t *plan;
    char *sdl;
    buf_t b;
    int n;
    const gql_collection_t *cols;

    plan =
        compile_ok("subscription { articles { data { secret_note } } }", NULL);
    gql_plan_free(plan);
    gqlt_hide("articles", "secret_note");
    for (size_t i = 0; i < sizeof(hidden) / sizeof(*hidden); i++) {
        assert_null(compile(hidden[i], NULL, NULL));
        assert_string_equal(first_error.message,
                            "Cannot query field \"secret_note\" on type "
                            "\"articles\".");
    }
    assert_null(compile("subscription { articles { data { secret_not } } }",
                        NULL, NULL));
    assert_null(strstr(first_error.message, "secret_note"));
    assert_null(compile("subscription { articles(filter: {secret_note: {_eq: "
                        "\"x\"}}) { key } }",
                        NULL, NULL));
    assert_string_equal(first_error.message,
                        "Field \"secret_note\" is not defined by type "
                        "\"articles_filter\".");
    assert_null(compile("subscription ($f: articles_filter) { articles(filter: "
                        "$f) { key } }",
                        "{\"f\": {\"secret_note\": {\"_eq\": \"x\"}}}", NULL));
    assert_string_equal(first_error.message,
                        "Variable \"$f\" got invalid value { secret_note: { "
                        "_eq: \"x\" } }; Field \"secret_note\" is not defined "
                        "by type \"articles_filter\".");

    /* the rest of the collection works as before */
    plan = compile_ok("subscription { articles(filter: {title: {_eq: \"t\"}}) "
                      "{ data { id title } } }",
                      NULL);
    assert_int_equal(plan->ndata, 2);
    gql_plan_free(plan);

    cols = gqlt_collections(&n);
    buf_init(&b, 0);
    assert_true(gql_print_sdl(cols, n, &b));
    sdl = buf_cstr(&b);
    assert_null(strstr(sdl, "secret_note"));
    assert_non_null(strstr(sdl, "  title: String\n"));
    buf_free(&b);
}

typedef struct refusal {
    const char *doc;
    const char *op;
    const char *error;
    int line, column;
} refusal_t;

static const refusal_t refusals[] = {
    {"{ _empty }", NULL,
     "Only subscription operations are supported, but this operation is a "
     "query.",
     1, 1},
    {"query Q { _empty }\nsubscription S { articles { key } }", "Q",
     "Only subscription operations are supported, but \"Q\" is a query.", 1, 1},
    {"mutation { anything }", NULL,
     "Only subscription operations are supported, but this operation is a "
     "mutation.",
     1, 1},
    {"{ __schema { types { name } } }", NULL,
     "Introspection is not supported: this endpoint serves subscriptions "
     "only.",
     1, 1},
    {"query Q { _empty }\nsubscription S { articles { key } }", NULL,
     "Must provide operation name if query contains multiple operations.", 0,
     0},
    {"subscription S { articles { key } }", "T",
     "Unknown operation named \"T\".", 0, 0},
    {"subscription { articles @skip(if: true) { key } }", NULL,
     "The subscription selects no field once @skip and @include are "
     "applied; select exactly one.",
     1, 1},
    {"subscription { articles { key }", NULL,
     "Syntax Error: Expected Name, found <EOF>.", 1, 32},
    {"subscription { articles { nope } }", NULL,
     "Cannot query field \"nope\" on type \"articles_mutated\".", 1, 27},
};

static void test_refusals(void **state)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(*refusals); i++) {
        const refusal_t *c = &refusals[i];

        if (compile(c->doc, NULL, c->op))
            fail_msg("case %zu compiled", i);
        if (strcmp(first_error.message, c->error) != 0 ||
            first_error.line != c->line || first_error.column != c->column)
            fail_msg("case %zu: \"%s\" at %d:%d, expected \"%s\" at %d:%d", i,
                     first_error.message, first_error.line, first_error.column,
                     c->error, c->line, c->column);
    }
}

/* Errors are capped at maxerr and the count says how many were filled. */
static void test_error_count(void **state)
{
    gql_error_t errors[2];
    int n = -1, ncols;
    const gql_collection_t *cols = gqlt_collections(&ncols);
    const char *doc = "subscription { articles { a b c d } }";

    assert_null(
        gql_compile(doc, strlen(doc), NULL, NULL, cols, ncols, errors, 2, &n));
    assert_int_equal(n, 2);
    assert_string_equal(errors[1].message, "Cannot query field \"b\" on type "
                                           "\"articles_mutated\".");
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
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_projection_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_count, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
