/* Change events against librdkafka's mock cluster: what Kafka acknowledged
 * moves the confirmable LSN only at commits; bad input (a table of
 * undecodable or inconsistent messages) stops with an error naming what
 * was wrong and never confirms the transaction it hit; replayed records are
 * skipped by position; snapshot rows sit below streamed changes; snapshot
 * marks read back; the metrics render. */
#include "buf.h"
#include "changes.h"
#include "producer.h"
#include "reader_http.h"
#include "relcache.h"
#include "snapshot.h"
#include "topics.h"

#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define TOPIC     "t.public.t"
#define TOPIC_FMT "t%d.public.t"
#define MARKS     "t._snapshots"
#define REL_OID   16384

static rd_kafka_t *mock_owner;
static rd_kafka_mock_cluster_t *mock;

/* One reader's worth of state: producer, topics, one relation. */
typedef struct fixture {
    producer_t *producer;
    topics_t *topics;
    relcache_t rc;
    changes_t ch;
    rel_t *rel;
} fixture_t;

static int start_cluster(void **state)
{
    char err[256];

    (void)state;
    mock_owner =
        rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
    if (!mock_owner)
        return -1;
    mock = rd_kafka_mock_cluster_new(mock_owner, 1);
    if (!mock)
        return -1;
    rd_kafka_mock_topic_create(mock, TOPIC, 2, 1);
    rd_kafka_mock_topic_create(mock, MARKS, 1, 1);
    setenv("CDC_KAFKA_BROKERS", rd_kafka_mock_cluster_bootstraps(mock), 1);
    return 0;
}

static int stop_cluster(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_owner);
    return 0;
}

/* A reader as after a start: the relation t(id integer key, body text)
 * whose records go to topic. */
static fixture_t *fixture_topic(const char *topic)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char err[512] = "";
    pgtype_t *types;

    assert_non_null(f);
    f->producer = producer_new(err, sizeof(err));
    assert_non_null(f->producer);
    f->topics =
        topics_new(producer_handle(f->producer), 2, -1, err, sizeof(err));
    assert_non_null(f->topics);

    f->rel = calloc(1, sizeof(rel_t));
    types = calloc(2, sizeof(pgtype_t));
    assert_non_null(f->rel);
    assert_non_null(types);
    assert_true(pgtype_builtin(23, -1, &types[0]));
    assert_true(pgtype_builtin(25, -1, &types[1]));
    f->rel->oid = REL_OID;
    f->rel->replident = 'd';
    f->rel->ncols = 2;
    f->rel->types = types;
    f->rel->ts = table_schema_new("db", "public", "t", 2);
    assert_true(table_schema_set_column(f->rel->ts, 0, "id", "integer",
                                        types[0].type, 0, 0, 0, true));
    assert_true(table_schema_set_column(f->rel->ts, 1, "body", "text",
                                        types[1].type, 0, 0, 0, false));
    f->rel->ts->key_schema_id = 1;
    f->rel->ts->value_schema_id = 2;
    f->rel->topic = topics_open(f->topics, topic, err, sizeof(err));
    if (!f->rel->topic)
        fail_msg("%s", err);

    relcache_init(&f->rc, NULL, f->topics, "t", NULL, NULL);
    f->rc.rels = malloc(sizeof(rel_t *));
    assert_non_null(f->rc.rels);
    f->rc.rels[0] = f->rel;
    f->rc.count = 1;
    changes_init(&f->ch, f->producer, &f->rc, NULL);
    return f;
}

static fixture_t *fixture_new(void)
{
    return fixture_topic(TOPIC);
}

static void fixture_free(fixture_t *f)
{
    changes_free(&f->ch);
    relcache_free(&f->rc);
    topics_free(f->topics);
    producer_free(f->producer, 5000);
    free(f);
}

/* pgoutput messages, as PostgreSQL 15 sends them. */

static void put64(buf_t *b, uint64_t v)
{
    uint8_t x[8];

    put_be64(x, v);
    buf_append(b, x, 8);
}

