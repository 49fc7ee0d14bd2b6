/* Directus's realtime JSON protocol at /websocket: auth, subscribe (with
 * collection, event, query.fields, query.filter, uid and our cursor),
 * unsubscribe, ping and pong, and Directus's error shapes. */
#ifndef CDC_REALTIME_H
#define CDC_REALTIME_H

#include "pusher.h"

/* Handles one text message from the client. */
void realtime_message(pusher_t *p, conn_t *c, const char *text, size_t len);

/* Periodic checks: auth timeout, token expiry, heartbeat. */
void realtime_tick(pusher_t *p, conn_t *c, int64_t now_ms);

/* Sends a subscription error for uid (may be NULL). */
void realtime_send_error(conn_t *c, const char *type, const char *code,
                         const char *message, const char *uid);

#endif
