#!/usr/bin/env node
// Replay benchmark of the pusher: a client takes a cursor, goes away while
// 200,000 rows are written, then resumes through a filter that matches half
// of them.  Prints the replay rate (events per second delivered to that one
// client), the time from reconnecting to the first event and to the last
// missed one, and the pusher's CPU time for it.  Asserts nothing.
//
// Usage: ops/bench/replay.mjs [--rows N]
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Stack, BUILD, waitFor } from '../../tests/e2e/lib/stack.mjs';

// The npm clients live with the tests (npm ci in tests/).
const require = createRequire(new URL('../../tests/package.json', import.meta.url));
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const ROWS = process.argv.includes('--rows')
  ? Number(process.argv[process.argv.indexOf('--rows') + 1]) : 200000;
const WSLOAD = path.join(BUILD, 'bench', 'wsload');
// The dev broker keeps about 5 MiB per partition: 16 partitions hold the
// whole backlog.
const TOPIC = 'cdc.public.items:16';

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function startingCursor(url) {
  const client = createClient({ url: `${url}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
  const cursor = await new Promise((resolve, reject) => {
    client.subscribe(
      { query: 'subscription { items_mutated(after: "") { event cursor } }' },
      { next: (v) => resolve(v.data.items_mutated.cursor), error: reject, complete: () => {} },
    );
  });
  await client.dispose();
  return cursor;
}

function wsload(url, query, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(WSLOAD, ['--url', `${url}/graphql`, '--connections', '1',
      '--query', query, '--duration', String(seconds), '--latency-field', 'none'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}

async function main() {
  const stack = new Stack('bench-replay');
  try {
    const pg = await stack.startPostgres();
    pg.psql(`CREATE TABLE items (id int PRIMARY KEY, grp int, payload text);`);
    await stack.startBroker(['--topic', TOPIC]);
    await stack.startReader();
    const perms = stack.writeFile('permissions.json',
      JSON.stringify({ public: { collections: { items: { fields: ['*'] } } } }));
    const pusher = await stack.startPusher({ CDC_PERMISSIONS: perms, CDC_GRAPHQL_AUTH: 'public', ...JSON.parse(process.env.BENCH_PUSHER_ENV || '{}') });

    const cursor = await startingCursor(pusher.url);
    // The backlog: transactions of 1,000 rows, half of them in group 0.
    for (let done = 0; done < ROWS; done += 1000)
      pg.psql(`INSERT INTO items SELECT g, g % 2, repeat('x', 40)
                 FROM generate_series(${done + 1}, ${done + 1000}) g;`);
    const metric = async () => {
      const text = await (await fetch(`${stack.reader.http}/metrics`)).text();
      const m = /cdc_reader_events_total\{topic="cdc.public.items"\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    };
    await waitFor('the reader to write the backlog', async () => (await metric()) >= ROWS, 300000, 200);

    const query = `subscription { items_mutated(after: "${cursor}", filter: { grp: { _eq: 0 } }) { key event cursor data { id grp } } }`;
    // CPU is sampled while the client runs, so the figure covers the
    // replay itself and not the idle seconds after it.
    const started = performance.now();
    const samples = [[0, cpuSeconds(pusher.pid)]];
    const sampler = setInterval(() =>
      samples.push([performance.now() - started, cpuSeconds(pusher.pid)]), 50);
    const r = await wsload(pusher.url, query, 20);
    clearInterval(sampler);
    const end = samples.find(([at]) => at >= r.last_event_ms + 50) || samples[samples.length - 1];
    const cpu = end[1] - samples[0][1];
    const replayed = r.events;
    const seconds = (r.last_event_ms - r.first_event_ms) / 1000;
    console.log(`\nReplay through a filter matching half, ${ROWS.toLocaleString('en')} rows behind:\n`);
    console.log('| events replayed | replay rate (events/s) | reconnect to first event | reconnect to last missed event | pusher CPU | events per pusher CPU-second |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    console.log(`| ${replayed.toLocaleString('en')} | ${Math.round(replayed / seconds).toLocaleString('en')} | ${r.first_event_ms.toFixed(0)} ms | ${r.last_event_ms.toFixed(0)} ms | ${cpu.toFixed(2)} s | ${Math.round(replayed / cpu).toLocaleString('en')} |`);
  } finally {
    await stack.stop().catch((e) => console.error(e.message));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
