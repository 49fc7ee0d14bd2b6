/* Fuzz target: snapshot mark records as read back from Kafka (any bytes
 * another writer of the topic may have left). */
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snapshot_mark_t m;

    if (snapshot_mark_parse(data, size, &m) &&
        (m.attempt < 1 || m.state == SNAPSHOT_MARK_NONE))
        __builtin_trap();
    return 0;
}
