/* Fuzz target for the cursor decoder: what it accepts must encode back to
 * the same text, and nothing but a signed cursor may be accepted. */
#include "cursor.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[CURSOR_KEY_SIZE], hash[8];
    static int ready;
    cursor_t *c = NULL;
    char err[256];
    buf_t again;

    if (!ready) {
        cursor_derive_key("fuzzing secret", key);
        cursor_topic_hash("cdc.public.articles", hash);
        ready = 1;
    }
    if (cursor_decode((const char *)data, size, hash, key, &c, err,
                      sizeof(err)) != CURSOR_OK)
        return 0;
    cursor_part_t *parts = calloc((size_t)c->nparts + 1, sizeof(*parts));

    for (int i = 0; i < c->nparts; i++)
        parts[i] = c->parts[i];
    buf_init(&again, 0);
    if (!cursor_encode(hash, parts, c->nparts, key, &again) ||
        again.len != size || memcmp(again.data, data, size) != 0)
        abort();
    buf_free(&again);
    free(parts);
    free(c);
    return 0;
}
