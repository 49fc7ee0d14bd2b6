/* Catalog queries of the reader, on a normal libpq connection. */
#include "catalog.h"

#include "log.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_CACHE_MAX 4096

typedef struct cached_type {
    uint32_t oid;
    int32_t typmod;
    pgtype_t type;
    char *name;
} cached_type_t;

struct catalog {
    PGconn *conn;
    char *dburl;
    char *database;
    cached_type_t *types;
    int ntypes;
};

PGconn *catalog_open_conn(const char *dburl, bool replication)
{
    const char *keys[] = {"dbname", "application_name", "options",
                          replication ? "replication" : NULL, NULL};
    const char *values[] = {dburl, "cdc-reader", pgtype_session_options,
                            "database", NULL};

    return PQconnectdbParams(keys, values, 1);
}

/* Makes sure the connection is up, reconnecting once after a server
 * restart. */
static bool ensure_conn(catalog_t *c, char *err, size_t errlen)
{
    if (PQstatus(c->conn) == CONNECTION_OK)
        return true;
    PQreset(c->conn);
    if (PQstatus(c->conn) == CONNECTION_OK)
        return true;
    snprintf(err, errlen, "could not connect to PostgreSQL: %s",
             PQerrorMessage(c->conn));
    return false;
}

catalog_t *catalog_connect(const char *dburl, char *err, size_t errlen)
{
    catalog_t *c = calloc(1, sizeof(*c));
    PGresult *res;

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->dburl = strdup(dburl);
    c->conn = catalog_open_conn(dburl, false);
    if (PQstatus(c->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "could not connect to PostgreSQL: %s",
                 PQerrorMessage(c->conn));
        catalog_free(c);
        return NULL;
    }
    res = PQexec(c->conn, "SELECT current_database()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "could not read the database name: %s",
                 PQerrorMessage(c->conn));
        PQclear(res);
        catalog_free(c);
        return NULL;
    }
    c->database = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return c;
}

void catalog_free(catalog_t *c)
{
    if (!c)
        return;
    if (c->conn)
        PQfinish(c->conn);
    catalog_forget_types(c);
    free(c->types);
    free(c->dburl);
    free(c->database);
    free(c);
}

const char *catalog_database(const catalog_t *c)
{
    return c->database;
}

PGconn *catalog_conn(catalog_t *c)
{
    return c->conn;
}

/* Runs a parameterised query; NULL with err unless it returned rows or
 * completed. */
