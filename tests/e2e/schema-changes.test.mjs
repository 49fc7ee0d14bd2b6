// Table changes while the reader streams: ADD, DROP, RENAME COLUMN and
// ALTER COLUMN TYPE each give a new schema version, registered before the
// first record that uses it (a consumer reading live decodes each record
// through the registry as it arrives), and a consumer reading from the
// start decodes old and new records alike. Tables that join the
// publication (CREATE TABLE under FOR ALL TABLES; ALTER PUBLICATION ADD
// TABLE under CDC_TABLES) flow without a restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Stack } from './lib/stack.mjs';
import {
  countByTopic,
  parsePosition,
  readTopics,
  recordCounts,
  rowFields,
  rowText,
  schemaById,
  startConsumer,
} from './lib/capture.mjs';

const EVOLVE = 'cdc.public.evolve';

// Each step: the DDL and the change after it, the columns the change's
// schema must have, and the row it carries (PostgreSQL's text).
const STEPS = [
  {
    sql: `INSERT INTO evolve VALUES (1, 10, 'x');`,
    cols: { id: 'int', a: 'int', b: 'string' },
    after: { id: '1', a: '10', b: 'x' },
  },
  {
    sql: `ALTER TABLE evolve ADD COLUMN c numeric(6,2) DEFAULT 1.5;
          INSERT INTO evolve VALUES (2, 20, 'y', 2.25);`,
    cols: { id: 'int', a: 'int', b: 'string', c: 'decimal(6,2)' },
    after: { id: '2', a: '20', b: 'y', c: '2.25' },
  },
  {
    sql: `ALTER TABLE evolve DROP COLUMN b;
          INSERT INTO evolve VALUES (3, 30, 3.5);`,
    cols: { id: 'int', a: 'int', c: 'decimal(6,2)' },
    after: { id: '3', a: '30', c: '3.50' },
  },
  {
    sql: `ALTER TABLE evolve RENAME COLUMN a TO a_renamed;
          UPDATE evolve SET a_renamed = 11 WHERE id = 1;`,
    cols: { id: 'int', a_renamed: 'int', c: 'decimal(6,2)' },
    after: { id: '1', a_renamed: '11', c: '1.50' },
  },
  {
    sql: `ALTER TABLE evolve ALTER COLUMN a_renamed TYPE bigint;
          INSERT INTO evolve VALUES (5, 9223372036854775807, 5.5);`,
    cols: { id: 'int', a_renamed: 'long', c: 'decimal(6,2)' },
    after: { id: '5', a_renamed: '9223372036854775807', c: '5.50' },
  },
  {
    sql: `ALTER TABLE evolve ALTER COLUMN c TYPE text;
          INSERT INTO evolve VALUES (6, 6, 'six');`,
    cols: { id: 'int', a_renamed: 'long', c: 'string' },
    after: { id: '6', a_renamed: '6', c: 'six' },
  },
  {
    // DDL and the change in one transaction.
    sql: `BEGIN;
          ALTER TABLE evolve ADD COLUMN d boolean;
          INSERT INTO evolve VALUES (7, 7, 'seven', true);
          COMMIT;`,
    cols: { id: 'int', a_renamed: 'long', c: 'string', d: 'boolean' },
    after: { id: '7', a_renamed: '7', c: 'seven', d: 't' },
  },
];

let stack;
let failed = false;
let selective;
let live = [];

async function guarded(fn) {
  try {
    await fn();
  } catch (e) {
    failed = true;
    throw e;
  }
}

// Commit order across partitions.
function byPosition(records) {
  const pos = (r) => parsePosition(r.position);
  return [...records].sort((a, b) => {
    const x = pos(a);
    const y = pos(b);
    return x.lsn !== y.lsn ? (x.lsn < y.lsn ? -1 : 1) : x.seq < y.seq ? -1 : x.seq > y.seq ? 1 : 0;
  });
}

function columns(envelope) {
  return Object.fromEntries(
    rowFields(envelope).map((f) => {
      const s = f.type.find((t) => t !== 'null');
      if (typeof s === 'string') return [f.name, s];
      if (s.logicalType === 'decimal') return [f.name, `decimal(${s.precision},${s.scale})`];
      return [f.name, s.logicalType ?? s.type];
    }),
  );
}

before(async () =>
  guarded(async () => {
    stack = new Stack('schema-changes');
    const pg = await stack.startPostgres();
    pg.psql(`CREATE TABLE evolve (id int PRIMARY KEY, a int, b text);
             CREATE TABLE picked (id int PRIMARY KEY, v text);
             CREATE TABLE later_added (id int PRIMARY KEY, v text);`);
    await stack.startBroker();
    await stack.startReader();
    // A second reader whose publication lists its tables.
    selective = await stack.startReader(
      {
        CDC_TABLES: 'public.picked',
        CDC_PUBLICATION: 'sel',
        CDC_SLOT: 'sel',
        CDC_TOPIC_PREFIX: 'sel',
      },
      { name: 'cdc-reader-sel' },
    );

    // Live: every record decoded through the registry as soon as it
    // arrives, so its schema must be there before it.
    const consumer = await startConsumer(stack.brokers, stack.reader.http, [EVOLVE]);
    try {
      await consumer.joined();
      for (const step of STEPS) pg.psql(step.sql);
      live = await consumer.until((rs) => rs.length >= STEPS.length);
    } finally {
      await consumer.stop();
    }
  }));

