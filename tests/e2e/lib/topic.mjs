// Reading a table topic as an independent consumer would: kcat fetches the
// raw records with their cdc.position header, avsc decodes the Confluent
// framed values with the schemas the registry serves; plus the reader's
// metrics and the helpers the fault suites share.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import avro from 'avsc';
import { readMetrics } from './clients.mjs';
import { waitFor } from './stack.mjs';

function run(cmd, args, timeout = 60000) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 1 << 30, timeout }, (err, out, errOut) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${errOut}`));
      else resolve(out);
    });
  });
}

// Every record of a topic, as { partition, offset, key, value, position }
// with raw key and value Buffers (null for a null key or a tombstone).
export async function fetchRecords(brokers, topic) {
  const out = await run('kcat', [
    '-C', '-q', '-e', '-b', brokers, '-t', topic, '-o', 'beginning',
    '-f', '%p %o %K %S %h\n%k%s',
  ]);
  const records = [];
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(10, at);
    const [p, o, k, s, headers = ''] = out.subarray(at, nl).toString().split(' ');
    at = nl + 1;
    const klen = Number(k);
    const slen = Number(s);
    const key = klen >= 0 ? out.subarray(at, at + klen) : null;
    at += Math.max(klen, 0);
    const value = slen >= 0 ? out.subarray(at, at + slen) : null;
    at += Math.max(slen, 0);
    const m = /cdc\.position=([0-9A-F]+)\/([0-9A-F]+):(\d+)/.exec(headers);
    records.push({
      partition: Number(p),
      offset: Number(o),
      key,
      value,
      position: m ? { lsn: (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`), seq: BigInt(m[3]) } : null,
    });
  }
  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return records;
}

// Decodes Confluent-framed Avro with schemas fetched from the registry.
export function decoder(registryUrl) {
  const types = new Map();
  return async (buf) => {
    if (!buf) return null;
    if (buf[0] !== 0) throw new Error(`bad magic byte ${buf[0]}`);
    const id = buf.readUInt32BE(1);
    if (!types.has(id)) {
      const r = await fetch(`${registryUrl}/schemas/ids/${id}`);
      if (!r.ok) throw new Error(`schema ${id}: HTTP ${r.status}`);
      types.set(id, avro.Type.forSchema(JSON.parse((await r.json()).schema), { wrapUnions: false }));
    }
    return types.get(id).fromBuffer(buf.subarray(5));
  };
}

// Records of a topic with decoded keys and values, in partition order.
export async function readTopic(brokers, topic, registryUrl) {
  const decode = decoder(registryUrl);
  const records = await fetchRecords(brokers, topic);
  for (const r of records) {
    r.k = await decode(r.key);
    r.v = await decode(r.value);
  }
  return records;
}

// The reader's /metrics as { 'name{labels}': value }.
export const metrics = readMetrics;

// Metrics, or null while the process does not answer.
export async function tryMetrics(httpUrl) {
  try {
    return await metrics(httpUrl);
  } catch {
    return null;
  }
}

export function lsnText(lsn) {
  const v = BigInt(lsn);
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text) {
  const [hi, lo] = text.trim().split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

// Waits until Kafka has acknowledged everything PostgreSQL had written when
// this was called (heartbeats carry the reader past unpublished WAL).
export async function waitCaughtUp(pg, httpUrl, timeoutMs = 60000) {
  const target = parseLsn(pg.psql('SELECT pg_current_wal_insert_lsn()'));
  await waitFor(`the reader to acknowledge ${lsnText(target)}`, async () => {
    const m = await tryMetrics(httpUrl);
    return m && BigInt(Math.round(m.cdc_reader_acknowledged_lsn)) >= target;
  }, timeoutMs, 200);
  return target;
}

// Resident memory of a process in bytes, from /proc.
export function rssBytes(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  } catch {
    return 0;
  }
}
