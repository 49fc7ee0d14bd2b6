/* The pusher's shared types: collections, live topics, subscriptions,
 * subscription groups, projections and connections, and the pusher that
 * owns them.  Everything here lives on the libuv loop thread, which is also
 * libwebsockets' service thread; nothing is shared with another thread
 * except through the registry fetch (see collections.c). */
#ifndef CDC_PUSHER_H
#define CDC_PUSHER_H

#include "arena.h"
#include "buf.h"
#include "codec.h"
#include "config.h"
#include "cursor.h"
#include "table_schema.h"
#include "wire.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct pusher pusher_t;
typedef struct collection collection_t;
typedef struct live_topic live_topic_t;
typedef struct conn conn_t;
typedef struct sub sub_t;
typedef struct group group_t;
typedef struct projection projection_t;
typedef struct filter filter_t;
typedef struct identity identity_t;
typedef struct replay replay_t;

/* Event kinds as clients see them, and as bits of a subscription's set. */
typedef enum event_kind {
    EVENT_CREATE = 0,
    EVENT_UPDATE = 1,
    EVENT_DELETE = 2,
} event_kind_t;

#define EVENTS_ALL 7u

extern const char *const event_names[3];

typedef enum protocol {
    PROTO_GRAPHQL = 1,  /* graphql-transport-ws at /graphql */
    PROTO_REALTIME = 2, /* Directus realtime JSON at /websocket */
} protocol_t;

typedef enum auth_mode {
    AUTH_MODE_PUBLIC,
    AUTH_MODE_HANDSHAKE,
    AUTH_MODE_STRICT,
} auth_mode_t;

/* A table as clients name it, with its latest schema. */
struct collection {
    char *name;             /* "articles" */
    char *topic;            /* "cdc.public.articles" */
    table_schema_t *schema; /* latest version */
    int schema_id;
    group_t *groups;          /* live groups that no index holds */
    struct eq_index *indexes; /* groups by the value their filters require */
    sub_t *waiting;           /* subscriptions waiting for the topic */
    int nsubs;                /* all subscriptions of the collection */
    live_topic_t *live;       /* consumption state; NULL while unused */
    bool seen;                /* still listed by the registry */
};

/* One partition as the live consumer has read it. */
typedef struct live_part {
    int64_t next_offset;      /* next offset to process */
    wire_position_t last_pos; /* position of the record before it */
    wire_position_t max_pos;  /* highest position so far (duplicates) */
    int64_t priming_offset;   /* record read only for its position; -1 */
} live_part_t;

typedef enum live_state {
    LIVE_PRIMING, /* reading the record before the start to learn positions */
    LIVE_ACTIVE,
} live_state_t;

struct live_topic {
    collection_t *coll;
    rd_kafka_topic_t *rkt;
    uint8_t hash[8]; /* cursor identity of the topic */
    int nparts;
    live_part_t *parts;
    live_state_t state;
    int priming_left;
    uint64_t unused_since_ms; /* 0 while subscribed */
};

/* A compiled output shape.  Equal shapes are one object (interned by key),
 * so an event is serialized once per distinct shape. */
typedef enum proj_out {
    PROJ_KEY,
    PROJ_EVENT,
    PROJ_CURSOR,
    PROJ_TYPENAME,
    PROJ_DATA,
} proj_out_t;

typedef struct proj_field {
    char *name_json; /* "\"title\":" ready to copy */
    size_t name_len;
    int column;                /* a column of the row; -1: __typename */
    proj_out_t out;            /* top-level fields of GraphQL */
    struct proj_field *fields; /* PROJ_DATA: the row's selected columns */
    int nfields;
} proj_field_t;

struct projection {
    char *key;
    protocol_t protocol;
    char *root_json; /* GraphQL: "\"articles_mutated\":" */
    size_t root_len;
    char *typename_top;  /* "articles_mutated" */
    char *typename_data; /* "articles" */
    proj_field_t *top;   /* GraphQL selection on the event */
    int ntop;
    proj_field_t *data; /* realtime: the selected columns of the row */
    int ndata;
    int refs;
    projection_t *next; /* intern table chain */
};

/* Subscriptions with the same collection, events, filter, permission
 * filter and shape: evaluated and serialized once per event. */
struct group {
    collection_t *coll;
    const table_schema_t *ts; /* version the filters and shape refer to */
    char *key;
    unsigned events;
    filter_t *filter; /* the subscription's, or NULL */
    filter_t *perm;   /* the role's row filter, or NULL */
    projection_t *proj;
    sub_t **members;
    int nmembers;
    int cap;
    group_t *next; /* in coll->groups, or in its index bucket */
    /* A group whose filters require one value of a column is kept in an
     * index of its collection by that value (fanout.c). */
    struct eq_index *index; /* NULL: in coll->groups */
    uint64_t eq_hash;
    uint64_t visited; /* dispatch it was last tried in */
};

