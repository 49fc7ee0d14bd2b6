/* The reader's settings: the table --help prints, and their values read
 * from CDC_* variables (or --config) and checked once at start-up. */
#ifndef CDC_READER_CONFIG_H
#define CDC_READER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct reader_config {
    const char *dburl;
    const char *prefix;
    const char *slot;
    const char *publication;
    const char *tables;
    const char *http;
    const char *registry_url; /* "" for the built-in registry */
    bool snapshot_initial;    /* CDC_SNAPSHOT=initial */
    long chunk_rows;
    long partitions;
    long replication;
    long heartbeat_ms;
    long status_ms;
    long standby_retry_ms;
} reader_config_t;

/* Reads every setting and applies the log level and debug facilities.
 * false with err naming the setting and what it accepts.  Strings point
 * into the configuration, which outlives the reader. */
bool reader_config_load(reader_config_t *c, char *err, size_t errlen);

#endif
