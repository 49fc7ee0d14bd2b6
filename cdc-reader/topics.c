/* Topic creation, partition counts and tail positions. */
#include "topics.h"

#include "kafka.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPICS_TIMEOUT_MS 15000

struct topics {
    rd_kafka_t *producer;
    rd_kafka_t *tail_reader;
    int partitions;
    int replication;
    bool admin_unsupported;
    topic_t **list;
    int count;
};

void topics_name(const char *prefix, const char *nspname, const char *relname,
                 char *out, size_t outlen)
{
    size_t n;

    snprintf(out, outlen, "%s.%s.%s", prefix, nspname, relname);
    n = strlen(out);
    for (size_t i = 0; i < n; i++) {
        char c = out[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            out[i] = '_';
    }
}

topics_t *topics_new(rd_kafka_t *producer, int partitions, int replication,
                     char *err, size_t errlen)
{
    static const char *const defaults[] = {
        "group.id",  "cdc-reader-tails",  "enable.auto.commit",
        "false",     "fetch.wait.max.ms", "10",
        "client.id", "cdc-reader-tails",  NULL,
    };
    topics_t *t = calloc(1, sizeof(*t));
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->producer = producer;
    t->partitions = partitions;
    t->replication = replication;
    conf = kafka_conf_new(defaults, err, errlen);
    if (!conf) {
        free(t);
        return NULL;
    }
    t->tail_reader =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!t->tail_reader) {
        snprintf(err, errlen, "could not create Kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(t);
        return NULL;
    }
    return t;
}

void topics_free(topics_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->count; i++) {
        rd_kafka_topic_destroy(t->list[i]->rkt);
        free(t->list[i]->tail);
        free(t->list[i]->name);
        free(t->list[i]);
    }
    free(t->list);
    if (t->tail_reader) {
        rd_kafka_consumer_close(t->tail_reader);
        rd_kafka_destroy(t->tail_reader);
    }
    free(t);
}

int topics_count(const topics_t *t)
{
    return t->count;
}

topic_t *topics_at(const topics_t *t, int i)
{
    return t->list[i];
}

bool topics_create(topics_t *t, const char *name, int partitions,
                   bool compacted, char *err, size_t errlen)
{
    rd_kafka_NewTopic_t *nt;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    const rd_kafka_CreateTopics_result_t *res;
    const rd_kafka_topic_result_t **results;
    rd_kafka_AdminOptions_t *opts;
    char errstr[512];
    size_t n = 0;
    bool ok = true;

    if (t->admin_unsupported)
        return true;
    /* An existing topic needs nothing; asked through the consumer, whose
     * metadata requests never create topics by themselves. */
    if (kafka_partition_count(t->tail_reader, name, 5000, errstr,
                              sizeof(errstr)) > 0)
        return true;
    /* Without a controller (the dev broker has none) topic creation cannot
     * be answered; topics are then created on first use. */
    if (rd_kafka_controllerid(t->producer, 5000) < 0) {
        t->admin_unsupported = true;
        log_info(name, "the Kafka cluster reports no controller, so topics "
                       "are created on first use with the cluster's default "
                       "partition count");
        return true;
    }
    nt = rd_kafka_NewTopic_new(name, partitions, t->replication, errstr,
                               sizeof(errstr));
    if (!nt) {
        snprintf(err, errlen, "could not describe topic \"%s\": %s", name,
                 errstr);
        return false;
    }
    if (compacted)
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    q = rd_kafka_queue_new(t->producer);
    opts =
        rd_kafka_AdminOptions_new(t->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, TOPICS_TIMEOUT_MS, errstr,
                                                sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opts, 3000, errstr,
                                              sizeof(errstr));
    rd_kafka_CreateTopics(t->producer, &nt, 1, opts, q);
    ev = rd_kafka_queue_poll(q, TOPICS_TIMEOUT_MS + 5000);

    if (!ev) {
        snprintf(err, errlen,
                 "Kafka did not answer the creation of topic "
                 "\"%s\"",
                 name);
        ok = false;
    } else if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);

        if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
            e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
            e == RD_KAFKA_RESP_ERR__TIMED_OUT) {
            t->admin_unsupported = true;
            log_info(name, "the Kafka cluster does not offer topic "
                           "creation; topics are created on first use "
                           "with the cluster's default partition count");
        } else {
            snprintf(err, errlen, "could not create topic \"%s\": %s", name,
                     rd_kafka_event_error_string(ev));
            ok = false;
        }
    } else {
        res = rd_kafka_event_CreateTopics_result(ev);
        results = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);

            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                log_info(name, "created topic with %d partitions", partitions);
            } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(err, errlen, "could not create topic \"%s\": %s", name,
                         rd_kafka_topic_result_error_string(results[i]));
                ok = false;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return ok;
}

