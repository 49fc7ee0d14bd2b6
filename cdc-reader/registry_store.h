/* The schema registry the reader serves when no external one is configured:
 * schemas and subjects in memory, persisted in the compacted topic
 * "<prefix>._schemas" (partition 0, Confluent's record layout) and reloaded
 * from it, so ids stay stable across restarts and a standby reader serves
 * the same answers.  Loop thread only. */
#ifndef CDC_REGISTRY_STORE_H
#define CDC_REGISTRY_STORE_H

#include "httpd.h"
#include "producer.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct registry_store registry_store_t;

/* Creates the store and its consumer of topic.  NULL with err. */
registry_store_t *registry_store_new(const char *topic, char *err,
                                     size_t errlen);
void registry_store_free(registry_store_t *rs);

/* Reads the topic up to its current end (blocking, at most timeout_ms).
 * false with err when Kafka cannot be read. */
bool registry_store_catch_up(registry_store_t *rs, int timeout_ms, char *err,
                             size_t errlen);

/* Applies records other writers added since; never blocks. */
void registry_store_poll(registry_store_t *rs);

/* Registers schema under subject.  An equal schema (same canonical JSON)
 * keeps its id; a new one gets the next id and a new version, persisted and
 * acknowledged by Kafka before this returns true. */
bool registry_store_register(registry_store_t *rs, producer_t *producer,
                             const char *subject, const char *schema, int *id,
                             int *version, char *err, size_t errlen);

/* Serves the Confluent REST subset: GET /subjects, /subjects/S/versions,
 * /subjects/S/versions/{N|latest}, /schemas/ids/N, /schemas/ids/N/versions,
 * /config; POST /subjects/S/versions (register), /subjects/S (lookup).
 * Returns false when the path is not a registry path. */
bool registry_store_http(registry_store_t *rs, producer_t *producer,
                         const http_request_t *req, http_response_t *resp);

/* Number of schemas and subjects, for /metrics. */
void registry_store_counts(const registry_store_t *rs, int *schemas,
                           int *subjects);

#endif
