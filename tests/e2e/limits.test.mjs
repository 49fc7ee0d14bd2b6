// Limits, each with a clear answer, while everyone else keeps being served:
// message size (close 1009), subscriptions per connection (LIMIT_EXCEEDED),
// connections (HTTP 403 at the upgrade), messages per second
// (REQUESTS_EXCEEDED), and a client that stops reading (close 1013 once its
// queue passes the limit, which graphql-ws retries and a cursor resumes).
// A bystander on the same pusher must receive every event after each.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlSocket, rawSocket, readMetrics } from './lib/clients.mjs';
import { testWithLogs } from './lib/check.mjs';
import { Stack, waitFor } from './lib/stack.mjs';

const stack = new Stack('limits');
let tight; // small limits
let roomy; // default limits
let bystander; // a realtime client on tight that must never miss an event

const LIMITS = {
  CDC_MAX_MESSAGE_BYTES: '4096',
  CDC_MAX_SUBSCRIPTIONS: '3',
  CDC_MAX_CONNECTIONS: '8',
  CDC_RATE_LIMIT: '5',
  CDC_RATE_BURST: '10',
  CDC_MAX_QUEUE_BYTES: '1048576',
};

before(async () => {
  const pg = await stack.startPostgres();
  pg.psql(`
    CREATE TABLE articles (id serial PRIMARY KEY, title text, status text);
    CREATE TABLE bulk (id serial PRIMARY KEY, batch int, body text);
    CREATE TABLE blobs (id serial PRIMARY KEY, data bytea);`);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify({
    public: { collections: {
      articles: { fields: ['*'] }, bulk: { fields: ['*'] }, blobs: { fields: ['*'] },
    } },
  }));
  const env = { CDC_PERMISSIONS: perms, CDC_GRAPHQL_AUTH: 'public', CDC_REALTIME_AUTH: 'public' };
  [tight, roomy] = await Promise.all([
    stack.startPusher({ ...env, ...LIMITS }),
    stack.startPusher(env),
  ]);
  bystander = rawSocket(tight.url, '/websocket');
  await bystander.opened();
  bystander.send({ type: 'subscribe', collection: 'articles', uid: 'b', query: { fields: 'id' } });
  bystander.send({ type: 'subscribe', collection: 'bulk', uid: 'bulk', query: { fields: 'id' } });
  await bystander.next((m) => m.uid === 'b');
  await bystander.next((m) => m.uid === 'bulk');
});

after(async () => {
  bystander.close();
  await stack.stop();
});

// Each case ends by checking that everyone else is still served.
const check = (name, fn) =>
  testWithLogs(stack, name, async () => {
    await fn();
    await stillServed();
  });

const sql = (text) => stack.pg.psql(text).trim();

// The bystander receives a fresh row: the pusher serves everyone else.
async function stillServed() {
  const id = Number(sql(`INSERT INTO articles (title) VALUES ('ping') RETURNING id`));
  await bystander.next((m) => m.uid === 'b' && m.data[0].id === id);
}

