// The initial snapshot and large transactions: every published table is
// read under the snapshot the new slot exported while writers keep
// changing rows, and the topic then holds each row's snapshot state
// followed by exactly the changes committed after it; progress shows in
// /metrics while it runs.  A 200,000-row transaction flows through with
// bounded reader memory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor, withStack } from './lib/stack.mjs';
import { checkTopic, expected, schemaSql, startWriters } from './lib/load.mjs';
import { fetchRecords, metrics, readTopic, tryMetrics, waitCaughtUp } from './lib/topic.mjs';

const ROWS = 80000;

test('the snapshot meets the stream exactly: no row missed or doubled while writers run', async () => {
  let writers;
  try {
    await withStack('snapshot', async (stack) => {
      const pg = await stack.startPostgres();
      pg.psql(`${schemaSql(ROWS)}
        CREATE TABLE notes (body text, n int);
        INSERT INTO notes SELECT 'note ' || g, g FROM generate_series(1, 500) g;`);
      await stack.startBroker(['--topic', 'cdc.public.items:16']);

      // Writers run from before the slot exists until after the snapshot
      // (deleting only once it exists).
      writers = startWriters(pg, { writers: 3, rows: ROWS, rate: 80, deletes: false });
      await sleep(500);
      const reader = await stack.startReader({
        CDC_HEARTBEAT_INTERVAL_MS: '500',
        CDC_SNAPSHOT_CHUNK_ROWS: '500',
      });
      writers.deletes = true;

      // Progress moves while the snapshot runs.
      const samples = [];
      await waitFor('the end of the snapshot', async () => {
        const m = await tryMetrics(reader.http);
        if (m) samples.push({ m, committed: writers.committed });
        return m && m['cdc_reader_state{state="streaming"}'] === 1;
      }, 120000, 50);
      const during = samples.filter((s) => s.m.cdc_reader_snapshot_running === 1);
      assert.ok(during.length >= 2, 'the snapshot was seen running');
      const first = during[0];
      const last = during[during.length - 1];
      assert.ok(last.m.cdc_reader_snapshot_rows_total > first.m.cdc_reader_snapshot_rows_total,
        'snapshot rows move');
      assert.ok(last.committed > first.committed, 'writers committed while the snapshot ran');
      const done = samples[samples.length - 1].m;
      assert.equal(done.cdc_reader_snapshot_tables, 3);
      assert.equal(done.cdc_reader_snapshot_tables_done, 3);
      assert.ok(done.cdc_reader_snapshot_rows_per_second > 0);

      await sleep(1500);
      await writers.stop();
      await waitCaughtUp(pg, reader.http);

      const records = await readTopic(stack.brokers, 'cdc.public.items', reader.http);
      const { problems, stats } = checkTopic(records, expected(pg), { preexisting: ROWS });
      console.log(JSON.stringify({ ...stats, writes: writers.committed }));
      assert.deepEqual(problems.slice(0, 20), []);
      assert.ok(records.every((r) => r.v?.op !== 'r' || (r.v.source.snapshot === true && r.position.seq < 2n ** 40n)),
        'snapshot rows are marked as such, all from the snapshot the slot exported');

      // A table without a key: null keys, one partition, every row once.
      const notes = await readTopic(stack.brokers, 'cdc.public.notes', reader.http);
      assert.equal(notes.length, 500);
      assert.ok(notes.every((r) => r.key === null && r.partition === 0 && r.v.op === 'r'));
      assert.equal(new Set(notes.map((r) => r.v.after.n)).size, 500);
      const gone = await readTopic(stack.brokers, 'cdc.public.gone', reader.http);
      const snapshotRows = [records, notes, gone].flat().filter((r) => r.v?.op === 'r').length;
      assert.equal(done.cdc_reader_snapshot_rows_total, snapshotRows, 'the metric counts the rows');
      assert.match(reader.log(), new RegExp(`snapshot read 3 tables, ${snapshotRows} rows`));
    });
  } finally {
    if (writers) await writers.stop();
  }
});

test('a 200,000-row transaction flows with bounded reader memory', async () => {
  await withStack('large-txn', async (stack) => {
    const pg = await stack.startPostgres();
    pg.psql('CREATE TABLE big (id int PRIMARY KEY, v text);');
    await stack.startBroker(['--topic', 'cdc.public.big:16']);
    // Freed memory waits in AddressSanitizer's quarantine (256 MiB by
    // default): keep it small so the figure is the reader's own.
    const asan = process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1';
    const reader = await stack.startReader({
      CDC_HEARTBEAT_INTERVAL_MS: '500',
      ASAN_OPTIONS: `${asan}:quarantine_size_mb=16`,
    });
    const idleRss = (await metrics(reader.http)).process_resident_memory_bytes;

    await pg.psqlAsync(`INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;`);
    let peak = 0;
    await waitFor('the transaction in Kafka', async () => {
      const m = await tryMetrics(reader.http);
      if (!m) return false;
      peak = Math.max(peak, m.process_resident_memory_bytes);
      return m.cdc_reader_transactions_total >= 1 && m.cdc_reader_in_flight_records === 0 &&
        m['cdc_reader_events_total{topic="cdc.public.big"}'] === 200000;
    }, 240000, 100);
    await waitCaughtUp(pg, reader.http);
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${reader.pid}/status`, 'utf8'))[1]) * 1024;
    console.log(`reader RSS: ${(idleRss / 1048576).toFixed(1)} MiB idle, ` +
      `peak ${(hwm / 1048576).toFixed(1)} MiB through a 200,000-row transaction`);

    const records = await fetchRecords(stack.brokers, 'cdc.public.big');
    assert.equal(records.length, 200000);
    const seqs = new Set(records.map((r) => r.position.seq));
    assert.equal(seqs.size, 200000, 'each change once');
    assert.equal(new Set(records.map((r) => r.position.lsn)).size, 1, 'one transaction');
    // Kafka's queue, not the transaction, bounds the memory: far less
    // than the transaction's 200,000 records would take if held.
    assert.ok(hwm - idleRss < 256 * 1048576, `peak ${hwm} bytes`);
  });
});