after(async () => {
  if (failed && stack) console.error(stack.logs());
  if (stack) await stack.stop();
});

test('each table change is a new schema version, registered before its records', () =>
  guarded(async () => {
    const url = stack.reader.http;
    const versions = await (await fetch(`${url}/subjects/${EVOLVE}-value/versions`)).json();
    assert.deepEqual(versions, STEPS.map((_, i) => i + 1));
    const ids = [];
    for (const v of versions) {
      const r = await (await fetch(`${url}/subjects/${EVOLVE}-value/versions/${v}`)).json();
      ids.push(r.id);
    }
    assert.equal(live.length, STEPS.length);
    const seen = [];
    for (const rec of byPosition(live)) {
      const envelope = await schemaById(url, rec.valueId);
      seen.push({ id: rec.valueId, cols: columns(envelope), after: rowText(envelope, rec.value.after) });
    }
    assert.deepEqual(
      seen,
      STEPS.map((s, i) => ({ id: ids[i], cols: s.cols, after: s.after })),
    );
    // The key did not change, so neither did its schema.
    const keys = await (await fetch(`${url}/subjects/${EVOLVE}-key/versions`)).json();
    assert.deepEqual(keys, [1]);
  }));

test('a consumer from the start decodes every version of the table', () =>
  guarded(async () => {
    const all = await readTopics(stack.brokers, stack.reader.http, [EVOLVE], (rs) => rs.length >= STEPS.length);
    assert.deepEqual(countByTopic(all, [EVOLVE]), await recordCounts(stack.brokers, [EVOLVE]));
    const rows = [];
    for (const rec of byPosition(all)) {
      const env = await schemaById(stack.reader.http, rec.valueId);
      rows.push(rowText(env, rec.value.after));
    }
    assert.deepEqual(rows, STEPS.map((s) => s.after));
  }));

test('a table created under FOR ALL TABLES flows without a restart', () =>
  guarded(async () => {
    stack.pg.psql(`CREATE TABLE fresh (id int PRIMARY KEY, v text);
                   INSERT INTO fresh VALUES (1, 'new');
                   BEGIN;
                   CREATE TABLE fresh_same (id int PRIMARY KEY, v text);
                   INSERT INTO fresh_same VALUES (1, 'same transaction');
                   COMMIT;`);
    const rs = await readTopics(
      stack.brokers,
      stack.reader.http,
      ['cdc.public.fresh', 'cdc.public.fresh_same'],
      (x) => x.length >= 2,
    );
    const topics = ['cdc.public.fresh', 'cdc.public.fresh_same'];
    assert.deepEqual(countByTopic(rs, topics), await recordCounts(stack.brokers, topics));
    const got = [];
    for (const r of rs) {
      const env = await schemaById(stack.reader.http, r.valueId);
      got.push([r.topic, r.value.op, rowText(env, r.value.after)]);
    }
    got.sort();
    assert.deepEqual(got, [
      ['cdc.public.fresh', 'c', { id: '1', v: 'new' }],
      ['cdc.public.fresh_same', 'c', { id: '1', v: 'same transaction' }],
    ]);
    assert.ok(stack.reader.running());
  }));

test('a table added with ALTER PUBLICATION flows without a restart', () =>
  guarded(async () => {
    stack.pg.psql(`INSERT INTO picked VALUES (1, 'listed');
                   INSERT INTO later_added VALUES (1, 'before it was added');
                   ALTER PUBLICATION sel ADD TABLE later_added;
                   INSERT INTO later_added VALUES (2, 'after');`);
    const rs = await readTopics(
      stack.brokers,
      selective.http,
      ['sel.public.picked', 'sel.public.later_added'],
      (x) => x.length >= 2,
    );
    const topics = ['sel.public.picked', 'sel.public.later_added'];
    assert.deepEqual(countByTopic(rs, topics), await recordCounts(stack.brokers, topics));
    const got = [];
    for (const r of rs) {
      const env = await schemaById(selective.http, r.valueId);
      got.push([r.topic, rowText(env, r.value.after)]);
    }
    got.sort();
    assert.deepEqual(got, [
      ['sel.public.later_added', { id: '2', v: 'after' }],
      ['sel.public.picked', { id: '1', v: 'listed' }],
    ]);
    assert.ok(selective.running());
  }));