check('a message over CDC_MAX_MESSAGE_BYTES closes that connection with 1009', async () => {
  const pad = (n, base) => {
    const text = JSON.stringify({ ...base, pad: '' });
    return JSON.stringify({ ...base, pad: 'x'.repeat(n - text.length) });
  };
  // Exactly the limit is fine.
  const fits = rawSocket(tight.url, '/websocket');
  await fits.opened();
  const exact = pad(4096, { type: 'ping', uid: 'fits' });
  assert.equal(Buffer.byteLength(exact), 4096);
  fits.send(exact);
  assert.deepEqual(await fits.next(), { type: 'pong', uid: 'fits' });

  // One byte more, in one frame or in fragments, is not.
  const big = rawSocket(tight.url, '/websocket');
  await big.opened();
  big.send(pad(4097, { type: 'ping' }));
  assert.deepEqual(await big.closed(), { code: 1009, reason: 'message larger than 4096 bytes' });
  const fragments = rawSocket(tight.url, '/websocket');
  await fragments.opened();
  const text = pad(6000, { type: 'ping' });
  fragments.ws.send(text.slice(0, 2000), { fin: false });
  fragments.ws.send(text.slice(2000, 4000), { fin: false });
  fragments.ws.send(text.slice(4000), { fin: true });
  assert.equal((await fragments.closed()).code, 1009);

  // graphql-ws takes 1009 as final: it does not send the same message again.
  const life = { opened: 0, closes: [] };
  const client = createClient({
    url: `${tight.url}/graphql`, webSocketImpl: WebSocket, retryAttempts: 5,
    retryWait: async () => {},
    on: { opened: () => life.opened++, closed: (e) => life.closes.push(e.code) },
  });
  const errors = [];
  client.subscribe({ query: `subscription { articles_mutated { key ${'title '.repeat(800)} } }` },
    { next: () => {}, error: (e) => errors.push(e), complete: () => {} });
  await waitFor('the error', () => errors.length > 0);
  assert.equal(errors[0].code, 1009);
  await sleep(300);
  assert.equal(life.opened, 1);
  await client.dispose();

  // The connection that kept to the limit is still open.
  fits.send({ type: 'ping', uid: 'again' });
  assert.deepEqual(await fits.next(), { type: 'pong', uid: 'again' });
  fits.close();
});

check('subscriptions per connection: the one past the limit is refused, the others run', async () => {
  const s = rawSocket(tight.url, '/websocket');
  await s.opened();
  for (const uid of ['1', '2', '3']) s.send({ type: 'subscribe', collection: 'articles', uid });
  for (const uid of ['1', '2', '3']) assert.equal((await s.next((m) => m.uid === uid)).event, 'init');
  s.send({ type: 'subscribe', collection: 'articles', uid: '4' });
  const refused = await s.next((m) => m.uid === '4');
  assert.equal(refused.type, 'subscribe');
  assert.equal(refused.status, 'error');
  assert.equal(refused.error.code, 'LIMIT_EXCEEDED');
  assert.match(refused.error.message, /already has 3 subscriptions/);
  // Replacing one (same uid) is not one more.
  s.send({ type: 'subscribe', collection: 'articles', uid: '3', query: { fields: 'title' } });
  assert.equal((await s.next((m) => m.uid === '3')).event, 'init');
  // Ending one makes room.
  s.send({ type: 'unsubscribe', uid: '1' });
  s.send({ type: 'subscribe', collection: 'articles', uid: '5' });
  assert.equal((await s.next((m) => m.uid === '5')).event, 'init');
  const id = Number(sql(`INSERT INTO articles (title) VALUES ('counted') RETURNING id`));
  const rows = {};
  for (const uid of ['2', '3', '5'])
    rows[uid] = (await s.next((x) => x.uid === uid && x.event === 'create')).data[0];
  assert.equal(rows['2'].id, id);
  assert.equal(rows['5'].id, id);
  assert.deepEqual(rows['3'], { title: 'counted' });
  assert.equal(s.messages.filter((m) => m.uid === '1' || m.uid === '4').length, 0);
  s.close();

  // The same on /graphql: an error for that operation only.
  const g = await gqlSocket(tight.url);
  const q = 'subscription { articles_mutated(after: "") { key } }';
  for (const id of ['a', 'b', 'c', 'd']) g.send({ id, type: 'subscribe', payload: { query: q } });
  for (const id of ['a', 'b', 'c']) assert.equal((await g.next((m) => m.id === id)).type, 'next');
  const err = await g.next((m) => m.id === 'd');
  assert.equal(err.type, 'error');
  assert.equal(err.payload[0].extensions.code, 'LIMIT_EXCEEDED');
  sql(`INSERT INTO articles (title) VALUES ('counted too')`);
  for (const id of ['a', 'b', 'c']) assert.equal((await g.next((m) => m.id === id)).type, 'next');
  g.close();
});

