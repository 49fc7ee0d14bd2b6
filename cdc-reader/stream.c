/* Logical replication stream over libpq: IDENTIFY_SYSTEM,
 * CREATE_REPLICATION_SLOT, START_REPLICATION, CopyData frames in and
 * standby status updates out. */
#include "stream.h"

#include "buf.h"
#include "catalog.h"
#include "clock.h"
#include "pgoutput.h"
#include "wire.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The largest frame we accept from the server: far above any row
 * PostgreSQL can send (1 GB per value is its own limit), but a bound. */
#define STREAM_MAX_FRAME ((size_t)1 << 31)

struct stream {
    PGconn *conn;
    char *copybuf; /* owned by libpq, freed on the next read */
    char system_id[32];
};

static void first_line(char *err, size_t errlen, const char *prefix,
                       const char *msg)
{
    snprintf(err, errlen, "%s: %.*s", prefix, (int)strcspn(msg, "\n"), msg);
}

stream_t *stream_connect(const char *dburl, char *err, size_t errlen)
{
    stream_t *s = calloc(1, sizeof(*s));
    PGresult *res;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->conn = catalog_open_conn(dburl, true);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        first_line(err, errlen, "could not open a replication connection",
                   PQerrorMessage(s->conn));
        stream_free(s);
        return NULL;
    }
    res = PQexec(s->conn, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        first_line(err, errlen, "could not identify the server",
                   PQerrorMessage(s->conn));
        PQclear(res);
        stream_free(s);
        return NULL;
    }
    snprintf(s->system_id, sizeof(s->system_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return s;
}

void stream_free(stream_t *s)
{
    if (!s)
        return;
    if (s->copybuf)
        PQfreemem(s->copybuf);
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

int stream_socket(const stream_t *s)
{
    return PQsocket(s->conn);
}

const char *stream_system_id(const stream_t *s)
{
    return s->system_id;
}

/* True when res failed with SQLSTATE state. */
static bool failed_with(const PGresult *res, const char *state)
{
    const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return got && strcmp(got, state) == 0;
}

bool stream_create_slot(stream_t *s, const char *slot, char *snapshot_name,
                        size_t namelen, uint64_t *consistent_lsn,
                        bool *slot_busy, char *err, size_t errlen)
{
    char *quoted = PQescapeIdentifier(s->conn, slot, strlen(slot));
    char sql[512];
    PGresult *res;
    const char *lsn;

    snprintf(sql, sizeof(sql),
             "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT '%s')",
             quoted, snapshot_name ? "export" : "nothing");
    PQfreemem(quoted);
    res = PQexec(s->conn, sql);
    *slot_busy = false;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        /* 42710: another reader created it first. */
        *slot_busy = failed_with(res, "42710");
        first_line(err, errlen, "could not create replication slot",
                   PQerrorMessage(s->conn));
        PQclear(res);
        return false;
    }
    lsn = PQgetvalue(res, 0, 1);
    wire_lsn_parse(lsn, strlen(lsn), consistent_lsn);
    if (snapshot_name)
        snprintf(snapshot_name, namelen, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return true;
}

bool stream_start(stream_t *s, const char *slot, const char *publication,
                  bool *slot_busy, char *err, size_t errlen)
{
    char *qslot = PQescapeIdentifier(s->conn, slot, strlen(slot));
    char *qpub = PQescapeLiteral(s->conn, publication, strlen(publication));
    char sql[1024];
    PGresult *res;

    /* publication_names is itself a list of identifiers inside a string. */
    snprintf(sql, sizeof(sql),
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', "
             "publication_names %s)",
             qslot, qpub);
    PQfreemem(qslot);
    PQfreemem(qpub);
    res = PQexec(s->conn, sql);
    *slot_busy = false;
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        /* 55006: object in use, the slot is held by another reader. */
        *slot_busy = failed_with(res, "55006");
        first_line(err, errlen, "could not start replication",
                   PQerrorMessage(s->conn));
        PQclear(res);
        return false;
    }
    PQclear(res);
    if (PQsetnonblocking(s->conn, 1) != 0) {
        first_line(err, errlen, "could not make the connection non-blocking",
                   PQerrorMessage(s->conn));
        return false;
    }
    return true;
}

stream_event_t stream_read(stream_t *s, stream_msg_t *msg, char *err,
                           size_t errlen)
{
    const uint8_t *p;
    int len;

    if (s->copybuf) {
        PQfreemem(s->copybuf);
        s->copybuf = NULL;
    }
    len = PQgetCopyData(s->conn, &s->copybuf, 1);
    if (len == 0) {
        if (!PQconsumeInput(s->conn)) {
            first_line(err, errlen, "could not read from the server",
                       PQerrorMessage(s->conn));
            return STREAM_ERROR;
        }
        len = PQgetCopyData(s->conn, &s->copybuf, 1);
        if (len == 0)
            return STREAM_NONE;
    }
    if (len == -1) {
        PGresult *res = PQgetResult(s->conn);
        bool failed = PQresultStatus(res) != PGRES_COMMAND_OK;

        if (failed)
            first_line(err, errlen, "replication stream ended",
                       PQresultErrorMessage(res));
        PQclear(res);
        return failed ? STREAM_ERROR : STREAM_END;
    }
    if (len < 0) {
        first_line(err, errlen, "could not read from the server",
                   PQerrorMessage(s->conn));
        return STREAM_ERROR;
    }

    p = (const uint8_t *)s->copybuf;
    if ((size_t)len > STREAM_MAX_FRAME) {
        snprintf(err, errlen, "replication frame of %d bytes is too large",
                 len);
        return STREAM_ERROR;
    }
    switch (p[0]) {
    case 'w':
        if (len < 25) {
            snprintf(err, errlen, "XLogData frame of %d bytes is truncated",
                     len);
            return STREAM_ERROR;
        }
        msg->wal_start = get_be64(p + 1);
        msg->wal_end = get_be64(p + 9);
        msg->data = p + 25;
        msg->len = (size_t)len - 25;
        msg->reply_requested = false;
        return STREAM_DATA;
    case 'k':
        if (len < 18) {
            snprintf(err, errlen, "keepalive frame of %d bytes is truncated",
                     len);
            return STREAM_ERROR;
        }
        msg->wal_start = 0;
        msg->wal_end = get_be64(p + 1);
        msg->reply_requested = p[17] != 0;
        msg->data = NULL;
        msg->len = 0;
        return STREAM_KEEPALIVE;
    default:
        snprintf(err, errlen,
                 "unknown replication frame byte 0x%02x; expected 'w' or 'k'",
                 p[0]);
        return STREAM_ERROR;
    }
}

bool stream_finish(stream_t *s, int timeout_ms)
{
    int waited = 0;

    if (PQputCopyEnd(s->conn, NULL) <= 0)
        return false;
    /* The server may still send what it had queued; read up to its end of
     * the copy and the command's completion. */
    while (waited < timeout_ms) {
        struct pollfd pfd = {PQsocket(s->conn), POLLIN, 0};
        char *data = NULL;
        int len;

        if (PQflush(s->conn) < 0 || !PQconsumeInput(s->conn))
            return false;
        while ((len = PQgetCopyData(s->conn, &data, 1)) > 0) {
            PQfreemem(data);
            data = NULL;
        }
        if (len == -1) {
            PGresult *res;
            bool ok = true;

            while ((res = PQgetResult(s->conn)) != NULL) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK &&
                    PQresultStatus(res) != PGRES_TUPLES_OK)
                    ok = false;
                PQclear(res);
                if (PQisBusy(s->conn))
                    break;
            }
            if (!PQisBusy(s->conn))
                return ok;
        } else if (len == -2) {
            return false;
        }
        if (poll(&pfd, 1, 50) < 0)
            return false;
        waited += 50;
    }
    return false;
}

bool stream_send_status(stream_t *s, uint64_t received, uint64_t flushed,
                        bool reply_requested, char *err, size_t errlen)
{
    uint8_t frame[34];
    int64_t now = clock_wall_us() - PG_EPOCH_OFFSET_US;

    frame[0] = 'r';
    put_be64(frame + 1, received);
    put_be64(frame + 9, flushed);
    put_be64(frame + 17, flushed);
    put_be64(frame + 25, (uint64_t)now);
    frame[33] = reply_requested ? 1 : 0;
    if (PQputCopyData(s->conn, (const char *)frame, sizeof(frame)) <= 0 ||
        PQflush(s->conn) < 0) {
        first_line(err, errlen, "could not send status to the server",
                   PQerrorMessage(s->conn));
        return false;
    }
    return true;
}