static void put32(buf_t *b, uint32_t v)
{
    uint8_t x[4];

    put_be32(x, v);
    buf_append(b, x, 4);
}

static void msg_begin(buf_t *b, uint64_t final_lsn, uint32_t xid)
{
    buf_reset(b);
    buf_putc(b, 'B');
    put64(b, final_lsn);
    put64(b, 0);
    put32(b, xid);
}

static void msg_commit(buf_t *b, uint64_t commit_lsn, uint64_t end_lsn)
{
    buf_reset(b);
    buf_putc(b, 'C');
    buf_putc(b, 0);
    put64(b, commit_lsn);
    put64(b, end_lsn);
    put64(b, 0);
}

/* An insert into oid: each of the n values is text, or 'n' for NULL. */
static void msg_insert(buf_t *b, uint32_t oid, char kind, int n, ...)
{
    va_list ap;

    buf_reset(b);
    buf_putc(b, 'I');
    put32(b, oid);
    buf_putc(b, 'N');
    buf_putc(b, (uint8_t)(n >> 8));
    buf_putc(b, (uint8_t)n);
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *v = va_arg(ap, const char *);

        if (!v) {
            buf_putc(b, 'n');
            continue;
        }
        buf_putc(b, (uint8_t)kind);
        put32(b, (uint32_t)strlen(v));
        buf_puts(b, v);
    }
    va_end(ap);
}

static bool apply(fixture_t *f, buf_t *b, uint64_t lsn, char *err,
                  size_t errlen)
{
    return changes_apply(&f->ch, b->data, b->len, lsn, err, errlen);
}

/* Applies one good transaction inserting id at final_lsn. */
static void good_txn(fixture_t *f, uint64_t final_lsn, const char *id)
{
    char err[512] = "";
    buf_t b;

    buf_init(&b, 0);
    msg_begin(&b, final_lsn, 700);
    assert_true(apply(f, &b, final_lsn - 0x100, err, sizeof(err)));
    msg_insert(&b, REL_OID, 't', 2, id, "body");
    if (!apply(f, &b, final_lsn - 0x80, err, sizeof(err)))
        fail_msg("%s", err);
    msg_commit(&b, final_lsn, final_lsn + 0x30);
    assert_true(apply(f, &b, final_lsn, err, sizeof(err)));
    buf_free(&b);
}

static void test_commits_move_the_acknowledged_lsn(void **state)
{
    fixture_t *f = fixture_new();
    producer_stats_t ps;

    (void)state;
    good_txn(f, 0x10000, "1");
    assert_true(producer_flush(f->producer, 10000));
    assert_int_equal(producer_acked_lsn(f->producer), 0x10030);
    assert_int_equal(f->rel->topic->produced, 1);
    assert_int_equal(f->ch.transactions, 1);

    /* Committed on 2000-01-01 (a zero timestamp): past every bound of the
     * commit-to-acknowledgement histogram. */
    producer_get_stats(f->producer, &ps);
    assert_int_equal(ps.latency_count, 1);
    assert_int_equal(ps.latency[PRODUCER_LATENCY_BUCKETS], 1);
    fixture_free(f);
}

/* Bad input in the middle of a transaction whose first change Kafka has
 * already acknowledged: the error says what and where, and the LSN that
 * may be confirmed stays at the last commit. */
typedef struct bad_case {
    const char *name;
    void (*build)(buf_t *b);
    const char *want;
} bad_case_t;

static void bad_garbage(buf_t *b)
{
    buf_reset(b);
    buf_puts(b, "Zgarbage");
}

static void bad_truncated(buf_t *b)
{
    msg_insert(b, REL_OID, 't', 2, "2", "body");
    b->len -= 3;
}

static void bad_relation(buf_t *b)
{
    msg_insert(b, 999, 't', 2, "2", "body");
}

static void bad_value(buf_t *b)
{
    msg_insert(b, REL_OID, 't', 2, "two", "body");
}

static void bad_columns(buf_t *b)
{
    msg_insert(b, REL_OID, 't', 1, "2");
}

