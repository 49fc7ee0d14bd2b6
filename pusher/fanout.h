/* Fan-out: subscriptions grouped by (collection, events, filter, role
 * filter, output shape); each change is evaluated once per group and
 * serialized once per shape and event, then framed for each member with
 * only its subscription id added. */
#ifndef CDC_FANOUT_H
#define CDC_FANOUT_H

#include "projection.h"
#include "pusher.h"

/* What a protocol handler asks for. */
typedef struct sub_request {
    collection_t *coll;
    const table_schema_t *ts; /* the version filter and shape refer to */
    const char *id;           /* graphql id / realtime uid; NULL allowed */
    unsigned events;          /* EVENTS_ALL or a subset */
    filter_t *filter;         /* owned by the subscription from now on */
    filter_t *perm;           /* likewise */
    projection_t *proj;       /* interned; the subscription takes a ref */
    bool send_init;           /* answer with an init event and cursor */
    bool init_data;           /* realtime init lists data (empty) */
    const char *after;        /* cursor to resume from; NULL: from now */
} sub_request_t;

/* Error codes of a refused subscription, as the protocols name them. */
typedef enum sub_error {
    SUB_ERROR_NONE,
    SUB_ERROR_LIMIT, /* too many subscriptions on the connection */
    SUB_ERROR_CURSOR_INVALID,
    SUB_ERROR_CURSOR_EXPIRED,
    SUB_ERROR_UNAVAILABLE, /* Kafka cannot be read right now */
} sub_error_t;

/* Adds a subscription to connection c.  It starts delivering once its
 * topic is being read (and, with a cursor, once it has caught up).  NULL
 * with *code and err when refused; the filters are freed then. */
sub_t *fanout_subscribe(pusher_t *p, conn_t *c, sub_request_t *req,
                        sub_error_t *code, char *err, size_t errlen);

/* Removes a subscription and frees it. */
void fanout_unsubscribe(pusher_t *p, sub_t *s);

/* Finds a connection's subscription by id. */
sub_t *fanout_find(conn_t *c, const char *id);

/* Appends the cursor of the position just after the change being
 * dispatched.  Called at most once per change, and only when some
 * subscriber receives it: a cursor is signed, which is not free. */
typedef void (*cursor_fn_t)(void *arg, buf_t *out);

/* Delivers one change of collection coll, decoded with schema
 * record_ts, to its live groups. */
void fanout_dispatch(pusher_t *p, collection_t *coll,
                     const table_schema_t *record_ts, const change_t *ch,
                     cursor_fn_t cursor_fn, void *cursor_arg);

/* Delivers one change to a single subscription that is catching up. */
void fanout_dispatch_one(pusher_t *p, sub_t *s, const table_schema_t *record_ts,
                         const change_t *ch, cursor_fn_t cursor_fn,
                         void *cursor_arg);

/* Moves a subscription into its live group and, if asked, sends its init
 * event with cursor (the position it starts after). */
void fanout_go_live(pusher_t *p, sub_t *s, const char *cursor,
                    size_t cursor_len);

/* Sends a subscription's init event without joining a group. */
void fanout_send_init(pusher_t *p, sub_t *s, const char *cursor,
                      size_t cursor_len);

/* Replaces a subscription's role filter (permissions were reloaded); it
 * moves to the group of its new key.  Takes ownership of perm.  False when
 * the subscription could not be kept: it has been ended (with an error to
 * its client) and freed. */
bool fanout_set_perm(pusher_t *p, sub_t *s, filter_t *perm);

/* Ends a subscription with an error the client can act on (code such as
 * "CURSOR_EXPIRED"), in its protocol's shape, then removes it. */
void fanout_sub_error(pusher_t *p, sub_t *s, const char *code,
                      const char *message);

/* Number of live groups, for /metrics. */
int fanout_group_count(const pusher_t *p);

#endif
