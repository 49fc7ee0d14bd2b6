/* Schema registration, built-in or external. */
#include "registrar.h"

#include "buf.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define REGISTRAR_TIMEOUT_MS 10000
#define REGISTRAR_LOAD_MS    30000

bool registrar_open(registrar_t *rg, const char *prefix, const char *url,
                    const char *http, topics_t *topics, producer_t *producer,
                    char *err, size_t errlen)
{
    char topic[512];

    memset(rg, 0, sizeof(*rg));
    rg->prefix = prefix;
    rg->producer = producer;
    if (url[0]) {
        rg->client =
            registry_client_new(url, REGISTRAR_TIMEOUT_MS, err, errlen);
        if (rg->client)
            log_info(NULL, "using schema registry at %s", url);
        return rg->client != NULL;
    }
    snprintf(topic, sizeof(topic), "%s._schemas", prefix);
    if (!topics_create(topics, topic, 1, true, err, errlen))
        return false;
    rg->store = registry_store_new(topic, err, errlen);
    if (!rg->store ||
        !registry_store_catch_up(rg->store, REGISTRAR_LOAD_MS, err, errlen))
        return false;
    log_info(topic, "serving the schema registry on http://%s", http);
    return true;
}

void registrar_close(registrar_t *rg)
{
    registry_store_free(rg->store);
    registry_client_free(rg->client);
    rg->store = NULL;
    rg->client = NULL;
}

static bool register_one(registrar_t *rg, const char *subject,
                         const char *schema, int *id, char *err, size_t errlen)
{
    int version;

    if (rg->store)
        return registry_store_register(rg->store, rg->producer, subject, schema,
                                       id, &version, err, errlen);
    return registry_client_register(rg->client, subject, schema, id, err,
                                    errlen);
}

bool registrar_register(void *arg, table_schema_t *ts, char *err, size_t errlen)
{
    registrar_t *rg = arg;
    char topic[512], subject[600];
    buf_t text;
    bool ok = false;

    buf_init(&text, 0);
    topics_name(rg->prefix, ts->nspname, ts->relname, topic, sizeof(topic));
    ts->key_schema_id = 0;
    if (ts->nkeys > 0) {
        snprintf(subject, sizeof(subject), "%s-key", topic);
        if (!table_schema_key_avro(ts, rg->prefix, &text) || !buf_cstr(&text) ||
            !register_one(rg, subject, (char *)text.data, &ts->key_schema_id,
                          err, errlen))
            goto out;
    }
    buf_reset(&text);
    snprintf(subject, sizeof(subject), "%s-value", topic);
    if (!table_schema_value_avro(ts, rg->prefix, &text) || !buf_cstr(&text) ||
        !register_one(rg, subject, (char *)text.data, &ts->value_schema_id, err,
                      errlen))
        goto out;
    ok = true;

out:
    if (!ok && !*err)
        snprintf(err, errlen, "could not build the schema of \"%s.%s\"",
                 ts->nspname, ts->relname);
    buf_free(&text);
    return ok;
}
