// What an analytics consumer sees of the reader's topics, and what
// PostgreSQL itself prints, so tests can compare the two.
//
// The consumer is independent of our C code: kafkajs reads the records and
// @kafkajs/confluent-schema-registry decodes them through the reader's
// registry API (longs as BigInt, so no 64-bit value is rounded). pgText()
// turns a decoded Avro value back into PostgreSQL's text form, from the Avro
// schema alone.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import avsc from 'avsc';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { waitFor } from './stack.mjs';

const ROOT = path.resolve(new URL('.', import.meta.url).pathname, '../../..');

// The session settings of the reader's connections, read from the one place
// that defines them, so PostgreSQL prints our reference values the same way.
export function readerSessionOptions() {
  const src = fs.readFileSync(path.join(ROOT, 'cdc-reader/pgtype.c'), 'utf8');
  const m = src.match(/pgtype_session_options\[\]\s*=\s*((?:\s*"[^"]*")+)\s*;/);
  if (!m) throw new Error('pgtype_session_options not found in cdc-reader/pgtype.c');
  return [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]).join('');
}

// psql with the reader's session settings; returns its output.
export function psqlReader(pg, sql) {
  return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', pg.url], {
    input: sql,
    encoding: 'utf8',
    env: { ...process.env, PGOPTIONS: readerSessionOptions() },
    maxBuffer: 64 << 20,
  });
}

// PostgreSQL's own text of each column of each row, as its output function
// prints it (what pgoutput sends): rows keyed by the text of `key`, NULL as
// null. format('%s') calls the output function; the cast col::text gives the
// same text except for char(n), whose padding the cast strips, and inet and
// cidr, whose cast always shows the netmask.
export function pgOutputText(pg, table, columns, key = 'id') {
  const ident = (c) => `"${c.replace(/"/g, '""')}"`;
  const pairs = columns.map(
    (c) => `'${c.replace(/'/g, "''")}', CASE WHEN ${ident(c)} IS NULL THEN NULL ELSE format('%s', ${ident(c)}) END`,
  );
  // json_build_object takes at most 100 arguments: one object per group of
  // columns, merged here.
  const objects = [];
  for (let i = 0; i < pairs.length; i += 40)
    objects.push(`json_build_object(${pairs.slice(i, i + 40).join(', ')})`);
  const sql = `SELECT json_agg(json_build_array(format('%s', ${ident(key)}), ${objects.join(', ')}))
               FROM ${table};`;
  const rows = JSON.parse(psqlReader(pg, sql).trim() || 'null') || [];
  const out = new Map();
  for (const [k, ...objs] of rows) out.set(k, Object.assign({}, ...objs));
  return out;
}

// Avro long as BigInt: a consumer that wants every int8 value exactly.
const BigLong = avsc.types.LongType.__with({
  fromBuffer: (b) => b.readBigInt64LE(),
  toBuffer: (n) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return b;
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a === b ? 0 : a < b ? -1 : 1),
});

// Every long, with or without a logical type, decodes to a BigInt.
function longHook(schema) {
  if (schema === 'long' || (schema && schema.type === 'long')) return BigLong;
  return undefined;
}

export function registryClient(url) {
  return new SchemaRegistry({ host: url }, { [SchemaType.AVRO]: { typeHook: longHook } });
}

// The schema JSON registered under id, through the registry's REST API.
const schemaCache = new Map();
export async function schemaById(url, id) {
  const k = `${url}#${id}`;
  if (!schemaCache.has(k)) {
    const r = await fetch(`${url}/schemas/ids/${id}`);
    if (!r.ok) throw new Error(`schema ${id}: HTTP ${r.status}`);
    schemaCache.set(k, JSON.parse((await r.json()).schema));
  }
  return schemaCache.get(k);
}

