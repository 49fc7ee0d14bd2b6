#!/usr/bin/env node
// Large transactions through cdc-reader: one INSERT of N rows (2,000,000 by
// default) in a single transaction, and the reader's memory while it
// flows to Kafka (the dev broker).  Prints the reader's resident memory
// idle and at its peak (VmHWM), the time from the commit until Kafka
// acknowledged the last record, and the rate.  Asserts nothing.
//
// Usage: CDC_BUILD_DIR=build ops/bench/reader-large-txn.mjs [--rows N]
import fs from 'node:fs';
import { Stack, waitFor } from '../../tests/e2e/lib/stack.mjs';
import { metrics, tryMetrics, waitCaughtUp } from '../../tests/e2e/lib/topic.mjs';

const ROWS = process.argv.includes('--rows')
  ? Number(process.argv[process.argv.indexOf('--rows') + 1]) : 2000000;

function status(pid, field) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)[1]) * 1024;
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

const stack = new Stack('bench-large-txn');
try {
  const pg = await stack.startPostgres();
  pg.psql('CREATE TABLE big (id int PRIMARY KEY, v text, n bigint);');
  // The dev broker keeps about 5 MiB per partition: enough partitions to
  // hold the whole transaction.
  await stack.startBroker(['--topic', 'cdc.public.big:128']);
  const reader = await stack.startReader({ CDC_HEARTBEAT_INTERVAL_MS: '500' });
  const idle = status(reader.pid, 'VmRSS');

  const t0 = Date.now();
  await pg.psqlAsync(`INSERT INTO big SELECT g, md5(g::text), g * 7 FROM generate_series(1, ${ROWS}) g;`);
  const committed = Date.now();
  let peakQueue = 0;
  await waitFor('every record acknowledged', async () => {
    const m = await tryMetrics(reader.http);
    if (!m) return false;
    peakQueue = Math.max(peakQueue, m.cdc_reader_in_flight_records);
    return m['cdc_reader_events_total{topic="cdc.public.big"}'] === ROWS &&
      m.cdc_reader_in_flight_records === 0 && m.cdc_reader_transactions_total >= 1;
  }, 3600000, 200);
  const done = Date.now();
  await waitCaughtUp(pg, reader.http);
  const m = await metrics(reader.http);
  const peak = status(reader.pid, 'VmHWM');
  const secs = (done - committed) / 1000;
  console.log(`rows in one transaction:        ${ROWS}`);
  console.log(`insert and commit:              ${((committed - t0) / 1000).toFixed(1)} s`);
  console.log(`commit to last acknowledgement: ${secs.toFixed(1)} s (${Math.round(ROWS / secs)} records/s)`);
  console.log(`reader RSS idle:                ${mib(idle)}`);
  console.log(`reader RSS peak (VmHWM):        ${mib(peak)}`);
  console.log(`records in flight at most:      ${peakQueue}`);
  console.log(`times reading paused (queue):   ${m.cdc_reader_queue_full_total}`);
} finally {
  await stack.stop();
}
