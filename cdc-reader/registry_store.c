/* Built-in schema registry: storage, persistence in Kafka, REST handlers. */
#include "registry_store.h"

#include "kafka.h"
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_MAX_SCHEMA   (1024 * 1024)
#define REGISTRY_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

typedef struct stored_schema {
    int id;
    char *text;      /* as first registered */
    char *canonical; /* compact, keys sorted: the identity of a schema */
} stored_schema_t;

typedef struct subject {
    char *name;
    int *ids; /* schema id of version i+1 */
    int nversions;
} subject_t;

struct registry_store {
    char *topic;
    rd_kafka_t *consumer;
    stored_schema_t *schemas;
    int nschemas;
    subject_t *subjects;
    int nsubjects;
    int max_id;
};

static char *canonical_form(const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    char *out;

    if (!root)
        return NULL;
    out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(root);
    return out;
}

static stored_schema_t *schema_by_id(const registry_store_t *rs, int id)
{
    for (int i = 0; i < rs->nschemas; i++) {
        if (rs->schemas[i].id == id)
            return &rs->schemas[i];
    }
    return NULL;
}

static stored_schema_t *schema_by_canonical(const registry_store_t *rs,
                                            const char *canonical)
{
    for (int i = 0; i < rs->nschemas; i++) {
        if (strcmp(rs->schemas[i].canonical, canonical) == 0)
            return &rs->schemas[i];
    }
    return NULL;
}

static subject_t *find_subject(const registry_store_t *rs, const char *name)
{
    for (int i = 0; i < rs->nsubjects; i++) {
        if (strcmp(rs->subjects[i].name, name) == 0)
            return &rs->subjects[i];
    }
    return NULL;
}

/* Records one (subject, version, id, schema) fact in memory; idempotent,
 * since our own writes come back through the consumer. */
static bool apply(registry_store_t *rs, const char *subject_name, int version,
                  int id, const char *text)
{
    stored_schema_t *s = schema_by_id(rs, id);
    subject_t *subj;

    if (!s) {
        stored_schema_t *grown =
            realloc(rs->schemas, (size_t)(rs->nschemas + 1) * sizeof(*grown));
        char *canonical = canonical_form(text, strlen(text));

        if (!grown || !canonical) {
            free(canonical);
            if (grown)
                rs->schemas = grown;
            return false;
        }
        rs->schemas = grown;
        s = &rs->schemas[rs->nschemas++];
        s->id = id;
        s->text = strdup(text);
        s->canonical = canonical;
        if (id > rs->max_id)
            rs->max_id = id;
    }

    subj = find_subject(rs, subject_name);
    if (!subj) {
        subject_t *grown =
            realloc(rs->subjects, (size_t)(rs->nsubjects + 1) * sizeof(*grown));

        if (!grown)
            return false;
        rs->subjects = grown;
        subj = &rs->subjects[rs->nsubjects++];
        subj->name = strdup(subject_name);
        subj->ids = NULL;
        subj->nversions = 0;
    }
    if (version > subj->nversions) {
        int *ids = realloc(subj->ids, (size_t)version * sizeof(int));

        if (!ids)
            return false;
        for (int v = subj->nversions; v < version; v++)
            ids[v] = 0;
        subj->ids = ids;
        subj->nversions = version;
    }
    subj->ids[version - 1] = id;
    return true;
}

