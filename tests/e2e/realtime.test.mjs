// Directus's realtime JSON protocol at /websocket: @directus/sdk's
// realtime() as shipped, through a reconnect; raw sockets for every message
// shape (auth, subscribe with each form of query.fields and query.filter,
// init with its cursor, create/update/delete, unsubscribe, ping and pong
// both ways, the error codes); and every column type as Directus sends it,
// on /websocket and on /graphql alike.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDirectus, realtime, staticToken } from '@directus/sdk';
import WebSocket from 'ws';
import { gqlSocket, rawSocket, signToken } from './lib/clients.mjs';
import { testWithLogs } from './lib/check.mjs';
import { SECRET, Stack, waitFor } from './lib/stack.mjs';

const stack = new Stack('realtime');
let main; // handshake auth within 1 s
let pinger; // pings every 600 ms

const PERMISSIONS = {
  public: { collections: { articles: { fields: ['*'] }, typed: { fields: ['*'] } } },
  roles: { editor: { collections: { articles: { fields: ['id', 'title'] } } } },
};

function token({ ttl = 3600, role = null } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return signToken(SECRET, {
    id: 'u-1', role, app_access: true, admin_access: false, iat: now, exp: now + ttl,
    iss: 'directus',
  });
}

before(async () => {
  const pg = await stack.startPostgres();
  pg.psql(`
    CREATE TABLE articles (id serial PRIMARY KEY, title text, status text, views int);
    ALTER TABLE articles REPLICA IDENTITY FULL;
    CREATE TABLE secrets (id serial PRIMARY KEY, code text);
    CREATE TABLE typed (
      id bigserial PRIMARY KEY, i int, s smallint, b bigint, r real, d double precision,
      n numeric(12,3), nu numeric, flag boolean, t text, j json, jb jsonb,
      ts timestamp, tstz timestamptz, dt date, tm time, u uuid, arr int[], txt text[],
      by bytea);`);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify(PERMISSIONS));
  [main, pinger] = await Promise.all([
    stack.startPusher({ CDC_PERMISSIONS: perms, CDC_AUTH_TIMEOUT_MS: '1000' }),
    stack.startPusher({ CDC_PERMISSIONS: perms, CDC_PING_INTERVAL_MS: '600' }),
  ]);
});

after(async () => {
  await stack.stop();
});

const check = (name, fn) => testWithLogs(stack, name, fn);

const sql = (text) => stack.pg.psql(text).trim();
const insert = (status, title, views = 0) =>
  sql(`INSERT INTO articles (title, status, views) VALUES ('${title}', '${status}', ${views})
       RETURNING id`);

// An authenticated raw socket on /websocket.
async function realtimeSocket(url, tok = token()) {
  const s = rawSocket(url, '/websocket');
  assert.ok(await s.opened());
  s.send({ type: 'auth', access_token: tok });
  assert.deepEqual(await s.next(), { type: 'auth', status: 'ok' });
  return s;
}

// The SDK reads a message with a listener it attaches for that one message,
// which works where each message is its own event-loop task, as in
// browsers. ws emits every message of one network read in the same tick by
// default, so the SDK would miss all but the first; this ws delivers them
// one per tick, as a browser does.
class BrowserLikeWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { allowSynchronousEvents: false });
  }
}

// Reads an SDK subscription's generator into a list, in the background.
function drain(subscription) {
  const got = [];
  (async () => {
    for await (const m of subscription) got.push(m);
  })().catch((e) => got.push({ thrown: e }));
  return got;
}

