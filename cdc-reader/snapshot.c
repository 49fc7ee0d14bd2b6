/* Initial snapshot: marks in Kafka, the slot preparation lock, and the
 * table reader that turns rows into r events. */
#include "snapshot.h"

#include "clock.h"
#include "log.h"
#include "wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAPSHOT_PROGRESS_MS     5000
#define SNAPSHOT_MARK_TIMEOUT_MS 30000
#define SNAPSHOT_MAX_MARK        4096
#define SNAPSHOT_MAX_ATTEMPT     1000000
/* Advisory lock class of the reader's slot lock ("CDCR"). */
#define SNAPSHOT_LOCK_CLASS "1128547154"

/* Marks. */

bool snapshot_mark_parse(const void *value, size_t len, snapshot_mark_t *out)
{
    snapshot_mark_t m = {SNAPSHOT_MARK_NONE, 0, 1, 0};
    json_t *root, *attempt, *rows;
    const char *state, *lsn;
    bool ok = false;

    if (!value || len == 0 || len > SNAPSHOT_MAX_MARK)
        return false;
    root = json_loadb(value, len, JSON_REJECT_DUPLICATES, NULL);
    state = json_string_value(json_object_get(root, "state"));
    lsn = json_string_value(json_object_get(root, "consistent_lsn"));
    attempt = json_object_get(root, "attempt");
    rows = json_object_get(root, "rows");
    if (state && strcmp(state, "started") == 0)
        m.state = SNAPSHOT_MARK_STARTED;
    else if (state && strcmp(state, "done") == 0)
        m.state = SNAPSHOT_MARK_DONE;
    if (m.state == SNAPSHOT_MARK_NONE || !lsn ||
        !wire_lsn_parse(lsn, strlen(lsn), &m.consistent_lsn))
        goto out;
    if (attempt) {
        if (!json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
            json_integer_value(attempt) > SNAPSHOT_MAX_ATTEMPT)
            goto out;
        m.attempt = (uint32_t)json_integer_value(attempt);
    }
    if (json_is_integer(rows) && json_integer_value(rows) >= 0)
        m.rows = (uint64_t)json_integer_value(rows);
    *out = m;
    ok = true;

out:
    json_decref(root);
    return ok;
}

typedef struct mark_scan {
    const char *key;
    size_t keylen;
    snapshot_mark_t *out;
} mark_scan_t;

static void scan_mark(void *arg, const void *key, size_t keylen,
                      const void *value, size_t valuelen)
{
    mark_scan_t *scan = arg;
    snapshot_mark_t m;

    /* Later records of the key win; others are not ours to judge. */
    if (key && keylen == scan->keylen && memcmp(key, scan->key, keylen) == 0 &&
        snapshot_mark_parse(value, valuelen, &m))
        *scan->out = m;
}

bool snapshot_mark_read(topics_t *topics, const char *topic, const char *key,
                        snapshot_mark_t *out, char *err, size_t errlen)
{
    mark_scan_t scan = {key, strlen(key), out};

    memset(out, 0, sizeof(*out));
    return topics_read_partition(topics, topic, 0, scan_mark, &scan, err,
                                 errlen);
}

bool snapshot_mark_write(producer_t *producer, const char *topic,
                         const char *key, const snapshot_mark_t *mark,
                         char *err, size_t errlen)
{
    char lsn[18];
    json_t *root;
    char *text;
    bool ok;

    wire_lsn_format(mark->consistent_lsn, lsn);
    root = json_pack("{s:s, s:s, s:i, s:I}", "state",
                     mark->state == SNAPSHOT_MARK_DONE ? "done" : "started",
                     "consistent_lsn", lsn, "attempt", (int)mark->attempt,
                     "rows", (json_int_t)mark->rows);
    text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    ok =
        producer_send_sync(producer, topic, 0, key, strlen(key), text,
                           strlen(text), SNAPSHOT_MARK_TIMEOUT_MS, err, errlen);
    free(text);
    return ok;
}

uint64_t snapshot_seq_base(uint32_t attempt)
{
    return attempt > 1 ? (uint64_t)(attempt - 1) << SNAPSHOT_ATTEMPT_SHIFT : 0;
}

/* The slot preparation lock. */

