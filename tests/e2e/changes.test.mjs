// Every kind of change through the real pipeline, as an independent Avro
// consumer (kafkajs with the reader's schema registry) sees it: creates,
// updates and deletes under each replica identity, TOASTed values an update
// left alone, primary-key changes, truncates; each event's source position
// checked against PostgreSQL's own WAL (pg_walinspect) and commit
// timestamps; tombstones, partitions and per-key order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Stack } from './lib/stack.mjs';
import {
  countByTopic,
  lsnText,
  parsePosition,
  partitionCounts,
  partitionFor,
  pgText,
  readTopics,
  recordCounts,
  rowText,
  schemaById,
} from './lib/capture.mjs';

const X = 'x'.repeat(3000);
const Y = 'y'.repeat(3000);
const K = 'k'.repeat(2500);
const TABLES = ['t_default', 't_full', 't_index', 't_nothing', 't_toastkey', 't_order'];
const topicOf = (t) => `cdc.public.${t}`;

// Large values are stored out of line (STORAGE EXTERNAL), so an update
// that leaves them alone does not send them.
const SETUP = `
  CREATE EXTENSION pg_walinspect;
  CREATE TABLE t_default (id int PRIMARY KEY, v text, big text);
  CREATE TABLE t_full (id int PRIMARY KEY, v text, big text);
  ALTER TABLE t_full REPLICA IDENTITY FULL;
  CREATE TABLE t_index (id int, code text NOT NULL, v text, big text);
  CREATE UNIQUE INDEX t_index_code ON t_index (code);
  ALTER TABLE t_index REPLICA IDENTITY USING INDEX t_index_code;
  CREATE TABLE t_nothing (id int PRIMARY KEY, v text);
  ALTER TABLE t_nothing REPLICA IDENTITY NOTHING;
  CREATE TABLE t_toastkey (k text PRIMARY KEY, v int);
  CREATE TABLE t_order (id int PRIMARY KEY, n int);
  ALTER TABLE t_default ALTER big SET STORAGE EXTERNAL;
  ALTER TABLE t_full ALTER big SET STORAGE EXTERNAL;
  ALTER TABLE t_index ALTER big SET STORAGE EXTERNAL;
  ALTER TABLE t_toastkey ALTER k SET STORAGE EXTERNAL;`;

// Each transaction reports its id under a label.
const TXNS = [
  ['T1', `INSERT INTO t_default VALUES (1, 'a', repeat('x', 3000));
          INSERT INTO t_full VALUES (1, 'a', repeat('x', 3000));
          INSERT INTO t_index VALUES (1, 'k1', 'a', repeat('x', 3000));
          INSERT INTO t_nothing VALUES (1, 'a');
          INSERT INTO t_toastkey VALUES (repeat('k', 2500), 1);`],
  ['T2', `UPDATE t_default SET v = 'b' WHERE id = 1;`],
  ['T3', `UPDATE t_full SET v = 'b' WHERE id = 1;`],
  ['T4', `UPDATE t_index SET v = 'b' WHERE id = 1;`],
  ['T5', `UPDATE t_toastkey SET v = 2;`],
  ['T6', `UPDATE t_default SET big = repeat('y', 3000);
          UPDATE t_full SET big = repeat('y', 3000);
          UPDATE t_index SET big = repeat('y', 3000);`],
  ['T7', `UPDATE t_default SET id = 2 WHERE id = 1;`],
  ['T8', `UPDATE t_full SET id = 2 WHERE id = 1;`],
  ['T9', `UPDATE t_index SET code = 'k2' WHERE code = 'k1';`],
  ['T10', `DELETE FROM t_default WHERE id = 2;
           DELETE FROM t_full WHERE id = 2;
           DELETE FROM t_index WHERE code = 'k2';
           DELETE FROM t_toastkey;`],
  ['T11', `ALTER TABLE t_nothing REPLICA IDENTITY FULL;`],
  ['T12', `UPDATE t_nothing SET v = 'b' WHERE id = 1;`],
  ['T13', `INSERT INTO t_order SELECT i, 0 FROM generate_series(1, 8) i;`],
  ...Array.from({ length: 20 }, (_, i) => [`U${i + 1}`, `UPDATE t_order SET n = ${i + 1} WHERE id = 1;`]),
  ['T14', `INSERT INTO t_default VALUES (5, 'z', NULL);
           TRUNCATE t_default, t_full;`],
];

let stack;
let failed = false;
let records = [];
const txid = {}; // label -> xid
const label = {}; // xid -> label
let commitTs = {}; // xid -> commit time in micros
let wal = []; // pg_walinspect rows of our transactions
let partitions = {};
let nothingError = '';

