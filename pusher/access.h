/* What one client may read of one collection: the columns (for GraphQL
 * validation, realtime field lists and filters) and the role's row filter,
 * from the identity and the permissions file.  A collection the client may
 * not read is reported exactly like one that does not exist. */
#ifndef CDC_ACCESS_H
#define CDC_ACCESS_H

#include "pusher.h"

#include "filter.h"

typedef struct access {
    bool allowed;
    const table_schema_t *ts; /* the version checked against */
    bool *readable;           /* per column of ts */
    const json_t *row_filter; /* the role's, or NULL */
} access_t;

/* Fills a for connection c and the latest schema of collection coll.
 * false when the client may not read the collection (or it has no schema
 * yet); a then needs no release.  a->readable is malloc'ed (release with
 * access_release); a->row_filter points into the current permissions. */
bool access_get(pusher_t *p, const conn_t *c, const collection_t *coll,
                access_t *a);

/* The same for version ts of coll's schema (a subscription compiled
 * against an older version is checked against that one). */
bool access_get_version(pusher_t *p, const conn_t *c, const collection_t *coll,
                        const table_schema_t *ts, access_t *a);

/* Frees what access_get filled; a may be passed again. */
void access_release(access_t *a);

/* Column predicate for gql_compile and filter_compile (arg: access_t). */
bool access_may_read(void *arg, int col);

/* Compiles the role's row filter for this client ($CURRENT_USER and
 * $CURRENT_ROLE resolved); *out NULL when the role reads every row.
 * false with err when the permissions file holds a filter that does not
 * fit the table (logged for the operator, refused to the client). */
bool access_row_filter(pusher_t *p, const conn_t *c, const access_t *a,
                       filter_t **out, char *err, size_t errlen);

/* Applies the current permissions and the connection's current identity
 * to subscription s, which keeps running with its role's new row filter.
 * s is ended with a FORBIDDEN error naming the reason (and freed) when the
 * collection, a field it selects, or a field its own filter reads may no
 * longer be read.  Returns false when s was ended. */
bool access_recheck(pusher_t *p, sub_t *s);

/* access_recheck for every subscription of c; returns how many were
 * checked. */
int access_recheck_conn(pusher_t *p, conn_t *c);

/* Verifies token (len bytes; static or JWT) and, when it is good, makes
 * it the connection's identity (c->ident, owned by c).  Returns 0
 * (AUTH_OK), or the auth_result_t of the refusal, whose reason is logged
 * with the connection; the client is only told that the token was
 * refused.  An empty token leaves the connection public where its
 * endpoint's auth mode is public, and is refused elsewhere.  The caller
 * rechecks existing subscriptions when the identity changed
 * (access_recheck_conn). */
int access_authenticate(pusher_t *p, conn_t *c, const char *token, size_t len);

/* The $CURRENT_USER / $CURRENT_ROLE of a connection. */
void access_vars(const conn_t *c, filter_vars_t *vars);

#endif