static PGresult *query(catalog_t *c, const char *sql, int nparams,
                       const char *const *params, char *err, size_t errlen)
{
    PGresult *res;
    ExecStatusType st;

    if (!ensure_conn(c, err, errlen))
        return NULL;
    res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorMessage(res);

        snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

bool catalog_exec(catalog_t *c, const char *sql, char *err, size_t errlen)
{
    PGresult *res = query(c, sql, 0, NULL, err, errlen);

    PQclear(res);
    return res != NULL;
}

static bool publication_has(catalog_t *c, const char *pub, const char *table,
                            bool *has, char *err, size_t errlen)
{
    const char *params[] = {pub, table};
    PGresult *res =
        query(c,
              "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND "
              "format('%I.%I', schemaname, tablename)::regclass = $2::regclass",
              2, params, err, errlen);

    if (!res)
        return false;
    *has = PQntuples(res) > 0;
    PQclear(res);
    return true;
}

bool catalog_ensure_publication(catalog_t *c, const char *pub,
                                const char *tables, char *err, size_t errlen)
{
    const char *params[] = {pub};
    PGresult *res;
    char sql[8192], *list, *save = NULL;
    bool exists;

    res = query(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, params,
                err, errlen);
    if (!res)
        return false;
    exists = PQntuples(res) > 0;
    PQclear(res);

    if (!exists) {
        char *quoted = PQescapeIdentifier(c->conn, pub, strlen(pub));

        if (tables && *tables)
            snprintf(sql, sizeof(sql), "CREATE PUBLICATION %s FOR TABLE %s",
                     quoted, tables);
        else
            snprintf(sql, sizeof(sql), "CREATE PUBLICATION %s FOR ALL TABLES",
                     quoted);
        PQfreemem(quoted);
        if (!catalog_exec(c, sql, err, errlen)) {
            size_t used = strlen(err);

            snprintf(err + used, errlen - used,
                     "; create the publication as a superuser, or set "
                     "CDC_TABLES to the tables to publish");
            return false;
        }
        log_info(pub, "created publication%s%s",
                 tables && *tables ? " for tables " : " for all tables",
                 tables && *tables ? tables : "");
        return true;
    }

    if (!tables || !*tables)
        return true;
    list = strdup(tables);
    for (char *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        bool has;

        while (*t == ' ')
            t++;
        if (!publication_has(c, pub, t, &has, err, errlen)) {
            free(list);
            return false;
        }
        if (!has) {
            char *quoted = PQescapeIdentifier(c->conn, pub, strlen(pub));

            snprintf(sql, sizeof(sql), "ALTER PUBLICATION %s ADD TABLE %s",
                     quoted, t);
            PQfreemem(quoted);
            if (!catalog_exec(c, sql, err, errlen)) {
                free(list);
                return false;
            }
            log_info(pub, "added table \"%s\" to the publication", t);
        }
    }
    free(list);
    return true;
}

void catalog_tables_free(catalog_table_t *tables, int ntables)
{
    for (int i = 0; i < ntables; i++) {
        for (int j = 0; j < tables[i].ncols; j++)
            free(tables[i].cols[j].name);
        free(tables[i].cols);
        free(tables[i].nspname);
        free(tables[i].relname);
    }
    free(tables);
}

bool catalog_published_tables(catalog_t *c, const char *pub,
                              catalog_table_t **tables, int *ntables, char *err,
                              size_t errlen)
{
    /* Columns in attribute order as pgoutput sends them: dropped and
     * generated columns left out, a publication column list applied; the
     * key flag follows the replica identity as pgoutput sets it. */
    static const char sql[] =
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, a.attname, "
        "       a.atttypid, a.atttypmod, "
        "       CASE c.relreplident "
        "         WHEN 'f' THEN true "
        "         WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i "
        "              WHERE i.indrelid = c.oid AND i.indisprimary "
        "              AND a.attnum = ANY (i.indkey)) "
        "         WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i "
        "              WHERE i.indrelid = c.oid AND i.indisreplident "
        "              AND a.attnum = ANY (i.indkey)) "
        "         ELSE false END "
        "FROM pg_publication_tables pt "
        "JOIN pg_namespace n ON n.nspname = pt.schemaname "
        "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = "
        "pt.tablename "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
        "     AND NOT a.attisdropped AND a.attgenerated = '' "
        "WHERE pt.pubname = $1 "
        "  AND (pt.attnames IS NULL OR a.attname = ANY (pt.attnames)) "
        "ORDER BY n.nspname, c.relname, a.attnum";
    const char *params[] = {pub};
    PGresult *res = query(c, sql, 1, params, err, errlen);
    catalog_table_t *out = NULL;
    int n = 0, rows;

    if (!res)
        return false;
    rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, r, 0), NULL, 10);
        catalog_table_t *t;
        catalog_column_t *col;

        if (n == 0 || out[n - 1].oid != oid) {
            catalog_table_t *grown =
                realloc(out, (size_t)(n + 1) * sizeof(*grown));

            if (!grown)
                goto oom;
            out = grown;
            t = &out[n++];
            memset(t, 0, sizeof(*t));
            t->oid = oid;
            t->nspname = strdup(PQgetvalue(res, r, 1));
            t->relname = strdup(PQgetvalue(res, r, 2));
            t->replident = PQgetvalue(res, r, 3)[0];
        }
        t = &out[n - 1];
        col = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof(*col));
        if (!col)
            goto oom;
        t->cols = col;
        col = &t->cols[t->ncols++];
        col->name = strdup(PQgetvalue(res, r, 4));
        col->type_oid = (uint32_t)strtoul(PQgetvalue(res, r, 5), NULL, 10);
        col->typmod = (int32_t)strtol(PQgetvalue(res, r, 6), NULL, 10);
        col->key = PQgetvalue(res, r, 7)[0] == 't';
    }
    PQclear(res);
    *tables = out;
    *ntables = n;
    return true;

oom:
    PQclear(res);
    catalog_tables_free(out, n);
    snprintf(err, errlen, "out of memory");
    return false;
}

bool catalog_primary_key(catalog_t *c, uint32_t oid, char ***names, int *n,
                         char *err, size_t errlen)
{
    char oidtext[16];
    const char *params[] = {oidtext};
    PGresult *res;
    int rows;

    snprintf(oidtext, sizeof(oidtext), "%u", oid);
    res = query(c,
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
                "WHERE i.indrelid = $1::oid AND i.indisprimary "
                "ORDER BY a.attnum",
                1, params, err, errlen);
    if (!res)
        return false;
    rows = PQntuples(res);
    *names = calloc(rows ? (size_t)rows : 1, sizeof(char *));
    for (int r = 0; r < rows && *names; r++)
        (*names)[r] = strdup(PQgetvalue(res, r, 0));
    *n = rows;
    PQclear(res);
    return *names != NULL;
}

void catalog_forget_types(catalog_t *c)
{
    for (int i = 0; i < c->ntypes; i++)
        free(c->types[i].name);
    c->ntypes = 0;
}