check('@directus/sdk realtime() subscribes, and resubscribes after a reconnect', async () => {
  let socket;
  const client = createDirectus(main.http, { globals: { WebSocket: BrowserLikeWebSocket } })
    .with(staticToken(token()))
    .with(realtime({ authMode: 'handshake', reconnect: { delay: 100, retries: 5 } }));
  client.onWebSocket('open', function open() {
    socket = this;
  });
  await client.connect();
  const { subscription, unsubscribe } = await client.subscribe('articles', {
    query: { fields: ['id', 'title'], filter: { status: { _eq: 'sdk' } } },
  });
  const creates = await client.subscribe('articles', {
    event: 'create',
    query: { fields: ['title'], filter: { status: { _eq: 'sdk' } } },
  });
  const got = drain(subscription);
  const gotCreates = drain(creates.subscription);
  await waitFor('init', () => got.length >= 1 && gotCreates.length >= 1);
  assert.equal(got[0].event, 'init');
  assert.deepEqual(got[0].data, []);
  assert.equal(typeof got[0].cursor, 'string');
  assert.equal(gotCreates[0].event, 'init');
  assert.equal(gotCreates[0].data, undefined);

  const a = insert('sdk', 'a');
  await waitFor('create', () => got.length >= 2);
  sql(`UPDATE articles SET title = 'a2' WHERE id = ${a}`);
  await waitFor('update', () => got.length >= 3);
  sql(`DELETE FROM articles WHERE id = ${a}`);
  await waitFor('delete', () => got.length >= 4);
  assert.deepEqual(got.slice(1).map(({ type, event, data, uid }) => ({ type, event, data, uid })), [
    { type: 'subscription', event: 'create', data: [{ id: Number(a), title: 'a' }], uid: got[0].uid },
    { type: 'subscription', event: 'update', data: [{ id: Number(a), title: 'a2' }], uid: got[0].uid },
    { type: 'subscription', event: 'delete', data: [a], uid: got[0].uid },
  ]);
  await waitFor('the create-only one', () => gotCreates.length >= 2);
  assert.deepEqual(gotCreates[1].data, [{ title: 'a' }]);

  // The connection drops; the SDK reconnects, authenticates and sends each
  // subscription again with its uid (twice, in fact): the uid replaces, so
  // every change still comes once.
  const first = socket;
  first.terminate();
  await waitFor('a new connection', () => socket !== first && socket.readyState === WebSocket.OPEN);
  await waitFor('init after reconnecting', () => got.filter((m) => m.event === 'init').length >= 2);
  await sleep(300);
  insert('sdk', 'b');
  insert('sdk', 'c');
  await waitFor('changes after reconnecting', () => got.filter((m) => m.event === 'create').length >= 3);
  await sleep(300);
  const creates2 = got.filter((m) => m.event === 'create').slice(1).map((m) => m.data[0].title);
  assert.deepEqual(creates2.sort(), ['b', 'c']);

  unsubscribe();
  creates.unsubscribe();
  client.disconnect();
});