check('connections past CDC_MAX_CONNECTIONS get HTTP 403 at the upgrade', async () => {
  await waitFor('only the bystander connected',
    async () => (await readMetrics(tight.http)).cdc_pusher_connections === 1);
  const before = await readMetrics(tight.http);
  const open = [];
  for (let i = 0; i < 7; i++) {
    const s = rawSocket(tight.url, i % 2 ? '/websocket' : '/graphql', i % 2 ? undefined : 'graphql-transport-ws');
    assert.ok(await s.opened(), `connection ${i + 2}`);
    open.push(s);
  }
  const refused = rawSocket(tight.url, '/websocket');
  assert.equal(await refused.opened(), false);
  assert.equal(refused.state.status, 403);
  const m = await readMetrics(tight.http);
  assert.equal(m.cdc_pusher_connections, 8);
  assert.equal(m.cdc_pusher_refused_upgrades_total - before.cdc_pusher_refused_upgrades_total, 1);
  await stillServed();

  // A closed connection frees its place.
  open.pop().close();
  await waitFor('a free place', async () => (await readMetrics(tight.http)).cdc_pusher_connections === 7);
  const again = rawSocket(tight.url, '/websocket');
  assert.ok(await again.opened());
  again.close();
  for (const s of open) s.close();
});

check('messages per second past the limit get REQUESTS_EXCEEDED, then pass again', async () => {
  const s = rawSocket(tight.url, '/websocket');
  await s.opened();
  for (let i = 0; i < 14; i++) s.send({ type: 'ping', uid: String(i) });
  s.send({ type: 'subscribe', collection: 'articles', uid: 'late' });
  await waitFor('15 answers', () => s.messages.length >= 15);
  const answers = s.messages.splice(0, 15);
  const pongs = answers.filter((m) => m.type === 'pong');
  const limited = answers.filter((m) => m.error?.code === 'REQUESTS_EXCEEDED');
  // A burst of 10, and about one more per 200 ms.
  assert.ok(pongs.length >= 10 && pongs.length <= 12, `pongs: ${pongs.length}`);
  assert.equal(pongs.length + limited.length, 15);
  const late = answers.find((m) => m.uid === 'late');
  assert.deepEqual({ ...late, error: { code: late.error.code } },
    { type: 'subscribe', status: 'error', error: { code: 'REQUESTS_EXCEEDED' }, uid: 'late' });
  await sleep(500);
  s.send({ type: 'subscribe', collection: 'articles', uid: 'later' });
  assert.equal((await s.next((m) => m.uid === 'later')).event, 'init');
  s.close();

  // On /graphql, subscribe messages count.
  const g = await gqlSocket(tight.url);
  const q = 'subscription { articles_mutated { key } }';
  for (let i = 0; i < 14; i++) {
    g.send({ id: String(i), type: 'subscribe', payload: { query: q } });
    g.send({ id: String(i), type: 'complete' });
  }
  await waitFor('an error', () => g.messages.some((m) => m.type === 'error'));
  await sleep(100);
  const errs = g.messages.filter((m) => m.type === 'error');
  assert.ok(errs.length >= 2 && errs.length <= 4, `errors: ${errs.length}`);
  for (const e of errs) assert.equal(e.payload[0].extensions.code, 'REQUESTS_EXCEEDED');
  assert.equal(g.state.close, null);
  g.close();
});

