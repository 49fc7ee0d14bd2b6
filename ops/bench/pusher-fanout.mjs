#!/usr/bin/env node
// Fan-out benchmark of the pusher: a real PostgreSQL changed at a fixed
// rate by pgbench, the dev broker, cdc-reader and one pusher from the
// optimized build, and wsload (ops/bench/wsload.c) holding the subscribers.
// Prints one table: deliveries per second, commit-to-client latency, pusher
// CPU and memory, deliveries per pusher CPU-second.  Asserts nothing.
//
// Usage: ops/bench/pusher-fanout.mjs [--quick] [--only N]
// BENCH_FLUSH_MS sets the pusher's CDC_FLUSH_INTERVAL_MS; BENCH_READER_ENV
// (JSON) adds settings to the reader's environment.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack, BUILD, waitFor } from '../../tests/e2e/lib/stack.mjs';

const quick = process.argv.includes('--quick');
// --only N runs scenario N (1-based) alone, for profiling.
const only = process.argv.includes('--only')
  ? Number(process.argv[process.argv.indexOf('--only') + 1]) : 0;
const DURATION = quick ? 8 : 20;
const WSLOAD = path.join(BUILD, 'bench', 'wsload');
const SHARED = `subscription { articles_mutated(after: "") { key event data { id title views updated_at } } }`;
const DISTINCT = `subscription { articles_mutated(after: "", filter: { views: { _gte: %d } }) { key event data { id views updated_at } } }`;
// One row each, the "watch this item" pattern: found by value, not tried.
const ONE_ROW = `subscription { articles_mutated(after: "", filter: { id: { _eq: %d } }) { key event data { id views updated_at } } }`;

const scenarios = [
  { name: '1 subscriber', subs: 1, rate: 1000, query: SHARED },
  { name: '100 subscribers', subs: 100, rate: 1000, query: SHARED },
  { name: '1,000 subscribers', subs: 1000, rate: 200, query: SHARED },
  { name: '1,000 subscribers', subs: 1000, rate: 1000, query: SHARED },
  { name: '10,000 subscribers', subs: 10000, rate: 100, query: SHARED },
  { name: '10,000 distinct filters', subs: 10000, rate: 100, query: DISTINCT, vary: true },
  { name: '10,000 distinct _eq filters', subs: 10000, rate: 1000, query: ONE_ROW, vary: true },
];

function procStat(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
  return { cpu: ticks / 100, rss };
}

// Starts wsload; returns its final JSON (done) and its log so far.
function runWsload(url, s, duration) {
  const args = ['--url', `${url}/graphql`, '--connections', String(s.subs),
    '--query', s.query, '--duration', String(duration)];
  if (s.vary) args.push('--vary-filter');
  const child = spawn(WSLOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(err)));
  });
  return { done, log: () => err };
}

function pgbench(pg, rate, seconds) {
  const script = path.join(pg.dir, 'bench.sql');
  fs.writeFileSync(script, [
    '\\set id random(1, 1000)',
    "UPDATE articles SET views = views + 1, updated_at = clock_timestamp() WHERE id = :id;",
    '',
  ].join('\n'));
  return new Promise((resolve) => {
    const child = spawn(path.join(pg.bin, 'pgbench'),
      ['-n', '-c', '4', '-j', '2', '-R', String(rate), '-T', String(seconds), '-f', script, pg.url],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => resolve(out));
  });
}

async function scenario(stack, pusher, s) {
  const before = procStat(pusher.pid);
  const load = runWsload(pusher.url, s, DURATION + 8);
  await waitFor('subscribers live', () => load.log().includes('live after'), 120000, 100);
  const live = procStat(pusher.pid);
  await pgbench(stack.pg, s.rate, DURATION);
  const after = procStat(pusher.pid);
  const result = await load.done;
  const cpu = after.cpu - live.cpu;
  const deliveries = result.events;
  return {
    name: s.name,
    rate: s.rate,
    deliveries_per_s: Math.round(deliveries / DURATION),
    p50: result.latency_ms.p50,
    p99: result.latency_ms.p99,
    max: result.latency_ms.max,
    cpu_pct: Math.round((cpu / DURATION) * 100),
    per_cpu_s: cpu > 0 ? Math.round(deliveries / cpu) : 0,
    rss_mb: (after.rss / 1048576).toFixed(1),
    rss_idle_per_conn: s.subs > 1 ? Math.round((live.rss - before.rss) / s.subs) : null,
    closed: result.closed,
  };
}

async function main() {
  if (!fs.existsSync(WSLOAD)) throw new Error(`build first: ${WSLOAD} is missing`);
  const stack = new Stack('bench-fanout');
  try {
    const pg = await stack.startPostgres();
    pg.psql(`CREATE TABLE articles (id int PRIMARY KEY, title text, status text,
               views int, updated_at timestamptz);
             INSERT INTO articles SELECT g, 'article ' || g, 'draft', 0, now()
               FROM generate_series(1, 1000) g;`);
    await stack.startBroker();
    await stack.startReader(JSON.parse(process.env.BENCH_READER_ENV || '{}'));
    const perms = stack.writeFile('permissions.json',
      JSON.stringify({ public: { collections: { articles: { fields: ['*'] } } } }));
    const rows = [];
    for (const s of only ? [scenarios[only - 1]] : scenarios) {
      // A fresh pusher per scenario: its memory and CPU are this scenario's.
      const pusher = await stack.startPusher({
        CDC_PERMISSIONS: perms, CDC_GRAPHQL_AUTH: 'public', CDC_MAX_CONNECTIONS: '20000',
        CDC_RATE_LIMIT: '0', CDC_MAX_SUBSCRIPTIONS: '10', ...(process.env.BENCH_FLUSH_MS ? { CDC_FLUSH_INTERVAL_MS: process.env.BENCH_FLUSH_MS } : {}),
      });
      const row = await scenario(stack, pusher, s);
      rows.push(row);
      console.error(JSON.stringify(row));
      await pusher.kill('SIGTERM');
      await sleep(500);
    }
    const cpus = execFileSync('nproc').toString().trim();
    console.log(`\nPusher fan-out, ${cpus} cores, ${DURATION} s per scenario (pgbench updates at the given rate)\n`);
    console.log('| scenario | rows/s | deliveries/s | p50 ms | p99 ms | max ms | pusher CPU | deliveries per CPU-s | pusher RSS | RSS per idle conn |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows)
      console.log(`| ${r.name} | ${r.rate} | ${r.deliveries_per_s} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.cpu_pct}% | ${r.per_cpu_s.toLocaleString('en')} | ${r.rss_mb} MB | ${r.rss_idle_per_conn === null ? '-' : `${r.rss_idle_per_conn} B`} |`);
  } finally {
    await stack.stop().catch((e) => console.error(e.message));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