registry_store_t *registry_store_new(const char *topic, char *err,
                                     size_t errlen)
{
    static const char *const defaults[] = {
        "group.id",
        "cdc-reader-registry",
        "enable.auto.commit",
        "false",
        "enable.partition.eof",
        "true",
        "fetch.wait.max.ms",
        "50",
        "client.id",
        "cdc-reader-registry",
        NULL,
    };
    registry_store_t *rs = calloc(1, sizeof(*rs));
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rs->topic = strdup(topic);
    conf = kafka_conf_new(defaults, err, errlen);
    if (!conf)
        goto fail;
    rs->consumer =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rs->consumer) {
        snprintf(err, errlen, "could not create Kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rs->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return rs;

fail:
    registry_store_free(rs);
    return NULL;
}

void registry_store_free(registry_store_t *rs)
{
    if (!rs)
        return;
    if (rs->consumer) {
        rd_kafka_consumer_close(rs->consumer);
        rd_kafka_destroy(rs->consumer);
    }
    for (int i = 0; i < rs->nschemas; i++) {
        free(rs->schemas[i].text);
        free(rs->schemas[i].canonical);
    }
    for (int i = 0; i < rs->nsubjects; i++) {
        free(rs->subjects[i].name);
        free(rs->subjects[i].ids);
    }
    free(rs->schemas);
    free(rs->subjects);
    free(rs->topic);
    free(rs);
}

/* Applies one record of the _schemas topic; returns false at partition
 * end. */
static bool consume_one(registry_store_t *rs, int timeout_ms, bool *at_end,
                        char *err, size_t errlen)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rs->consumer, timeout_ms);
    json_t *value;
    const char *subject, *schema;
    json_t *version, *id;

    *at_end = false;
    if (!m)
        return true;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        *at_end = true;
        rd_kafka_message_destroy(m);
        return true;
    }
    if (m->err) {
        /* The topic does not exist until the first schema is written. */
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
            *at_end = true;
            rd_kafka_message_destroy(m);
            return true;
        }
        rd_kafka_resp_err_t e = m->err;

        snprintf(err, errlen, "could not read topic \"%s\": %s", rs->topic,
                 rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return kafka_error_is_retriable(e);
    }
    if (!m->payload || m->len > REGISTRY_MAX_SCHEMA + 4096) {
        rd_kafka_message_destroy(m);
        return true;
    }
    value = json_loadb(m->payload, m->len, 0, NULL);
    subject = json_string_value(json_object_get(value, "subject"));
    schema = json_string_value(json_object_get(value, "schema"));
    version = json_object_get(value, "version");
    id = json_object_get(value, "id");
    if (subject && schema && json_is_integer(version) && json_is_integer(id) &&
        json_integer_value(version) > 0 &&
        json_integer_value(version) < 100000 && json_integer_value(id) > 0 &&
        !json_is_true(json_object_get(value, "deleted"))) {
        apply(rs, subject, (int)json_integer_value(version),
              (int)json_integer_value(id), schema);
    } else {
        log_warning(rs->topic,
                    "skipping a record at offset %lld that is "
                    "not a schema registration",
                    (long long)m->offset);
    }
    json_decref(value);
    rd_kafka_message_destroy(m);
    return true;
}

