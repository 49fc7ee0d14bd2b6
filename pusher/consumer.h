/* The live consumer: one Kafka consumer per pusher, assigned every
 * partition of the topics its clients need, each record decoded once,
 * duplicates dropped by source position, then handed to the fan-out. */
#ifndef CDC_CONSUMER_H
#define CDC_CONSUMER_H

#include "pusher.h"

bool consumer_init(pusher_t *p, char *err, size_t errlen);
void consumer_free(pusher_t *p);

/* Makes sure coll's topic is being read.  The first call reads the record
 * before the current end of each partition to learn its position, then
 * starts the waiting subscriptions.  false with err when Kafka cannot
 * describe the topic. */
bool consumer_watch(pusher_t *p, collection_t *coll, char *err, size_t errlen);

/* Notes that coll has no subscriptions left; its partitions are released
 * after a while unless someone subscribes again. */
void consumer_unused(pusher_t *p, collection_t *coll);

/* Periodic work: releases topics unused for long enough. */
void consumer_tick(pusher_t *p);

/* Continues processing after a schema arrived. */
void consumer_resume(pusher_t *p);

/* Appends the cursor of the live position of a topic. */
void consumer_cursor(pusher_t *p, const live_topic_t *lt, buf_t *out);

/* Decodes a record value of collection coll.  Returns 1 with the change,
 * 0 when its schema is being fetched (try again after consumer_resume),
 * -1 when it cannot be decoded (err set).  Unknown before-columns (replica
 * identity other than FULL) are marked VALUE_UNCHANGED. */
int consumer_decode(pusher_t *p, collection_t *coll, const void *value,
                    size_t len, arena_t *arena, change_t *ch,
                    const table_schema_t **ts, char *err, size_t errlen);

/* The position header of a record, false when absent or unreadable. */
bool consumer_position(const rd_kafka_message_t *m, wire_position_t *pos);

/* Consumer lag per partition for /metrics: appends samples. */
void consumer_metrics(pusher_t *p, buf_t *out);

#endif