check('one event larger than CDC_MAX_QUEUE_BYTES still reaches a client that reads', async () => {
  const s = rawSocket(tight.url, '/websocket');
  await s.opened();
  s.send({ type: 'subscribe', collection: 'blobs', uid: 'big' });
  await s.next((m) => m.event === 'init');
  // 600 kB of bytea: about 1.2 MB of JSON, over the 1 MiB queue limit.
  const id = Number(sql(`INSERT INTO blobs (data) VALUES (decode(repeat('ab', 600000), 'hex'))
                         RETURNING id`));
  const m = await s.next((x) => x.event === 'create', 20000);
  assert.equal(m.data[0].id, id);
  assert.equal(m.data[0].data.length, 2 + 1200000);
  assert.equal(m.data[0].data.slice(0, 6), '\\xabab');
  assert.equal(s.state.close, null);
  s.close();
});

check('a client that stops reading is closed with 1013 past its queue; graphql-ws retries', async () => {
  // Each client subscribes several times, so that every row weighs more.
  const uids = ['s1', 's2', 's3'];
  const slow = rawSocket(tight.url, '/websocket');
  await slow.opened();
  for (const uid of uids) slow.send({ type: 'subscribe', collection: 'bulk', uid });
  const init = await slow.next((m) => m.uid === 's1');
  const watching = rawSocket(roomy.url, '/websocket');
  await watching.opened();
  for (const uid of uids) watching.send({ type: 'subscribe', collection: 'bulk', uid });
  await waitFor('inits', () => watching.messages.length >= 3 && slow.messages.length >= 2);
  assert.deepEqual([...slow.messages, init].map((m) => m.event), ['init', 'init', 'init']);

  const sockets = [];
  class Capturing extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
    }
  }
  const life = { connected: 0, closes: [] };
  const client = createClient({
    url: `${tight.url}/graphql`, webSocketImpl: Capturing, retryAttempts: 3,
    retryWait: async () => {},
    on: { connected: () => life.connected++, closed: (e) => life.closes.push([e.code, e.reason]) },
  });
  const gqlEvents = [];
  for (const uid of uids) {
    client.subscribe({ query: `subscription { bulk_mutated(after: "") { key ${uid}: data { body } } }` },
      { next: (v) => gqlEvents.push(v), error: (e) => gqlEvents.push({ error: e }), complete: () => {} });
  }
  await waitFor('graphql inits', () => gqlEvents.length === uids.length);
  assert.deepEqual(gqlEvents.filter((e) => e.error), []);

  // All three stop reading. Batches of 24 rows of 8 KiB, under the queue
  // limit even three times over, come until the pusher with default limits
  // queues some and the one with 1 MiB has closed both of its slow clients.
  slow.ws._socket.pause();
  watching.ws._socket.pause();
  sockets[0]._socket.pause();
  const start = await readMetrics(tight.http);
  let rows = 0;
  let queued = 0;
  for (let batch = 1; ; batch++) {
    sql(`INSERT INTO bulk (batch, body)
         SELECT ${batch}, repeat(md5(g::text), 256) FROM generate_series(1, 24) g`);
    rows += 24;
    await waitFor(`${rows} rows at the bystander`,
      () => bystander.messages.filter((m) => m.uid === 'bulk').length >= rows);
    await waitFor(`${rows} rows at the other pusher`, async () =>
      (await readMetrics(roomy.http)).cdc_pusher_events_total >= rows);
    if (!queued) queued = (await readMetrics(roomy.http)).cdc_pusher_queue_bytes;
    const m = await readMetrics(tight.http);
    if (queued > 0 && m.cdc_pusher_slow_closes_total - start.cdc_pusher_slow_closes_total >= 2)
      break;
    assert.ok(batch < 100, 'the queue limit was never reached');
  }
  // The pusher with room queues rather than closes; reading again drains it.
  assert.ok(queued > 0 && queued < 4194304, `queued ${queued}`);
  watching.ws._socket.resume();
  await waitFor('the queue drained', async () =>
    (await readMetrics(roomy.http)).cdc_pusher_queue_bytes === 0);
  await waitFor('every row at the client with room',
    () => watching.messages.filter((m) => m.event === 'create').length >= 3 * rows);
  assert.equal(watching.state.close, null);
  watching.close();

  // The slow ones read again: what was sent before the close, then the close.
  slow.ws._socket.resume();
  sockets[0]._socket.resume();
  const closed = await slow.closed();
  assert.equal(closed.code, 1013);
  assert.equal(closed.reason, 'send queue over 1048576 bytes: reconnect and resume from your last cursor');
  await waitFor('graphql-ws reconnected', () => life.connected === 2);
  assert.deepEqual(life.closes[0], [1013, closed.reason]);
  assert.equal(bystander.messages.filter((m) => m.uid === 'bulk').length, rows);

  // Resuming from the last cursor it saw gives the slow client the rest.
  const seen = slow.messages.filter((m) => m.uid === 's1' && m.event === 'create');
  const last = seen.length ? seen[seen.length - 1].cursor : init.cursor;
  const resumed = rawSocket(tight.url, '/websocket');
  await resumed.opened();
  resumed.send({ type: 'subscribe', collection: 'bulk', uid: 's1', cursor: last, query: { fields: 'id' } });
  await waitFor('the missed rows', () =>
    resumed.messages.filter((m) => m.event === 'create').length >= rows - seen.length, 30000);
  const ids = [...seen.map((m) => m.data[0].id),
    ...resumed.messages.filter((m) => m.event === 'create').map((m) => m.data[0].id)];
  assert.equal(new Set(ids).size, rows);
  assert.equal(ids.length, rows);
  resumed.close();
  await client.dispose();
});

