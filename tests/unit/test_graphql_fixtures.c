/* The collections the GraphQL tests compile against: "articles" (an int
 * key and a column of every other kind, plus names GraphQL cannot use)
 * and "authors" (a uuid key), with an optional permission hook that hides
 * the columns a test names. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graphql.h"
#include "table_schema.h"

void gqlt_setup(void);
void gqlt_teardown(void);
const gql_collection_t *gqlt_collections(int *n);
void gqlt_hide(const char *collection, const char *column);
int gqlt_column(const char *collection, const char *column);

typedef struct spec {
    const char *name;
    coltype_t type;
    bool key;
} spec_t;

static const spec_t article_cols[] = {
    {"id", COLTYPE_INT, true},
    {"title", COLTYPE_STRING, false},
    {"status", COLTYPE_STRING, false},
    {"views", COLTYPE_INT, false},
    {"rating", COLTYPE_DOUBLE, false},
    {"updated_at", COLTYPE_TIMESTAMPTZ, false},
    {"published", COLTYPE_BOOLEAN, false},
    {"tags", COLTYPE_ARRAY, false},
    {"meta", COLTYPE_JSON, false},
    {"price", COLTYPE_NUMERIC, false},
    {"hits", COLTYPE_LONG, false},
    {"secret_note", COLTYPE_STRING, false},
    {"bad-name", COLTYPE_STRING, false},
    {"__reserved", COLTYPE_STRING, false},
};

static const spec_t author_cols[] = {
    {"id", COLTYPE_UUID, true},
    {"name", COLTYPE_STRING, false},
    {"email", COLTYPE_STRING, false},
};

#define NCOLS 2

static gql_collection_t cols[NCOLS];
static bool hidden[NCOLS][32];

static bool may_read(void *arg, int col)
{
    int c = (int)(intptr_t)arg;

    return !hidden[c][col];
}

static table_schema_t *make(const char *name, const spec_t *s, int n)
{
    table_schema_t *ts = table_schema_new("db", "public", name, n);

    for (int i = 0; ts && i < n; i++)
        table_schema_set_column(ts, i, s[i].name, "text", s[i].type,
                                s[i].type == COLTYPE_ARRAY ? COLTYPE_STRING
                                                           : COLTYPE_COUNT_,
                                0, 0, s[i].key);
    return ts;
}

void gqlt_setup(void)
{
    memset(hidden, 0, sizeof(hidden));
    cols[0] = (gql_collection_t){
        "articles",
        make("articles", article_cols,
             (int)(sizeof(article_cols) / sizeof(*article_cols))),
        may_read, (void *)(intptr_t)0};
    cols[1] = (gql_collection_t){
        "authors",
        make("authors", author_cols,
             (int)(sizeof(author_cols) / sizeof(*author_cols))),
        may_read, (void *)(intptr_t)1};
}

void gqlt_teardown(void)
{
    for (int i = 0; i < NCOLS; i++)
        table_schema_free((table_schema_t *)cols[i].schema);
}

const gql_collection_t *gqlt_collections(int *n)
{
    *n = NCOLS;
    return cols;
}

int gqlt_column(const char *collection, const char *column)
{
    for (int c = 0; c < NCOLS; c++) {
        if (strcmp(cols[c].name, collection) != 0)
            continue;
        for (int i = 0; i < cols[c].schema->ncols; i++)
            if (strcmp(cols[c].schema->cols[i].name, column) == 0)
                return i;
    }
    return -1;
}

void gqlt_hide(const char *collection, const char *column)
{
    for (int c = 0; c < NCOLS; c++)
        if (strcmp(cols[c].name, collection) == 0)
            hidden[c][gqlt_column(collection, column)] = true;
}
