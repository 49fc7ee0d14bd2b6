/* Where the reader registers each table version's key and value schemas:
 * the built-in registry, stored in "<prefix>._schemas" and served on
 * CDC_READER_HTTP, or the external one CDC_SCHEMA_REGISTRY_URL names.
 * Loop thread only. */
#ifndef CDC_REGISTRAR_H
#define CDC_REGISTRAR_H

#include "producer.h"
#include "registry_client.h"
#include "registry_store.h"
#include "table_schema.h"
#include "topics.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct registrar {
    const char *prefix;
    registry_store_t *store;   /* the built-in registry, or NULL */
    registry_client_t *client; /* the external one, or NULL */
    producer_t *producer;      /* borrowed, for the built-in one */
} registrar_t;

/* Opens the external registry at url, or (url empty) the built-in one,
 * loading what "<prefix>._schemas" holds.  http is only for the log line.
 * false with err. */
bool registrar_open(registrar_t *rg, const char *prefix, const char *url,
                    const char *http, topics_t *topics, producer_t *producer,
                    char *err, size_t errlen);
void registrar_close(registrar_t *rg);

/* Registers the key schema (when the table has key columns) and the value
 * schema of ts under "<topic>-key" and "<topic>-value", setting
 * ts->key_schema_id and ts->value_schema_id.  A relcache_register_fn with
 * the registrar as arg.  false with err. */
bool registrar_register(void *arg, table_schema_t *ts, char *err,
                        size_t errlen);

#endif
