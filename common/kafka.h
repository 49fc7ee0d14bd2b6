/* librdkafka set-up shared by both daemons: configuration from
 * CDC_KAFKA_BROKERS and CDC_KAFKA_<PROPERTY> settings, logs routed into our
 * logger, and errors sorted into retriable and fatal. */
#ifndef CDC_KAFKA_H
#define CDC_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

/* Creates a configuration: defaults (NULL-terminated name/value pairs)
 * first, then bootstrap.servers from CDC_KAFKA_BROKERS, then every
 * CDC_KAFKA_<PROPERTY> setting (CDC_KAFKA_SECURITY_PROTOCOL sets
 * security.protocol).  Returns NULL and fills err naming the setting that
 * librdkafka refused. */
rd_kafka_conf_t *kafka_conf_new(const char *const *defaults, char *err,
                                size_t errlen);

/* True when librdkafka will retry by itself or the condition passes (broker
 * down, timeouts, leader changes); false for errors that need a person. */
bool kafka_error_is_retriable(rd_kafka_resp_err_t err);

/* Number of partitions of a topic from cluster metadata, or -1 with err
 * set (unknown topic, timeout). */
int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                          char *err, size_t errlen);

#endif
