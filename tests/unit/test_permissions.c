/* The permissions file (pusher/permissions.h): documents that load and what
 * each identity may then read, every validation error with the path it
 * must name, and loading from disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "permissions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "fixtures/permissions"
#endif

static permissions_t *load_example(void)
{
    char err[1024];
    permissions_t *p =
        permissions_load(FIXTURES_DIR "/example.json", err, sizeof(err));

    if (!p)
        fail_msg("example.json: %s", err);
    return p;
}

static identity_t ident(const char *user, const char *role, bool admin)
{
    identity_t who;

    auth_public_identity(&who);
    who.authenticated = user || role || admin;
    if (user) {
        who.has_user = true;
        snprintf(who.user, sizeof(who.user), "%s", user);
    }
    if (role) {
        who.has_role = true;
        snprintf(who.role, sizeof(who.role), "%s", role);
    }
    who.admin = admin;
    return who;
}

/* What an identity reads of a collection, as a test expects it. */
typedef struct access_case {
    const char *name;
    bool public_identity; /* who = NULL */
    const char *user, *role;
    bool admin;
    const char *collection;
    bool allowed, all_fields;
    const char *fields; /* comma-separated, sorted; NULL: not checked */
    const char *filter; /* JSON; NULL: no filter */
} access_case_t;

static const access_case_t access_cases[] = {
    {"public reads published articles", true, NULL, NULL, false, "articles",
     true, false, "id,title", "{\"status\":{\"_eq\":\"published\"}}"},
    {"public reads all of tags", true, NULL, NULL, false, "tags", true, true,
     NULL, NULL},
    {"public cannot read comments", true, NULL, NULL, false, "comments", false,
     false, NULL, NULL},
    {"public identity struct is public", false, NULL, NULL, false, "articles",
     true, false, "id,title", "{\"status\":{\"_eq\":\"published\"}}"},
    {"user without role reads as public", false, "u-9", NULL, false, "articles",
     true, false, "id,title", "{\"status\":{\"_eq\":\"published\"}}"},
    {"editor reads own articles, all fields", false, "u-1", "editor", false,
     "articles", true, true, NULL, "{\"author\":{\"_eq\":\"$CURRENT_USER\"}}"},
    {"editor comments: {} filter is all rows", false, "u-1", "editor", false,
     "comments", true, false, "article,body,id", NULL},
    {"editor audit: no fields", false, "u-1", "editor", false, "audit", true,
     false, "", NULL},
    {"editor cannot read tags (public can)", false, "u-1", "editor", false,
     "tags", false, false, NULL, NULL},
    {"role by Directus id", false, "u-2",
     "b1d4e0f2-6c3a-4e8b-9f21-5a7d8c9e0b13", false, "articles", true, false,
     "id,status,title",
     "{\"_or\":[{\"status\":{\"_in\":[\"draft\",\"review\"]}},"
     "{\"reviewer\":{\"_eq\":\"$CURRENT_USER\"}}]}"},
    {"admin role reads anything", false, "u-3", "admin", false, "no_such_table",
     true, true, NULL, NULL},
    {"admin claim reads anything, unknown role", false, "u-4", "ghost", true,
     "comments", true, true, NULL, NULL},
    {"unknown role reads nothing, not even public", false, "u-5", "ghost",
     false, "articles", false, false, NULL, NULL},
    {"collection names are case-sensitive", true, NULL, NULL, false, "Articles",
     false, false, NULL, NULL},
};

static void check_access(const permissions_t *p, const access_case_t *c)
{
    identity_t who = ident(c->user, c->role, c->admin);
    collection_access_t a;

    permissions_access(p, c->public_identity ? NULL : &who, c->collection, &a);
    if (a.allowed != c->allowed || a.all_fields != c->all_fields)
        fail_msg("%s: allowed %d all_fields %d", c->name, a.allowed,
                 a.all_fields);
    if (c->fields) {
        char list[512] = "";

        for (int i = 0; i < a.nfields; i++) {
            if (i)
                strcat(list, ",");
            strcat(list, a.fields[i]);
        }
        if (strcmp(list, c->fields) != 0)
            fail_msg("%s: fields \"%s\", want \"%s\"", c->name, list,
                     c->fields);
    }
    if (!c->filter) {
        if (a.filter)
            fail_msg("%s: has a filter", c->name);
    } else {
        json_t *want = json_loads(c->filter, 0, NULL);

        assert_non_null(want);
        if (!a.filter || !json_equal(want, (json_t *)a.filter))
            fail_msg("%s: filter differs", c->name);
        json_decref(want);
    }
}

