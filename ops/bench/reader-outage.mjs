#!/usr/bin/env node
// cdc-reader while Kafka is away: a steady write load (several psql
// writers plus a bulk insert every few seconds) runs while every broker of
// the dev broker is down for --seconds (30 by default), with the
// producer's default queue.  Prints the reader's resident memory each
// second, its peak, when reading paused, and how long it took to catch up
// once the brokers were back.  Asserts nothing.
//
// Usage: CDC_BUILD_DIR=build ops/bench/reader-outage.mjs [--seconds N]
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack, waitFor } from '../../tests/e2e/lib/stack.mjs';
import { schemaSql, startWriters } from '../../tests/e2e/lib/load.mjs';
import { rssBytes, tryMetrics, waitCaughtUp } from '../../tests/e2e/lib/topic.mjs';

const SECONDS = process.argv.includes('--seconds')
  ? Number(process.argv[process.argv.indexOf('--seconds') + 1]) : 30;
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

const stack = new Stack('bench-outage');
let writers;
try {
  const pg = await stack.startPostgres();
  pg.psql(schemaSql(10000, { pad: 200 }));
  await stack.startBroker(['--topic', 'cdc.public.items:64']);
  const reader = await stack.startReader({ CDC_HEARTBEAT_INTERVAL_MS: '500' });
  writers = startWriters(pg, { writers: 4, rows: 10000, rate: 200 });
  await sleep(3000);
  console.log(`before the outage: RSS ${mib(rssBytes(reader.pid))}`);

  process.kill(stack.broker.pid, 'SIGUSR1');
  let peak = 0;
  let pausedAt = null;
  for (let s = 1; s <= SECONDS; s++) {
    if (s % 5 === 0)
      await pg.psqlAsync(`INSERT INTO items SELECT nextval('ids'), 1, 9, repeat('b', 200)
                          FROM generate_series(1, 20000);`);
    await sleep(1000);
    const rss = rssBytes(reader.pid);
    const m = await tryMetrics(reader.http);
    peak = Math.max(peak, rss);
    if (m && m.cdc_reader_blocked === 1 && pausedAt === null) pausedAt = s;
    console.log(`${String(s).padStart(3)} s  RSS ${mib(rss)}  in flight ${m?.cdc_reader_in_flight_records}` +
      `  reading ${m?.cdc_reader_blocked ? 'paused' : 'on'}`);
  }
  process.kill(stack.broker.pid, 'SIGUSR2');
  const back = Date.now();
  await writers.stop();
  await waitCaughtUp(pg, reader.http, 600000);
  console.log(`writes during the run:          ${writers.committed} transactions + bulk inserts`);
  console.log(`reading paused after:           ${pausedAt === null ? 'never' : `${pausedAt} s`}`);
  console.log(`reader RSS peak during outage:  ${mib(peak)}`);
  console.log(`caught up after the brokers:    ${((Date.now() - back) / 1000).toFixed(1)} s`);
} finally {
  if (writers) await writers.stop();
  await stack.stop();
}