check('past CDC_MAX_TOTAL_QUEUE_BYTES the client holding the most is closed; the others read on', async () => {
  const perms = stack.writeFile('permissions-budget.json', JSON.stringify({
    public: { collections: { bulk: { fields: ['*'] } } },
  }));
  const budget = await stack.startPusher({
    CDC_PERMISSIONS: perms, CDC_REALTIME_AUTH: 'public',
    CDC_MAX_TOTAL_QUEUE_BYTES: '1048576', CDC_MAX_QUEUE_BYTES: '67108864',
  });
  try {
    const hog = rawSocket(budget.url, '/websocket');
    const reader = rawSocket(budget.url, '/websocket');
    await Promise.all([hog.opened(), reader.opened()]);
    for (const s of [hog, reader]) {
      for (const uid of ['a', 'b', 'c']) s.send({ type: 'subscribe', collection: 'bulk', uid });
      await waitFor('inits', () => s.messages.filter((m) => m.event === 'init').length === 3);
    }
    const start = await readMetrics(budget.http);
    hog.ws._socket.pause();
    let rows = 0;
    for (let batch = 1; ; batch++) {
      sql(`INSERT INTO bulk (batch, body)
           SELECT ${batch}, repeat(md5(g::text), 256) FROM generate_series(1, 24) g`);
      rows += 24;
      await waitFor(`${rows} rows at the reading client`, () =>
        reader.messages.filter((m) => m.event === 'create').length >= 3 * rows);
      const m = await readMetrics(budget.http);
      if (m.cdc_pusher_slow_closes_total > start.cdc_pusher_slow_closes_total) break;
      assert.ok(batch < 200, 'the budget was never reached');
    }
    const m = await readMetrics(budget.http);
    assert.ok(m.cdc_pusher_queue_memory_bytes <= 1048576, `memory ${m.cdc_pusher_queue_memory_bytes}`);
    hog.ws._socket.resume();
    const closed = await hog.closed();
    assert.equal(closed.code, 1013);
    assert.equal(closed.reason,
      'server send buffers over 1048576 bytes: reconnect and resume from your last cursor');
    assert.equal(reader.state.close, null);
    const id = Number(sql(`INSERT INTO bulk (batch, body) VALUES (0, 'after') RETURNING id`));
    await reader.next((x) => x.event === 'create' && x.data[0].id === id);
    reader.close();
  } finally {
    await budget.kill('SIGTERM');
  }
});