async function guarded(fn) {
  try {
    await fn();
  } catch (e) {
    failed = true;
    throw e;
  }
}

function expectedCount(rs) {
  const n = (t) => rs.filter((r) => r.topic === topicOf(t)).length;
  return (
    n('t_default') >= 9 + partitions[topicOf('t_default')] &&
    n('t_full') >= 8 + partitions[topicOf('t_full')] &&
    n('t_index') >= 8 && n('t_nothing') >= 2 && n('t_toastkey') >= 4 &&
    n('t_order') >= 28
  );
}

before(async () =>
  guarded(async () => {
    stack = new Stack('changes');
    const pg = await stack.startPostgres();
    pg.psql('ALTER SYSTEM SET track_commit_timestamp = on;');
    pg.stop();
    await pg.resume();
    pg.psql(SETUP);
    await stack.startBroker();
    await stack.startReader();

    const from = pg.psql('SELECT pg_current_wal_lsn();').trim();
    const out = pg.psql(
      TXNS.map(([l, sql]) => `BEGIN;\n${sql}\nSELECT '${l}', txid_current();\nCOMMIT;`).join('\n'),
    );
    for (const line of out.trim().split('\n')) {
      const [l, x] = line.split('|');
      txid[l] = x;
      label[x] = l;
    }
    // PostgreSQL itself refuses updates of a published table without a
    // replica identity.
    try {
      pg.psql(`ALTER TABLE t_order REPLICA IDENTITY NOTHING;
               UPDATE t_order SET n = -1 WHERE id = 2;`);
    } catch (e) {
      nothingError = String(e.stderr ?? e.message);
    }
    pg.psql('ALTER TABLE t_order REPLICA IDENTITY DEFAULT;');

    const xids = Object.values(txid).join(',');
    commitTs = Object.fromEntries(
      pg
        .psql(`SELECT x, (extract(epoch FROM pg_xact_commit_timestamp(x::text::xid)) * 1000000)::bigint
               FROM unnest('{${xids}}'::bigint[]) x;`)
        .trim()
        .split('\n')
        .map((l) => l.split('|')),
    );
    wal = pg
      .psql(`SELECT start_lsn, resource_manager, record_type, xid
             FROM pg_get_wal_records_info('${from}', pg_current_wal_lsn())
             WHERE xid::text = ANY ('{${xids}}');`)
      .trim()
      .split('\n')
      .map((l) => {
        const [lsn, rm, type, x] = l.split('|');
        return { lsn, rm, type, xid: x };
      });

    partitions = await partitionCounts(stack.brokers, TABLES.map(topicOf));
    records = await readTopics(stack.brokers, stack.reader.http, TABLES.map(topicOf), expectedCount);
    // Nothing more than expected: the topics hold exactly what was read.
    assert.deepEqual(
      countByTopic(records, TABLES.map(topicOf)),
      await recordCounts(stack.brokers, TABLES.map(topicOf)),
    );
    for (const r of records) {
      r.pos = parsePosition(r.position);
      if (r.value) r.envelope = await schemaById(stack.reader.http, r.valueId);
    }
    records.sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1
        : a.pos.lsn !== b.pos.lsn ? (a.pos.lsn < b.pos.lsn ? -1 : 1)
          : a.pos.seq !== b.pos.seq ? (a.pos.seq < b.pos.seq ? -1 : 1)
            : a.partition - b.partition,
    );
  }));

after(async () => {
  if (failed && stack) console.error(stack.logs());
  if (stack) await stack.stop();
});

const short = (v) => (v === X ? '<X>' : v === Y ? '<Y>' : v === K ? '<K>' : v);

function shortRow(row) {
  if (!row) return row;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, short(v)]));
}

function keyText(rec) {
  if (!rec.key) return null;
  return Object.fromEntries(Object.entries(rec.key).map(([k, v]) => [k, short(String(v))]));
}

// A topic's records in position order, one per truncate (the copies on the
// other partitions are checked apart), as comparable summaries.
function story(table) {
  const seen = new Set();
  const out = [];
  for (const r of records.filter((x) => x.topic === topicOf(table))) {
    if (r.value?.op === 't') {
      if (seen.has(r.position)) continue;
      seen.add(r.position);
    }
    if (!r.value) {
      out.push({ tombstone: keyText(r) });
      continue;
    }
    const v = r.value;
    out.push({
      txn: label[String(v.source.txid)],
      op: v.op,
      key: keyText(r),
      before: shortRow(rowText(r.envelope, v.before)),
      after: shortRow(rowText(r.envelope, v.after)),
      unchanged: v.unchanged,
      identity: v.source.identity,
    });
  }
  return out;
}

const row = (id, v, big) => ({ id: id === null ? null : String(id), v, big });
const ev = (txn, op, key, before, after, unchanged = [], identity) => ({
  txn, op, key, before, after, unchanged, identity,
});