static void test_access(void **state)
{
    permissions_t *p = load_example();

    for (size_t i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++)
        check_access(p, &access_cases[i]);
    permissions_free(p);
}

static void test_no_permissions_file(void **state)
{
    identity_t user = ident("u-1", "editor", false);
    identity_t admin = ident("u-2", "editor", true);
    collection_access_t a;

    permissions_access(NULL, NULL, "articles", &a);
    assert_false(a.allowed);
    permissions_access(NULL, &user, "articles", &a);
    assert_false(a.allowed);
    assert_false(permissions_field_allowed(&a, "id"));
    permissions_access(NULL, &admin, "articles", &a);
    assert_true(a.allowed);
    assert_true(a.all_fields);
    assert_null(a.filter);
    assert_false(permissions_has_role(NULL, "editor"));
}

typedef struct field_case {
    const char *role; /* NULL: public */
    const char *collection;
    const char *field;
    bool allowed;
} field_case_t;

static void test_field_allowed(void **state)
{
    static const field_case_t cases[] = {
        {NULL, "articles", "id", true},
        {NULL, "articles", "title", true},
        {NULL, "articles", "status", false},
        {NULL, "articles", "", false},
        {NULL, "articles", "ID", false},
        {NULL, "articles", "*", false},
        {NULL, "tags", "anything", true},
        {NULL, "comments", "id", false},
        {"editor", "articles", "body", true},
        {"editor", "comments", "body", true},
        {"editor", "comments", "author", false},
        {"editor", "audit", "id", false},
        {"admin", "whatever", "secret_column", true},
        {"ghost", "articles", "id", false},
    };
    permissions_t *p = load_example();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        identity_t who = ident("u", cases[i].role, false);
        collection_access_t a;

        permissions_access(p, &who, cases[i].collection, &a);
        if (permissions_field_allowed(&a, cases[i].field) != cases[i].allowed)
            fail_msg("%s %s.%s: want %d", cases[i].role ? cases[i].role : "-",
                     cases[i].collection, cases[i].field, cases[i].allowed);
    }
    assert_false(permissions_field_allowed(NULL, "id"));
    permissions_free(p);
}

static void test_static_tokens(void **state)
{
    permissions_t *p = load_example();
    const char *user, *role;
    static const char tok[] = "static-token-for-the-ingest-service-4f9a";

    assert_true(permissions_static_token(p, tok, strlen(tok), &user, &role));
    assert_string_equal(user, "svc-ingest");
    assert_string_equal(role, "editor");
    assert_true(permissions_static_token(
        p, "static-token-without-a-role-77c2e1", 34, &user, &role));
    assert_string_equal(user, "svc-public");
    assert_null(role);

    /* A prefix, a longer string and a changed byte do not match. */
    assert_false(
        permissions_static_token(p, tok, strlen(tok) - 1, &user, &role));
    assert_false(permissions_static_token(
        p, "static-token-for-the-ingest-service-4f9aX", 41, &user, &role));
    assert_false(permissions_static_token(
        p, "static-token-for-the-ingest-service-4f9b", 40, &user, &role));
    assert_null(user);
    assert_false(
        permissions_static_token(NULL, tok, strlen(tok), &user, &role));
    assert_true(permissions_has_role(p, "editor"));
    assert_false(permissions_has_role(p, "Editor"));
    assert_false(permissions_has_role(p, "public"));
    permissions_free(p);
}

static void test_reference_count(void **state)
{
    permissions_t *p = load_example();
    identity_t who = ident("u", "editor", false);
    collection_access_t a;

    assert_ptr_equal(permissions_ref(p), p);
    permissions_free(p);
    /* Still alive: one reference left. */
    permissions_access(p, &who, "comments", &a);
    assert_true(permissions_field_allowed(&a, "body"));
    permissions_free(p);
    assert_null(permissions_ref(NULL));
    permissions_free(NULL);
}

/* A document that must be refused, and what the message must say. */
typedef struct invalid_case {
    const char *name;
    const char *text;
    const char *err;        /* a part of the message */
    const char *not_in_err; /* must not appear (a token value) */
} invalid_case_t;