check('auth: ok and error shapes, timeout, expiry and renewal', async () => {
  const runs = [];
  // Good token.
  runs.push(realtimeSocket(main.url).then((s) => s.close()));

  // Bad and expired tokens: the same error, then the connection is closed.
  for (const [tok, code] of [['not-a-token', 'AUTH_FAILED'], [token({ ttl: -30 }), 'AUTH_FAILED']]) {
    runs.push((async () => {
      const s = rawSocket(main.url, '/websocket');
      await s.opened();
      s.send({ type: 'auth', access_token: tok });
      const m = await s.next();
      assert.deepEqual(Object.keys(m).sort(), ['error', 'status', 'type']);
      assert.equal(m.type, 'auth');
      assert.equal(m.status, 'error');
      assert.equal(m.error.code, code);
      assert.equal(typeof m.error.message, 'string');
      assert.equal((await s.closed()).code, 1000);
    })());
  }

  // Nothing sent: AUTH_TIMEOUT, then closed.
  runs.push((async () => {
    const s = rawSocket(main.url, '/websocket');
    await s.opened();
    const m = await s.next();
    assert.equal(m.error.code, 'AUTH_TIMEOUT');
    assert.equal((await s.closed()).code, 1000);
  })());

  // Subscribing first: AUTH_FAILED, then closed.
  runs.push((async () => {
    const s = rawSocket(main.url, '/websocket');
    await s.opened();
    s.send({ type: 'subscribe', collection: 'articles', uid: 'early' });
    const m = await s.next();
    assert.equal(m.type, 'auth');
    assert.equal(m.error.code, 'AUTH_FAILED');
    assert.equal((await s.closed()).code, 1000);
  })());

  // A token expiring while connected: TOKEN_EXPIRED; a fresh token sent in
  // time keeps the connection and its subscriptions.
  runs.push((async () => {
    const s = await realtimeSocket(main.url, token({ ttl: 2 }));
    s.send({ type: 'subscribe', collection: 'articles', uid: 'kept',
      query: { filter: { status: { _eq: 'renewed' } } } });
    await s.next((m) => m.event === 'init');
    const expired = await s.next((m) => m.type === 'auth', 8000);
    assert.deepEqual(expired.error.code, 'TOKEN_EXPIRED');
    s.send({ type: 'auth', access_token: token() });
    assert.deepEqual(await s.next((m) => m.type === 'auth'), { type: 'auth', status: 'ok' });
    await sleep(1200); // past the renewal deadline
    const id = insert('renewed', 'r');
    const m = await s.next((x) => x.event === 'create');
    assert.equal(m.uid, 'kept');
    assert.equal(m.data[0].id, Number(id));
    assert.equal(s.state.close, null);
    s.close();
  })());

  // A token expiring and not renewed: closed once the deadline passes.
  runs.push((async () => {
    const s = await realtimeSocket(main.url, token({ ttl: 2 }));
    assert.equal((await s.next((m) => m.type === 'auth', 8000)).error.code, 'TOKEN_EXPIRED');
    assert.deepEqual(await s.closed(), { code: 1000, reason: 'token expired' });
  })());
  await Promise.all(runs);
});

check('subscribe: each form of fields and filter, init, events, unsubscribe, ping', async () => {
  const s = await realtimeSocket(main.url);
  const f = { status: { _eq: 'raw' } };
  const subs = {
    all: { query: { filter: f } },
    star: { query: { fields: ['*'], filter: JSON.stringify(f) } },
    array: { query: { fields: ['title', 'id'], filter: f } },
    comma: { query: { fields: ' id , title ', filter: JSON.stringify(f) } },
    whole: { query: JSON.stringify({ fields: 'id', filter: f }) },
    updates: { event: 'update', query: { fields: ['id', 'views'], filter: f } },
    deletes: { event: 'delete', query: { filter: f } },
    gone: { query: { filter: f } },
  };
  for (const [uid, body] of Object.entries(subs))
    s.send({ type: 'subscribe', collection: 'articles', uid, ...body });
  const inits = {};
  for (const uid of Object.keys(subs)) inits[uid] = await s.next((m) => m.uid === uid);
  assert.deepEqual(Object.keys(inits.all), ['type', 'event', 'data', 'cursor', 'uid']);
  assert.deepEqual({ ...inits.all, cursor: 'c' },
    { type: 'subscription', event: 'init', data: [], cursor: 'c', uid: 'all' });
  // With an event named, Directus sends no data in init.
  assert.deepEqual({ ...inits.updates, cursor: 'c' },
    { type: 'subscription', event: 'init', cursor: 'c', uid: 'updates' });
  assert.match(inits.all.cursor, /^[A-Za-z0-9_-]{20,}$/);

  s.send({ type: 'unsubscribe', uid: 'gone' });
  const id = Number(insert('raw', 'r1', 1));
  const created = {};
  for (const uid of ['all', 'star', 'array', 'comma', 'whole'])
    created[uid] = await s.next((m) => m.uid === uid);
  const row = { id, title: 'r1', status: 'raw', views: 1 };
  assert.deepEqual(Object.keys(created.all), ['type', 'event', 'data', 'cursor', 'uid']);
  assert.deepEqual({ ...created.all, cursor: 'c' },
    { type: 'subscription', event: 'create', data: [row], cursor: 'c', uid: 'all' });
  assert.notEqual(created.all.cursor, inits.all.cursor);
  assert.deepEqual(created.star.data, [row]);
  assert.deepEqual(created.array.data, [{ id, title: 'r1' }]);
  assert.deepEqual(created.comma.data, [{ id, title: 'r1' }]);
  assert.deepEqual(created.whole.data, [{ id }]);

  sql(`UPDATE articles SET views = 2 WHERE id = ${id}`);
  const updated = await s.next((m) => m.uid === 'updates');
  assert.deepEqual({ ...updated, cursor: 'c' },
    { type: 'subscription', event: 'update', data: [{ id, views: 2 }], cursor: 'c', uid: 'updates' });
  sql(`DELETE FROM articles WHERE id = ${id}`);
  const deleted = await s.next((m) => m.uid === 'deletes');
  assert.deepEqual({ ...deleted, cursor: 'c' },
    { type: 'subscription', event: 'delete', data: [String(id)], cursor: 'c', uid: 'deletes' });
  assert.deepEqual(s.messages.filter((m) => m.uid === 'gone'), []);

  // A subscribe reusing a uid replaces the subscription: one event per change.
  s.send({ type: 'subscribe', collection: 'articles', uid: 'all', query: { fields: 'title', filter: f } });
  assert.equal((await s.next((m) => m.uid === 'all' && m.event === 'init')).event, 'init');
  s.messages.length = 0;
  insert('raw', 'r2');
  const replaced = await s.next((m) => m.uid === 'all');
  assert.deepEqual(replaced.data, [{ title: 'r2' }]);
  await s.next((m) => m.uid === 'star');
  assert.deepEqual(s.messages.filter((m) => m.uid === 'all'), []);

  // Unsubscribe without a uid ends them all.
  s.send({ type: 'unsubscribe' });
  s.send({ type: 'ping', uid: 'p-1' });
  assert.deepEqual(await s.next((m) => m.type === 'pong'), { type: 'pong', uid: 'p-1' });
  s.send({ type: 'ping' });
  assert.deepEqual(await s.next((m) => m.type === 'pong'), { type: 'pong' });
  s.messages.length = 0;
  insert('raw', 'r3');
  s.send({ type: 'ping', uid: 'p-2' });
  await s.next((m) => m.type === 'pong');
  await sleep(300);
  assert.deepEqual(s.messages, []);
  s.close();
});