test('REPLICA IDENTITY DEFAULT: before holds the key, unchanged TOAST is marked', () =>
  guarded(async () => {
    const d = 'default';
    assert.deepEqual(story('t_default'), [
      ev('T1', 'c', { id: '1' }, null, row(1, 'a', '<X>'), [], d),
      ev('T2', 'u', { id: '1' }, null, row(1, 'b', null), ['big'], d),
      ev('T6', 'u', { id: '1' }, null, row(1, 'b', '<Y>'), [], d),
      ev('T7', 'd', { id: '1' }, row(1, null, null), null, [], d),
      { tombstone: { id: '1' } },
      ev('T7', 'c', { id: '2' }, null, row(2, 'b', null), ['big'], d),
      ev('T10', 'd', { id: '2' }, row(2, null, null), null, [], d),
      { tombstone: { id: '2' } },
      ev('T14', 'c', { id: '5' }, null, row(5, 'z', null), [], d),
      ev('T14', 't', null, null, null, [], d),
    ]);
  }));

test('REPLICA IDENTITY FULL: before is the whole old row, TOAST filled from it', () =>
  guarded(async () => {
    const f = 'full';
    assert.deepEqual(story('t_full'), [
      ev('T1', 'c', { id: '1' }, null, row(1, 'a', '<X>'), [], f),
      ev('T3', 'u', { id: '1' }, row(1, 'a', '<X>'), row(1, 'b', '<X>'), [], f),
      ev('T6', 'u', { id: '1' }, row(1, 'b', '<X>'), row(1, 'b', '<Y>'), [], f),
      ev('T8', 'd', { id: '1' }, row(1, 'b', '<Y>'), null, [], f),
      { tombstone: { id: '1' } },
      ev('T8', 'c', { id: '2' }, null, row(2, 'b', '<Y>'), [], f),
      ev('T10', 'd', { id: '2' }, row(2, 'b', '<Y>'), null, [], f),
      { tombstone: { id: '2' } },
      ev('T14', 't', null, null, null, [], f),
    ]);
  }));

test('REPLICA IDENTITY USING INDEX: the index columns are key and before', () =>
  guarded(async () => {
    const i = 'index';
    const r = (id, code, v, big) => ({ id: id === null ? null : String(id), code, v, big });
    assert.deepEqual(story('t_index'), [
      ev('T1', 'c', { code: 'k1' }, null, r(1, 'k1', 'a', '<X>'), [], i),
      ev('T4', 'u', { code: 'k1' }, null, r(1, 'k1', 'b', null), ['big'], i),
      ev('T6', 'u', { code: 'k1' }, null, r(1, 'k1', 'b', '<Y>'), [], i),
      ev('T9', 'd', { code: 'k1' }, r(null, 'k1', null, null), null, [], i),
      { tombstone: { code: 'k1' } },
      ev('T9', 'c', { code: 'k2' }, null, r(1, 'k2', 'b', null), ['big'], i),
      ev('T10', 'd', { code: 'k2' }, r(null, 'k2', null, null), null, [], i),
      { tombstone: { code: 'k2' } },
    ]);
  }));

test('REPLICA IDENTITY NOTHING: inserts only, and the identity follows ALTER TABLE', () =>
  guarded(async () => {
    assert.match(nothingError, /cannot update table "t_order" because it does not have a replica identity/);
    assert.deepEqual(story('t_nothing'), [
      ev('T1', 'c', { id: '1' }, null, { id: '1', v: 'a' }, [], 'nothing'),
      ev('T12', 'u', { id: '1' }, { id: '1', v: 'a' }, { id: '1', v: 'b' }, [], 'full'),
    ]);
  }));

test('a primary key stored out of line keeps its key when an update leaves it alone', () =>
  guarded(async () => {
    const d = 'default';
    assert.deepEqual(story('t_toastkey'), [
      ev('T1', 'c', { k: '<K>' }, null, { k: '<K>', v: '1' }, [], d),
      ev('T5', 'u', { k: '<K>' }, { k: '<K>', v: null }, { k: '<K>', v: '2' }, [], d),
      ev('T10', 'd', { k: '<K>' }, { k: '<K>', v: null }, null, [], d),
      { tombstone: { k: '<K>' } },
    ]);
  }));

