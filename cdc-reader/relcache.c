/* Relation cache: relation descriptions to table schemas and topics. */
#include "relcache.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void relcache_init(relcache_t *rc, catalog_t *catalog, topics_t *topics,
                   const char *prefix, relcache_register_fn fn, void *arg)
{
    memset(rc, 0, sizeof(*rc));
    rc->catalog = catalog;
    rc->topics = topics;
    rc->prefix = prefix;
    rc->register_schema = fn;
    rc->register_arg = arg;
}

static void rel_free(rel_t *rel)
{
    if (!rel)
        return;
    table_schema_free(rel->ts);
    free(rel->types);
    free(rel);
}

void relcache_free(relcache_t *rc)
{
    for (int i = 0; i < rc->count; i++)
        rel_free(rc->rels[i]);
    free(rc->rels);
    rc->rels = NULL;
    rc->count = 0;
}

rel_t *relcache_get(const relcache_t *rc, uint32_t oid)
{
    for (int i = 0; i < rc->count; i++) {
        if (rc->rels[i]->oid == oid)
            return rc->rels[i];
    }
    return NULL;
}

/* Key flags for the Kafka key.  DEFAULT and USING INDEX identities name
 * the key columns themselves; FULL marks every column and NOTHING none, so
 * those use the primary key when there is one. */
static bool key_columns(relcache_t *rc, const rel_desc_t *d, bool *keys,
                        char *err, size_t errlen)
{
    char **pk = NULL;
    int npk = 0;

    if (d->replident == 'd' || d->replident == 'i') {
        memcpy(keys, d->key_flags, (size_t)d->ncols * sizeof(bool));
        return true;
    }
    memset(keys, 0, (size_t)d->ncols * sizeof(bool));
    if (!catalog_primary_key(rc->catalog, d->oid, &pk, &npk, err, errlen))
        return false;
    for (int i = 0; i < d->ncols; i++) {
        for (int k = 0; k < npk; k++) {
            if (strcmp(d->names[i], pk[k]) == 0)
                keys[i] = true;
        }
    }
    for (int k = 0; k < npk; k++)
        free(pk[k]);
    free(pk);
    return true;
}

rel_t *relcache_apply(relcache_t *rc, const rel_desc_t *d, char *err,
                      size_t errlen)
{
    rel_t *old = relcache_get(rc, d->oid), *rel;
    bool *keys = calloc(d->ncols ? (size_t)d->ncols : 1, sizeof(bool));
    char topic_name[512];
    table_schema_t *ts = NULL;
    pgtype_t *types = NULL;

    if (!keys)
        goto oom;
    if (!key_columns(rc, d, keys, err, errlen))
        goto fail;

    types = calloc(d->ncols ? (size_t)d->ncols : 1, sizeof(pgtype_t));
    ts = table_schema_new(catalog_database(rc->catalog), d->nspname, d->relname,
                          d->ncols);
    if (!types || !ts)
        goto oom;
    for (int i = 0; i < d->ncols; i++) {
        char pg_type[256];

        if (!catalog_type(rc->catalog, d->type_oids[i], d->typmods[i],
                          &types[i], pg_type, sizeof(pg_type), err, errlen))
            goto fail;
        if (!table_schema_set_column(ts, i, d->names[i], pg_type, types[i].type,
                                     types[i].elem, types[i].precision,
                                     types[i].scale, keys[i]))
            goto oom;
    }

    if (old && table_schema_equal(old->ts, ts)) {
        /* Same columns: only the identity may have changed. */
        old->replident = d->replident;
        free(types);
        free(keys);
        table_schema_free(ts);
        return old;
    }

    if (!rc->register_schema(rc->register_arg, ts, err, errlen))
        goto fail;
    topics_name(rc->prefix, d->nspname, d->relname, topic_name,
                sizeof(topic_name));

    rel = old ? old : calloc(1, sizeof(*rel));
    if (!rel)
        goto oom;
    rel->topic = topics_open(rc->topics, topic_name, err, errlen);
    if (!rel->topic) {
        if (!old)
            free(rel);
        goto fail;
    }
    if (old) {
        table_schema_free(old->ts);
        free(old->types);
        log_info(topic_name,
                 "table \"%s.%s\" changed: schema version with "
                 "id %d",
                 d->nspname, d->relname, ts->value_schema_id);
    } else {
        rel_t **grown =
            realloc(rc->rels, (size_t)(rc->count + 1) * sizeof(*grown));

        if (!grown) {
            free(rel);
            goto oom;
        }
        rc->rels = grown;
        rc->rels[rc->count++] = rel;
    }
    rel->oid = d->oid;
    rel->replident = d->replident;
    rel->ncols = d->ncols;
    rel->types = types;
    rel->ts = ts;
    if (ts->nkeys == 0 && !rel->warned_no_key) {
        rel->warned_no_key = true;
        log_warning(topic_name,
                    "table \"%s.%s\" has no primary key or replica identity "
                    "index: its records have a null key and all go to "
                    "partition 0",
                    d->nspname, d->relname);
    }
    free(keys);
    return rel;

oom:
    snprintf(err, errlen, "out of memory");
fail:
    free(keys);
    free(types);
    table_schema_free(ts);
    return NULL;
}
