/* Captures golden files for the pgoutput decoder: runs SQL against a
 * database with wal_level=logical, reads what pgoutput sends for it through
 * a temporary slot, and writes each message to DIR/NNN.bin and the decoded
 * text to DIR/expected.txt.
 *
 * Usage: capture_pgoutput CONNINFO PUBLICATION DIR TRANSACTIONS < script.sql
 * with one statement per line. */
#include "buf.h"
#include "pgoutput.h"
#include "pgoutput_dump.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGconn *connect_db(const char *conninfo, bool replication)
{
    const char *keys[] = {"dbname", "replication", NULL};
    const char *values[] = {conninfo, replication ? "database" : NULL, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void must(PGconn *c, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != want) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

int main(int argc, char **argv)
{
    static char script[1 << 20];
    PGconn *sql, *repl;
    pgoutput_decoder_t d;
    char cmd[512], path[1024];
    size_t n;
    int commits = 0, want, seq = 0;
    buf_t text;
    FILE *f;

    if (argc != 5) {
        fprintf(stderr,
                "usage: %s CONNINFO PUBLICATION DIR TRANSACTIONS "
                "< script.sql\n",
                argv[0]);
        return 2;
    }
    want = atoi(argv[4]);
    n = fread(script, 1, sizeof(script) - 1, stdin);
    script[n] = '\0';

    sql = connect_db(argv[1], false);
    repl = connect_db(argv[1], true);
    must(repl,
         "CREATE_REPLICATION_SLOT golden TEMPORARY LOGICAL pgoutput "
         "(SNAPSHOT 'nothing')",
         PGRES_TUPLES_OK);
    /* One statement per line, each its own transaction unless the script
     * says BEGIN. */
    for (char *line = strtok(script, "\n"); line; line = strtok(NULL, "\n")) {
        if (*line)
            must(sql, line, PGRES_COMMAND_OK);
    }
    snprintf(cmd, sizeof(cmd),
             "START_REPLICATION SLOT golden LOGICAL 0/0 (proto_version '1', "
             "publication_names '%s')",
             argv[2]);
    must(repl, cmd, PGRES_COPY_BOTH);

    pgoutput_decoder_init(&d);
    buf_init(&text, 0);
    while (commits < want) {
        char *buf = NULL;
        int len = PQgetCopyData(repl, &buf, 0);
        pgoutput_msg_t m;
        char err[256];

        if (len < 0) {
            fprintf(stderr, "stream ended: %s", PQerrorMessage(repl));
            return 1;
        }
        if (buf[0] == 'w') {
            snprintf(path, sizeof(path), "%s/%03d.bin", argv[3], ++seq);
            f = fopen(path, "wb");
            fwrite(buf + 25, 1, (size_t)len - 25, f);
            fclose(f);
            if (!pgoutput_decode(&d, (uint8_t *)buf + 25, (size_t)len - 25, &m,
                                 err, sizeof(err))) {
                fprintf(stderr, "decode: %s\n", err);
                return 1;
            }
            pgoutput_dump(&m, &text);
            if (m.kind == PGO_COMMIT)
                commits++;
        }
        PQfreemem(buf);
    }
    snprintf(path, sizeof(path), "%s/expected.txt", argv[3]);
    f = fopen(path, "w");
    fwrite(text.data, 1, text.len, f);
    fclose(f);
    printf("%d messages\n", seq);
    PQfinish(repl);
    PQfinish(sql);
    return 0;
}