bool snapshot_lock(PGconn *conn, const char *slot, bool *got, char *err,
                   size_t errlen)
{
    const char *params[] = {slot};
    PGresult *res = PQexecParams(
        conn,
        "SELECT pg_try_advisory_lock(" SNAPSHOT_LOCK_CLASS ", hashtext($1))", 1,
        NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

    *got = ok && PQgetvalue(res, 0, 0)[0] == 't';
    if (!ok) {
        const char *msg = PQerrorMessage(conn);

        snprintf(err, errlen, "could not lock slot \"%s\": %.*s", slot,
                 (int)strcspn(msg, "\n"), msg);
    }
    PQclear(res);
    return ok;
}

void snapshot_unlock(PGconn *conn, const char *slot)
{
    const char *params[] = {slot};
    PGresult *res;

    if (PQstatus(conn) != CONNECTION_OK)
        return;
    res = PQexecParams(conn,
                       "SELECT pg_advisory_unlock(" SNAPSHOT_LOCK_CLASS
                       ", hashtext($1))",
                       1, NULL, params, NULL, NULL, 0);
    PQclear(res);
}

/* Reading the tables. */

struct snapshot {
    snapshot_options_t opt;
    uint32_t *oids;
    PGconn *conn;
    uv_poll_t poll;
    uv_timer_t progress;
    int open_handles;
    bool polling;
    bool finished;
    bool freeing;

    int table;  /* index into oids of the table being read */
    rel_t *rel; /* its relation */
    bool cursor_open;
    bool fetching;   /* a FETCH is on the wire */
    PGresult *chunk; /* rows being produced */
    int chunk_row;
    const char **texts;
    int *lens;
    int cols_cap;

    int tables_done;
    uint64_t rows;
    uint64_t started_ms;
    uint64_t finished_ms;
};

static uint64_t now_ms(void)
{
    return (uint64_t)clock_mono_ms();
}

static void first_line(char *out, size_t outlen, const char *prefix,
                       const char *msg)
{
    snprintf(out, outlen, "%s: %.*s", prefix, (int)strcspn(msg, "\n"), msg);
}

/* Runs a statement that returns no rows to wait for; false with err. */
static bool exec(snapshot_t *s, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        first_line(err, errlen, "snapshot query failed",
                   PQerrorMessage(s->conn));
    PQclear(res);
    return ok;
}

static void finish(snapshot_t *s, bool ok, bool fatal, const char *err)
{
    if (s->finished)
        return;
    s->finished = true;
    s->finished_ms = now_ms();
    if (s->polling) {
        uv_poll_stop(&s->poll);
        s->polling = false;
    }
    uv_timer_stop(&s->progress);
    if (ok) {
        char ignored[256];

        /* Read-only: ending it cannot lose anything. */
        (void)exec(s, "COMMIT", ignored, sizeof(ignored));
        log_info(s->opt.publication,
                 "snapshot read %d tables, %llu rows in %.1f s", s->tables_done,
                 (unsigned long long)s->rows,
                 (double)(s->finished_ms - s->started_ms) / 1000.0);
    }
    s->opt.done(s->opt.arg, ok, fatal, err);
}

/* Opens the cursor over the next table to read; false with err. */
static bool open_table(snapshot_t *s, char *err, size_t errlen)
{
    char oid[16], *sql = NULL, *name;
    const char *params[2] = {s->opt.publication, oid};
    PGresult *res;
    const char *relkind, *filter;
    size_t cap;
    int n;

    s->rel = relcache_get(s->opt.changes->relcache, s->oids[s->table]);
    if (!s->rel) {
        snprintf(err, errlen, "published table %u has no description",
                 s->oids[s->table]);
        return false;
    }

    /* The row filter of the publication applies to the snapshot as to the
     * stream; a partitioned table is read through its root. */
    snprintf(oid, sizeof(oid), "%u", s->oids[s->table]);
    res = PQexecParams(
        s->conn,
        "SELECT c.relkind, pt.rowfilter FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_publication_tables pt ON pt.pubname = $1 "
        "AND pt.schemaname = n.nspname AND pt.tablename = c.relname "
        "WHERE c.oid = $2::oid",
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        first_line(err, errlen, "could not describe a table to snapshot",
                   PQerrorMessage(s->conn));
        PQclear(res);
        return false;
    }
    if (PQntuples(res) == 0) {
        /* Dropped before the snapshot: nothing to read. */
        PQclear(res);
        s->rel = NULL;
        return true;
    }
    relkind = PQgetvalue(res, 0, 0);
    filter = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);

    cap = 256 + (filter ? strlen(filter) : 0);
    for (int i = 0; i < s->rel->ncols; i++)
        cap += 2 * strlen(s->rel->ts->cols[i].name) + 4;
    cap += 2 * (strlen(s->rel->ts->nspname) + strlen(s->rel->ts->relname));
    sql = malloc(cap);
    if (!sql) {
        PQclear(res);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    n = snprintf(sql, cap,
                 "DECLARE cdc_snapshot NO SCROLL CURSOR FOR "
                 "SELECT ");
    for (int i = 0; i < s->rel->ncols; i++) {
        name = PQescapeIdentifier(s->conn, s->rel->ts->cols[i].name,
                                  strlen(s->rel->ts->cols[i].name));
        n += snprintf(sql + n, cap - (size_t)n, "%s%s", i ? ", " : "",
                      name ? name : "\"\"");
        PQfreemem(name);
    }
    if (s->rel->ncols == 0)
        n += snprintf(sql + n, cap - (size_t)n, "1");
    n += snprintf(sql + n, cap - (size_t)n, " FROM %s",
                  relkind[0] == 'p' ? "" : "ONLY ");
    name = PQescapeIdentifier(s->conn, s->rel->ts->nspname,
                              strlen(s->rel->ts->nspname));
    n += snprintf(sql + n, cap - (size_t)n, "%s.", name ? name : "\"\"");
    PQfreemem(name);
    name = PQescapeIdentifier(s->conn, s->rel->ts->relname,
                              strlen(s->rel->ts->relname));
    n += snprintf(sql + n, cap - (size_t)n, "%s", name ? name : "\"\"");
    PQfreemem(name);
    if (filter)
        snprintf(sql + n, cap - (size_t)n, " WHERE %s", filter);
    PQclear(res);

    if (s->rel->ncols > s->cols_cap) {
        const char **texts =
            realloc(s->texts, (size_t)s->rel->ncols * sizeof(*texts));
        int *lens;

        if (texts)
            s->texts = texts;
        lens = realloc(s->lens, (size_t)s->rel->ncols * sizeof(*lens));
        if (lens)
            s->lens = lens;
        if (!texts || !lens) {
            free(sql);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        s->cols_cap = s->rel->ncols;
    }
    if (!exec(s, sql, err, errlen)) {
        free(sql);
        return false;
    }
    free(sql);
    s->cursor_open = true;
    log_info(s->rel->topic->name, "snapshot of \"%s.%s\" started",
             s->rel->ts->nspname, s->rel->ts->relname);
    return true;
}

static bool send_fetch(snapshot_t *s, char *err, size_t errlen)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "FETCH %d FROM cdc_snapshot", s->opt.chunk_rows);
    if (!PQsendQuery(s->conn, sql)) {
        first_line(err, errlen, "could not read a table to snapshot",
                   PQerrorMessage(s->conn));
        return false;
    }
    s->fetching = true;
    return true;
}

