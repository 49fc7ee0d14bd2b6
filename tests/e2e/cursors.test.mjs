// Cursors and replay: a client that was away hands back the cursor of the
// last event it saw and gets exactly what it missed (through its filter
// and its role's permissions), then live events, with no gap and no
// duplicate: after a reconnect, after the pusher was killed and restarted,
// and on another pusher.  Records the reader wrote twice are dropped by
// position; cursors below Kafka's retention, garbled, forged or of another
// collection get CURSOR_EXPIRED or CURSOR_INVALID on both protocols; a
// client closed for reading too slowly resumes without losing anything.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { Gql, Model, Realtime, SqlStream, cdcToken, perKey } from './lib/feeds.mjs';
import { BIN, waitFor, withStack } from './lib/stack.mjs';

const TABLES = `
  CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, n int, note text);
  ALTER TABLE items REPLICA IDENTITY FULL;
  CREATE TABLE other (id int PRIMARY KEY, v text);
  CREATE TABLE big (id int PRIMARY KEY, body text);`;

const PERMISSIONS = {
  public: {
    collections: {
      items: { fields: ['*'] },
      other: { fields: ['*'] },
      big: { fields: ['id'] },
    },
  },
  roles: {
    grp1: {
      collections: {
        items: { fields: ['id', 'grp', 'n'], filter: { grp: { _eq: 1 } } },
      },
    },
  },
};

const ALL = ['id', 'grp', 'n', 'note'];
const GQL_ITEMS = (after, filter = '{ grp: { _in: [0, 1] } }') =>
  `subscription { items_mutated(after: ${JSON.stringify(after)}, filter: ${filter}) {
     key event cursor data { id grp n note } } }`;

// A steady source of changes to items, known to the test.
class Changes {
  constructor(sql) {
    this.sql = sql;
    this.model = new Model('items', ALL);
    this.next = 1;
    this.step = 0;
  }

  // n changes: inserts, updates moving rows between groups, deletes.
  write(n) {
    for (let i = 0; i < n; i++) {
      const k = this.step++;
      const ids = [...this.model.rows.keys()];
      if (ids.length < 6 || k % 5 === 0) {
        const id = this.next++;
        this.sql.exec(this.model.insert({ id, grp: id % 3, n: k, note: `note ${k}` }));
      } else if (k % 7 === 3) {
        this.sql.exec(this.model.delete(ids[k % ids.length]));
      } else {
        const id = ids[(k * 5) % ids.length];
        this.sql.exec(this.model.update(id, { grp: (k * 7) % 3, n: k }));
      }
    }
    return this.sql.sync();
  }
}

const GQL = { ids: ['id'] };
const inGroups = (...g) => (row) => g.includes(row.grp);
const shape = (e) => `${e.event}:${JSON.stringify(e.row ?? null)}`;

async function setup(stack) {
  const pg = await stack.startPostgres();
  pg.psql(TABLES);
  await stack.startBroker(['--topic', 'cdc.public.big:1']);
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify(PERMISSIONS));
  const env = {
    CDC_PERMISSIONS: perms,
    CDC_GRAPHQL_AUTH: 'public',
    CDC_REALTIME_AUTH: 'public',
    CDC_CURSOR_SECRET: 'cursor-secret-shared-by-every-pusher',
  };
  const a = await stack.startPusher(env, { name: 'pusher-a' });
  return { env, a, changes: new Changes(new SqlStream(pg.url)) };
}