typedef enum sub_state {
    SUB_WAITING,   /* topic priming: nothing delivered yet */
    SUB_REPLAYING, /* catching up from a cursor */
    SUB_LIVE,
} sub_state_t;

struct sub {
    conn_t *conn;
    char *id;      /* graphql id or realtime uid; NULL: none given */
    char *id_json; /* id as JSON text, ready to copy */
    size_t id_json_len;
    collection_t *coll;
    group_t *group; /* set while SUB_LIVE */
    int member_index;
    sub_state_t state;
    const table_schema_t *ts; /* version it was compiled against */
    unsigned events;
    filter_t *filter;
    filter_t *perm;
    projection_t *proj;
    bool send_init;   /* tell the client its start (cursor, init) */
    bool init_data;   /* realtime init carries "data" (no event given) */
    cursor_t *resume; /* resume point while replaying; owned */
    replay_t *replay;
    sub_t *next_waiting;
    uint64_t delivered;
};

typedef enum conn_state {
    CONN_OPEN, /* waiting for connection_init / auth */
    CONN_READY,
    CONN_CLOSING,
} conn_state_t;

/* Per-connection state, kept small: it is paid for every idle client.
 * Lives in libwebsockets' session memory. */
struct conn {
    struct lws *wsi;
    pusher_t *p;
    uint32_t id;
    uint8_t protocol;
    uint8_t state;
    bool dirty;          /* has output since the last flush */
    bool init_seen;      /* graphql: connection_init received */
    bool close_queued;   /* our close frame is in the output */
    uint16_t close_code; /* close once the output is written */
    uint16_t nsubs;
    uint16_t subs_cap;
    sub_t **subs;
    identity_t *ident; /* NULL: public */
    buf_t out;         /* LWS_PRE bytes, then frames to be written */
    size_t out_sent;   /* bytes of out already written */
    buf_t in;          /* a message arriving in fragments */
    int64_t opened_ms;
    int64_t last_seen_ms;
    int64_t last_ping_ms;
    int64_t reauth_deadline_ms; /* token expired: re-authenticate by then */
    int64_t close_sent_ms;      /* close frame written; peer's awaited */
    double tokens;              /* rate limit bucket */
    int64_t tokens_ms;
    char *close_reason;
    conn_t *prev, *next; /* every connection */
    conn_t *next_dirty;
};

typedef struct pusher_settings {
    const char *listen;
    const char *prefix;
    const char *registry_url;
    const char *db_schema;
    const char *secret;
    const char *issuer;
    const char *permissions_path;
    auth_mode_t graphql_auth;
    auth_mode_t realtime_auth;
    long auth_timeout_ms;
    long init_timeout_ms;
    long ping_interval_ms;
    long max_connections;
    long max_subscriptions;
    long max_message_bytes;
    long max_queue_bytes;
    long rate_limit; /* messages per second per connection */
    long rate_burst;
    long refresh_ms;
    long fetch_wait_ms;
    long max_replays;       /* replays running at once */
    long flush_interval_ms; /* batching window for event writes */
    long max_total_queue_bytes;
} pusher_settings_t;

typedef struct pusher_stats {
    uint64_t events;     /* records decoded */
    uint64_t duplicates; /* records dropped by position */
    uint64_t deliveries; /* frames queued for subscribers */
    uint64_t delivery_bytes;
    uint64_t evaluations;    /* group evaluations */
    uint64_t serializations; /* payloads built */
    uint64_t slow_closes;    /* connections closed for their queue */
    uint64_t rate_limited;
    uint64_t refused_upgrades;
    uint64_t decode_errors;
    uint64_t connections_total;
    uint64_t subscriptions_total;
} pusher_stats_t;

struct pusher {
    pusher_settings_t set;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint, sighup;
    struct lws_context *lws;
    bool stopping;

    /* collections and schemas (collections.c) */
    collection_t **colls;
    int ncolls;
    void *schemas;  /* schema cache by id */
    void *registry; /* registry client state */
    uint64_t last_refresh_ms;

    /* the live consumer (consumer.c) */
    void *consumer;

    /* replays from cursors (replay.c) */
    void *replays;

    /* fan-out (fanout.c) */
    projection_t *projections;
    arena_t event_arena;
    buf_t payloads;    /* serialized payloads of the current event */
    buf_t cursor_text; /* cursor of the current event */
    buf_t scratch;
    conn_t *dirty;
    uv_timer_t flush_timer; /* a batched flush waiting its turn */
    bool flush_armed;
    int64_t last_flush_ms;

    /* connections (conn.c) */
    conn_t *conns;
    int nconns;
    uint32_t next_conn_id;
    uint64_t queue_bytes;
    uint64_t queue_memory; /* send buffers held, including sent bytes */

    /* identity and permissions (auth.c, permissions.c) */
    void *auth;
    void *perms;
    uint8_t cursor_key[CURSOR_KEY_SIZE];

    pusher_stats_t stats;
};

/* Time helpers. */
int64_t pusher_now_ms(void);
int64_t pusher_now_us(void);

#endif