/* Produces rows of the current chunk until it ends or Kafka's queue is
 * full.  false with err (fatal) when a row cannot be produced. */
static bool produce_rows(snapshot_t *s, char *err, size_t errlen)
{
    int nrows = PQntuples(s->chunk);

    while (s->chunk_row < nrows) {
        int row = s->chunk_row;

        if (producer_blocked(s->opt.changes->producer))
            return true;
        for (int c = 0; c < s->rel->ncols; c++) {
            s->texts[c] = PQgetisnull(s->chunk, row, c)
                              ? NULL
                              : PQgetvalue(s->chunk, row, c);
            s->lens[c] = PQgetlength(s->chunk, row, c);
        }
        if (!changes_snapshot_row(s->opt.changes, s->rel, s->texts, s->lens,
                                  err, errlen))
            return false;
        s->chunk_row++;
        s->rows++;
    }
    return true;
}

/* Moves the reading on as far as it can go without waiting. */
static void step(snapshot_t *s)
{
    char err[1024] = "";

    while (!s->finished) {
        if (s->chunk) {
            int nrows = PQntuples(s->chunk);

            if (!produce_rows(s, err, sizeof(err))) {
                finish(s, false, true, err);
                return;
            }
            if (s->chunk_row < nrows) {
                /* Kafka's queue is full: snapshot_resume goes on. */
                if (s->polling) {
                    uv_poll_stop(&s->poll);
                    s->polling = false;
                }
                return;
            }
            PQclear(s->chunk);
            s->chunk = NULL;
            if (nrows == 0) {
                if (!exec(s, "CLOSE cdc_snapshot", err, sizeof(err)))
                    goto failed;
                s->cursor_open = false;
                s->tables_done++;
                s->table++;
            }
            continue;
        }
        if (s->fetching) {
            PGresult *res;

            if (!PQconsumeInput(s->conn)) {
                first_line(err, sizeof(err), "lost the snapshot connection",
                           PQerrorMessage(s->conn));
                goto failed;
            }
            if (PQisBusy(s->conn))
                return; /* the poll brings us back */
            res = PQgetResult(s->conn);
            if (!res) {
                s->fetching = false;
                continue;
            }
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                first_line(err, sizeof(err),
                           "could not read a table to "
                           "snapshot",
                           PQresultErrorMessage(res));
                PQclear(res);
                goto failed;
            }
            /* Keep it; the query's end (a NULL result) comes next. */
            while (!PQisBusy(s->conn)) {
                PGresult *end = PQgetResult(s->conn);

                if (!end) {
                    s->fetching = false;
                    break;
                }
                PQclear(end);
            }
            s->chunk = res;
            s->chunk_row = 0;
            continue;
        }
        if (!s->cursor_open) {
            if (s->table >= s->opt.ntables) {
                finish(s, true, false, NULL);
                return;
            }
            if (!open_table(s, err, sizeof(err)))
                goto failed;
            if (!s->rel) {
                s->tables_done++;
                s->table++;
                continue;
            }
        }
        if (!send_fetch(s, err, sizeof(err)))
            goto failed;
    }
    return;

