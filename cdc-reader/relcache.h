/* Relations the stream has described: columns, how each is parsed, the
 * current table schema with its registry ids, and the topic it goes to.
 * A relation whose columns change gets a new schema version. */
#ifndef CDC_RELCACHE_H
#define CDC_RELCACHE_H

#include "catalog.h"
#include "pgtype.h"
#include "table_schema.h"
#include "topics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rel {
    uint32_t oid;
    char replident; /* 'd', 'f', 'i', 'n' */
    int ncols;
    pgtype_t *types; /* how column i's text is parsed */
    table_schema_t *ts;
    topic_t *topic;
    bool warned_no_key;
} rel_t;

/* A relation as described to the cache, from a Relation message or the
 * catalog.  Columns carry pgoutput's key flag. */
typedef struct rel_desc {
    uint32_t oid;
    const char *nspname;
    const char *relname;
    char replident;
    int ncols;
    const char *const *names;
    const uint32_t *type_oids;
    const int32_t *typmods;
    const bool *key_flags;
} rel_desc_t;

/* Registers a new schema version: fills ts->key_schema_id and
 * ts->value_schema_id. */
typedef bool (*relcache_register_fn)(void *arg, table_schema_t *ts, char *err,
                                     size_t errlen);

typedef struct relcache {
    rel_t **rels;
    int count;
    catalog_t *catalog;
    topics_t *topics;
    const char *prefix;
    relcache_register_fn register_schema;
    void *register_arg;
} relcache_t;

void relcache_init(relcache_t *rc, catalog_t *catalog, topics_t *topics,
                   const char *prefix, relcache_register_fn fn, void *arg);
void relcache_free(relcache_t *rc);

/* Applies a description: builds the schema (key columns: the replica
 * identity for DEFAULT and USING INDEX, the primary key for FULL and
 * NOTHING), registers it when new or changed, opens the topic.  Returns the
 * relation, or NULL with err. */
rel_t *relcache_apply(relcache_t *rc, const rel_desc_t *desc, char *err,
                      size_t errlen);

/* The relation of oid, or NULL when no Relation message described it. */
rel_t *relcache_get(const relcache_t *rc, uint32_t oid);

#endif