/* Reads the last record of every non-empty partition and keeps its
 * position header in tails[]. */
static bool read_tails(topics_t *t, topic_t *tp, wire_position_t *tails,
                       char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *parts;
    int64_t *last = calloc((size_t)tp->partitions, sizeof(int64_t));
    int wanted = 0, waited = 0;
    bool ok = true;

    if (!last) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    parts = rd_kafka_topic_partition_list_new(tp->partitions);
    for (int p = 0; p < tp->partitions; p++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            t->tail_reader, tp->name, p, &low, &high, TOPICS_TIMEOUT_MS);

        if (e) {
            snprintf(err, errlen,
                     "could not read the end of topic \"%s\" partition %d: "
                     "%s",
                     tp->name, p, rd_kafka_err2str(e));
            ok = false;
            goto out;
        }
        last[p] = high - 1;
        if (high > low) {
            rd_kafka_topic_partition_list_add(parts, tp->name, p)->offset =
                high - 1;
            wanted++;
        }
    }
    if (wanted == 0)
        goto out;

    rd_kafka_assign(t->tail_reader, parts);
    while (wanted > 0 && waited < TOPICS_TIMEOUT_MS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->tail_reader, 100);
        const void *value;
        size_t size;
        rd_kafka_headers_t *hdrs;

        waited += m ? 0 : 100;
        if (!m)
            continue;
        /* Only this topic's records: one fetched for an earlier
         * assignment may still come. */
        if (m->err || strcmp(rd_kafka_topic_name(m->rkt), tp->name) != 0 ||
            m->partition < 0 || m->partition >= tp->partitions ||
            m->offset != last[m->partition]) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, WIRE_POSITION_HEADER, &value,
                                     &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            !wire_position_parse(value, size, &tails[m->partition])) {
            log_warning(tp->name,
                        "record at partition %d offset %lld has an unreadable "
                        "position header; it is not used to skip replays",
                        m->partition, (long long)m->offset);
        }
        last[m->partition] = -2; /* done */
        wanted--;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(t->tail_reader, NULL);
    if (wanted > 0) {
        snprintf(err, errlen,
                 "could not read the last records of topic \"%s\" within "
                 "%d ms",
                 tp->name, TOPICS_TIMEOUT_MS);
        ok = false;
    }

out:
    rd_kafka_topic_partition_list_destroy(parts);
    free(last);
    return ok;
}

/* Logs the partitions whose tail moved past old (all when old is NULL). */
static void log_tails(const topic_t *tp, const wire_position_t *old)
{
    for (int p = 0; p < tp->partitions; p++) {
        char pos[WIRE_POSITION_MAX + 1];

        if (!tp->tail[p].commit_lsn ||
            (old && wire_position_cmp(&tp->tail[p], &old[p]) <= 0))
            continue;
        wire_position_format(&tp->tail[p], pos);
        log_info(tp->name,
                 "partition %d ends at position %s; replayed "
                 "changes up to it are skipped",
                 p, pos);
    }
}