static void bad_binary(buf_t *b)
{
    msg_insert(b, REL_OID, 'b', 2, "2", "body");
}

static void bad_commit(buf_t *b)
{
    msg_commit(b, 0x20001, 0x20040);
}

static const bad_case_t bad_cases[] = {
    {"unknown message byte", bad_garbage,
     "could not decode the change stream at 0/20050: unknown"},
    {"truncated message", bad_truncated,
     "could not decode the change stream at 0/20050"},
    {"unknown relation", bad_relation,
     "relation 999, which no relation message described"},
    {"value that does not parse", bad_value,
     "could not read column \"id\" of \"public.t\" (type integer)"},
    {"wrong column count", bad_columns, "has 1 columns but its relation has 2"},
    {"binary value", bad_binary,
     "column \"id\" of \"public.t\" arrived in binary form"},
    {"commit of another transaction", bad_commit,
     "is at 0/20001 but its begin announced 0/20000"},
};

static void test_bad_input_stops_before_the_commit(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        char err[512] = "", topic[64];
        fixture_t *f;
        buf_t b;

        /* A topic of its own, so that no earlier case's records count. */
        snprintf(topic, sizeof(topic), TOPIC_FMT, (int)i);
        rd_kafka_mock_topic_create(mock, topic, 2, 1);
        f = fixture_topic(topic);
        buf_init(&b, 0);
        good_txn(f, 0x10000, "1");
        msg_begin(&b, 0x20000, 701);
        assert_true(apply(f, &b, 0x1FF00, err, sizeof(err)));
        msg_insert(&b, REL_OID, 't', 2, "2", "acknowledged");
        assert_true(apply(f, &b, 0x1FF80, err, sizeof(err)));

        c->build(&b);
        if (apply(f, &b, 0x20050, err, sizeof(err)))
            fail_msg("%s: accepted", c->name);
        if (!strstr(err, c->want))
            fail_msg("%s: error \"%s\" does not say \"%s\"", c->name, err,
                     c->want);

        /* The reader stops: it gives up the transaction, lets Kafka
         * acknowledge everything, and confirms only the first commit. */
        changes_abandon(&f->ch);
        assert_true(producer_flush(f->producer, 10000));
        assert_int_equal(f->rel->topic->produced, 2);
        if (producer_acked_lsn(f->producer) != 0x10030)
            fail_msg("%s: acknowledged LSN moved to %llx", c->name,
                     (unsigned long long)producer_acked_lsn(f->producer));
        buf_free(&b);
        fixture_free(f);
    }
}

static void test_commit_outside_a_transaction(void **state)
{
    fixture_t *f = fixture_new();
    char err[512] = "";
    buf_t b;

    (void)state;
    buf_init(&b, 0);
    msg_commit(&b, 0x30000, 0x30030);
    assert_false(apply(f, &b, 0x30000, err, sizeof(err)));
    assert_non_null(strstr(err, "commit at 0/30000 without a transaction"));
    msg_insert(&b, REL_OID, 't', 2, "1", "x");
    assert_false(apply(f, &b, 0x30000, err, sizeof(err)));
    assert_non_null(strstr(err, "arrived outside a transaction"));
    buf_free(&b);
    fixture_free(f);
}

/* A new process reads the partitions' last positions and skips the replay
 * of what is already there; the first new change goes out. */
static void test_replays_are_skipped(void **state)
{
    fixture_t *first = fixture_new(), *again;

    (void)state;
    good_txn(first, 0x40000, "10");
    good_txn(first, 0x41000, "11");
    assert_true(producer_flush(first->producer, 10000));
    fixture_free(first);

    again = fixture_new();
    good_txn(again, 0x40000, "10");
    good_txn(again, 0x41000, "11");
    assert_int_equal(again->rel->topic->skipped, 2);
    assert_int_equal(again->rel->topic->produced, 0);
    good_txn(again, 0x42000, "12");
    assert_int_equal(again->rel->topic->produced, 1);
    assert_true(producer_flush(again->producer, 10000));
    assert_int_equal(producer_acked_lsn(again->producer), 0x42030);
    fixture_free(again);
}

