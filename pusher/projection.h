/* Output shapes: what of an event a subscription is sent, compiled from a
 * GraphQL plan or a realtime field list, and interned so that equal shapes
 * are one object (one serialization per event). */
#ifndef CDC_PROJECTION_H
#define CDC_PROJECTION_H

#include "graphql.h"
#include "pusher.h"

/* The shape of a GraphQL plan for rows of ts.  NULL when out of memory. */
projection_t *projection_from_plan(const gql_plan_t *plan,
                                   const table_schema_t *ts);

/* The shape of a realtime subscription: the listed fields (NULL or "*":
 * every readable column).  NULL with err naming the field when a field
 * does not exist, may not be read, or is relational ("author.name"). */
projection_t *projection_from_fields(const table_schema_t *ts,
                                     const bool *readable,
                                     const char *const *fields, int nfields,
                                     char *err, size_t errlen);

/* Takes ownership of candidate and returns the shared equal shape (which
 * may be candidate itself), with a reference for the caller. */
projection_t *projection_intern(pusher_t *p, projection_t *candidate);

/* Drops a reference; the last one frees the shape.  NULL allowed. */
void projection_release(pusher_t *p, projection_t *proj);

/* Frees a shape that was never interned. */
void projection_free(projection_t *proj);

#endif
