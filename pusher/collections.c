/* Collection list and schema cache, filled from the schema registry on a
 * worker thread. */
#include "collections.h"

#include "consumer.h"
#include "log.h"
#include "registry_client.h"
#include "replay.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_TIMEOUT_MS 5000
#define RETRY_MS            1000

typedef struct cached_schema {
    int id;
    table_schema_t *ts;
} cached_schema_t;

/* One subject's latest version, as fetched. */
typedef struct fetched_subject {
    char *topic;
    int id;
    char *schema;
} fetched_subject_t;

typedef enum job_kind { JOB_REFRESH, JOB_SCHEMA } job_kind_t;

typedef struct job {
    uv_work_t work;
    pusher_t *p;
    job_kind_t kind;
    int schema_id;
    /* results */
    bool ok;
    bool not_found;
    char err[512];
    buf_t text;
    fetched_subject_t *subjects;
    int nsubjects;
} job_t;

typedef struct registry_state {
    registry_client_t *client; /* used by the worker only */
    cached_schema_t *schemas;
    int nschemas;
    int *wanted; /* schema ids to fetch */
    int nwanted;
    bool busy;
    bool refreshed;
    int64_t next_refresh_ms;
    int64_t next_retry_ms;
    int64_t last_warning_ms;
} registry_state_t;

static void start_job(pusher_t *p, job_kind_t kind, int id);

bool collections_ready(const pusher_t *p)
{
    const registry_state_t *rs = p->registry;

    return rs && rs->refreshed;
}

collection_t *collections_find(pusher_t *p, const char *name)
{
    for (int i = 0; i < p->ncolls; i++) {
        if (strcmp(p->colls[i]->name, name) == 0)
            return p->colls[i];
    }
    return NULL;
}

static const table_schema_t *cached(const registry_state_t *rs, int id)
{
    for (int i = 0; i < rs->nschemas; i++) {
        if (rs->schemas[i].id == id)
            return rs->schemas[i].ts;
    }
    return NULL;
}

/* Keeps a parsed schema for the life of the process: groups and records
 * refer to it by pointer. */
