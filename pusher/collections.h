/* Collections and schemas, from the schema registry: which tables clients
 * may subscribe to (the value subjects of our topic prefix), each table's
 * latest schema, and every schema id a record may carry.  Registry calls
 * run on libuv's worker pool, one at a time, so a slow registry never
 * stalls the loop; results are applied on the loop thread. */
#ifndef CDC_COLLECTIONS_H
#define CDC_COLLECTIONS_H

#include "pusher.h"

/* Creates the registry client and lists collections once (blocking, at
 * start-up).  A registry that does not answer yet is not an error: the
 * list is retried in the background. */
bool collections_init(pusher_t *p, char *err, size_t errlen);
void collections_free(pusher_t *p);

/* The collection clients call name, or NULL. */
collection_t *collections_find(pusher_t *p, const char *name);

/* Schema of id: 1 with *out set; 0 when it is being fetched (the consumer
 * is resumed when it arrives); -1 when the registry does not know it. */
int collections_schema(pusher_t *p, int id, const table_schema_t **out,
                       char *err, size_t errlen);

/* Periodic refresh of the collection list and retries. */
void collections_tick(pusher_t *p);

/* True once the collection list has been read at least once. */
bool collections_ready(const pusher_t *p);

#endif
