/* Resuming a subscription from a cursor: the cursor is checked against the
 * topic (each partition's record before the cursor must carry the position
 * the cursor remembers), the missed records are read with a consumer of the
 * subscription's own and passed through its filter and permissions, and
 * each partition is handed to the live consumer once the replay has caught
 * up with it, so nothing is missed or sent twice. */
#ifndef CDC_REPLAY_H
#define CDC_REPLAY_H

#include "fanout.h"
#include "pusher.h"

/* Begins replaying s from cursor text (s->replay then owns the replay).
 * false with *code and err when the cursor is unusable right away
 * (garbled, forged, another collection, another partition count); what
 * needs Kafka (below retention, another history, Kafka unreachable) is
 * reported later through fanout_sub_error, which ends s.  All replay_*
 * functions run on the loop thread. */
bool replay_start(pusher_t *p, sub_t *s, const char *cursor, sub_error_t *code,
                  char *err, size_t errlen);

/* Stops a replay (the subscription is going away). */
void replay_cancel(pusher_t *p, sub_t *s);

/* Offers a record the live consumer just processed (at the partition's
 * next offset - 1) to subscriptions whose replay has caught up on that
 * partition.  ts and ch are NULL for records without a change to deliver
 * (tombstones, duplicates): positions still move. */
void replay_live_record(pusher_t *p, live_topic_t *lt, int partition,
                        const table_schema_t *ts, const change_t *ch);

/* Continues replays that waited for connection c's client to read its
 * output (called when c's socket takes more). */
void replay_writable(pusher_t *p, conn_t *c);

/* Periodic work: drains replay consumers, checks catch-up, starts queued
 * replays. */
void replay_tick(pusher_t *p);

/* Continues replays that waited for a schema. */
void replay_resume(pusher_t *p);

/* Replays running and queued, for /metrics. */
void replay_counts(const pusher_t *p, int *running, int *queued);

bool replay_init(pusher_t *p, char *err, size_t errlen);
void replay_free(pusher_t *p);

#endif
