// The reader as a person on call sees it: heartbeats move the slot while
// only unpublished tables change; the metrics they watch are there and
// move; a second reader waits as a standby and takes over from a killed
// one without losing or doubling a change; SIGTERM flushes Kafka, confirms
// and exits 0; schema ids survive restarts; an external registry is used
// when configured; a record Kafka refuses stops the reader with a message
// saying what to change, and a restart then loses nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor, withStack } from './lib/stack.mjs';
import { checkTopic, expected, schemaSql, startWriters } from './lib/load.mjs';
import { lsnText, metrics, parseLsn, readTopic, tryMetrics, waitCaughtUp } from './lib/topic.mjs';

const ROWS = 2000;

function slotLsn(pg, slot = 'cdc') {
  const text = pg.psql(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '${slot}'`);
  return parseLsn(text);
}

async function readyz(proc) {
  const r = await fetch(`${proc.http}/readyz`);
  return { status: r.status, body: await r.text() };
}

async function subjectId(http, subject) {
  const r = await fetch(`${http}/subjects/${subject}/versions/latest`);
  assert.equal(r.status, 200, `subject ${subject} at ${http}`);
  return (await r.json()).id;
}

test('heartbeats, metrics, standby take-over, SIGTERM and stable schema ids', async () => {
  let writers;
  try {
    await withStack('reader-ops', async (stack) => {
      const pg = await stack.startPostgres();
      pg.psql(`${schemaSql(ROWS)}
        CREATE TABLE other (id serial PRIMARY KEY, body text);`);
      await stack.startBroker();
      const env = {
        CDC_TABLES: 'public.items',
        CDC_HEARTBEAT_INTERVAL_MS: '300',
        CDC_STANDBY_RETRY_MS: '300',
      };
      const a = await stack.startReader(env, { name: 'reader-a' });
      await waitFor('streaming', async () => (await readyz(a)).body.startsWith('streaming'));

      // Metrics a person on call uses are there, the snapshot's among them.
      const m0 = await metrics(a.http);
      for (const name of [
        'cdc_reader_up', 'cdc_reader_lag_bytes', 'cdc_reader_lag_seconds', 'cdc_reader_confirmed_lsn',
        'cdc_reader_acknowledged_lsn', 'cdc_reader_produce_errors_total', 'cdc_reader_transactions_total',
        'cdc_reader_events_total{topic="cdc.public.items"}', 'cdc_reader_bytes_total{topic="cdc.public.items"}',
        'cdc_reader_snapshot_tables_done', 'cdc_reader_snapshot_rows_total',
        'cdc_reader_snapshot_rows_per_second', 'cdc_reader_blocked', 'process_resident_memory_bytes',
        'cdc_reader_ack_latency_seconds_count', 'cdc_reader_ack_latency_seconds_bucket{le="+Inf"}',
      ])
        assert.ok(name in m0, `metric ${name}`);
      assert.equal(m0.cdc_reader_up, 1);
      assert.equal(m0.cdc_reader_snapshot_rows_total, ROWS);
      assert.equal(m0.cdc_reader_snapshot_tables_done, 1);
      assert.equal(m0['cdc_reader_events_total{topic="cdc.public.items"}'], ROWS);

      // Only an unpublished table changes: the slot still moves on.
      const before = slotLsn(pg);
      for (let i = 0; i < 5; i++)
        pg.psql(`INSERT INTO other (body) SELECT repeat('x', 100) FROM generate_series(1, 200);`);
      const written = parseLsn(pg.psql('SELECT pg_current_wal_insert_lsn()'));
      await waitFor(`the slot past ${lsnText(written)}`, () => slotLsn(pg) >= written, 20000, 100);
      assert.ok(slotLsn(pg) > before);
      const m1 = await metrics(a.http);
      assert.ok(m1.cdc_reader_heartbeats_total > m0.cdc_reader_heartbeats_total);
      assert.equal(m1['cdc_reader_events_total{topic="cdc.public.items"}'], ROWS, 'nothing produced for "other"');
      assert.ok(m1.cdc_reader_confirmed_lsn >= Number(written));

      // Changes move the per-table counters and the confirmed position.
      pg.psql(`INSERT INTO items SELECT nextval('ids'), 1, 0, 'm' FROM generate_series(1, 10);`);
      const m2 = await waitFor('ten more events', async () => {
        const m = await metrics(a.http);
        return m['cdc_reader_events_total{topic="cdc.public.items"}'] === ROWS + 10 &&
          m.cdc_reader_confirmed_lsn > m1.cdc_reader_confirmed_lsn ? m : null;
      });
      assert.ok(m2['cdc_reader_bytes_total{topic="cdc.public.items"}'] > m1['cdc_reader_bytes_total{topic="cdc.public.items"}']);
      assert.equal(m2.cdc_reader_transactions_total, m1.cdc_reader_transactions_total + 1);
      assert.equal(m2.cdc_reader_ack_latency_seconds_count, m1.cdc_reader_ack_latency_seconds_count + 1);

      // A second reader on the same slot waits as a standby.
      const b = await stack.startReader({ ...env, CDC_STATUS_INTERVAL_MS: '60000' }, { waitReady: false, name: 'reader-b' });
      await waitFor('a standby', async () => (await readyz(b)).body.startsWith('standby'));
      const rb = await readyz(b);
      assert.equal(rb.status, 503);
      assert.match(rb.body, /^standby: slot is in use by process \d+/);
      assert.equal((await metrics(b.http))['cdc_reader_state{state="standby"}'], 1);

      // Under load, the active reader dies; the standby takes over.
      writers = startWriters(pg, { writers: 2, rows: ROWS, rate: 80 });
      await sleep(1500);
      await a.kill('SIGKILL');
      await waitFor('the standby to take over', async () => (await readyz(b)).status === 200, 30000, 100);
      const keyId = await subjectId(b.http, 'cdc.public.items-key');
      const valueId = await subjectId(b.http, 'cdc.public.items-value');
      await sleep(1500);
      await writers.stop();

      // SIGTERM: Kafka acknowledges, the position is confirmed, exit 0.
      const lastBefore = parseLsn(pg.psql('SELECT pg_current_wal_insert_lsn()'));
      pg.psql(`UPDATE items SET ver = ver + 1 WHERE id = 1;`);
      await waitFor('the last change acknowledged', async () => {
        const m = await tryMetrics(b.http);
        return m && m.cdc_reader_acknowledged_lsn > Number(lastBefore) && m.cdc_reader_in_flight_records === 0;
      }, 30000, 50);
      const exit = await b.kill('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(slotLsn(pg) > lastBefore, 'the stop confirmed the last change');
      assert.match(b.log(), /confirmed [0-9A-F]+\/[0-9A-F]+ before stopping/);

      // Restarted, the reader serves the same schema ids from the topic.
      await stack.restartReader(b);
      assert.equal(await subjectId(b.http, 'cdc.public.items-key'), keyId);
      assert.equal(await subjectId(b.http, 'cdc.public.items-value'), valueId);
      pg.psql('ALTER TABLE items ADD COLUMN note text; UPDATE items SET ver = ver + 1, note = $$n$$ WHERE id = 2;');
      await waitFor('a new schema version', async () =>
        (await (await fetch(`${b.http}/subjects/cdc.public.items-value/versions`)).json()).length === 2);
      const newId = await subjectId(b.http, 'cdc.public.items-value');
      assert.notEqual(newId, valueId);
      await b.kill('SIGTERM');
      await stack.restartReader(b);
      assert.equal(await subjectId(b.http, 'cdc.public.items-value'), newId);
      assert.equal((await (await fetch(`${b.http}/schemas/ids/${valueId}`)).status), 200);

      // Nothing lost or doubled across the take-over and the restarts.
      await waitCaughtUp(pg, b.http);
      const records = await readTopic(stack.brokers, 'cdc.public.items', b.http);
      const { problems, stats } = checkTopic(records, expected(pg), { preexisting: ROWS });
      console.log(JSON.stringify(stats));
      assert.deepEqual(problems.slice(0, 20), []);
    });
  } finally {
    if (writers) await writers.stop();
  }
});

test('an external registry is used, and a record Kafka refuses stops the reader until the setting is fixed', async () => {
  await withStack('reader-refuse', async (stack) => {
    const pg = await stack.startPostgres();
    pg.psql('CREATE TABLE t (id int PRIMARY KEY, body text);');
    await stack.startBroker();
    const registry = await stack.startReader({ CDC_TABLES: 'public.t' }, { name: 'registry' });

    // A reader with its own slot and prefix registers in the other's
    // registry and serves none itself.
    const ext = {
      CDC_SCHEMA_REGISTRY_URL: registry.http,
      CDC_SLOT: 'ext',
      CDC_PUBLICATION: 'ext',
      CDC_TABLES: 'public.t',
      CDC_TOPIC_PREFIX: 'ext',
    };
    const small = await stack.startReader({ ...ext, CDC_KAFKA_MESSAGE_MAX_BYTES: '2000' }, { name: 'reader-ext' });
    const subjects = await (await fetch(`${registry.http}/subjects`)).json();
    assert.ok(subjects.includes('ext.public.t-value') && subjects.includes('ext.public.t-key'), JSON.stringify(subjects));
    assert.equal((await fetch(`${small.http}/subjects`)).status, 404);

    // One transaction whose middle row is larger than Kafka accepts.
    pg.psql(`BEGIN;
      INSERT INTO t VALUES (1, 'small');
      INSERT INTO t VALUES (2, repeat('large', 1000));
      INSERT INTO t VALUES (3, 'small');
      COMMIT;`);
    const exit = await small.exited;
    assert.equal(exit.code, 1);
    assert.match(small.log(), /ERROR: .*a record of \d+ bytes for topic "ext\.public\.t" is larger than Kafka accepts: raise CDC_KAFKA_MESSAGE_MAX_BYTES/);

    // Fixed and restarted: every row once, decoded with the schema ids of
    // the external registry.
    small.env = stack.baseEnv({ ...ext, CDC_READER_HTTP: small.http.replace('http://', '') });
    await stack.restartReader(small);
    pg.psql(`INSERT INTO t VALUES (4, 'after');`);
    await waitCaughtUp(pg, small.http);
    const records = await readTopic(stack.brokers, 'ext.public.t', registry.http);
    assert.deepEqual(records.map((r) => [r.k.id, r.v.op]).sort(), [[1, 'c'], [2, 'c'], [3, 'c'], [4, 'c']]);
    assert.equal(records.find((r) => r.k.id === 2).v.after.body.length, 5000);
  });
});
