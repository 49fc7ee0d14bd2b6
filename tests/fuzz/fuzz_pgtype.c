/* Fuzz target for the parsers of PostgreSQL's text output: the first byte
 * picks a column kind (and for arrays an element kind), the rest is the
 * text. */
#include "arena.h"
#include "pgtype.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static arena_t arena;
    static int ready;
    pgtype_t t = {0};
    value_t v;
    char err[256];

    if (!ready) {
        arena_init(&arena, 64 << 20);
        ready = 1;
    }
    if (size < 1)
        return 0;
    t.type = (coltype_t)(data[0] % COLTYPE_COUNT_);
    t.elem = (coltype_t)((data[0] >> 4) % COLTYPE_COUNT_);
    if (t.elem == COLTYPE_ARRAY)
        t.elem = COLTYPE_INT;
    t.precision = 20;
    t.scale = data[0] % 5;
    arena_reset(&arena);
    if (pgtype_parse(&t, (const char *)data + 1, size - 1, &arena, &v, err,
                     sizeof(err)) &&
        v.state != VALUE_SET)
        abort();
    return 0;
}
