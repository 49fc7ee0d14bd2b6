/* graphql-check: runs documents through the pusher's GraphQL front end
 * against a fixed set of test collections, for the differential test
 * against graphql-js (diff.mjs) and for trying documents by hand.
 *
 *   graphql-check --sdl                  prints the schema as SDL
 *   graphql-check --batch                reads JSON lines {"id", "query",
 *                                        "variables"?, "operationName"?}
 *                                        and writes one JSON line each
 *   graphql-check [--variables JSON] [--operation NAME] FILE...
 *
 * An accepted document's line carries its plan and the payload the plan
 * gives for a made-up event whose values follow from the column names, so
 * the test can compare it with what graphql-js executes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "graphql.h"
#include "table_schema.h"

typedef struct col_spec {
    const char *name;
    coltype_t type;
    bool key;
} col_spec_t;

/* The test collections: every column kind, a key of each ID kind, and
 * names GraphQL cannot use (left out of the schema). */
static const col_spec_t articles[] = {
    {"id", COLTYPE_INT, true},
    {"title", COLTYPE_STRING, false},
    {"status", COLTYPE_STRING, false},
    {"views", COLTYPE_INT, false},
    {"rating", COLTYPE_DOUBLE, false},
    {"score", COLTYPE_FLOAT, false},
    {"updated_at", COLTYPE_TIMESTAMPTZ, false},
    {"published", COLTYPE_BOOLEAN, false},
    {"tags", COLTYPE_ARRAY, false},
    {"meta", COLTYPE_JSON, false},
    {"price", COLTYPE_NUMERIC, false},
    {"cost", COLTYPE_DECIMAL, false},
    {"author_id", COLTYPE_UUID, false},
    {"hits", COLTYPE_LONG, false},
    {"published_on", COLTYPE_DATE, false},
    {"starts_at", COLTYPE_TIME, false},
    {"created", COLTYPE_TIMESTAMP, false},
    {"blob", COLTYPE_BYTES, false},
    {"created-by", COLTYPE_STRING, false},
    {"__secret", COLTYPE_STRING, false},
};

static const col_spec_t authors[] = {
    {"id", COLTYPE_UUID, true},         {"name", COLTYPE_STRING, false},
    {"email", COLTYPE_STRING, false},   {"age", COLTYPE_INT, false},
    {"active", COLTYPE_BOOLEAN, false},
};

static const col_spec_t comments[] = {
    {"id", COLTYPE_LONG, true},      {"article_id", COLTYPE_INT, false},
    {"body", COLTYPE_STRING, false}, {"_or", COLTYPE_STRING, false},
    {"2fa", COLTYPE_BOOLEAN, false},
};

static table_schema_t *make_table(const char *name, const col_spec_t *cols,
                                  int n)
{
    table_schema_t *ts = table_schema_new("db", "public", name, n);

    if (!ts)
        return NULL;
    for (int i = 0; i < n; i++) {
        coltype_t elem =
            cols[i].type == COLTYPE_ARRAY ? COLTYPE_STRING : COLTYPE_COUNT_;

        if (!table_schema_set_column(ts, i, cols[i].name, "text", cols[i].type,
                                     elem, 0, 0, cols[i].key)) {
            table_schema_free(ts);
            return NULL;
        }
    }
    return ts;
}

#define NCOLLECTIONS 4

static gql_collection_t collections[NCOLLECTIONS];

static bool setup(void)
{
    static const struct {
        const char *name;
        const col_spec_t *cols;
        int n;
    } specs[NCOLLECTIONS] = {
        {"articles", articles, sizeof(articles) / sizeof(*articles)},
        {"authors", authors, sizeof(authors) / sizeof(*authors)},
        {"comments", comments, sizeof(comments) / sizeof(*comments)},
        /* not a GraphQL name: never exposed */
        {"audit-log", authors, sizeof(authors) / sizeof(*authors)},
    };

    for (int i = 0; i < NCOLLECTIONS; i++) {
        collections[i].name = specs[i].name;
        collections[i].schema =
            make_table(specs[i].name, specs[i].cols, specs[i].n);
        if (!collections[i].schema)
            return false;
    }
    return true;
}

static void teardown(void)
{
    for (int i = 0; i < NCOLLECTIONS; i++)
        table_schema_free((table_schema_t *)collections[i].schema);
}

static const gql_collection_t *collection_named(const char *name)
{
    for (int i = 0; i < NCOLLECTIONS; i++)
        if (strcmp(collections[i].name, name) == 0)
            return &collections[i];
    return NULL;
}

/* The made-up value of a column, as diff.mjs makes it from the schema. */
static json_t *fake_value(const column_t *c)
{
    size_t len = strlen(c->name);
    char text[300];

    if (c->key && (c->type == COLTYPE_INT || c->type == COLTYPE_LONG ||
                   c->type == COLTYPE_STRING || c->type == COLTYPE_UUID)) {
        snprintf(text, sizeof(text), "id:%s", c->name);
        return json_string(text);
    }
    switch (c->type) {
    case COLTYPE_BOOLEAN:
        return json_true();
    case COLTYPE_INT:
        return json_integer((json_int_t)len);
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        return json_real((double)len + 0.5);
    default:
        snprintf(text, sizeof(text), "v:%s", c->name);
        return json_string(text);
    }
}