/* Snapshot rows of a later attempt take positions just below the slot's
 * consistent point, above the earlier attempt's, and move nothing that
 * could be confirmed. */
static void test_snapshot_positions(void **state)
{
    fixture_t *f = fixture_new();
    const char *row[2] = {"20", "snap"};
    const int lens[2] = {2, 4};
    char err[512] = "";
    int32_t p = -1;

    (void)state;
    assert_true(
        changes_snapshot_begin(&f->ch, 0x50000, snapshot_seq_base(2), 0));
    assert_false(changes_in_transaction(&f->ch));
    if (!changes_snapshot_row(&f->ch, f->rel, row, lens, err, sizeof(err)))
        fail_msg("%s", err);
    changes_snapshot_end(&f->ch);
    assert_true(producer_flush(f->producer, 10000));
    assert_int_equal(producer_acked_lsn(f->producer), 0);
    for (int i = 0; i < f->rel->topic->partitions; i++) {
        if (f->rel->topic->tail[i].commit_lsn == 0x4FFFF)
            p = i;
    }
    assert_true(p >= 0);
    assert_int_equal(f->rel->topic->tail[p].seq, ((uint64_t)1 << 40) + 1);

    /* A value that does not parse stops the snapshot too. */
    row[0] = "x";
    assert_true(changes_snapshot_begin(&f->ch, 0x50000, 0, 0));
    assert_false(changes_snapshot_row(&f->ch, f->rel, row, (int[]){1, 4}, err,
                                      sizeof(err)));
    assert_non_null(strstr(err, "could not read column \"id\""));
    changes_snapshot_end(&f->ch);
    fixture_free(f);
}

typedef struct mark_case {
    const char *text;
    bool ok;
    snapshot_mark_state_t state;
    uint64_t lsn;
    uint32_t attempt;
} mark_case_t;