failed:
    finish(s, false, false, err);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    snapshot_t *s = h->data;

    (void)status;
    (void)events;
    step(s);
}

static void on_progress(uv_timer_t *t)
{
    snapshot_t *s = t->data;
    snapshot_progress_t p;

    snapshot_get_progress(s, &p);
    if (s->rel)
        log_info(s->opt.publication,
                 "snapshot: %d of %d tables, %llu rows (%.0f rows/s), "
                 "reading \"%s.%s\"",
                 p.tables_done, p.tables_total, (unsigned long long)p.rows,
                 p.rows_per_second, s->rel->ts->nspname, s->rel->ts->relname);
    else
        log_info(s->opt.publication,
                 "snapshot: %d of %d tables, %llu rows (%.0f rows/s)",
                 p.tables_done, p.tables_total, (unsigned long long)p.rows,
                 p.rows_per_second);
}

snapshot_t *snapshot_start(const snapshot_options_t *opts, char *err,
                           size_t errlen)
{
    snapshot_t *s = calloc(1, sizeof(*s));
    char sql[256];

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opt = *opts;
    s->oids =
        calloc(opts->ntables ? (size_t)opts->ntables : 1, sizeof(uint32_t));
    if (!s->oids) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(s->oids, opts->table_oids, (size_t)opts->ntables * sizeof(uint32_t));
    s->started_ms = now_ms();

    s->conn = catalog_open_conn(opts->dburl, false);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        first_line(err, errlen, "could not connect for the snapshot",
                   PQerrorMessage(s->conn));
        goto fail;
    }
    if (!exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err,
              errlen))
        goto fail;
    if (opts->snapshot_name) {
        snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'",
                 opts->snapshot_name);
        if (!exec(s, sql, err, errlen))
            goto fail;
    }
    if (!changes_snapshot_begin(opts->changes, opts->consistent_lsn,
                                snapshot_seq_base(opts->attempt),
                                (int64_t)time(NULL) * 1000000)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    uv_poll_init(opts->loop, &s->poll, PQsocket(s->conn));
    uv_timer_init(opts->loop, &s->progress);
    /* The loop's clock stood still while start-up blocked. */
    uv_update_time(opts->loop);
    s->poll.data = s->progress.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    s->polling = true;
    uv_timer_start(&s->progress, on_progress, SNAPSHOT_PROGRESS_MS,
                   SNAPSHOT_PROGRESS_MS);
    log_info(opts->publication, "snapshot of %d tables started (attempt %u)",
             opts->ntables, opts->attempt);
    step(s);
    return s;

fail:
    PQfinish(s->conn);
    free(s->oids);
    free(s);
    return NULL;
}

void snapshot_resume(snapshot_t *s)
{
    if (!s || s->finished || producer_blocked(s->opt.changes->producer))
        return;
    if (!s->polling) {
        uv_poll_start(&s->poll, UV_READABLE, on_readable);
        s->polling = true;
    }
    step(s);
}

static void on_closed(uv_handle_t *h)
{
    snapshot_t *s = h->data;

    if (--s->open_handles > 0)
        return;
    free(s->texts);
    free(s->lens);
    free(s->oids);
    free(s);
}

void snapshot_free(snapshot_t *s)
{
    if (!s || s->freeing)
        return;
    s->freeing = true;
    s->finished = true;
    PQclear(s->chunk);
    s->chunk = NULL;
    /* The poll goes before the socket it watches. */
    uv_close((uv_handle_t *)&s->poll, on_closed);
    uv_close((uv_handle_t *)&s->progress, on_closed);
    PQfinish(s->conn);
    s->conn = NULL;
}

void snapshot_get_progress(const snapshot_t *s, snapshot_progress_t *out)
{
    uint64_t end = s->finished ? s->finished_ms : now_ms();

    memset(out, 0, sizeof(*out));
    out->tables_total = s->opt.ntables;
    out->tables_done = s->tables_done;
    out->rows = s->rows;
    out->seconds = (double)(end - s->started_ms) / 1000.0;
    if (out->seconds > 0)
        out->rows_per_second = (double)s->rows / out->seconds;
}
