/* Fuzz target for the Avro decoder of change envelopes, with a schema of
 * one column of every kind.  Whatever decodes must encode again and decode
 * to the same bytes (the codec is its own inverse). */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static table_schema_t *schema(void)
{
    static const coltype_t kinds[] = {
        COLTYPE_LONG,        COLTYPE_BOOLEAN, COLTYPE_INT,   COLTYPE_FLOAT,
        COLTYPE_DOUBLE,      COLTYPE_STRING,  COLTYPE_BYTES, COLTYPE_DECIMAL,
        COLTYPE_NUMERIC,     COLTYPE_DATE,    COLTYPE_TIME,  COLTYPE_TIMESTAMP,
        COLTYPE_TIMESTAMPTZ, COLTYPE_UUID,    COLTYPE_JSON,  COLTYPE_ARRAY,
    };
    table_schema_t *ts = table_schema_new("db", "public", "t", 16);

    for (int i = 0; i < 16; i++) {
        char name[8] = {'c', (char)('a' + i), 0};

        table_schema_set_column(ts, i, name, "t", kinds[i], COLTYPE_DECIMAL, 12,
                                3, i == 0);
    }
    return ts;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static table_schema_t *ts;
    static arena_t arena;
    static buf_t once, twice;
    change_t ch, again;
    char err[256];

    if (!ts) {
        ts = schema();
        arena_init(&arena, 64 << 20);
        buf_init(&once, 0);
        buf_init(&twice, 0);
    }
    arena_reset(&arena);
    if (!codec_decode_change(ts, data, size, &arena, &ch, err, sizeof(err)))
        return 0;
    buf_reset(&once);
    buf_reset(&twice);
    /* Values that decode but do not fit (a decimal with more digits than
     * its scale) are refused by the encoder, as they would be by the
     * reader; that is not a failure. */
    if (!codec_encode_change(ts, &ch, &once, err, sizeof(err)))
        return 0;
    if (!codec_decode_change(ts, once.data, once.len, &arena, &again, err,
                             sizeof(err)))
        abort();
    if (!codec_encode_change(ts, &again, &twice, err, sizeof(err)) ||
        once.len != twice.len || memcmp(once.data, twice.data, once.len))
        abort();
    return 0;
}
