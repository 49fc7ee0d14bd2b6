/* The reader's SQL connection: publication set-up, the list of published
 * tables and their columns, type lookups and slot state.  Blocking calls,
 * made at start-up and when a relation changes. */
#ifndef CDC_CATALOG_H
#define CDC_CATALOG_H

#include "pgtype.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct catalog catalog_t;

/* One column as the catalog describes it. */
typedef struct catalog_column {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    bool key; /* replica identity flag, as pgoutput would send it */
} catalog_column_t;

typedef struct catalog_table {
    uint32_t oid;
    char *nspname;
    char *relname;
    char replident;
    catalog_column_t *cols;
    int ncols;
} catalog_table_t;

typedef struct catalog_slot {
    bool exists;
    bool logical_pgoutput; /* plugin is pgoutput */
    bool same_database;
    bool active;
    int active_pid;
    uint64_t confirmed_flush;
} catalog_slot_t;

/* Opens a normal connection with the reader's session settings.  NULL with
 * err (libpq's message) when it fails. */
catalog_t *catalog_connect(const char *dburl, char *err, size_t errlen);
void catalog_free(catalog_t *c);

/* Name of the connected database. */
const char *catalog_database(const catalog_t *c);

/* Creates publication pub when absent: FOR ALL TABLES, or FOR TABLE over
 * the comma-separated tables list; when it exists, adds listed tables it
 * lacks.  false with err (and a hint about privileges when refused). */
bool catalog_ensure_publication(catalog_t *c, const char *pub,
                                const char *tables, char *err, size_t errlen);

/* The tables of publication pub with the columns pgoutput will send (in
 * attribute order, publication column lists applied).  The caller frees
 * with catalog_tables_free. */
bool catalog_published_tables(catalog_t *c, const char *pub,
                              catalog_table_t **tables, int *ntables, char *err,
                              size_t errlen);
void catalog_tables_free(catalog_table_t *tables, int ntables);

/* Names of the primary-key columns of relation oid (none: *n = 0).  The
 * caller frees each name and the array. */
bool catalog_primary_key(catalog_t *c, uint32_t oid, char ***names, int *n,
                         char *err, size_t errlen);

/* Maps a column type: the built-in table first, then pg_type for domains,
 * enums, composites, ranges and arrays of them.  pg_type_name receives
 * format_type(oid, typmod).  Results are cached. */
bool catalog_type(catalog_t *c, uint32_t oid, int32_t typmod, pgtype_t *out,
                  char *pg_type_name, size_t namelen, char *err, size_t errlen);

/* Forgets cached types (after a Type message says one changed). */
void catalog_forget_types(catalog_t *c);

/* State of a replication slot. */
bool catalog_slot(catalog_t *c, const char *slot, catalog_slot_t *out,
                  char *err, size_t errlen);

/* Runs a statement that returns nothing; false with libpq's message. */
bool catalog_exec(catalog_t *c, const char *sql, char *err, size_t errlen);

PGconn *catalog_conn(catalog_t *c);

/* Opens a libpq connection with the reader's session settings; replication
 * adds replication=database.  Returns the connection even on failure (as
 * libpq does); check PQstatus. */
PGconn *catalog_open_conn(const char *dburl, bool replication);

#endif