static const invalid_case_t invalid_cases[] = {
    {"not JSON", "{", "not valid JSON: line 1", NULL},
    {"empty", "", "not valid JSON", NULL},
    {"trailing garbage", "{} x", "not valid JSON", NULL},
    {"an array", "[]", "the document is an array, not an object", NULL},
    {"a string", "\"x\"", "not valid JSON", NULL},
    {"unknown top-level key", "{\"role\": {}}",
     "the top level has unknown key \"role\" (expected \"public\", "
     "\"roles\" or \"tokens\")",
     NULL},
    {"duplicate role", "{\"roles\": {\"a\": {}, \"a\": {}}}",
     "not valid JSON: line 1", NULL},
    {"roles an array", "{\"roles\": []}",
     "roles is an array, not an object mapping role names", NULL},
    {"role a boolean", "{\"roles\": {\"editor\": true}}",
     "roles.editor is a boolean, not an object", NULL},
    {"misspelt collections", "{\"roles\": {\"editor\": {\"collection\": {}}}}",
     "roles.editor has unknown key \"collection\" (expected "
     "\"admin_access\", \"collections\" or \"name\")",
     NULL},
    {"admin_access a string",
     "{\"roles\": {\"a\": {\"admin_access\": \"yes\"}}}",
     "roles.a.admin_access is a string, not true or false", NULL},
    {"name a number", "{\"roles\": {\"a\": {\"name\": 5}}}",
     "roles.a.name is a number, not a string", NULL},
    {"empty role name", "{\"roles\": {\"\": {}}}",
     "roles[\"\"] is an empty role name", NULL},
    {"role name too long",
     "{\"roles\": "
     "{\"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
     "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
     "rrrr\": {}}}",
     "is a role name longer than 127 bytes", NULL},
    {"role name with a dot", "{\"roles\": {\"a.b\": {\"x\": 1}}}",
     "roles[\"a.b\"] has unknown key \"x\"", NULL},
    {"collections an array", "{\"roles\": {\"editor\": {\"collections\": []}}}",
     "roles.editor.collections is an array, not an object mapping "
     "collection names",
     NULL},
    {"rule an array",
     "{\"public\": {\"collections\": {\"articles\": [\"id\"]}}}",
     "public.collections.articles is an array, not an object with "
     "\"fields\"",
     NULL},
    {"rule without fields",
     "{\"public\": {\"collections\": {\"articles\": {\"filter\": {}}}}}",
     "public.collections.articles has no \"fields\": list the fields", NULL},
    {"fields a string",
     "{\"public\": {\"collections\": {\"articles\": {\"fields\": \"*\"}}}}",
     "public.collections.articles.fields is a string, not a list of field "
     "names",
     NULL},
    {"field not a string",
     "{\"roles\": {\"editor\": {\"collections\": {\"articles\": "
     "{\"fields\": [\"id\", \"title\", 3]}}}}}",
     "roles.editor.collections.articles.fields[2] is a number, not a string",
     NULL},
    {"empty field name",
     "{\"public\": {\"collections\": {\"a\": {\"fields\": [\"id\", \"\"]}}}}",
     "public.collections.a.fields[1] is an empty field name", NULL},
    {"repeated field",
     "{\"public\": {\"collections\": {\"a\": {\"fields\": "
     "[\"id\", \"title\", \"id\"]}}}}",
     "public.collections.a.fields[2] repeats field \"id\"", NULL},
    {"filter a string",
     "{\"public\": {\"collections\": {\"a\": {\"fields\": [\"*\"], "
     "\"filter\": \"status = 1\"}}}}",
     "public.collections.a.filter is a string, not an object", NULL},
    {"filter an array",
     "{\"public\": {\"collections\": {\"a\": {\"fields\": [\"*\"], "
     "\"filter\": [{\"id\": 1}]}}}}",
     "public.collections.a.filter is an array, not an object", NULL},
    {"Directus's permissions key",
     "{\"public\": {\"collections\": {\"a\": {\"fields\": [\"*\"], "
     "\"permissions\": {}}}}}",
     "public.collections.a has unknown key \"permissions\" (expected "
     "\"fields\" or \"filter\")",
     NULL},
    {"wildcard collection",
     "{\"public\": {\"collections\": {\"*\": {\"fields\": [\"*\"]}}}}",
     "public.collections[\"*\"] is not supported", NULL},
    {"collection name with a control character",
     "{\"public\": {\"collections\": {\"a\\u0001b\": {\"fields\": []}}}}",
     "public.collections[\"a\\x01b\"] is a collection name with control "
     "characters",
     NULL},
    {"public with admin_access", "{\"public\": {\"admin_access\": true}}",
     "public has unknown key \"admin_access\" (expected \"collections\")",
     NULL},
    {"public not an object", "{\"public\": null}",
     "public is null, not an object", NULL},
    {"tokens an array", "{\"tokens\": []}",
     "tokens is an array, not an object mapping static tokens", NULL},
    {"short static token", "{\"tokens\": {\"abc\": {\"user\": \"u\"}}}",
     "tokens.#1 is shorter than 16 bytes", "abc"},
    {"static token without user",
     "{\"tokens\": {\"token-number-one-0123456789\": {\"user\": \"u\"},"
     " \"token-number-two-0123456789\": {\"role\": null}}}",
     "tokens.#2 has no \"user\"", "token-number-two"},
    {"static token user a number",
     "{\"tokens\": {\"token-number-one-0123456789\": {\"user\": 42}}}",
     "tokens.#1.user is a number, not a string", "token-number-one"},
    {"static token role unknown",
     "{\"roles\": {\"editor\": {}}, \"tokens\": "
     "{\"token-number-one-0123456789\": {\"user\": \"u\", \"role\": "
     "\"ghost\"}}}",
     "tokens.#1.role names role \"ghost\", which is not under \"roles\"",
     "token-number-one"},
    {"static token role a boolean",
     "{\"tokens\": {\"token-number-one-0123456789\": {\"user\": \"u\", "
     "\"role\": true}}}",
     "tokens.#1.role is a boolean, not a string or null", "token-number-one"},
    {"static token unknown key",
     "{\"tokens\": {\"token-number-one-0123456789\": {\"user\": \"u\", "
     "\"admin\": true}}}",
     "tokens.#1 has unknown key \"admin\"", "token-number-one"},
    {"static token not an object",
     "{\"tokens\": {\"token-number-one-0123456789\": \"u\"}}",
     "tokens.#1 is a string, not an object", "token-number-one"},
    {"static token with a newline",
     "{\"tokens\": {\"token-number-one\\n0123456789\": {\"user\": \"u\"}}}",
     "tokens.#1 has control characters", "token-number-one"},
    {"syntax error after a token",
     "{\"tokens\": {\"token-secret-value-0123456789\" {\"user\": \"u\"}}}",
     "not valid JSON: line 1", "token-secret-value"},
};