test('every event carries its source: lsn, commit_lsn, txid, commit time, seq', () =>
  guarded(async () => {
    // A key change is one UPDATE record: its delete and create share it.
    const heapTypes = { c: /^INSERT|UPDATE$/, u: /UPDATE$/, d: /^DELETE$|UPDATE$/, t: /^TRUNCATE$/ };
    const problems = [];
    for (const r of records.filter((x) => x.value)) {
      const s = r.value.source;
      const x = String(s.txid);
      const where = `${r.topic} ${r.value.op} ${label[x]}`;
      const commit = wal.find((w) => w.xid === x && w.rm === 'Transaction' && w.type === 'COMMIT');
      if (!commit || lsnText(s.commit_lsn) !== commit.lsn)
        problems.push(`${where}: commit_lsn ${lsnText(s.commit_lsn)}, WAL commit ${commit?.lsn}`);
      const change = wal.find((w) => w.xid === x && w.lsn === lsnText(s.lsn));
      if (!change || change.rm !== 'Heap' || !heapTypes[r.value.op].test(change.type))
        problems.push(`${where}: lsn ${lsnText(s.lsn)} is ${JSON.stringify(change)}`);
      if (String(s.ts_us) !== commitTs[x])
        problems.push(`${where}: ts_us ${s.ts_us}, commit time ${commitTs[x]}`);
      if (s.commit_lsn !== r.pos.lsn || s.seq !== r.pos.seq)
        problems.push(`${where}: position header ${r.position}`);
      if (s.db !== 'postgres' || s.schema !== 'public' || topicOf(s.table) !== r.topic || s.snapshot)
        problems.push(`${where}: source ${s.db}.${s.schema}.${s.table} snapshot ${s.snapshot}`);
      if (r.value.ts_ms < s.ts_us / 1000n)
        problems.push(`${where}: produced (ts_ms ${r.value.ts_ms}) before its commit`);
    }
    assert.deepEqual(problems, []);

    // One transaction touching five tables: seq counts its records.
    const t1 = records.filter((r) => r.value && String(r.value.source.txid) === txid.T1);
    assert.deepEqual(
      t1.map((r) => [r.topic, Number(r.value.source.seq)]).sort((a, b) => a[1] - b[1]),
      ['t_default', 't_full', 't_index', 't_nothing', 't_toastkey'].map((t, i) => [topicOf(t), i + 1]),
    );
  }));

test('deletes are followed by their tombstone; keys pick their partition', () =>
  guarded(async () => {
    const problems = [];
    for (const r of records) {
      if (r.keyBytes) {
        const want = partitionFor(r.topic, r.keyBytes, partitions[r.topic]);
        if (r.partition !== want) problems.push(`${r.topic}@${r.offset}: partition ${r.partition}, key's ${want}`);
      }
      if (r.value?.op !== 'd') continue;
      const next = records.find(
        (x) => x.topic === r.topic && x.partition === r.partition && x.offset === r.offset + 1,
      );
      if (!next || next.value !== null || !next.keyBytes.equals(r.keyBytes) ||
          next.pos.lsn !== r.pos.lsn || next.pos.seq !== r.pos.seq + 1n)
        problems.push(`${r.topic}@${r.partition}/${r.offset}: no tombstone right after the delete`);
    }
    assert.deepEqual(problems, []);
  }));

test('TRUNCATE reaches every partition at one position', () =>
  guarded(async () => {
    for (const t of ['t_default', 't_full']) {
      const truncs = records.filter((r) => r.topic === topicOf(t) && r.value?.op === 't');
      assert.deepEqual(
        truncs.map((r) => r.partition).sort(),
        Array.from({ length: partitions[topicOf(t)] }, (_, i) => i),
      );
      assert.equal(new Set(truncs.map((r) => r.position)).size, 1);
      assert.equal(label[String(truncs[0].value.source.txid)], 'T14');
    }
  }));

test('records of one key keep commit order; positions grow along each partition', () =>
  guarded(async () => {
    const ones = records
      .filter((r) => r.topic === topicOf('t_order') && r.value?.after?.id === 1)
      .sort((a, b) => a.offset - b.offset);
    assert.deepEqual(ones.map((r) => r.value.after.n), Array.from({ length: 21 }, (_, i) => i));
    const problems = [];
    for (const t of TABLES) {
      for (let p = 0; p < partitions[topicOf(t)]; p++) {
        const part = records
          .filter((r) => r.topic === topicOf(t) && r.partition === p)
          .sort((a, b) => a.offset - b.offset);
        for (let i = 1; i < part.length; i++) {
          const a = part[i - 1].pos;
          const b = part[i].pos;
          if (!(a.lsn < b.lsn || (a.lsn === b.lsn && a.seq < b.seq)))
            problems.push(`${t}/${p} offset ${part[i].offset}: ${part[i].position} after ${part[i - 1].position}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    // The key record decodes to what PostgreSQL has as the key.
    const key = records.find((r) => r.topic === topicOf('t_order') && r.key);
    assert.equal(pgText('int', key.key.id), String(key.value.after.id));
  }));
