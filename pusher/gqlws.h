/* The graphql-transport-ws protocol at /graphql: connection_init (with the
 * token in its payload) and connection_ack, ping and pong both ways,
 * subscribe, next, error and complete, and the protocol's close codes. */
#ifndef CDC_GQLWS_H
#define CDC_GQLWS_H

#include "pusher.h"

/* Close codes of graphql-transport-ws. */
#define GQLWS_BAD_REQUEST    4400
#define GQLWS_UNAUTHORIZED   4401
#define GQLWS_FORBIDDEN      4403
#define GQLWS_SUBPROTOCOL    4406
#define GQLWS_INIT_TIMEOUT   4408
#define GQLWS_DUPLICATE      4409
#define GQLWS_TOO_MANY_INITS 4429

/* Handles one text message from the client. */
void gqlws_message(pusher_t *p, conn_t *c, const char *text, size_t len);

/* Periodic checks: connection_init timeout, token expiry, keepalive. */
void gqlws_tick(pusher_t *p, conn_t *c, int64_t now_ms);

/* Sends an error for subscription id (which ends it on the client). */
void gqlws_send_error(conn_t *c, const char *id, const char *code,
                      const char *message);

#endif
