/* Subscription cursors: where a client is in a topic's history, as an
 * opaque string.  A cursor holds, per partition, the next offset to read and
 * the source position of the record just before it, so a resume can prove
 * it continues the same history; it is signed so that a forged one is
 * refused.
 *
 * Layout (version 1), then base64url without padding:
 *   version byte, 8 bytes of SHA-256(topic), partition count (varint),
 *   per partition: next offset, commit LSN, seq (varints), then 0, or 1
 *   and the highest position seen so far when it differs (varints),
 *   16 bytes of HMAC-SHA256 over everything before. */
#ifndef CDC_CURSOR_H
#define CDC_CURSOR_H

#include "buf.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_VERSION        1
#define CURSOR_MAX_PARTITIONS 4096
#define CURSOR_MAX_TEXT       (CURSOR_MAX_PARTITIONS * 80 + 64)
#define CURSOR_KEY_SIZE       32

typedef struct cursor_part {
    int64_t next_offset;      /* 0: the partition's start */
    wire_position_t last_pos; /* position of the record at next_offset-1 */
    wire_position_t max_pos;  /* highest position before next_offset, for
                                 dropping records the reader duplicated */
} cursor_part_t;

typedef struct cursor {
    uint8_t topic_hash[8];
    int nparts;
    cursor_part_t parts[];
} cursor_t;

typedef enum cursor_status {
    CURSOR_OK,
    CURSOR_MALFORMED, /* not a cursor of any version we know */
    CURSOR_FORGED,    /* signature does not match */
    CURSOR_FOREIGN,   /* a valid cursor of another topic */
} cursor_status_t;

/* The topic's 8-byte identity inside cursors. */
void cursor_topic_hash(const char *topic, uint8_t out[8]);

/* Appends the cursor text for nparts partitions of topic_hash. */
bool cursor_encode(const uint8_t topic_hash[8], const cursor_part_t *parts,
                   int nparts, const uint8_t key[CURSOR_KEY_SIZE], buf_t *out);

/* The same, reading partition i through get(arg, i, out): for callers
 * that keep partitions in a structure of their own. */
typedef void (*cursor_part_fn)(const void *arg, int i, cursor_part_t *out);
bool cursor_encode_from(const uint8_t topic_hash[8], int nparts,
                        cursor_part_fn get, const void *arg,
                        const uint8_t key[CURSOR_KEY_SIZE], buf_t *out);

/* Appends the text of a cursor whose unsigned bytes are body: signs them
 * and encodes the whole.  cursor_encode builds the body; tests and fuzz
 * targets pass bodies of their own.  False when out cannot grow. */
bool cursor_seal(const uint8_t *body, size_t len,
                 const uint8_t key[CURSOR_KEY_SIZE], buf_t *out);

/* Decodes text for topic_hash.  On CURSOR_OK *out is a malloc'ed cursor
 * the caller frees; otherwise err says what was wrong. */
cursor_status_t cursor_decode(const char *text, size_t len,
                              const uint8_t topic_hash[8],
                              const uint8_t key[CURSOR_KEY_SIZE],
                              cursor_t **out, char *err, size_t errlen);

/* Derives the signing key from a secret (CDC_CURSOR_SECRET or CDC_SECRET). */
void cursor_derive_key(const char *secret, uint8_t key[CURSOR_KEY_SIZE]);

#endif
