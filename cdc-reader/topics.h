/* The Kafka topics the reader writes: created when absent (with the
 * configured partition count where the cluster allows the admin API), their
 * partition counts, and the position of the last record of each partition
 * at start-up, which is how replayed changes are recognised and skipped. */
#ifndef CDC_TOPICS_H
#define CDC_TOPICS_H

#include "wire.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct topic {
    char *name;
    rd_kafka_topic_t *rkt;
    int partitions;
    wire_position_t *tail; /* per partition; zero when empty */
    uint64_t skipped;      /* replayed records dropped by the tail rule */
    uint64_t produced;
    uint64_t bytes;
} topic_t;

typedef struct topics topics_t;

/* producer is borrowed; partitions and replication are used when creating
 * topics (replication -1: the cluster's default). */
topics_t *topics_new(rd_kafka_t *producer, int partitions, int replication,
                     char *err, size_t errlen);
void topics_free(topics_t *t);

/* Returns the topic, opening it on first use: created if absent,
 * partitions counted, tails read.  NULL with err when Kafka cannot tell. */
topic_t *topics_open(topics_t *t, const char *name, char *err, size_t errlen);

/* Reads the tails of every opened topic again and keeps, per partition,
 * the later of what Kafka holds and what this process produced: another
 * reader may have written while this one waited as a standby.  false with
 * err when Kafka cannot tell. */
bool topics_refresh_tails(topics_t *t, char *err, size_t errlen);

/* Called for each record; key and value may be NULL. */
typedef void (*topics_record_fn)(void *arg, const void *key, size_t keylen,
                                 const void *value, size_t valuelen);

/* Reads one partition of a small topic from its start to its current end,
 * calling fn for each record.  A topic that does not exist is empty.  false
 * with err when Kafka cannot be read within the time limit. */
bool topics_read_partition(topics_t *t, const char *name, int32_t partition,
                           topics_record_fn fn, void *arg, char *err,
                           size_t errlen);

/* Creates a topic through the admin API, compacted when asked; a cluster
 * without the admin API (the dev broker) is not an error.  false with err
 * for a real refusal. */
bool topics_create(topics_t *t, const char *name, int partitions,
                   bool compacted, char *err, size_t errlen);

/* Iterates opened topics (for /metrics). */
int topics_count(const topics_t *t);
topic_t *topics_at(const topics_t *t, int i);

/* Builds a topic name "<prefix>.<schema>.<table>" with characters Kafka
 * does not allow replaced by "_". */
void topics_name(const char *prefix, const char *nspname, const char *relname,
                 char *out, size_t outlen);

#endif
