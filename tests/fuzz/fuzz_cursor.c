/* Fuzz target for the cursor decoder: what it accepts must encode back to
 * the same text, and nothing but a signed cursor may be accepted.
 *
 * An input whose first byte is odd is raw cursor text.  One whose first
 * byte is even is the body of a cursor after its version and topic: the
 * target signs it with the right key, so the fuzzer reaches the body
 * parser instead of stopping at the signature. */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Builds signed cursor text around body, the way a pusher would. */
static void sign(const uint8_t key[CURSOR_KEY_SIZE], const uint8_t hash[8],
                 const uint8_t *body, size_t len, buf_t *text)
{
    static uint8_t raw[1 + 8 + MAX_BODY];

    raw[0] = CURSOR_VERSION;
    memcpy(raw + 1, hash, 8);
    memcpy(raw + 9, body, len);
    if (!cursor_seal(raw, 9 + len, key, text))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[CURSOR_KEY_SIZE], hash[8];
    static int ready;
    cursor_t *c = NULL;
    cursor_part_t *parts;
    char err[256];
    buf_t text, again;

    if (!ready) {
        cursor_derive_key("fuzzing secret", key);
        cursor_topic_hash("cdc.public.articles", hash);
        ready = 1;
    }
    if (size == 0 || size - 1 > MAX_BODY)
        return 0;

    buf_init(&text, 0);
    if (data[0] & 1)
        buf_append(&text, data + 1, size - 1);
    else
        sign(key, hash, data + 1, size - 1, &text);
    if (cursor_decode((const char *)text.data, text.len, hash, key, &c, err,
                      sizeof(err)) != CURSOR_OK) {
        buf_free(&text);
        return 0;
    }

    /* Accepted: the one spelling of this cursor is the text itself. */
    parts = calloc((size_t)c->nparts + 1, sizeof(*parts));
    for (int i = 0; i < c->nparts; i++)
        parts[i] = c->parts[i];
    buf_init(&again, 0);
    if (!cursor_encode(hash, parts, c->nparts, key, &again) ||
        again.len != text.len || memcmp(again.data, text.data, text.len) != 0)
        abort();
    buf_free(&again);
    buf_free(&text);
    free(parts);
    free(c);
    return 0;
}