static json_t *render_fields(const gql_plan_t *plan, const gql_out_field_t *f,
                             int n)
{
    const gql_collection_t *col = collection_named(plan->collection);
    json_t *obj = json_object();

    for (int i = 0; i < n; i++) {
        json_t *v;

        switch (f[i].kind) {
        case GQL_OUT_KEY:
            v = json_string("K");
            break;
        case GQL_OUT_EVENT:
            v = json_string("create");
            break;
        case GQL_OUT_CURSOR:
            v = json_string("CUR");
            break;
        case GQL_OUT_TYPENAME:
            v = json_string(f[i].type_name);
            break;
        case GQL_OUT_DATA:
            v = render_fields(plan, f[i].fields, f[i].nfields);
            break;
        default:
            v = fake_value(&col->schema->cols[f[i].column]);
            break;
        }
        json_object_set_new(obj, f[i].response_key, v);
    }
    return obj;
}

static json_t *plan_json(const gql_plan_t *plan)
{
    static const char *const events[] = {"create", "update", "delete"};
    json_t *out = json_object(), *ev = json_array(), *resp = json_object();

    for (int i = 0; i < 3; i++)
        if (plan->events & (1u << i))
            json_array_append_new(ev, json_string(events[i]));
    json_object_set_new(out, "collection", json_string(plan->collection));
    json_object_set_new(out, "response_key", json_string(plan->response_key));
    json_object_set_new(out, "short_form", json_boolean(plan->short_form));
    json_object_set_new(out, "events", ev);
    json_object_set_new(out, "filter",
                        plan->filter ? json_deep_copy(plan->filter)
                                     : json_null());
    json_object_set_new(
        out, "after", plan->has_after ? json_string(plan->after) : json_null());
    json_object_set_new(out, "projection_key",
                        json_string(plan->projection_key));
    json_object_set_new(resp, plan->response_key,
                        render_fields(plan, plan->top, plan->ntop));
    json_object_set_new(out, "response", resp);
    return out;
}

/* Compiles one document; returns the result line as JSON. */
static json_t *check(const char *query, size_t len, const char *op,
                     const json_t *vars)
{
    gql_error_t errors[8];
    int nerrors = 0;
    gql_plan_t *plan;
    json_t *out = json_object(), *errs = json_array();

    plan = gql_compile(query, len, op, vars, collections, NCOLLECTIONS, errors,
                       8, &nerrors);
    json_object_set_new(out, "accept", json_boolean(plan != NULL));
    for (int i = 0; i < nerrors; i++)
        json_array_append_new(errs, json_pack("{s:s,s:i,s:i}", "message",
                                              errors[i].message, "line",
                                              errors[i].line, "column",
                                              errors[i].column));
    json_object_set_new(out, "errors", errs);
    if (plan)
        json_object_set_new(out, "plan", plan_json(plan));
    gql_plan_free(plan);
    return out;
}

static int run_batch(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *in = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
        json_t *q, *out, *vars, *op;
        char *text;

        if (!in) {
            fprintf(stderr, "graphql-check: bad input line: %s\n", jerr.text);
            free(line);
            return 2;
        }
        q = json_object_get(in, "query");
        vars = json_object_get(in, "variables");
        op = json_object_get(in, "operationName");
        out = check(json_string_value(q), json_string_length(q),
                    json_is_string(op) ? json_string_value(op) : NULL,
                    json_is_null(vars) ? NULL : vars);
        json_object_set(out, "id", json_object_get(in, "id"));
        text = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(text);
        free(text);
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) &&
        fread(data, 1, (size_t)size, f) == (size_t)size) {
        *len = (size_t)size;
        fclose(f);
        return data;
    }
    free(data);
    fclose(f);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: graphql-check --sdl | --batch | "
                    "[--variables JSON] [--operation NAME] FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    json_t *vars = NULL;
    const char *op = NULL;
    int status = 0;

    if (!setup()) {
        fprintf(stderr, "graphql-check: out of memory\n");
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "--sdl") == 0) {
        buf_t out;

        buf_init(&out, 0);
        if (!gql_print_sdl(collections, NCOLLECTIONS, &out))
            status = 1;
        else
            fwrite(out.data, 1, out.len, stdout);
        buf_free(&out);
        teardown();
        return status;
    }
    if (argc == 2 && strcmp(argv[1], "--batch") == 0) {
        status = run_batch();
        teardown();
        return status;
    }
    for (int i = 1; i < argc; i++) {
        size_t len;
        char *text;
        json_t *res;

        if (strcmp(argv[i], "--variables") == 0 && i + 1 < argc) {
            json_error_t jerr;

            json_decref(vars);
            vars = json_loads(argv[++i], 0, &jerr);
            if (!vars) {
                fprintf(stderr, "graphql-check: bad variables: %s\n",
                        jerr.text);
                status = 2;
                break;
            }
            continue;
        }
        if (strcmp(argv[i], "--operation") == 0 && i + 1 < argc) {
            op = argv[++i];
            continue;
        }
        if (argv[i][0] == '-') {
            status = usage();
            break;
        }
        text = read_file(argv[i], &len);
        if (!text) {
            perror(argv[i]);
            status = 2;
            continue;
        }
        res = check(text, len, op, vars);
        if (json_is_true(json_object_get(res, "accept"))) {
            char *plan = json_dumps(json_object_get(res, "plan"), JSON_COMPACT);

            printf("%s: accept %s\n", argv[i], plan);
            free(plan);
        } else {
            json_t *e = json_array_get(json_object_get(res, "errors"), 0);

            printf("%s: reject %s (%d:%d)\n", argv[i],
                   json_string_value(json_object_get(e, "message")),
                   (int)json_integer_value(json_object_get(e, "line")),
                   (int)json_integer_value(json_object_get(e, "column")));
            status = status ? status : 1;
        }
        json_decref(res);
        free(text);
    }
    if (argc < 2)
        status = usage();
    json_decref(vars);
    teardown();
    return status;
}
