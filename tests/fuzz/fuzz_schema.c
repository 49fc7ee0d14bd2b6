/* Fuzz target for reading Avro envelope schemas, as the pusher does with
 * what the registry returns: whatever is accepted must write back to a
 * schema that reads as the same table. */
#include "table_schema.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    table_schema_t *ts, *back;
    char err[256];
    buf_t text;

    ts = table_schema_from_avro((const char *)data, size, err, sizeof(err));
    if (!ts)
        return 0;
    buf_init(&text, 0);
    if (!table_schema_value_avro(ts, "cdc", &text))
        abort();
    back = table_schema_from_avro((const char *)text.data, text.len, err,
                                  sizeof(err));
    if (!back || !table_schema_equal(ts, back))
        abort();
    table_schema_free(back);
    table_schema_free(ts);
    buf_free(&text);
    return 0;
}