// The latest schema JSON of a subject, with its id and version.
export async function latestSchema(url, subject) {
  const r = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions/latest`);
  if (!r.ok) throw new Error(`subject ${subject}: HTTP ${r.status}`);
  const body = await r.json();
  return { id: body.id, version: body.version, schema: JSON.parse(body.schema) };
}

// A consumer group of its own reading the topics from the beginning; each
// record is decoded through the registry as it arrives. Records carry:
// topic, partition, offset, key and value (decoded, or null for a null key
// or a tombstone), keyBytes (as on the wire), keyId and valueId (schema
// ids), position (the cdc.position header).
export async function startConsumer(brokers, registryUrl, topics) {
  const registry = registryClient(registryUrl);
  const kafka = new Kafka({
    clientId: 'capture-test',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `capture-${process.pid}-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 20,
  });
  const records = [];
  let failure = null;
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      try {
        records.push({
          topic,
          partition,
          offset: Number(message.offset),
          keyBytes: message.key,
          keyId: message.key ? message.key.readUInt32BE(1) : null,
          valueId: message.value ? message.value.readUInt32BE(1) : null,
          key: message.key ? await registry.decode(message.key) : null,
          value: message.value ? await registry.decode(message.value) : null,
          position: message.headers?.['cdc.position']?.toString() ?? null,
        });
      } catch (e) {
        failure = failure ?? e;
      }
    },
  });
  const c = {
    records,
    joined: () => waitFor('the consumer group join', () => joined, 30000),
    // Waits until done(records) holds; a record that does not decode fails.
    async until(done, timeoutMs = 30000) {
      await waitFor(
        `records of ${topics.join(', ')} (have ${records.length})`,
        () => failure || done(records),
        timeoutMs,
      );
      if (failure) throw failure;
      return records;
    },
    stop: () => consumer.disconnect(),
  };
  return c;
}

// Reads every record of the topics until done(records) holds.
export async function readTopics(brokers, registryUrl, topics, done, timeoutMs = 30000) {
  const c = await startConsumer(brokers, registryUrl, topics);
  try {
    return await c.until(done, timeoutMs);
  } finally {
    await c.stop();
  }
}

// The partition Kafka's default partitioner (murmur2, as Java's and
// librdkafka's murmur2 partitioner) picks for key bytes.
export function partitionFor(topic, keyBytes, partitions) {
  const pick = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
  }));
  return pick({ topic, partitionMetadata, message: { key: keyBytes } });
}

// PostgreSQL's text from Avro values.

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const DAY_US = 86400000000n;

function pad(n, width) {
  return String(n).padStart(width, '0');
}

// Days since 1970-01-01 to astronomical [year, month, day]; days beyond the
// range of JavaScript's Date are brought into it by whole 400-year cycles.
function civil(days) {
  const cycle = 146097;
  const k = Math.floor(days / cycle);
  const d = new Date((days - k * cycle) * 86400000);
  return [d.getUTCFullYear() + 400 * k, d.getUTCMonth() + 1, d.getUTCDate()];
}

function dateText(days) {
  if (days === INT32_MAX) return 'infinity';
  if (days === INT32_MIN) return '-infinity';
  const [y, m, d] = civil(days);
  const bc = y <= 0;
  return { ymd: `${pad(bc ? 1 - y : y, 4)}-${pad(m, 2)}-${pad(d, 2)}`, bc };
}

function timeText(us) {
  const u = BigInt(us);
  const secs = u / 1000000n;
  const frac = u % 1000000n;
  let s = `${pad(secs / 3600n, 2)}:${pad((secs / 60n) % 60n, 2)}:${pad(secs % 60n, 2)}`;
  if (frac) s += `.${pad(frac, 6).replace(/0+$/, '')}`;
  return s;
}

function timestampText(us, zone) {
  if (us === INT64_MAX) return 'infinity';
  if (us === INT64_MIN) return '-infinity';
  let days = us / DAY_US;
  let rem = us % DAY_US;
  if (rem < 0n) {
    rem += DAY_US;
    days -= 1n;
  }
  const { ymd, bc } = dateText(Number(days));
  return `${ymd} ${timeText(rem)}${zone ? '+00' : ''}${bc ? ' BC' : ''}`;
}

