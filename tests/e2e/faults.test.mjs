// Exactly once into Kafka through faults: under a steady write load the
// reader is killed with SIGKILL at random moments (during its initial
// snapshot and inside a large transaction among them), PostgreSQL is
// restarted and the brokers go down for 20 s; afterwards every committed
// row change is in the topic once, in commit order per key, as an
// independent consumer (kcat + avsc) decodes it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor, withStack } from './lib/stack.mjs';
import { checkTopic, expected, schemaSql, startWriters } from './lib/load.mjs';
import { metrics, readTopic, rssBytes, tryMetrics, waitCaughtUp } from './lib/topic.mjs';

const ROWS = 60000;
const TOPIC = 'cdc.public.items';
const READER_ENV = {
  CDC_TABLES: 'public.items',
  CDC_HEARTBEAT_INTERVAL_MS: '500',
  CDC_STANDBY_RETRY_MS: '300',
  CDC_SNAPSHOT_CHUNK_ROWS: '500',
  // A small queue, so that the outage fills it and reading has to pause.
  CDC_KAFKA_QUEUE_BUFFERING_MAX_MESSAGES: '5000',
};

async function killAndRestart(stack, reader, why) {
  await reader.kill('SIGKILL');
  stack.note(`killed the reader ${why}`);
  await stack.restartReader(reader);
}

// Waits for a metric condition, polling fast so short windows are caught.
async function whenMetrics(reader, what, pred, timeoutMs = 30000) {
  return waitFor(what, async () => {
    const m = await tryMetrics(reader.http);
    return m && pred(m) ? m : null;
  }, timeoutMs, 20);
}

test('every committed change reaches Kafka exactly once through kill -9, a PostgreSQL restart and a broker outage', async () => {
  let writers;
  try {
    await withStack('faults', (stack) => run(stack, (w) => (writers = w)));
  } finally {
    if (writers) await writers.stop();
  }
});

async function run(stack, keepWriters) {
  {
    stack.note = (s) => console.log(`${new Date().toISOString()} ${s}`);
    const pg = await stack.startPostgres();
    pg.psql(schemaSql(ROWS));
    // Enough partitions that the dev broker's per-partition retention
    // keeps every record of the run.
    await stack.startBroker(['--topic', `${TOPIC}:16`]);
    const reader = await stack.startReader(READER_ENV);

    // 1. The writers start while the initial snapshot is read, and the
    // reader dies in the middle of it.
    const writers = keepWriters(startWriters(pg, { writers: 3, rows: ROWS }));
    await whenMetrics(reader, 'the snapshot under way',
      (m) => m.cdc_reader_snapshot_running === 1 && m.cdc_reader_snapshot_rows_total > 2000);
    await killAndRestart(stack, reader, 'during the snapshot');
    await whenMetrics(reader, 'streaming', (m) => m['cdc_reader_state{state="streaming"}'] === 1, 60000);

    // 2. Kills at random moments while the writers go on.
    for (let i = 0; i < 7; i++) {
      await sleep(300 + Math.floor(Math.random() * 2500));
      await killAndRestart(stack, reader, `at random (${i + 1})`);
    }

    // 3. A large transaction, and a kill while the reader is inside it.
    const big = pg.psqlAsync(`BEGIN;
      UPDATE items SET ver = ver + 1 WHERE id <= 15000;
      INSERT INTO items SELECT nextval('ids'), 1, 9, 'big' FROM generate_series(1, 25000);
      COMMIT;`);
    await big;
    await whenMetrics(reader, 'the reader inside the large transaction',
      (m) => m.cdc_reader_open_transaction_records > 3000, 60000);
    await killAndRestart(stack, reader, 'inside the large transaction');
    await sleep(1000);
    await killAndRestart(stack, reader, 'after the large transaction');

    // 4. PostgreSQL stops and starts again under the reader.
    pg.stop('fast');
    stack.note('stopped PostgreSQL');
    await sleep(1500);
    await pg.resume();
    stack.note('started PostgreSQL');
    await whenMetrics(reader, 'streaming again', (m) => m['cdc_reader_state{state="streaming"}'] === 1, 60000);

    // 5. Every broker down for 20 s under load: reading pauses once the
    // producer's queue is full and memory stays bounded.
    const before = await metrics(reader.http);
    process.kill(stack.broker.pid, 'SIGUSR1');
    stack.note(`brokers down (writers have committed ${writers.committed} transactions)`);
    // More than Kafka's queue holds arrives while the brokers are away.
    const burst = pg.psqlAsync(`INSERT INTO items
      SELECT nextval('ids'), 1, 8, 'o' FROM generate_series(1, 8000);`);
    let maxRss = 0;
    let sawBlocked = false;
    for (let s = 0; s < 20; s++) {
      await sleep(1000);
      maxRss = Math.max(maxRss, rssBytes(reader.pid));
      const m = await tryMetrics(reader.http);
      if (m && m.cdc_reader_blocked === 1) sawBlocked = true;
    }
    await burst;
    process.kill(stack.broker.pid, 'SIGUSR2');
    stack.note(`brokers up (writers have committed ${writers.committed} transactions)`);
    const after = await whenMetrics(reader, 'reading again', (m) => m.cdc_reader_blocked === 0, 60000);
    assert.ok(reader.running(), 'the reader waits out the outage');
    assert.ok(sawBlocked && after.cdc_reader_queue_full_total > before.cdc_reader_queue_full_total,
      `reading paused while the queue was full (${JSON.stringify({ sawBlocked, before: before.cdc_reader_queue_full_total, after: after.cdc_reader_queue_full_total, sent: after.cdc_reader_records_sent_total - before.cdc_reader_records_sent_total })})`);
    console.log(`reader RSS during the 20 s broker outage: at most ${(maxRss / 1048576).toFixed(1)} MiB`);

    // 6. One more kill after the outage, then let everything settle.
    await sleep(1000);
    await killAndRestart(stack, reader, 'after the outage');
    await sleep(2000);
    await writers.stop();
    stack.note(`writers stopped: ${writers.committed} transactions, ${writers.failed} failed`);
    await waitCaughtUp(pg, reader.http, 90000);

    const records = await readTopic(stack.brokers, TOPIC, reader.http);
    const { problems, stats } = checkTopic(records, expected(pg), { preexisting: ROWS });
    console.log(JSON.stringify(stats));
    assert.ok(writers.committed > 500, `the load ran (${writers.committed} transactions)`);
    assert.ok(stats.snapshotRows >= ROWS, 'every pre-existing row was in the snapshot');
    assert.deepEqual(problems.slice(0, 20), []);
  }
}
