/* The reader's settings and their checks. */
#include "reader_config.h"

#include "config.h"
#include "reader.h"

#include <stdio.h>
#include <string.h>

const config_setting_t reader_settings[] = {
    {"CDC_DATABASE_URL", NULL,
     "PostgreSQL to follow: libpq URL or conninfo (required)"},
    {"CDC_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka bootstrap servers"},
    {"CDC_TOPIC_PREFIX", "cdc", "topic names are <prefix>.<schema>.<table>"},
    {"CDC_SLOT", "cdc", "logical replication slot (created when absent)"},
    {"CDC_PUBLICATION", "cdc", "publication (created when absent)"},
    {"CDC_TABLES", "",
     "comma-separated tables for a new publication; empty: all tables"},
    {"CDC_SNAPSHOT", "initial",
     "initial: read every published table when the slot is created; "
     "never: changes only"},
    {"CDC_SNAPSHOT_CHUNK_ROWS", "1000",
     "rows the snapshot fetches from PostgreSQL at a time"},
    {"CDC_READER_HTTP", "127.0.0.1:8081",
     "address for /healthz, /readyz, /metrics and the built-in registry"},
    {"CDC_SCHEMA_REGISTRY_URL", "",
     "external Confluent schema registry; empty: serve one built in"},
    {"CDC_TOPIC_PARTITIONS", "4", "partitions of topics the reader creates"},
    {"CDC_TOPIC_REPLICATION", "-1",
     "replication factor of created topics; -1: the cluster's default"},
    {"CDC_HEARTBEAT_INTERVAL_MS", "10000",
     "how often the slot is advanced when no published table changes"},
    {"CDC_STATUS_INTERVAL_MS", "1000",
     "how often acknowledged positions are confirmed to PostgreSQL"},
    {"CDC_STANDBY_RETRY_MS", "2000",
     "how often a standby reader checks whether the slot is free"},
    {"CDC_LOG_LEVEL", "info", "debug, info, warning or error"},
    {"CDC_LOG_DEBUG", "", "debug facilities: kafka, lws, pgoutput, all"},
    {NULL, NULL, NULL},
};

bool reader_config_load(reader_config_t *s, char *err, size_t errlen)
{
    const char *snapshot;

    s->dburl = config_get("CDC_DATABASE_URL");
    if (!s->dburl || !*s->dburl) {
        snprintf(err, errlen,
                 "CDC_DATABASE_URL is not set: give the database to follow, "
                 "for example postgresql://user@host:5432/dbname");
        return false;
    }
    s->prefix = config_get_or("CDC_TOPIC_PREFIX", "cdc");
    s->slot = config_get_or("CDC_SLOT", "cdc");
    s->publication = config_get_or("CDC_PUBLICATION", "cdc");
    s->tables = config_get_or("CDC_TABLES", "");
    s->http = config_get_or("CDC_READER_HTTP", "127.0.0.1:8081");
    s->registry_url = config_get_or("CDC_SCHEMA_REGISTRY_URL", "");
    snapshot = config_get_or("CDC_SNAPSHOT", "initial");
    if (strcmp(snapshot, "initial") != 0 && strcmp(snapshot, "never") != 0) {
        snprintf(err, errlen,
                 "CDC_SNAPSHOT=\"%s\" is not valid: give "
                 "initial or never",
                 snapshot);
        return false;
    }
    s->snapshot_initial = strcmp(snapshot, "initial") == 0;
    if (!config_apply_logging(err, errlen))
        return false;
    return config_get_long("CDC_SNAPSHOT_CHUNK_ROWS", 1000, 1, 1000000,
                           &s->chunk_rows, err, errlen) &&
           config_get_long("CDC_TOPIC_PARTITIONS", 4, 1, 10000, &s->partitions,
                           err, errlen) &&
           config_get_long("CDC_TOPIC_REPLICATION", -1, -1, 32, &s->replication,
                           err, errlen) &&
           config_get_long("CDC_HEARTBEAT_INTERVAL_MS", 10000, 100, 3600000,
                           &s->heartbeat_ms, err, errlen) &&
           config_get_long("CDC_STATUS_INTERVAL_MS", 1000, 10, 60000,
                           &s->status_ms, err, errlen) &&
           config_get_long("CDC_STANDBY_RETRY_MS", 2000, 100, 600000,
                           &s->standby_retry_ms, err, errlen);
}
