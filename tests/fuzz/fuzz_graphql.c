/* Fuzz target for the GraphQL front end: gql_parse, then gql_compile
 * against fixed collections (one column hidden by permissions).  When the
 * input's first line is a JSON object it is used as the variables and the
 * rest as the document.  Checks that an accepted plan only names columns
 * that exist and are readable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "graphql.h"
#include "table_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gql_collection_t cols[2];

static bool may_read(void *arg, int col)
{
    return col != 3; /* "secret" */
}

static void setup(void)
{
    static const struct {
        const char *name;
        coltype_t type;
        bool key;
    } a[] = {
        {"id", COLTYPE_INT, true},         {"title", COLTYPE_STRING, false},
        {"views", COLTYPE_INT, false},     {"secret", COLTYPE_STRING, false},
        {"rating", COLTYPE_DOUBLE, false}, {"at", COLTYPE_TIMESTAMPTZ, false},
        {"meta", COLTYPE_JSON, false},     {"bad name", COLTYPE_INT, false}};
    table_schema_t *t1 = table_schema_new("db", "public", "articles", 8);
    table_schema_t *t2 = table_schema_new("db", "public", "authors", 2);

    for (int i = 0; i < 8; i++)
        table_schema_set_column(t1, i, a[i].name, "x", a[i].type,
                                COLTYPE_COUNT_, 0, 0, a[i].key);
    table_schema_set_column(t2, 0, "id", "uuid", COLTYPE_UUID, COLTYPE_COUNT_,
                            0, 0, true);
    table_schema_set_column(t2, 1, "name", "text", COLTYPE_STRING,
                            COLTYPE_COUNT_, 0, 0, false);
    cols[0] = (gql_collection_t){"articles", t1, may_read, NULL};
    cols[1] = (gql_collection_t){"authors", t2, NULL, NULL};
}

static void check_fields(const gql_plan_t *plan, const gql_out_field_t *f,
                         int n)
{
    const table_schema_t *ts = strcmp(plan->collection, "articles") == 0
                                   ? cols[0].schema
                                   : cols[1].schema;

    for (int i = 0; i < n; i++) {
        if (!f[i].response_key)
            abort();
        if (f[i].kind == GQL_OUT_COLUMN &&
            (f[i].column < 0 || f[i].column >= ts->ncols ||
             (ts == cols[0].schema && !may_read(NULL, f[i].column))))
            abort();
        if (f[i].kind == GQL_OUT_DATA)
            check_fields(plan, f[i].fields, f[i].nfields);
    }
}

static void run(const char *query, size_t len, const char *op,
                const json_t *vars)
{
    gql_error_t errors[4];
    int n = 0;
    gql_plan_t *plan =
        gql_compile(query, len, op, vars, cols, 2, errors, 4, &n);

    if (plan) {
        if (!plan->projection_key || !plan->collection || n != 0)
            abort();
        check_fields(plan, plan->top, plan->ntop);
    } else if (n < 1) {
        abort();
    }
    gql_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    json_t *vars = NULL;
    gql_error_t err;
    gql_document_t *doc;

    if (!ready) {
        setup();
        ready = true;
    }
    if (size > 0 && text[0] == '{' && nl) {
        vars = json_loadb(text, (size_t)(nl - text), 0, NULL);
        if (vars) {
            size -= (size_t)(nl + 1 - text);
            text = nl + 1;
        }
    }
    doc = gql_parse(text, size, &err);
    gql_document_free(doc);
    run(text, size, NULL, vars);
    run(text, size, "S", vars);
    json_decref(vars);
    return 0;
}
