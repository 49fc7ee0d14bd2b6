#!/usr/bin/env node
// Capture benchmark of cdc-reader against pg_recvlogical on the same WAL.
// Two slots are created at the same point; rows are written while neither
// reads; then pg_recvlogical drains its slot (writing to /dev/null), then
// cdc-reader drains its own into Kafka (the dev broker).  Done for 1-row and
// for 100-row transactions.  Also runs a steady 1,000 rows/s load and reads
// the reader's commit-to-acknowledgement histogram.  Prints a table;
// asserts nothing.
//
// Usage: ops/bench/reader-throughput.mjs [--rows N]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Stack, waitFor } from '../../tests/e2e/lib/stack.mjs';

const ROWS = process.argv.includes('--rows')
  ? Number(process.argv[process.argv.indexOf('--rows') + 1]) : 200000;

function lsnToNumber(lsn) {
  const [hi, lo] = lsn.trim().split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
}

function procStat(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    cpu: (Number(f[11]) + Number(f[12])) / 100,
    hwm: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) * 1024,
  };
}

async function metrics(reader) {
  return (await fetch(`${reader.http}/metrics`)).text();
}

function metric(text, name) {
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

// Quantile from a Prometheus histogram (upper bound of the bucket).
function quantile(text, name, q) {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))]
    .map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  for (const [le, count] of buckets) if (count >= q * total) return le;
  return NaN;
}

async function drainWithRecvlogical(pg, endLsn) {
  const start = process.hrtime.bigint();
  execFileSync(path.join(pg.bin, 'pg_recvlogical'), [
    '-d', pg.url, '--slot', 'recv', '--start', '-o', 'proto_version=1',
    '-o', 'publication_names=cdc', `--endpos=${endLsn}`, '-f', '/dev/null',
  ]);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// Timed from the moment the reader streams (its start-up is not capture).
async function drainWithReader(stack, reader, endLsn) {
  const end = lsnToNumber(endLsn);
  await stack.restartReader(reader);
  const start = process.hrtime.bigint();
  const before = procStat(reader.pid);
  await waitFor('the reader to confirm the end', async () =>
    metric(await metrics(reader), 'cdc_reader_confirmed_lsn') >= end, 600000, 20);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = procStat(reader.pid);
  await reader.kill('SIGTERM');
  return { seconds, cpu: after.cpu - before.cpu, hwm: after.hwm };
}

async function round(stack, reader, label, writeSql) {
  const pg = stack.pg;
  pg.psql(`SELECT pg_drop_replication_slot('recv') FROM pg_replication_slots WHERE slot_name = 'recv';
           SELECT pg_create_logical_replication_slot('recv', 'pgoutput');`);
  // Both slots are now before the writes.
  await writeSql();
  const endLsn = pg.psql('SELECT pg_current_wal_insert_lsn()').trim();
  const recvSeconds = await drainWithRecvlogical(pg, endLsn);
  const r = await drainWithReader(stack, reader, endLsn);
  return {
    label,
    recvRate: Math.round(ROWS / recvSeconds),
    readerRate: Math.round(ROWS / r.seconds),
    ratio: (recvSeconds / r.seconds).toFixed(2),
    cpu: r.cpu.toFixed(1),
    hwm: (r.hwm / 1048576).toFixed(1),
  };
}

async function main() {
  const stack = new Stack('bench-reader');
  try {
    const pg = await stack.startPostgres();
    pg.psql(`CREATE TABLE t (id bigserial PRIMARY KEY, payload text, n int,
               at timestamptz DEFAULT clock_timestamp());`);
    await stack.startBroker();
    const reader = await stack.startReader({ CDC_SNAPSHOT: 'never' });
    await reader.kill('SIGTERM');

    const script = path.join(stack.dir, 'one-row.sql');
    fs.writeFileSync(script, "INSERT INTO t (payload, n) VALUES ('some payload of a row', 1);\n");
    const rows = [];
    rows.push(await round(stack, reader, '1-row transactions', async () => {
      execFileSync(path.join(pg.bin, 'pgbench'),
        ['-n', '-c', '4', '-j', '2', '-t', String(ROWS / 4), '-f', script, pg.url], { stdio: 'ignore' });
    }));
    rows.push(await round(stack, reader, '100-row transactions', async () => {
      for (let i = 0; i < ROWS / 100; i += 100) {
        let sql = '';
        for (let k = 0; k < 100 && i + k < ROWS / 100; k++)
          sql += "INSERT INTO t (payload, n) SELECT 'some payload of a row', g FROM generate_series(1, 100) g;\n";
        await pg.psqlAsync(sql);
      }
    }));

    // Latency at a steady 1,000 rows/s, from the reader's own histogram.
    await stack.restartReader(reader);
    const before = procStat(reader.pid);
    execFileSync(path.join(pg.bin, 'pgbench'),
      ['-n', '-c', '2', '-j', '2', '-R', '1000', '-T', '20', '-f', script, pg.url], { stdio: 'ignore' });
    await sleep(1000);
    const text = await metrics(reader);
    const after = procStat(reader.pid);
    const name = 'cdc_reader_ack_latency_seconds';
    const p50 = quantile(text, name, 0.5) * 1000;
    const p99 = quantile(text, name, 0.99) * 1000;

    console.log(`\ncdc-reader capture, ${ROWS.toLocaleString('en')} rows per round, ${execFileSync('nproc').toString().trim()} cores\n`);
    console.log('| workload | pg_recvlogical rows/s | cdc-reader rows/s | ratio | reader CPU s | reader peak RSS |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows)
      console.log(`| ${r.label} | ${r.recvRate.toLocaleString('en')} | ${r.readerRate.toLocaleString('en')} | ${r.ratio} | ${r.cpu} | ${r.hwm} MB |`);
    console.log(`\nAt 1,000 rows/s for 20 s: commit to Kafka acknowledgement p50 <= ${p50} ms, p99 <= ${p99} ms (histogram bucket bounds); reader CPU ${((after.cpu - before.cpu) / 20 * 100).toFixed(0)}%`);
  } finally {
    await stack.stop().catch((e) => console.error(e.message));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