static void test_mark_parse(void **state)
{
    static const mark_case_t cases[] = {
        {"{\"state\":\"started\",\"consistent_lsn\":\"0/0\"}", true,
         SNAPSHOT_MARK_STARTED, 0, 1},
        {"{\"state\":\"done\",\"consistent_lsn\":\"1/A0\",\"attempt\":3,"
         "\"rows\":7}",
         true, SNAPSHOT_MARK_DONE, 0x1000000A0, 3},
        {"{\"state\":\"paused\",\"consistent_lsn\":\"0/10\"}", false, 0, 0, 0},
        {"{\"state\":\"done\",\"consistent_lsn\":\"10\"}", false, 0, 0, 0},
        {"{\"state\":\"done\",\"consistent_lsn\":\"0/10\",\"attempt\":0}",
         false, 0, 0, 0},
        {"{\"state\":\"done\",\"consistent_lsn\":\"0/10\",\"attempt\":\"2\"}",
         false, 0, 0, 0},
        {"[\"done\"]", false, 0, 0, 0},
        {"{\"state\":\"done\"", false, 0, 0, 0},
        {"", false, 0, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snapshot_mark_t m = {SNAPSHOT_MARK_NONE, 0, 0, 0};
        bool ok = snapshot_mark_parse(cases[i].text, strlen(cases[i].text), &m);

        if (ok != cases[i].ok)
            fail_msg("%s: %s", cases[i].text, ok ? "accepted" : "refused");
        if (!ok)
            continue;
        assert_int_equal(m.state, cases[i].state);
        assert_int_equal(m.consistent_lsn, cases[i].lsn);
        assert_int_equal(m.attempt, cases[i].attempt);
    }
}

static void test_marks_read_back(void **state)
{
    fixture_t *f = fixture_new();
    snapshot_mark_t started = {SNAPSHOT_MARK_STARTED, 0x60000, 1, 0};
    snapshot_mark_t done = {SNAPSHOT_MARK_DONE, 0x60000, 1, 42};
    snapshot_mark_t other = {SNAPSHOT_MARK_STARTED, 0x70000, 2, 0};
    snapshot_mark_t got;
    char err[512] = "";

    (void)state;
    assert_true(snapshot_mark_read(f->topics, MARKS, "sys/db/a", &got, err,
                                   sizeof(err)));
    assert_int_equal(got.state, SNAPSHOT_MARK_NONE);
    assert_true(snapshot_mark_write(f->producer, MARKS, "sys/db/a", &started,
                                    err, sizeof(err)));
    assert_true(snapshot_mark_write(f->producer, MARKS, "sys/db/b", &other, err,
                                    sizeof(err)));
    assert_true(snapshot_mark_write(f->producer, MARKS, "sys/db/a", &done, err,
                                    sizeof(err)));
    assert_true(snapshot_mark_read(f->topics, MARKS, "sys/db/a", &got, err,
                                   sizeof(err)));
    assert_int_equal(got.state, SNAPSHOT_MARK_DONE);
    assert_int_equal(got.consistent_lsn, 0x60000);
    assert_int_equal(got.rows, 42);
    assert_true(snapshot_mark_read(f->topics, MARKS, "sys/db/b", &got, err,
                                   sizeof(err)));
    assert_int_equal(got.state, SNAPSHOT_MARK_STARTED);
    assert_int_equal(got.attempt, 2);
    fixture_free(f);
}

static void test_metrics_render(void **state)
{
    reader_view_t v;
    buf_t out;
    const char *text;

    (void)state;
    memset(&v, 0, sizeof(v));
    v.state = "snapshot";
    v.ready = true;
    v.confirmed_lsn = 0x1000000A0;
    v.server_lsn = 0x200;
    v.acked_lsn = 0x100;
    v.lag_seconds = 2.5;
    v.snapshot_running = true;
    v.snapshot_known = true;
    v.snapshot.tables_total = 3;
    v.snapshot.tables_done = 1;
    v.snapshot.rows = 1234;
    v.registry_schemas = -1;
    v.producer.latency[0] = 2;
    v.producer.latency[3] = 1;
    v.producer.latency_count = 3;
    v.producer.latency_sum = 0.05;
    buf_init(&out, 0);
    reader_http_render_metrics(&v, &out);
    text = buf_cstr(&out);
    assert_non_null(strstr(text, "\ncdc_reader_up 1\n"));
    assert_non_null(strstr(text, "cdc_reader_state{state=\"snapshot\"} 1\n"));
    assert_non_null(strstr(text, "cdc_reader_state{state=\"streaming\"} 0\n"));
    assert_non_null(strstr(text, "\ncdc_reader_confirmed_lsn 4294967456\n"));
    assert_non_null(strstr(text, "\ncdc_reader_lag_bytes 256\n"));
    assert_non_null(strstr(text, "\ncdc_reader_lag_seconds 2.5\n"));
    assert_non_null(strstr(text, "\ncdc_reader_snapshot_tables_done 1\n"));
    assert_non_null(strstr(text, "\ncdc_reader_snapshot_rows_total 1234\n"));
    assert_null(strstr(text, "cdc_registry_schemas"));
    assert_non_null(strstr(
        text, "cdc_reader_ack_latency_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(
        text, "cdc_reader_ack_latency_seconds_bucket{le=\"0.025\"} 2\n"));
    assert_non_null(
        strstr(text, "cdc_reader_ack_latency_seconds_bucket{le=\"0.05\"} 3\n"));
    assert_non_null(
        strstr(text, "cdc_reader_ack_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "\ncdc_reader_ack_latency_seconds_count 3\n"));
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_move_the_acknowledged_lsn),
        cmocka_unit_test(test_bad_input_stops_before_the_commit),
        cmocka_unit_test(test_commit_outside_a_transaction),
        cmocka_unit_test(test_replays_are_skipped),
        cmocka_unit_test(test_snapshot_positions),
        cmocka_unit_test(test_mark_parse),
        cmocka_unit_test(test_marks_read_back),
        cmocka_unit_test(test_metrics_render),
    };

    return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
