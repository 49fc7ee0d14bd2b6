/* Fuzz target for the pgoutput decoder: any bytes as one message.  A
 * decoded change's tuple is also checked for internal consistency. */
#include "pgoutput.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pgoutput_decoder_t d;
    static int ready;
    pgoutput_msg_t m;
    char err[256];

    if (!ready) {
        pgoutput_decoder_init(&d);
        ready = 1;
    }
    if (!pgoutput_decode(&d, data, size, &m, err, sizeof(err)))
        return 0;
    if (m.kind == PGO_INSERT || m.kind == PGO_UPDATE || m.kind == PGO_DELETE) {
        const pgoutput_tuple_t *t[2] = {&m.u.change.old_tuple,
                                        &m.u.change.new_tuple};

        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < t[k]->ncols; i++) {
                const pgoutput_datum_t *v = &t[k]->cols[i];

                /* Every value lies inside the message. */
                if (v->len && ((const uint8_t *)v->data < data ||
                               (const uint8_t *)v->data + v->len > data + size))
                    abort();
            }
        }
    }
    return 0;
}
