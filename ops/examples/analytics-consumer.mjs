#!/usr/bin/env node
// An analytics consumer of the reader's topics, as a user would write one:
// kafkajs reads a table's topic from the beginning, the Confluent schema
// registry client decodes keys and values, tombstones are skipped, and so
// are records at or below the last position seen on their partition (what
// a reader that crashed may have written twice).  Prints one JSON line per
// change: {"op", "key", "row", "position", "partition", "offset"}.
//
// Usage: ops/examples/analytics-consumer.mjs --topic cdc.public.articles
//          [--brokers 127.0.0.1:9092] [--registry http://127.0.0.1:8081]
//          [--exit-when-idle MS]
// Outside this repository: npm install kafkajs @kafkajs/confluent-schema-registry
import { createRequire } from 'node:module';

// This repository keeps its npm clients with the tests (npm ci in tests/).
const require = createRequire(new URL('../../tests/package.json', import.meta.url));
const { Kafka, logLevel } = require('kafkajs');
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const topic = option('topic');
const brokers = option('brokers', '127.0.0.1:9092').split(',');
const registry = new SchemaRegistry({ host: option('registry', 'http://127.0.0.1:8081') });
const idleMs = Number(option('exit-when-idle', 0));
if (!topic) {
  console.error('usage: analytics-consumer.mjs --topic <prefix>.<schema>.<table> ...');
  process.exit(2);
}

// The cdc.position header, "<commit_lsn>:<seq>" with the LSN as PostgreSQL
// writes it ("16/B374D848"), as one comparable number.
function position(text) {
  const [lsn, seq] = text.split(':');
  const [hi, lo] = lsn.split('/');
  return ((BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)) * 1000000n + BigInt(seq);
}

const kafka = new Kafka({ brokers, clientId: 'analytics-example', logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: `analytics-example-${process.pid}` });
const lastSeen = new Map();
let idleTimer;

function armIdleExit() {
  if (!idleMs) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    await consumer.disconnect();
    process.exit(0);
  }, idleMs);
}

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
armIdleExit();
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    armIdleExit();
    if (!message.value) return; // a tombstone: the key was deleted
    const text = message.headers['cdc.position'].toString();
    const pos = position(text);
    if (lastSeen.has(partition) && pos <= lastSeen.get(partition)) return;
    lastSeen.set(partition, pos);

    const change = await registry.decode(message.value);
    const key = message.key ? await registry.decode(message.key) : null;
    const row = change.after ?? change.before;
    console.log(JSON.stringify({ op: change.op, key, row, position: text, partition,
      offset: message.offset }, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
  },
});