check('errors: INVALID_PAYLOAD, FORBIDDEN alike for unknown and forbidden, INVALID_QUERY', async () => {
  const s = await realtimeSocket(main.url);
  const editor = await realtimeSocket(main.url, token({ role: 'editor' }));

  s.send('{"type": "subscribe", ');
  const bad = await s.next();
  assert.deepEqual(Object.keys(bad), ['type', 'status', 'error']);
  assert.equal(bad.type, 'server');
  assert.equal(bad.status, 'error');
  assert.equal(bad.error.code, 'INVALID_PAYLOAD');
  s.send('[]');
  assert.equal((await s.next()).error.code, 'INVALID_PAYLOAD');
  s.send({ type: 'teleport', uid: 't' });
  const unknownType = await s.next();
  assert.deepEqual({ ...unknownType, error: { code: unknownType.error.code } },
    { type: 'teleport', status: 'error', error: { code: 'INVALID_PAYLOAD' }, uid: 't' });

  s.send({ type: 'ping', uid: 'u'.repeat(257) });
  const longUid = await s.next();
  assert.deepEqual({ ...longUid, error: { code: longUid.error.code } },
    { type: 'ping', status: 'error', error: { code: 'INVALID_PAYLOAD' } });
  assert.match(longUid.error.message, /"uid" is longer than 256 bytes/);
  s.send({ type: 'ping', uid: 5 });
  assert.deepEqual(await s.next(), { type: 'pong', uid: '5' });
  const binary = await realtimeSocket(main.url);
  binary.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
  assert.deepEqual(await binary.closed(), { code: 1003, reason: 'binary messages are not supported' });

  s.send({ type: 'subscribe', collection: 'nosuch', uid: 'x' });
  s.send({ type: 'subscribe', collection: 'secrets', uid: 'x' });
  const unknown = await s.next();
  const forbidden = await s.next();
  assert.deepEqual(unknown, forbidden);
  assert.deepEqual({ ...unknown, error: { code: unknown.error.code } },
    { type: 'subscribe', status: 'error', error: { code: 'FORBIDDEN' }, uid: 'x' });

  const refused = async (sock, body, code, message) => {
    sock.send({ type: 'subscribe', uid: 'q', ...body });
    const m = await sock.next();
    assert.equal(m.type, 'subscribe');
    assert.equal(m.uid, 'q');
    assert.equal(m.error.code, code, JSON.stringify(body));
    assert.match(m.error.message, message, JSON.stringify(body));
  };
  await refused(s, { collection: 'articles', event: 'upsert' }, 'INVALID_PAYLOAD', /create, update or delete/);
  await refused(s, { collection: 'articles', event: 7 }, 'INVALID_PAYLOAD', /create, update or delete/);
  await refused(s, {}, 'INVALID_PAYLOAD', /"collection" is missing/);
  await refused(s, { collection: 'articles', query: '{"fields": ' }, 'INVALID_QUERY', /not JSON/);
  await refused(s, { collection: 'articles', query: { fields: 5 } }, 'INVALID_QUERY', /query.fields/);
  await refused(s, { collection: 'articles', query: { fields: ['nope'] } }, 'INVALID_QUERY', /"nope"/);
  await refused(s, { collection: 'articles', query: { fields: 'author.name' } }, 'INVALID_QUERY',
    /"author.name" is relational/);
  await refused(s, { collection: 'articles', query: { filter: { nope: { _eq: 1 } } } },
    'INVALID_QUERY', /"nope"/);
  await refused(s, { collection: 'articles', query: { filter: '{"views": {"_around": 3}}' } },
    'INVALID_QUERY', /"_around"/);
  // A field the role may not read reads like one that does not exist.
  await refused(editor, { collection: 'articles', query: { fields: ['status'] } }, 'INVALID_QUERY',
    /field "status" does not exist in this collection or you may not read it/);
  await refused(editor, { collection: 'articles', query: { filter: { status: { _eq: 'x' } } } },
    'INVALID_QUERY', /"status"/);

  // The connection keeps serving.
  s.send({ type: 'subscribe', collection: 'articles', uid: 'ok', query: { filter: { status: { _eq: 'after-errors' } } } });
  await s.next((m) => m.uid === 'ok');
  editor.send({ type: 'subscribe', collection: 'articles', uid: 'ed' });
  await editor.next((m) => m.uid === 'ed');
  const id = Number(insert('after-errors', 'e'));
  assert.deepEqual((await s.next((m) => m.uid === 'ok')).data[0].id, id);
  // The editor sees its fields only.
  assert.deepEqual((await editor.next((m) => m.data?.[0]?.id === id)).data, [{ id, title: 'e' }]);
  s.close();
  editor.close();
});