bool registry_store_catch_up(registry_store_t *rs, int timeout_ms, char *err,
                             size_t errlen)
{
    int64_t low = 0, high = 0, position;
    rd_kafka_resp_err_t e;
    int waited = 0;

    e = rd_kafka_query_watermark_offsets(rs->consumer, rs->topic, 0, &low,
                                         &high, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return true;
    if (e) {
        snprintf(err, errlen, "could not read the end of topic \"%s\": %s",
                 rs->topic, rd_kafka_err2str(e));
        return false;
    }
    for (;;) {
        rd_kafka_topic_partition_list_t *parts =
            rd_kafka_topic_partition_list_new(1);
        bool at_end;

        rd_kafka_topic_partition_list_add(parts, rs->topic, 0);
        rd_kafka_position(rs->consumer, parts);
        position = parts->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(parts);
        if (high <= low || (position >= 0 && position >= high))
            return true;
        if (waited >= timeout_ms) {
            snprintf(err, errlen,
                     "could not read topic \"%s\" to its end (offset %lld) "
                     "within %d ms",
                     rs->topic, (long long)high, timeout_ms);
            return false;
        }
        if (!consume_one(rs, 100, &at_end, err, errlen))
            return false;
        if (at_end && position < 0)
            return true;
        waited += 10;
    }
}

void registry_store_poll(registry_store_t *rs)
{
    char err[256];
    bool at_end = false;

    for (int i = 0; i < 100 && !at_end; i++) {
        if (!consume_one(rs, 0, &at_end, err, sizeof(err))) {
            log_warning(rs->topic, "%s", err);
            return;
        }
    }
}

static int next_version(const registry_store_t *rs, const char *subject)
{
    subject_t *s = find_subject(rs, subject);

    return s ? s->nversions + 1 : 1;
}

/* Version of id under subject, or 0. */
static int version_of(const subject_t *s, int id)
{
    for (int v = 0; s && v < s->nversions; v++) {
        if (s->ids[v] == id)
            return v + 1;
    }
    return 0;
}

bool registry_store_register(registry_store_t *rs, producer_t *producer,
                             const char *subject, const char *schema, int *id,
                             int *version, char *err, size_t errlen)
{
    stored_schema_t *existing;
    char *canonical, *key_text = NULL, *value_text = NULL;
    json_t *key, *value;
    int new_id, new_version;
    bool ok = false;

    if (strlen(schema) > REGISTRY_MAX_SCHEMA) {
        snprintf(err, errlen, "schema is larger than %d bytes",
                 REGISTRY_MAX_SCHEMA);
        return false;
    }
    canonical = canonical_form(schema, strlen(schema));
    if (!canonical) {
        snprintf(err, errlen, "schema is not valid JSON");
        return false;
    }
    /* Another reader may have written since we last looked; ids must not
     * collide. */
    if (!registry_store_catch_up(rs, 10000, err, errlen))
        goto out;

    existing = schema_by_canonical(rs, canonical);
    if (existing) {
        int v = version_of(find_subject(rs, subject), existing->id);

        if (v > 0) {
            *id = existing->id;
            *version = v;
            ok = true;
            goto out;
        }
        new_id = existing->id;
    } else {
        new_id = rs->max_id + 1;
    }
    new_version = next_version(rs, subject);

    key = json_pack("{s:s, s:s, s:i, s:i}", "keytype", "SCHEMA", "subject",
                    subject, "version", new_version, "magic", 1);
    value =
        json_pack("{s:s, s:i, s:i, s:s, s:b}", "subject", subject, "version",
                  new_version, "id", new_id, "schema", schema, "deleted", 0);
    key_text = json_dumps(key, JSON_COMPACT | JSON_PRESERVE_ORDER);
    value_text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(key);
    json_decref(value);
    if (!key_text || !value_text) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!producer_send_sync(producer, rs->topic, 0, key_text, strlen(key_text),
                            value_text, strlen(value_text), 30000, err, errlen))
        goto out;
    if (!apply(rs, subject, new_version, new_id, schema)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    log_info(subject, "registered schema id %d as version %d", new_id,
             new_version);
    *id = new_id;
    *version = new_version;
    ok = true;

out:
    free(canonical);
    free(key_text);
    free(value_text);
    return ok;
}

void registry_store_counts(const registry_store_t *rs, int *schemas,
                           int *subjects)
{
    *schemas = rs->nschemas;
    *subjects = rs->nsubjects;
}

/* REST API. */

static void reply_json(http_response_t *resp, int status, json_t *body)
{
    char *text =
        json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

    resp->status = status;
    resp->content_type = REGISTRY_CONTENT_TYPE;
    if (text)
        buf_puts(&resp->body, text);
    free(text);
    json_decref(body);
}

static void reply_error(http_response_t *resp, int status, int code,
                        const char *message)
{
    reply_json(resp, status,
               json_pack("{s:i, s:s}", "error_code", code, "message", message));
}

/* Decodes %XX in a path segment. */
static bool decode_segment(const char *in, size_t len, char *out, size_t outlen)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (n + 1 >= outlen)
            return false;
        if (c == '%' && i + 2 < len) {
            unsigned v;

            if (sscanf(in + i + 1, "%2x", &v) != 1)
                return false;
            c = (char)v;
            i += 2;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return n > 0;
}

static json_t *schema_answer(const char *subject, int version,
                             const stored_schema_t *s)
{
    return json_pack("{s:s, s:i, s:i, s:s}", "subject", subject, "version",
                     version, "id", s->id, "schema", s->text);
}

static void handle_subject(registry_store_t *rs, producer_t *producer,
                           const http_request_t *req, const char *subject,
                           const char *rest, http_response_t *resp)
{
    subject_t *subj = find_subject(rs, subject);
    char err[512];

    if (strcmp(req->method, "POST") == 0) {
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        const char *schema = json_string_value(json_object_get(body, "schema"));
        const char *type =
            json_string_value(json_object_get(body, "schemaType"));
        char *canonical =
            schema ? canonical_form(schema, strlen(schema)) : NULL;
        int id, version;

        if (!schema) {
            reply_error(resp, 422, 42201,
                        "request body must be {\"schema\": \"...\"}");
        } else if (type && strcmp(type, "AVRO") != 0) {
            reply_error(resp, 422, 42201,
                        "only AVRO schemas are supported by this registry");
        } else if (!canonical) {
            reply_error(resp, 422, 42201, "schema is not valid JSON");
        } else if (strcmp(rest, "/versions") == 0) {
            if (registry_store_register(rs, producer, subject, schema, &id,
                                        &version, err, sizeof(err)))
                reply_json(resp, 200, json_pack("{s:i}", "id", id));
            else
                reply_error(resp, 500, 50001, err);
        } else if (*rest == '\0') {
            stored_schema_t *s = schema_by_canonical(rs, canonical);
            int v = s ? version_of(subj, s->id) : 0;

            if (!subj)
                reply_error(resp, 404, 40401, "Subject not found.");
            else if (!v)
                reply_error(resp, 404, 40403, "Schema not found.");
            else
                reply_json(resp, 200, schema_answer(subject, v, s));
        } else {
            reply_error(resp, 404, 404, "HTTP 404 Not Found");
        }
        free(canonical);
        json_decref(body);
        return;
    }

    if (!subj) {
        reply_error(resp, 404, 40401, "Subject not found.");
        return;
    }
    if (strcmp(rest, "/versions") == 0) {
        json_t *list = json_array();

        for (int v = 0; v < subj->nversions; v++)
            json_array_append_new(list, json_integer(v + 1));
        reply_json(resp, 200, list);
        return;
    }
    if (strncmp(rest, "/versions/", 10) == 0) {
        const char *which = rest + 10;
        int v;

        if (strcmp(which, "latest") == 0 || strcmp(which, "-1") == 0)
            v = subj->nversions;
        else
            v = atoi(which);
        if (v < 1 || v > subj->nversions || subj->ids[v - 1] == 0) {
            reply_error(resp, 404, 40402, "Version not found.");
            return;
        }
        reply_json(
            resp, 200,
            schema_answer(subject, v, schema_by_id(rs, subj->ids[v - 1])));
        return;
    }
    reply_error(resp, 404, 404, "HTTP 404 Not Found");
}

bool registry_store_http(registry_store_t *rs, producer_t *producer,
                         const http_request_t *req, http_response_t *resp)
{
    const char *path = req->path;

    if (strcmp(path, "/config") == 0) {
        reply_json(resp, 200, json_pack("{s:s}", "compatibilityLevel", "NONE"));
        return true;
    }
    if (strcmp(path, "/subjects") == 0) {
        json_t *list = json_array();

        for (int i = 0; i < rs->nsubjects; i++)
            json_array_append_new(list, json_string(rs->subjects[i].name));
        reply_json(resp, 200, list);
        return true;
    }
    if (strncmp(path, "/schemas/ids/", 13) == 0) {
        char *end;
        long id = strtol(path + 13, &end, 10);
        stored_schema_t *s = schema_by_id(rs, (int)id);

        if (!s || (*end && strcmp(end, "/versions") != 0)) {
            reply_error(resp, 404, 40403, "Schema not found");
        } else if (*end) {
            json_t *list = json_array();

            for (int i = 0; i < rs->nsubjects; i++) {
                int v = version_of(&rs->subjects[i], s->id);

                if (v)
                    json_array_append_new(
                        list, json_pack("{s:s, s:i}", "subject",
                                        rs->subjects[i].name, "version", v));
            }
            reply_json(resp, 200, list);
        } else {
            reply_json(resp, 200, json_pack("{s:s}", "schema", s->text));
        }
        return true;
    }
    if (strncmp(path, "/subjects/", 10) == 0) {
        const char *start = path + 10;
        const char *slash = strchr(start, '/');
        size_t len = slash ? (size_t)(slash - start) : strlen(start);
        char subject[512];

        if (!decode_segment(start, len, subject, sizeof(subject))) {
            reply_error(resp, 404, 40401, "Subject not found.");
            return true;
        }
        handle_subject(rs, producer, req, subject, slash ? slash : "", resp);
        return true;
    }
    return false;
}
