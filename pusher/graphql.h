/* The pusher's GraphQL front end: turns one subscribe request (document
 * text, operation name, variables) into a subscription plan, against the
 * schema we derive from our collections.  Handles executable documents of
 * the GraphQL specification (October 2021, plus descriptions on operations
 * as graphql-js 16 reads them); type system definitions parse but are
 * rejected, as graphql-js does.  Errors read like graphql-js's. */
#ifndef CDC_GRAPHQL_H
#define CDC_GRAPHQL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "table_schema.h"

/* Limits on what one request may hold; past them the request is refused
 * with an error naming the limit. */
#define GQL_MAX_DOCUMENT (64 * 1024) /* bytes of query text */
#define GQL_MAX_DEPTH    64          /* nesting of selections and values */
#define GQL_MAX_TOKENS   12000       /* lexical tokens in a document */
#define GQL_MAX_STRING   (16 * 1024) /* bytes of one string value */
#define GQL_MAX_ERRORS   100         /* validation errors before giving up */

typedef struct gql_collection {
    const char *name; /* as clients name it: "articles" */
    const table_schema_t *schema;
    /* may this subscriber read column i? NULL means all columns */
    bool (*may_read)(void *arg, int col);
    void *arg;
} gql_collection_t;

/* One error, GraphQL-shaped: a message and where it points (line and
 * column 0 when it points nowhere). */
typedef struct gql_error {
    char message[320];
    int line;
    int column;
} gql_error_t;

typedef enum gql_out_kind {
    GQL_OUT_KEY,
    GQL_OUT_EVENT,
    GQL_OUT_CURSOR,
    GQL_OUT_TYPENAME,
    GQL_OUT_DATA,
    GQL_OUT_COLUMN, /* inside data: a column of the row */
} gql_out_kind_t;

typedef struct gql_out_field {
    char *response_key; /* alias, or the field name */
    gql_out_kind_t kind;
    int column;      /* GQL_OUT_COLUMN: column index; -1 otherwise */
    char *type_name; /* GQL_OUT_TYPENAME: "articles_mutated", "articles" */
    /* GQL_OUT_DATA: the selection inside this data field, in response
     * order (COLUMN and TYPENAME entries) */
    struct gql_out_field *fields;
    int nfields;
} gql_out_field_t;

#define GQL_EVENT_CREATE (1u << 0)
#define GQL_EVENT_UPDATE (1u << 1)
#define GQL_EVENT_DELETE (1u << 2)

#define GQL_EVENT_ALL (GQL_EVENT_CREATE | GQL_EVENT_UPDATE | GQL_EVENT_DELETE)

typedef struct gql_plan {
    char *collection;
    char *response_key; /* alias or root field name */
    bool short_form;    /* selected as "C" rather than "C_mutated" */
    unsigned events;    /* GQL_EVENT_* bits; all three without event arg */
    /* The filter argument as a Directus JSON filter (after GraphQL input
     * coercion: lists stay arrays, numbers numbers, ID values strings), or
     * NULL when the argument is absent or null. */
    json_t *filter;
    bool has_after; /* after: "" means "from now" and still counts */
    char *after;
    gql_out_field_t *top; /* selection on C_mutated, in response order */
    int ntop;
    /* The selection inside the first data field (the same array as that
     * top entry's fields), NULL when data is not selected.  A document
     * selecting data under several aliases has one list per top entry. */
    gql_out_field_t *data;
    int ndata;
    /* Canonical text of the output shape: two plans with equal keys
     * serialize every event identically. */
    char *projection_key;
} gql_plan_t;

/* Parses, validates and compiles one subscribe request.  operation_name
 * may be NULL; variables may be NULL (none) or a JSON object.  Returns a
 * plan the caller frees with gql_plan_free, or NULL after filling up to
 * maxerr errors (*nerrors holds how many were filled: at least one when
 * maxerr > 0).  The
 * collections are only read during the call; the plan keeps no pointer
 * into them or into the query. */
gql_plan_t *gql_compile(const char *query, size_t len,
                        const char *operation_name, const json_t *variables,
                        const gql_collection_t *collections, int ncollections,
                        gql_error_t *errors, int maxerr, int *nerrors);

void gql_plan_free(gql_plan_t *plan);

/* Writes the schema these collections expose (permissions applied) as
 * SDL, which graphql-js's buildSchema accepts.  Collections or columns
 * whose names cannot be GraphQL names are left out.  false when out of
 * memory or the buffer's limit is reached. */
bool gql_print_sdl(const gql_collection_t *collections, int ncollections,
                   buf_t *out);

/* The parsed form of a document; see graphql_ast.h. */
typedef struct gql_document gql_document_t;

/* Parses an executable document (the grammar only, no validation).
 * Returns the document, which the caller frees with gql_document_free, or
 * NULL with err filled (message and location) on a syntax error, a limit
 * exceeded, or memory exhausted. */
gql_document_t *gql_parse(const char *text, size_t len, gql_error_t *err);

void gql_document_free(gql_document_t *doc);

#endif
