/* Text form of decoded pgoutput messages, shared by the golden-file test
 * and the tool that captures new golden files. */
#ifndef CDC_PGOUTPUT_DUMP_H
#define CDC_PGOUTPUT_DUMP_H

#include "buf.h"
#include "pgoutput.h"

/* Appends one line (or a few, for relations) describing m. */
void pgoutput_dump(const pgoutput_msg_t *m, buf_t *out);

#endif