static const table_schema_t *remember(registry_state_t *rs, int id,
                                      const char *text, char *err,
                                      size_t errlen)
{
    const table_schema_t *known = cached(rs, id);
    cached_schema_t *grown;
    table_schema_t *ts;

    if (known)
        return known;
    ts = table_schema_from_avro(text, strlen(text), err, errlen);
    if (!ts)
        return NULL;
    grown = realloc(rs->schemas, (size_t)(rs->nschemas + 1) * sizeof(*grown));
    if (!grown) {
        table_schema_free(ts);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rs->schemas = grown;
    rs->schemas[rs->nschemas].id = id;
    rs->schemas[rs->nschemas].ts = ts;
    rs->nschemas++;
    return ts;
}

/* The collection name of a table: the table's name when it is in the
 * configured database schema; other schemas are not offered. */
static bool collection_name(pusher_t *p, const table_schema_t *ts, char *out,
                            size_t outlen)
{
    if (strcmp(ts->nspname, p->set.db_schema) != 0)
        return false;
    snprintf(out, outlen, "%s", ts->relname);
    return out[0] != '\0';
}

static void apply_subject(pusher_t *p, const fetched_subject_t *f)
{
    registry_state_t *rs = p->registry;
    const table_schema_t *ts;
    collection_t *coll, **grown;
    char name[256], err[512];

    ts = remember(rs, f->id, f->schema, err, sizeof(err));
    if (!ts) {
        log_warning(f->topic, "ignoring schema id %d: %s", f->id, err);
        return;
    }
    if (!collection_name(p, ts, name, sizeof(name)))
        return;
    coll = collections_find(p, name);
    if (coll) {
        coll->seen = true;
        if (coll->schema_id != f->id) {
            if (coll->schema)
                log_info(coll->topic, "schema changed to id %d", f->id);
            coll->schema = (table_schema_t *)ts;
            coll->schema_id = f->id;
        }
        return;
    }
    coll = calloc(1, sizeof(*coll));
    grown = realloc(p->colls, (size_t)(p->ncolls + 1) * sizeof(*grown));
    if (!coll || !grown) {
        free(coll);
        return;
    }
    p->colls = grown;
    coll->name = strdup(name);
    coll->topic = strdup(f->topic);
    coll->schema = (table_schema_t *)ts;
    coll->schema_id = f->id;
    coll->seen = true;
    p->colls[p->ncolls++] = coll;
    log_info(coll->topic, "collection \"%s\" available", name);
}

/* Worker side: blocking registry calls. */

static bool fetch_subjects(registry_client_t *rc, const char *prefix,
                           job_t *job)
{
    buf_t list;
    json_t *root;
    size_t plen = strlen(prefix);
    bool not_found;

    buf_init(&list, 0);
    if (!registry_client_subjects(rc, &list, job->err, sizeof(job->err))) {
        buf_free(&list);
        return false;
    }
    root = json_loadb((const char *)list.data, list.len, 0, NULL);
    buf_free(&list);
    if (!json_is_array(root)) {
        snprintf(job->err, sizeof(job->err),
                 "schema registry's subject list is not a JSON array");
        json_decref(root);
        return false;
    }
    job->subjects = calloc(json_array_size(root) + 1, sizeof(*job->subjects));
    for (size_t i = 0; job->subjects && i < json_array_size(root); i++) {
        const char *subject = json_string_value(json_array_get(root, i));
        size_t len = subject ? strlen(subject) : 0;
        fetched_subject_t *f = &job->subjects[job->nsubjects];
        buf_t schema;

        /* "<prefix>.<schema>.<table>-value"; "<prefix>._schemas" and keys
         * are not collections. */
        if (!subject || len < plen + 7 || strncmp(subject, prefix, plen) != 0 ||
            subject[plen] != '.' || strcmp(subject + len - 6, "-value") != 0)
            continue;
        buf_init(&schema, 0);
        if (!registry_client_latest(rc, subject, &f->id, &schema, &not_found,
                                    job->err, sizeof(job->err))) {
            buf_free(&schema);
            if (not_found)
                continue;
            json_decref(root);
            return false;
        }
        f->topic = strndup(subject, len - 6);
        f->schema = buf_cstr(&schema) ? (char *)schema.data : NULL;
        if (f->topic && f->schema)
            job->nsubjects++;
    }
    json_decref(root);
    return job->subjects != NULL;
}

static void run_job(uv_work_t *w)
{
    job_t *job = w->data;
    registry_state_t *rs = job->p->registry;

    if (job->kind == JOB_REFRESH)
        job->ok = fetch_subjects(rs->client, job->p->set.prefix, job);
    else
        job->ok = registry_client_schema_by_id(rs->client, job->schema_id,
                                               &job->text, &job->not_found,
                                               job->err, sizeof(job->err));
}

static void free_job(job_t *job)
{
    for (int i = 0; i < job->nsubjects; i++) {
        free(job->subjects[i].topic);
        free(job->subjects[i].schema);
    }
    free(job->subjects);
    buf_free(&job->text);
    free(job);
}

static void warn(pusher_t *p, const char *msg)
{
    registry_state_t *rs = p->registry;
    int64_t now = pusher_now_ms();

    if (now - rs->last_warning_ms >= 10000) {
        rs->last_warning_ms = now;
        log_warning("registry", "%s; retrying", msg);
    }
}

static void drop_wanted(registry_state_t *rs, int id)
{
    for (int i = 0; i < rs->nwanted; i++) {
        if (rs->wanted[i] == id) {
            rs->wanted[i] = rs->wanted[--rs->nwanted];
            return;
        }
    }
}

/* Loop side: results. */
static void job_done(uv_work_t *w, int status)
{
    job_t *job = w->data;
    pusher_t *p = job->p;
    registry_state_t *rs = p->registry;
    char err[512];

    rs->busy = false;
    if (status != 0 || !job->ok) {
        if (job->kind == JOB_SCHEMA && job->not_found) {
            /* Records of this id can never be decoded: let the consumer
             * skip them with an error rather than wait forever. */
            log_error("registry",
                      "schema id %d is unknown to the registry: "
                      "its records are skipped",
                      job->schema_id);
            drop_wanted(rs, job->schema_id);
            rs->schemas = realloc(rs->schemas, (size_t)(rs->nschemas + 1) *
                                                   sizeof(*rs->schemas));
            rs->schemas[rs->nschemas].id = job->schema_id;
            rs->schemas[rs->nschemas].ts = NULL;
            rs->nschemas++;
            consumer_resume(p);
            replay_resume(p);
        } else {
            warn(p, job->err[0] ? job->err : "schema registry failed");
            rs->next_retry_ms = pusher_now_ms() + RETRY_MS;
        }
        free_job(job);
        return;
    }
    if (job->kind == JOB_REFRESH) {
        for (int i = 0; i < job->nsubjects; i++)
            apply_subject(p, &job->subjects[i]);
        if (!rs->refreshed)
            log_info("registry", "%d collections available", p->ncolls);
        rs->refreshed = true;
        rs->next_refresh_ms = pusher_now_ms() + p->set.refresh_ms;
    } else {
        drop_wanted(rs, job->schema_id);
        if (!remember(rs, job->schema_id, buf_cstr(&job->text), err,
                      sizeof(err)))
            log_error("registry", "schema id %d cannot be used: %s",
                      job->schema_id, err);
        consumer_resume(p);
        replay_resume(p);
    }
    free_job(job);
    collections_tick(p);
}

static void start_job(pusher_t *p, job_kind_t kind, int id)
{
    registry_state_t *rs = p->registry;
    job_t *job;

    if (rs->busy)
        return;
    job = calloc(1, sizeof(*job));
    if (!job)
        return;
    job->p = p;
    job->kind = kind;
    job->schema_id = id;
    buf_init(&job->text, 0);
    job->work.data = job;
    rs->busy = true;
    if (uv_queue_work(&p->loop, &job->work, run_job, job_done) != 0) {
        rs->busy = false;
        free_job(job);
    }
}

void collections_tick(pusher_t *p)
{
    registry_state_t *rs = p->registry;
    int64_t now = pusher_now_ms();

    if (!rs || rs->busy || now < rs->next_retry_ms)
        return;
    if (rs->nwanted > 0)
        start_job(p, JOB_SCHEMA, rs->wanted[0]);
    else if (now >= rs->next_refresh_ms)
        start_job(p, JOB_REFRESH, 0);
}

int collections_schema(pusher_t *p, int id, const table_schema_t **out,
                       char *err, size_t errlen)
{
    registry_state_t *rs = p->registry;
    int *grown;

    for (int i = 0; i < rs->nschemas; i++) {
        if (rs->schemas[i].id == id) {
            if (!rs->schemas[i].ts) {
                snprintf(err, errlen, "schema id %d is not in the registry",
                         id);
                return -1;
            }
            *out = rs->schemas[i].ts;
            return 1;
        }
    }
    for (int i = 0; i < rs->nwanted; i++) {
        if (rs->wanted[i] == id)
            return 0;
    }
    grown = realloc(rs->wanted, (size_t)(rs->nwanted + 1) * sizeof(int));
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rs->wanted = grown;
    rs->wanted[rs->nwanted++] = id;
    collections_tick(p);
    return 0;
}

bool collections_init(pusher_t *p, char *err, size_t errlen)
{
    registry_state_t *rs = calloc(1, sizeof(*rs));
    job_t job;

    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    p->registry = rs;
    rs->client = registry_client_new(p->set.registry_url, REGISTRY_TIMEOUT_MS,
                                     err, errlen);
    if (!rs->client)
        return false;

    /* The first list is read right away so clients can subscribe as soon
     * as the pusher listens. */
    memset(&job, 0, sizeof(job));
    job.p = p;
    job.kind = JOB_REFRESH;
    buf_init(&job.text, 0);
    job.ok = fetch_subjects(rs->client, p->set.prefix, &job);
    if (job.ok) {
        for (int i = 0; i < job.nsubjects; i++)
            apply_subject(p, &job.subjects[i]);
        rs->refreshed = true;
        log_info("registry", "%d collections available from %s", p->ncolls,
                 p->set.registry_url);
    } else {
        log_warning("registry", "%s; retrying in the background", job.err);
    }
    for (int i = 0; i < job.nsubjects; i++) {
        free(job.subjects[i].topic);
        free(job.subjects[i].schema);
    }
    free(job.subjects);
    rs->next_refresh_ms = pusher_now_ms() + p->set.refresh_ms;
    return true;
}

void collections_free(pusher_t *p)
{
    registry_state_t *rs = p->registry;

    for (int i = 0; i < p->ncolls; i++) {
        free(p->colls[i]->name);
        free(p->colls[i]->topic);
        free(p->colls[i]);
    }
    free(p->colls);
    p->colls = NULL;
    p->ncolls = 0;
    if (!rs)
        return;
    for (int i = 0; i < rs->nschemas; i++)
        table_schema_free(rs->schemas[i].ts);
    free(rs->schemas);
    free(rs->wanted);
    registry_client_free(rs->client);
    free(rs);
    p->registry = NULL;
}