check('server pings every interval; a socket that never answers is closed', async () => {
  const answering = await realtimeSocket(pinger.url);
  answering.ws.on('message', (m) => {
    if (JSON.parse(m).type === 'ping') answering.send({ type: 'pong' });
  });
  answering.send({ type: 'subscribe', collection: 'articles', uid: 'a',
    query: { filter: { status: { _eq: 'pinged' } } } });
  const silent = await realtimeSocket(pinger.url);
  assert.deepEqual(await silent.next((m) => m.type === 'ping'), { type: 'ping' });
  assert.deepEqual(await silent.closed(), { code: 1001, reason: 'no pong to the last ping' });

  // The SDK answers pings itself.
  const client = createDirectus(pinger.http, { globals: { WebSocket: BrowserLikeWebSocket } })
    .with(staticToken(token()))
    .with(realtime({ authMode: 'handshake', reconnect: false }));
  let pings = 0;
  client.onWebSocket('open', function open() {
    this.addEventListener('message', (e) => JSON.parse(e.data).type === 'ping' && pings++);
  });
  await client.connect();
  const { subscription } = await client.subscribe('articles', {
    query: { filter: { status: { _eq: 'pinged' } } },
  });
  const got = drain(subscription);
  await waitFor('several pings', () => pings >= 4);
  const id = insert('pinged', 'p');
  await waitFor('the event', () => got.some((m) => m.event === 'create'));
  assert.equal(got.find((m) => m.event === 'create').data[0].id, Number(id));
  assert.ok(await client.isConnected());
  assert.equal((await answering.next((m) => m.uid === 'a' && m.event === 'create')).data[0].id, Number(id));
  assert.equal(answering.state.close, null);
  client.disconnect();
  answering.close();
});