bool topics_refresh_tails(topics_t *t, char *err, size_t errlen)
{
    for (int i = 0; i < t->count; i++) {
        topic_t *tp = t->list[i];
        wire_position_t *read = calloc((size_t)tp->partitions, sizeof(*read));
        wire_position_t *old = calloc((size_t)tp->partitions, sizeof(*old));

        if (!read || !old) {
            free(read);
            free(old);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        if (!read_tails(t, tp, read, err, errlen)) {
            free(read);
            free(old);
            return false;
        }
        memcpy(old, tp->tail, (size_t)tp->partitions * sizeof(*old));
        for (int p = 0; p < tp->partitions; p++) {
            if (wire_position_cmp(&read[p], &tp->tail[p]) > 0)
                tp->tail[p] = read[p];
        }
        log_tails(tp, old);
        free(read);
        free(old);
    }
    return true;
}

bool topics_read_partition(topics_t *t, const char *name, int32_t partition,
                           topics_record_fn fn, void *arg, char *err,
                           size_t errlen)
{
    rd_kafka_topic_partition_list_t *parts;
    int64_t low = 0, high = 0, next;
    rd_kafka_resp_err_t e;
    int idle = 0;
    bool ok = true;

    e = rd_kafka_query_watermark_offsets(t->tail_reader, name, partition, &low,
                                         &high, TOPICS_TIMEOUT_MS);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!e && high <= low))
        return true;
    if (e) {
        snprintf(err, errlen, "could not read the end of topic \"%s\": %s",
                 name, rd_kafka_err2str(e));
        return false;
    }
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, name, partition)->offset = low;
    rd_kafka_assign(t->tail_reader, parts);
    next = low;
    while (next < high && idle < TOPICS_TIMEOUT_MS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->tail_reader, 100);

        if (!m) {
            idle += 100;
            continue;
        }
        if (!m->err && m->partition == partition &&
            strcmp(rd_kafka_topic_name(m->rkt), name) == 0) {
            fn(arg, m->key, m->key_len, m->payload, m->len);
            next = m->offset + 1;
            idle = 0;
        } else if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
            next = high; /* compacted away under us: nothing more to see */
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(t->tail_reader, NULL);
    rd_kafka_topic_partition_list_destroy(parts);
    if (next < high) {
        snprintf(err, errlen,
                 "could not read topic \"%s\" to its end "
                 "(offset %lld) within %d ms",
                 name, (long long)high, TOPICS_TIMEOUT_MS);
        ok = false;
    }
    return ok;
}

topic_t *topics_open(topics_t *t, const char *name, char *err, size_t errlen)
{
    topic_t *tp, **grown;
    int waited = 0;

    for (int i = 0; i < t->count; i++) {
        if (strcmp(t->list[i]->name, name) == 0)
            return t->list[i];
    }
    if (!topics_create(t, name, t->partitions, false, err, errlen))
        return NULL;

    tp = calloc(1, sizeof(*tp));
    grown = realloc(t->list, (size_t)(t->count + 1) * sizeof(*grown));
    if (!tp || !grown) {
        free(tp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->list = grown;
    tp->name = strdup(name);
    tp->rkt = rd_kafka_topic_new(t->producer, name, NULL);

    /* A topic created just now takes a moment to show in metadata. */
    for (;;) {
        tp->partitions =
            kafka_partition_count(t->producer, name, 5000, err, errlen);
        if (tp->partitions > 0 || waited >= TOPICS_TIMEOUT_MS)
            break;
        waited += 500;
        rd_kafka_poll(t->producer, 500);
    }
    if (tp->partitions <= 0)
        goto fail;
    tp->tail = calloc((size_t)tp->partitions, sizeof(wire_position_t));
    if (!tp->tail || !read_tails(t, tp, tp->tail, err, errlen))
        goto fail;
    log_tails(tp, NULL);
    t->list[t->count++] = tp;
    return tp;

fail:
    if (tp->rkt)
        rd_kafka_topic_destroy(tp->rkt);
    free(tp->tail);
    free(tp->name);
    free(tp);
    return NULL;
}