// Reads every record of a topic with kafkajs, as an analytics consumer
// would: the records of each partition, in order.
async function readTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const byPart = offsets.map(() => []);
  const done = () => offsets.every((o) => {
    const recs = byPart[o.partition];
    return Number(o.high) === 0 || (recs.length && Number(recs.at(-1).offset) === Number(o.high) - 1);
  });
  const consumer = kafka.consumer({ groupId: `copy-${Date.now()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => byPart[partition].push(message) });
  await waitFor(`every record of ${topic}`, done);
  await consumer.disconnect();
  return byPart;
}

async function metric(pusher, name) {
  const text = await (await fetch(`${pusher.http}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

const cursorError = (code) => (f) =>
  f.type === 'subscribe' && f.status === 'error' && f.error.code === code;

test('cursors resume exactly what was missed', async (t) => {
  await withStack('cursors', async (stack) => {
    const { env, a, changes } = await setup(stack);
    const { model } = changes;
    const visible = inGroups(0, 1);
    const sockets = [];
    const track = (s) => (sockets.push(s), s);
    const cleanups = [];
    let early; // a cursor from the start of the history
    try {
      // A reference subscriber on pusher A; when A is killed it resumes
      // like anyone, and refEvents() are all its events.
      let ref = track(await Gql.connect(a.url));
      ref.subscribe('ref', GQL_ITEMS(''));
      await ref.started('ref');
      let refPast = [];
      const refEvents = () => [...refPast, ...ref.events('ref')];
      const expectAll = () => model.expected(visible, ALL, 0, GQL);
      const refCaughtUp = () => waitFor('the reference subscriber to catch up',
        () => refEvents().length >= expectAll().length);

      await t.test('graphql: a reconnecting client gets the missed events, then live', async () => {
        const c1 = track(await Gql.connect(a.url));
        c1.subscribe('s', GQL_ITEMS(''));
        const init = await c1.started('s');
        assert.ok(init.cursor.length > 10 && init.key === null && init.data === null);
        await changes.write(30);
        await refCaughtUp();
        assert.deepEqual(perKey(refEvents(), shape), perKey(expectAll(), shape));
        await waitFor('c1 to catch up', () => c1.events('s').length === refEvents().length);

        // Away in the middle of the stream: resume after its 10th event.
        const seen = c1.events('s');
        const cut = 9;
        early = seen[cut].cursor;
        c1.end();
        await changes.write(30);
        await refCaughtUp();

        const c2 = track(await Gql.connect(a.url));
        c2.subscribe('s', GQL_ITEMS(seen[cut].cursor));
        const again = await c2.started('s');
        assert.equal(again.cursor, seen[cut].cursor, 'the init event carries the starting cursor');
        await changes.write(20);
        await refCaughtUp();
        const want = refEvents().slice(cut + 1);
        await waitFor('c2 to catch up', () => c2.events('s').length >= want.length).catch((e) => {
          console.error(JSON.stringify({ got: c2.events('s').map(shape), want: want.map(shape), frames: c2.frames.slice(0, 3) }));
          throw e;
        });
        assert.deepEqual(perKey(c2.events('s'), shape), perKey(want, shape));
        assert.equal(c2.events('s').length, want.length, 'no duplicate');
        c2.end();
      });

      await t.test('realtime: resume after the pusher is killed and restarted, with the role\'s permissions', async () => {
        const token = cdcToken({ user: 'g1', role: 'grp1' });
        const fields = ['id', 'grp', 'n'];
        const mine = (row) => row.grp === 1;
        const from = model.log.length;
        const c = track(await Realtime.connect(a.url, { token }));
        c.subscribe('g', 'items', { fields: ['*'], cursor: '' });
        const init = await c.started('g');
        assert.ok(init.cursor.length > 10);
        await changes.write(30);
        await waitFor('the grp1 client to catch up',
          () => c.events('g').length >= model.expected(mine, fields, from).length);
        const last = c.events('g').at(-1).cursor;
        const cutAt = model.log.length;

        await a.kill('SIGKILL');
        await c.closed();
        await changes.write(30);
        await stack.restartPusher(a);

        const c2 = track(await Realtime.connect(a.url, { token }));
        c2.subscribe('g', 'items', { fields: ['*'], cursor: last });
        assert.equal((await c2.started('g')).cursor, last);
        await changes.write(20);
        const want = model.expected(mine, fields, cutAt);
        await waitFor('the resumed grp1 client to catch up', () => c2.events('g').length >= want.length);
        assert.deepEqual(perKey(c2.events('g'), shape), perKey(want, shape));
        assert.equal(c2.events('g').length, want.length, 'no duplicate');
        // Every frame the restricted client got holds only its fields and rows.
        for (const e of [...c.events('g'), ...c2.events('g')]) {
          if (e.event === 'delete') continue;
          assert.deepEqual(Object.keys(e.row), fields);
          assert.equal(e.row.grp, 1);
        }
        c2.end();
        // The reference was on the killed pusher; it resumes like anyone.
        refPast = refEvents();
        ref.end();
        ref = track(await Gql.connect(a.url));
        ref.subscribe('ref', GQL_ITEMS(refPast.at(-1).cursor));
        await ref.started('ref');
        await refCaughtUp();
        assert.deepEqual(perKey(refEvents(), shape), perKey(expectAll(), shape));
      });

      await t.test('realtime: resume on another pusher', async () => {
        const b = await stack.startPusher(env, { name: 'pusher-b' });
        const from = model.log.length;
        const c = track(await Realtime.connect(a.url));
        c.subscribe('x', 'items', { filter: { grp: { _in: [0, 1] } } });
        const init = await c.started('x');
        await changes.write(25);
        const all = () => model.expected(visible, ALL, from);
        await waitFor('the client on A', () => c.events('x').length >= all().length);
        const cutAt = model.log.length;
        const last = c.events('x').at(-1)?.cursor ?? init.cursor;
        c.end();
        await changes.write(25);

        const c2 = track(await Realtime.connect(b.url));
        c2.subscribe('x', 'items', { filter: { grp: { _in: [0, 1] } }, cursor: last });
        await c2.started('x');
        await changes.write(15);
        const want = model.expected(visible, ALL, cutAt);
        await waitFor('the client on B', () => c2.events('x').length >= want.length);
        assert.deepEqual(perKey(c2.events('x'), shape), perKey(want, shape));
        assert.equal(c2.events('x').length, want.length, 'no duplicate');
        c2.end();
        await b.kill('SIGTERM');
      });

      await t.test('records the reader wrote twice are dropped by position, live and in replays', async () => {
        const kafka = new Kafka({ brokers: stack.brokers.split(','), logLevel: logLevel.NOTHING });
        const producer = kafka.producer();
        await producer.connect();
        const from = model.log.length;
        const before = track(await Gql.connect(a.url));
        before.subscribe('d', GQL_ITEMS(''));
        const start = await before.started('d');
        await changes.write(20);
        await refCaughtUp();
        const dupsBefore = await metric(a, 'cdc_pusher_duplicates_total');

        // The last three records of every partition, written again as a
        // reader replaying after a crash would (tombstones included).
        let copied = 0;
        const parts = await readTopic(kafka, 'cdc.public.items');
        for (let p = 0; p < parts.length; p++) {
          const recs = parts[p].slice(-3);
          copied += recs.length;
          await producer.send({
            topic: 'cdc.public.items',
            messages: recs.map((r) => ({ partition: p, key: r.key, value: r.value, headers: r.headers })),
          });
        }
        await producer.disconnect();
        await changes.write(20);
        await refCaughtUp();
        await waitFor('the pusher to drop the copies',
          async () => (await metric(a, 'cdc_pusher_duplicates_total')) >= dupsBefore + copied);

        const want = model.expected(visible, ALL, from, GQL);
        assert.deepEqual(perKey(refEvents(), shape), perKey(expectAll(), shape), 'live');
        await waitFor('the live client', () => before.events('d').length >= want.length);
        assert.deepEqual(perKey(before.events('d'), shape), perKey(want, shape));

        // A replay through the copies skips them too.
        const again = track(await Gql.connect(a.url));
        again.subscribe('d', GQL_ITEMS(start.cursor));
        await again.started('d');
        await waitFor('the replay', () => again.events('d').length >= want.length);
        await changes.write(5);
        const want2 = model.expected(visible, ALL, from, GQL);
        await waitFor('the replay to go live', () => again.events('d').length >= want2.length);
        assert.deepEqual(perKey(again.events('d'), shape), perKey(want2, shape));
        assert.equal(again.events('d').length, want2.length, 'no duplicate');
        before.end();
        again.end();
      });

      await t.test('a cursor at the live end resumes straight into live events', async () => {
        for (const proto of ['graphql', 'realtime']) {
          await changes.write(10);
          await refCaughtUp();
          const cursor = refEvents().at(-1).cursor;
          const from = model.log.length;
          let s;
          if (proto === 'graphql') {
            s = track(await Gql.connect(a.url));
            s.subscribe('e', GQL_ITEMS(cursor));
          } else {
            s = track(await Realtime.connect(a.url));
            s.subscribe('e', 'items', { filter: { grp: { _in: [0, 1] } }, cursor });
          }
          assert.equal((await s.started('e')).cursor, cursor);
          await changes.write(10);
          const want = model.expected(visible, ALL, from, proto === 'graphql' ? GQL : {});
          await waitFor(`${proto} live events`, () => s.events('e').length >= want.length);
          assert.deepEqual(perKey(s.events('e'), shape), perKey(want, shape));
          s.end();
        }
      });

      await t.test('garbled, forged and foreign cursors get CURSOR_INVALID on both protocols', async () => {
        const other = track(await Gql.connect(a.url));
        other.subscribe('o', 'subscription { other_mutated(after: "") { key event cursor } }');
        const foreign = (await other.started('o')).cursor;
        const c = await stack.startPusher({ ...env, CDC_CURSOR_SECRET: 'another-secret-entirely' },
          { name: 'pusher-c' });
        const alien = track(await Gql.connect(c.url));
        alien.subscribe('f', GQL_ITEMS(''));
        const forged = (await alien.started('f')).cursor;
        const good = refEvents().at(-1).cursor;
        const flipped = good.slice(0, 20) + (good[20] === 'A' ? 'B' : 'A') + good.slice(21);
        // One cursor has one spelling: a character more is refused even
        // where it would add no bits.
        const aligned = refEvents().map((e) => e.cursor).find((x) => x.length % 4 === 0);
        assert.ok(aligned, 'a cursor whose length is a multiple of 4');
        const cases = {
          respelled: `${aligned}A`,
          garbled: 'this is not a cursor!',
          truncated: good.slice(0, -4),
          flipped,
          forged,
          foreign,
        };
        const g = track(await Gql.connect(a.url));
        const r = track(await Realtime.connect(a.url));
        for (const [name, cursor] of Object.entries(cases)) {
          g.subscribe(name, GQL_ITEMS(cursor));
          const [err] = await g.error(name);
          assert.equal(err.extensions.code, 'CURSOR_INVALID', `${name} on graphql`);
          assert.match(err.message, /cursor/);
          r.subscribe(name, 'items', { cursor });
          const f = await r.frame((m) => m.uid === name && m.type === 'subscribe');
          assert.equal(f.status, 'error');
          assert.equal(f.error.code, 'CURSOR_INVALID', `${name} on realtime`);
        }
        // Nothing else came for those subscriptions, and the sockets live on.
        assert.equal(g.frames.filter((f) => f.type === 'next').length, 0);
        assert.equal(r.frames.filter((f) => f.type === 'subscription').length, 0);
        g.subscribe('fine', GQL_ITEMS(good));
        assert.equal((await g.started('fine')).cursor, good);
        await c.kill('SIGTERM');
      });

      await t.test('a cursor below the retention of Kafka gets CURSOR_EXPIRED on both protocols', async () => {
        const g = track(await Gql.connect(a.url));
        g.subscribe('b', 'subscription { big_mutated(after: "") { key event cursor } }');
        const cursor = (await g.started('b')).cursor;
        const r = track(await Realtime.connect(a.url));
        r.subscribe('b', 'big', { cursor: '' });
        const rcursor = (await r.started('b')).cursor;
        // About 7 MiB into a one-partition topic whose broker keeps 5 MiB.
        stack.pg.psql(`INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text || g || x), '')
                       FROM generate_series(1, 320) x) FROM generate_series(1, 700) g`);
        const kafka = new Kafka({ brokers: stack.brokers.split(','), logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        await waitFor('the log start of cdc.public.big to move', async () => {
          const [o] = await admin.fetchTopicOffsets('cdc.public.big');
          return Number(o.low) > 0 && Number(o.high) >= 700;
        }, 60000, 200);
        await admin.disconnect();
        g.subscribe('b2', `subscription { big_mutated(after: ${JSON.stringify(cursor)}) { key event cursor } }`);
        const [err] = await g.error('b2');
        assert.equal(err.extensions.code, 'CURSOR_EXPIRED');
        assert.match(err.message, /no longer kept/);
        r.subscribe('b2', 'big', { cursor: rcursor });
        const f = await r.frame((m) => m.uid === 'b2' && m.type === 'subscribe');
        assert.equal(f.status, 'error');
        assert.equal(f.error.code, 'CURSOR_EXPIRED');
        // The live subscriptions saw every row, with the field they may read.
        await waitFor('700 rows on the live subscriptions', () => g.events('b').length === 700 &&
          r.events('b').length === 700);
        assert.deepEqual(Object.keys(r.events('b')[0].row), ['id']);
      });

      await t.test('a client closed for reading too slowly resumes and loses nothing', async () => {
        const slow = await stack.startPusher({ ...env, CDC_MAX_QUEUE_BYTES: '65536' },
          { name: 'pusher-slow' });
        const from = model.log.length;
        const c = track(await Realtime.connect(slow.url));
        c.subscribe('s', 'items', { cursor: '' });
        await c.started('s');
        // The client stops reading; about 5 MiB of changes follow.
        c.ws._socket.pause();
        const ids = [...model.rows.keys()];
        for (let i = 0; i < 1500; i++) {
          const id = ids[i % ids.length];
          changes.sql.exec(model.update(id, { n: 100000 + i, note: `${i} `.padEnd(3000, 'x') }));
        }
        await changes.sql.sync();
        await waitFor('the pusher to close the slow client',
          async () => (await metric(slow, 'cdc_pusher_slow_closes_total')) >= 1, 30000, 100);
        c.ws._socket.resume();
        const closed = await c.closed();
        assert.equal(closed.code, 1013);
        assert.match(closed.reason, /resume/);
        const got = c.events('s');
        const want = model.expected(() => true, ALL, from);
        assert.ok(got.length < want.length, `closed early (${got.length} of ${want.length})`);

        // It resumes through the same small queue, still reading in fits
        // and starts, and is not closed again: the replay waits for it.
        const c2 = track(await Realtime.connect(slow.url));
        c2.subscribe('s', 'items', { cursor: got.at(-1)?.cursor ?? (await c.started('s')).cursor });
        await c2.started('s');
        const caughtUp = () => got.length + c2.events('s').length >= want.length || c2.close;
        while (!caughtUp()) {
          c2.ws._socket.pause();
          await new Promise((r) => setTimeout(r, 60));
          c2.ws._socket.resume();
          await new Promise((r) => setTimeout(r, 15));
        }
        assert.equal(c2.close, null);
        assert.deepEqual(perKey([...got, ...c2.events('s')], shape), perKey(want, shape));
        assert.equal(got.length + c2.events('s').length, want.length, 'no duplicate');
        assert.equal(await metric(slow, 'cdc_pusher_slow_closes_total'), 1);
        c2.end();
        await slow.kill('SIGTERM');
      });

      await t.test('a cursor of another history gets CURSOR_INVALID', async () => {
        // A second cluster, filled by a second reader of the same database
        // that started later: same topic names, other records.
        const bootstrap = path.join(stack.dir, 'bootstrap-b');
        const broker = spawn(path.join(BIN, 'kafka-dev-broker'), ['--bootstrap-file', bootstrap],
          { stdio: 'ignore' });
        cleanups.push(async () => {
          broker.kill('SIGTERM');
          await new Promise((r) => (broker.exitCode !== null ? r() : broker.on('exit', r)));
        });
        const brokers = await waitFor('the second broker', () =>
          fs.existsSync(bootstrap) && fs.readFileSync(bootstrap, 'utf8').trim());
        const readerB = await stack.startReader({ CDC_KAFKA_BROKERS: brokers, CDC_SLOT: 'cdc_b' },
          { name: 'cdc-reader-b' });
        await changes.write(60);
        const b = await stack.startPusher({
          ...env, CDC_KAFKA_BROKERS: brokers, CDC_SCHEMA_REGISTRY_URL: readerB.http,
        }, { name: 'pusher-other-cluster' });
        await refCaughtUp();
        const late = refEvents().at(-1).cursor;
        const cases = [
          [early, /does not belong/],
          [late, /ahead of this collection's history/],
        ];
        for (const [cursor, why] of cases) {
          const g = track(await Gql.connect(b.url));
          g.subscribe('h', GQL_ITEMS(cursor));
          const [err] = await g.error('h');
          assert.equal(err.extensions.code, 'CURSOR_INVALID');
          assert.match(err.message, why);
          assert.equal(g.frames.filter((f) => f.type === 'next').length, 0, 'nothing of it was sent');
          const r = track(await Realtime.connect(b.url));
          r.subscribe('h', 'items', { cursor });
          const f = await r.frame((m) => m.uid === 'h' && m.type === 'subscribe');
          assert.equal(f.error.code, 'CURSOR_INVALID');
          assert.match(f.error.message, why);
        }
        await b.kill('SIGTERM');
        await readerB.kill('SIGTERM');
      });
    } finally {
      for (const s of sockets) s.end();
      for (const f of cleanups) await f();
      await changes.sql.end();
    }
  });
});