// Shortest digits that read back as the same float (float4: through
// Math.fround), in PostgreSQL's layout: plain notation for decimal
// exponents from -4 below the precision limit, else d.ddde+XX.
function floatText(v, single) {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  let exp;
  if (single) {
    for (let p = 1; p <= 9; p++) {
      exp = v.toExponential(p - 1);
      if (Math.fround(Number(exp)) === v) break;
    }
  } else {
    exp = v.toExponential();
  }
  const [mant, e] = exp.split('e');
  const e10 = Number(e);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  if (e10 >= -4 && e10 < (single ? 6 : 15)) {
    let s;
    if (e10 < 0) s = `0.${'0'.repeat(-e10 - 1)}${digits}`;
    else if (digits.length <= e10 + 1) s = digits + '0'.repeat(e10 + 1 - digits.length);
    else s = `${digits.slice(0, e10 + 1)}.${digits.slice(e10 + 1)}`;
    return (neg ? '-' : '') + s;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const es = `${e10 < 0 ? '-' : '+'}${pad(Math.abs(e10), 2)}`;
  return `${neg ? '-' : ''}${m}e${es}`;
}

// Avro decimal: two's-complement big-endian unscaled integer.
function decimalText(buf, scale) {
  let n = 0n;
  for (const b of buf) n = (n << 8n) | BigInt(b);
  if (buf.length && buf[0] & 0x80) n -= 1n << BigInt(8 * buf.length);
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return (neg ? '-' : '') + digits;
}

// How array_out quotes an element.
function arrayElement(text) {
  if (text === null) return 'NULL';
  if (text === '' || /^null$/i.test(text) || /[{}",\\ \t\n\r\v\f]/.test(text))
    return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return text;
}

function nonNull(type) {
  if (!Array.isArray(type)) return { shape: type, alt: null };
  const rest = type.filter((t) => t !== 'null');
  return { shape: rest[0], alt: rest[1] ?? null };
}

// One decoded value of an Avro field type (a union with null, as in our
// row records, or a bare shape, as in keys) as PostgreSQL's text.
export function pgText(fieldType, value) {
  if (value === null || value === undefined) return null;
  const { shape, alt } = nonNull(fieldType);
  const base = typeof shape === 'string' ? shape : shape.type;
  const logical = typeof shape === 'object' ? shape.logicalType : undefined;
  if (alt === 'string' && typeof value === 'string') return value;
  switch (base) {
    case 'boolean':
      return value ? 't' : 'f';
    case 'int':
      if (logical === 'date') {
        const d = dateText(value);
        return typeof d === 'string' ? d : d.ymd + (d.bc ? ' BC' : '');
      }
      return String(value);
    case 'long':
      if (logical === 'time-micros') return timeText(value);
      if (logical === 'local-timestamp-micros') return timestampText(value, false);
      if (logical === 'timestamp-micros') return timestampText(value, true);
      return String(value);
    case 'float':
      return floatText(value, true);
    case 'double':
      return floatText(value, false);
    case 'string':
      return value;
    case 'bytes':
      if (logical === 'decimal') return decimalText(value, shape.scale ?? 0);
      return `\\x${value.toString('hex')}`;
    case 'array':
      return `{${value.map((e) => arrayElement(pgText(shape.items, e))).join(',')}}`;
    default:
      throw new Error(`no PostgreSQL text for Avro type ${JSON.stringify(shape)}`);
  }
}

// The row record's fields of an envelope schema, by column name.
export function rowFields(envelope) {
  const before = envelope.fields.find((f) => f.name === 'before');
  const row = before.type.find((t) => t !== 'null');
  return row.fields;
}

// A decoded row as PostgreSQL's text, keyed by column name.
export function rowText(envelope, row) {
  if (!row) return null;
  const out = {};
  for (const f of rowFields(envelope)) out[f['cdc.column'] ?? f.name] = pgText(f.type, row[f.name]);
  return out;
}

async function withAdmin(brokers, fn) {
  const kafka = new Kafka({ clientId: 'capture-admin', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

// Partition count of each topic, from the cluster's metadata.
export function partitionCounts(brokers, topics) {
  return withAdmin(brokers, async (admin) => {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    return Object.fromEntries(meta.map((t) => [t.name, t.partitions.length]));
  });
}

// How many records each topic holds (high watermarks), so a test can tell
// it has read all of them.
export function recordCounts(brokers, topics) {
  return withAdmin(brokers, async (admin) => {
    const out = {};
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      out[topic] = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    }
    return out;
  });
}

// Records per topic, to compare with recordCounts.
export function countByTopic(records, topics) {
  return Object.fromEntries(topics.map((t) => [t, records.filter((r) => r.topic === t).length]));
}

// "X/Y:seq" (the cdc.position header) as comparable numbers.
export function parsePosition(text) {
  const m = /^([0-9A-F]+)\/([0-9A-F]+):(\d+)$/.exec(text ?? '');
  if (!m) throw new Error(`not a position: ${text}`);
  return { lsn: (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`), seq: BigInt(m[3]) };
}

// PostgreSQL's text form of an LSN.
export function lsnText(lsn) {
  const v = BigInt(lsn);
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}