static void test_invalid(void **state)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
         i++) {
        const invalid_case_t *c = &invalid_cases[i];
        char err[1024] = "";
        permissions_t *p =
            permissions_parse(c->text, strlen(c->text), err, sizeof(err));

        if (p)
            fail_msg("%s: accepted", c->name);
        if (!strstr(err, c->err))
            fail_msg("%s: message \"%s\" lacks \"%s\"", c->name, err, c->err);
        if (c->not_in_err && strstr(err, c->not_in_err))
            fail_msg("%s: message \"%s\" shows the token", c->name, err);
    }
}

/* Documents too big to write out: built here. */
static void test_limits(void **state)
{
    size_t big = PERMISSIONS_MAX_FILE + 1, n = 0;
    char *text = malloc(big + 1), err[1024];
    permissions_t *p;

    assert_non_null(text);

    /* Over the size limit, even when valid. */
    memset(text, ' ', big);
    text[0] = '{';
    text[big - 1] = '}';
    assert_null(permissions_parse(text, big, err, sizeof(err)));
    assert_non_null(strstr(err, "larger than 4194304 bytes"));

    /* 65 levels of nesting. */
    n = 0;
    n += (size_t)sprintf(text, "{\"public\": {\"collections\": {\"a\": "
                               "{\"fields\": [\"*\"], \"filter\": ");
    for (int i = 0; i < 62; i++)
        n += (size_t)sprintf(text + n, "{\"_and\": [\n");
    assert_null(permissions_parse(text, n, err, sizeof(err)));
    assert_non_null(strstr(err, "nests more than 64 levels deep (line 31)"));

    /* A filter nested deeper than a filter may be. */
    n = (size_t)sprintf(text, "{\"public\": {\"collections\": {\"a\": "
                              "{\"fields\": [\"*\"], \"filter\": ");
    for (int i = 0; i < 20; i++)
        n += (size_t)sprintf(text + n, "{\"_and\": [");
    n += (size_t)sprintf(text + n, "{\"id\": 1}");
    for (int i = 0; i < 20; i++)
        n += (size_t)sprintf(text + n, "]}");
    n += (size_t)sprintf(text + n, "}}}}");
    assert_null(permissions_parse(text, n, err, sizeof(err)));
    assert_non_null(strstr(err, "public.collections.a.filter is too large"));

    /* A filter with too many values. */
    n = (size_t)sprintf(text, "{\"public\": {\"collections\": {\"a\": "
                              "{\"fields\": [\"*\"], \"filter\": {\"id\": "
                              "{\"_in\": [0");
    for (int i = 1; i <= PERMISSIONS_MAX_FILTER_VALUES; i++)
        n += (size_t)sprintf(text + n, ",%d", i);
    n += (size_t)sprintf(text + n, "]}}}}}}");
    assert_null(permissions_parse(text, n, err, sizeof(err)));
    assert_non_null(strstr(err, "filter is too large"));

    /* Just under both filter limits loads. */
    n = (size_t)sprintf(text, "{\"public\": {\"collections\": {\"a\": "
                              "{\"fields\": [\"*\"], \"filter\": {\"id\": "
                              "{\"_in\": [0");
    for (int i = 1; i < PERMISSIONS_MAX_FILTER_VALUES - 4; i++)
        n += (size_t)sprintf(text + n, ",%d", i);
    n += (size_t)sprintf(text + n, "]}}}}}}");
    p = permissions_parse(text, n, err, sizeof(err));
    if (!p)
        fail_msg("%s", err);
    permissions_free(p);

    /* Too many fields. */
    n = (size_t)sprintf(text, "{\"public\": {\"collections\": {\"a\": "
                              "{\"fields\": [\"f0\"");
    for (int i = 1; i <= PERMISSIONS_MAX_FIELDS; i++)
        n += (size_t)sprintf(text + n, ",\"f%d\"", i);
    n += (size_t)sprintf(text + n, "]}}}}");
    assert_null(permissions_parse(text, n, err, sizeof(err)));
    assert_non_null(
        strstr(err, "public.collections.a.fields lists more than 1600"));

    free(text);
}

