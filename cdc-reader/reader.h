/* The reader: one database followed through one slot, every change turned
 * into an Avro record on its table's topic, and the slot confirmed only up
 * to what Kafka has acknowledged.  Everything runs on one libuv loop. */
#ifndef CDC_READER_H
#define CDC_READER_H

#include "config.h"

#include <stdbool.h>

/* The settings the reader understands, for --help and typo warnings. */
extern const config_setting_t reader_settings[];

/* Runs the reader until SIGTERM/SIGINT or a fatal error.  Returns the
 * process exit code: 0 after a clean stop, 1 after an error (logged). */
int reader_run(void);

#endif