check('values are typed as Directus sends them, on both protocols', async () => {
  const rt = await realtimeSocket(main.url);
  rt.send({ type: 'subscribe', collection: 'typed', uid: 't' });
  await rt.next((m) => m.event === 'init');
  const gql = await gqlSocket(main.url, { token: token() });
  gql.send({
    id: 'g', type: 'subscribe',
    payload: { query: `subscription { typed_mutated(after: "") { key event data {
      id i s b r d n nu flag t j jb ts tstz dt tm u arr txt by } } }` },
  });
  await gql.next((m) => m.id === 'g');

  const id = sql(`INSERT INTO typed (i, s, b, r, d, n, nu, flag, t, j, jb, ts, tstz, dt, tm, u,
      arr, txt, by) VALUES
    (-7, 3, 9007199254740993, 1.5, 0.1, 12345.678, 1e-20, true, E'é "q"\\n',
     '{"a": [1, 2.5, null], "b": "x"}', '{"k": {"n": true}}', '2026-05-01 10:00:00.5',
     '2026-05-01 12:00:00+02', '2026-05-01', '23:59:59.999999',
     'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{1,NULL,3}', '{"a,b",c}', '\\x00ff')
    RETURNING id`);
  const expected = {
    i: -7, s: 3, r: 1.5, d: 0.1, n: '12345.678', nu: '0.00000000000000000001', flag: true,
    t: 'é "q"\n', j: { a: [1, 2.5, null], b: 'x' }, jb: { k: { n: true } },
    ts: '2026-05-01T10:00:00.5', tstz: '2026-05-01T10:00:00Z', dt: '2026-05-01',
    tm: '23:59:59.999999', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', arr: [1, null, 3],
    txt: ['a,b', 'c'], by: '\\x00ff',
  };
  const created = await rt.next((m) => m.event === 'create');
  const { b, id: rid, ...rest } = created.data[0];
  assert.deepEqual(rest, expected);
  assert.equal(rid, Number(id));
  const raw = await new Promise((resolve) => {
    const ws = new WebSocket(`${main.url}/websocket`);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', access_token: token() })));
    ws.on('message', (m) => {
      const text = m.toString();
      if (text.includes('"status":"ok"')) {
        ws.send(JSON.stringify({ type: 'subscribe', collection: 'typed', uid: 'raw', event: 'update' }));
      } else if (text.includes('"event":"init"')) {
        sql(`UPDATE typed SET i = 8 WHERE id = ${id}`);
      } else if (text.includes('"event":"update"')) {
        ws.close();
        resolve(text);
      }
    });
  });
  // bigint as a JSON number, digit for digit.
  assert.match(raw, /"b":9007199254740993,/);
  assert.equal(b, 9007199254740993);

  const next = await gql.next((m) => m.id === 'g');
  const item = next.payload.data.typed_mutated;
  assert.equal(item.key, id);
  // GraphQL sends ids as strings (ID), every other value as on /websocket.
  assert.deepEqual(item.data, { id, b, ...expected });

  sql(`DELETE FROM typed WHERE id = ${id}`);
  const deleted = await rt.next((m) => m.event === 'delete');
  assert.deepEqual(deleted.data, [id]);
  await gql.next((m) => m.payload?.data?.typed_mutated?.event === 'update');
  const gdel = await gql.next((m) => m.id === 'g');
  assert.deepEqual(gdel.payload.data.typed_mutated, { key: id, event: 'delete', data: null });
  rt.close();
  gql.close();
});