static void test_load_errors(void **state)
{
    char err[1024];
    char path[] = "/tmp/cdc-permissions-XXXXXX";
    permissions_t *good = load_example(), *p;
    identity_t who = ident("u", "editor", false);
    collection_access_t a;
    FILE *f;
    int fd;

    p = permissions_load(FIXTURES_DIR "/no-such-file.json", err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "could not open permissions file \""));
    assert_non_null(strstr(err, "No such file or directory"));

    p = permissions_load(FIXTURES_DIR, err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "is not a regular file"));

    /* A failed reload leaves the loaded permissions as they were. */
    p = permissions_load(FIXTURES_DIR "/bad_field.json", err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "invalid permissions file \""));
    assert_non_null(strstr(err, "bad_field.json\": roles.editor.collections."
                                "articles.fields[2] is a number"));
    permissions_access(good, &who, "articles", &a);
    assert_true(a.allowed);

    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fseek(f, PERMISSIONS_MAX_FILE, SEEK_SET), 0);
    fputs("{}", f);
    fclose(f);
    p = permissions_load(path, err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "is too large"));
    unlink(path);

    permissions_free(good);
}

static void test_minimal_documents(void **state)
{
    static const char *const docs[] = {
        "{}",
        "{\"public\": {}}",
        "{\"roles\": {}, \"tokens\": {}}",
        "{\"public\": {\"collections\": {}}}",
        ("{\"public\": {\"collections\": {\"a\": {\"fields\": [], "
         "\"filter\": null}}}}"),
    };

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char err[1024];
        permissions_t *p =
            permissions_parse(docs[i], strlen(docs[i]), err, sizeof(err));
        collection_access_t a;

        if (!p)
            fail_msg("\"%s\": %s", docs[i], err);
        permissions_access(p, NULL, "b", &a);
        assert_false(a.allowed);
        permissions_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_no_permissions_file),
        cmocka_unit_test(test_field_allowed),
        cmocka_unit_test(test_static_tokens),
        cmocka_unit_test(test_reference_count),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_minimal_documents),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