static bool lookup_type(catalog_t *c, uint32_t oid, int32_t typmod,
                        pgtype_t *out, char *name, size_t namelen, int depth,
                        char *err, size_t errlen)
{
    char oidtext[16], modtext[16];
    const char *params[] = {oidtext, modtext};
    pgtype_catalog_row_t row;
    pgtype_t underlying;
    bool have_underlying = false;
    PGresult *res;

    for (int i = 0; i < c->ntypes; i++) {
        if (c->types[i].oid == oid && c->types[i].typmod == typmod) {
            *out = c->types[i].type;
            snprintf(name, namelen, "%s", c->types[i].name);
            return true;
        }
    }
    if (depth > 8) {
        snprintf(err, errlen, "type %u nests domains or arrays too deeply",
                 oid);
        return false;
    }

    snprintf(oidtext, sizeof(oidtext), "%u", oid);
    snprintf(modtext, sizeof(modtext), "%d", typmod);
    res = query(c,
                "SELECT t.typtype, t.typcategory, t.typbasetype, "
                "t.typtypmod, t.typelem, format_type($1::oid, $2::int), "
                "t.typdelim FROM pg_type t WHERE t.oid = $1::oid",
                2, params, err, errlen);
    if (!res)
        return false;
    if (PQntuples(res) != 1) {
        snprintf(err, errlen, "type %u is not in pg_type", oid);
        PQclear(res);
        return false;
    }
    row.typtype = PQgetvalue(res, 0, 0)[0];
    row.typcategory = PQgetvalue(res, 0, 1)[0];
    row.basetype = (uint32_t)strtoul(PQgetvalue(res, 0, 2), NULL, 10);
    row.basetypmod = (int32_t)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    row.elemtype = (uint32_t)strtoul(PQgetvalue(res, 0, 4), NULL, 10);
    snprintf(name, namelen, "%s", PQgetvalue(res, 0, 5));
    row.typdelim = PQgetvalue(res, 0, 6)[0];
    PQclear(res);

    if (!pgtype_builtin(oid, typmod, out)) {
        char ignored[256];

        if (row.typtype == 'd') {
            have_underlying =
                lookup_type(c, row.basetype, row.basetypmod, &underlying,
                            ignored, sizeof(ignored), depth + 1, err, errlen);
            if (!have_underlying)
                return false;
        } else if (row.typcategory == 'A' && row.elemtype) {
            have_underlying =
                lookup_type(c, row.elemtype, typmod, &underlying, ignored,
                            sizeof(ignored), depth + 1, err, errlen);
            if (!have_underlying)
                return false;
        }
        pgtype_from_catalog(&row, have_underlying ? &underlying : NULL, out);
    }

    if (c->ntypes < TYPE_CACHE_MAX) {
        cached_type_t *grown =
            realloc(c->types, (size_t)(c->ntypes + 1) * sizeof(*grown));

        if (grown) {
            c->types = grown;
            grown[c->ntypes].oid = oid;
            grown[c->ntypes].typmod = typmod;
            grown[c->ntypes].type = *out;
            grown[c->ntypes].name = strdup(name);
            if (grown[c->ntypes].name)
                c->ntypes++;
        }
    }
    return true;
}

bool catalog_type(catalog_t *c, uint32_t oid, int32_t typmod, pgtype_t *out,
                  char *pg_type_name, size_t namelen, char *err, size_t errlen)
{
    return lookup_type(c, oid, typmod, out, pg_type_name, namelen, 0, err,
                       errlen);
}

bool catalog_slot(catalog_t *c, const char *slot, catalog_slot_t *out,
                  char *err, size_t errlen)
{
    const char *params[] = {slot};
    PGresult *res =
        query(c,
              "SELECT slot_type = 'logical' AND plugin = 'pgoutput', "
              "database = current_database(), active, "
              "coalesce(active_pid, 0), "
              "coalesce(confirmed_flush_lsn, '0/0')::text "
              "FROM pg_replication_slots WHERE slot_name = $1",
              1, params, err, errlen);
    const char *lsn;

    if (!res)
        return false;
    memset(out, 0, sizeof(*out));
    if (PQntuples(res) == 1) {
        out->exists = true;
        out->logical_pgoutput = PQgetvalue(res, 0, 0)[0] == 't';
        out->same_database = PQgetvalue(res, 0, 1)[0] == 't';
        out->active = PQgetvalue(res, 0, 2)[0] == 't';
        out->active_pid = atoi(PQgetvalue(res, 0, 3));
        lsn = PQgetvalue(res, 0, 4);
        wire_lsn_parse(lsn, strlen(lsn), &out->confirmed_flush);
    }
    PQclear(res);
    return true;
}
