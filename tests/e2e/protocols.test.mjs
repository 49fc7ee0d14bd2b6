// graphql-transport-ws at /graphql, complete, with the npm graphql-ws client
// and raw sockets: handshake with a token, subscribe/next/error/complete,
// ping and pong both ways, every close code and what graphql-ws does on
// each; GraphQL as clients write it (operation names, variables, aliases,
// fragments, directives, __typename, the short form, located errors);
// /healthz, /readyz and /metrics; identical subscriptions sharing a group.
// One stack for the file: a handshake-mode pusher and one with fast pings.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlSocket, rawSocket, readMetrics, signToken } from './lib/clients.mjs';
import { testWithLogs } from './lib/check.mjs';
import { SECRET, Stack, waitFor } from './lib/stack.mjs';

const stack = new Stack('protocols');
let main; // handshake auth, connection_init within 800 ms
let pinger; // the same, pinging every 600 ms

const PERMISSIONS = {
  public: { collections: { articles: { fields: ['*'] } } },
};

function token({ ttl = 3600, user = 'u-1' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return signToken(SECRET, {
    id: user,
    role: null,
    app_access: true,
    admin_access: false,
    iat: now,
    exp: now + ttl,
    iss: 'directus',
  });
}

before(async () => {
  const pg = await stack.startPostgres();
  pg.psql(`
    CREATE TABLE articles (id serial PRIMARY KEY, title text, status text, views int);
    ALTER TABLE articles REPLICA IDENTITY FULL;
    CREATE TABLE secrets (id serial PRIMARY KEY, code text);`);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify(PERMISSIONS));
  [main, pinger] = await Promise.all([
    stack.startPusher({ CDC_PERMISSIONS: perms, CDC_INIT_TIMEOUT_MS: '800' }),
    stack.startPusher({ CDC_PERMISSIONS: perms, CDC_PING_INTERVAL_MS: '600' }),
  ]);
});

after(async () => {
  await stack.stop();
});

const check = (name, fn) => testWithLogs(stack, name, fn);

const insert = (status, title, views = 0) =>
  stack.pg.psql(
    `INSERT INTO articles (title, status, views) VALUES ('${title}', '${status}', ${views})
     RETURNING id`,
  ).trim();

// A graphql-ws client that records its life: sockets opened, acks, closes.
function trackedClient(url, options = {}) {
  const life = { opened: 0, connected: 0, closes: [], pings: 0, pongs: 0 };
  const client = createClient({
    url: `${url}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: () => ({ access_token: token() }),
    retryAttempts: 3,
    retryWait: async () => {},
    ...options,
    on: {
      opened: () => life.opened++,
      connected: () => life.connected++,
      closed: (e) => life.closes.push({ code: e.code, reason: e.reason }),
      ping: (received) => received && life.pings++,
      pong: (received) => received && life.pongs++,
    },
  });
  return { client, life };
}

// One subscription of a client, recording what it receives.
function listen(client, query, variables, extra = {}) {
  const sub = { events: [], errors: [], completed: false };
  sub.dispose = client.subscribe(
    { query, variables, ...extra },
    {
      next: (v) => sub.events.push(v),
      error: (e) => sub.errors.push(e),
      complete: () => (sub.completed = true),
    },
  );
  sub.items = () => sub.events.map((e) => Object.values(e.data)[0]);
  sub.wait = async (n, what = 'events') => {
    await waitFor(`${n} ${what} (have ${JSON.stringify(sub.events)}, ` +
      `errors ${JSON.stringify(sub.errors)})`,
    () => sub.events.length >= n || sub.errors.length > 0);
    assert.deepEqual(sub.errors, [], 'no error');
    return sub.items();
  };
  sub.error = async () => {
    await waitFor('an error', () => sub.errors.length > 0);
    return sub.errors[0];
  };
  return sub;
}

// The HTTP answer to an upgrade offering these subprotocols.
function upgradeRefusal(port, protocols) {
  return new Promise((resolve, reject) => {
    const req = http.get({
      host: '127.0.0.1', port, path: '/graphql',
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': protocols,
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
  });
}

const byStatus = (status, selection) =>
  `subscription { articles_mutated(filter: { status: { _eq: "${status}" } }, after: "") ${selection} }`;

check('subscribe, next, error and complete over one connection', async () => {
  const s = await gqlSocket(main.url, { token: token() });
  const q = byStatus('flow', '{ key event data { title } }');
  s.send({ id: 'a', type: 'subscribe', payload: { query: q } });
  s.send({ id: 'b', type: 'subscribe', payload: { query: q } });
  for (const id of ['a', 'b']) {
    const init = await s.next((m) => m.id === id);
    assert.equal(init.type, 'next');
    assert.deepEqual(init.payload.data.articles_mutated,
      { key: null, event: 'init', data: null });
    assert.equal(typeof init.payload.extensions.cursor, 'string');
  }

  const one = insert('flow', 'one');
  for (const id of ['a', 'b']) {
    const m = await s.next((x) => x.id === id);
    assert.deepEqual(m.payload.data.articles_mutated,
      { key: one, event: 'create', data: { title: 'one' } });
  }

  // The client completes "a"; "a" hears nothing more, "b" still does.
  // complete for an id that is not running is ignored.
  s.send({ id: 'a', type: 'complete' });
  s.send({ id: 'not-running', type: 'complete' });
  const two = insert('flow', 'two');
  const m = await s.next((x) => x.id === 'b');
  assert.equal(m.payload.data.articles_mutated.key, two);
  assert.equal(s.messages.filter((x) => x.id === 'a').length, 0);

  // A completed id may be used again.
  s.send({ id: 'a', type: 'subscribe', payload: { query: q } });
  assert.equal((await s.next((x) => x.id === 'a')).payload.data.articles_mutated.event, 'init');

  // An error ends that one operation, never the connection: GraphQL-shaped.
  s.send({ id: 'c', type: 'subscribe', payload: { query: 'subscription { articles_mutated { nope } }' } });
  const err = await s.next((x) => x.id === 'c');
  assert.equal(err.type, 'error');
  assert.equal(err.payload.length, 1);
  assert.match(err.payload[0].message, /"nope"/);
  assert.deepEqual(err.payload[0].locations, [{ line: 1, column: 35 }]);
  assert.equal(err.payload[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');

  // Variables must be an object (graphql-ws itself refuses to send others).
  s.send({ id: 'd', type: 'subscribe', payload: { query: q, variables: [1] } });
  assert.deepEqual(await s.next((x) => x.id === 'd'), {
    id: 'd', type: 'error',
    payload: [{ message: '"variables" must be an object', extensions: { code: 'BAD_USER_INPUT' } }],
  });

  // ping from the client, with and without a payload.
  s.send({ type: 'ping', payload: { n: 7 } });
  assert.deepEqual(await s.next((x) => x.type === 'pong'), { type: 'pong', payload: { n: 7 } });
  s.send({ type: 'ping' });
  assert.deepEqual(await s.next((x) => x.type === 'pong'), { type: 'pong' });

  const three = insert('flow', 'three');
  for (const id of ['a', 'b'])
    assert.equal((await s.next((x) => x.id === id)).payload.data.articles_mutated.key, three);
  assert.equal(s.state.close, null);
  s.close();
});

check('every close code of graphql-transport-ws, on raw sockets', async () => {
  const init = (payload) => ({ type: 'connection_init', payload });
  const sub = (id) => ({ id, type: 'subscribe', payload: { query: byStatus('x', '{ key }') } });

  // Each case: how the client behaves, then the close it must get.
  const cases = {
    'no connection_init in time': [[], 4408, /initialisation timeout/],
    'connection_init without a token': [[init()], 4403, /Forbidden/],
    'connection_init with a bad token': [[init({ access_token: 'x.y.z' })], 4403, /Forbidden/],
    'connection_init with an expired token':
      [[init({ access_token: token({ ttl: -10 }) })], 4403, /Forbidden/],
    'subscribe before connection_ack': [[sub('1')], 4401, /Unauthorized/],
    'a second connection_init':
      [[init({ access_token: token() }), init({ access_token: token() })], 4429, /Too many/],
    'a duplicate subscription id':
      [[init({ access_token: token() }), sub('dup'), sub('dup')], 4409, /dup already exists/],
    'a message that is not JSON': [['{"type": "connection_init"'], 4400, /Invalid message/],
    'JSON that is not an object': [['[1, 2]'], 4400, /Invalid message/],
    'a message without a type': [[{ payload: {} }], 4400, /Invalid message/],
    'an unknown type': [[{ type: 'start' }], 4400, /Invalid message/],
    'a server-only type from the client': [[{ type: 'next', id: '1' }], 4400, /Invalid message/],
    'connection_init whose payload is a string': [[init('token')], 4400, /Invalid message/],
    'subscribe without an id':
      [[init({ access_token: token() }), { type: 'subscribe', payload: { query: '{x}' } }], 4400, /Invalid/],
    'subscribe without a query':
      [[init({ access_token: token() }), { id: '1', type: 'subscribe', payload: {} }], 4400, /Invalid/],
    'complete without an id':
      [[init({ access_token: token() }), { type: 'complete' }], 4400, /Invalid/],
    'a binary message': [[Buffer.from('{"type":"ping"}')], 4400, /binary/],
  };
  const runs = Object.entries(cases).map(async ([name, [messages, code, reason]]) => {
    const s = rawSocket(main.url, '/graphql', 'graphql-transport-ws');
    assert.ok(await s.opened(), name);
    for (const m of messages) {
      if (Buffer.isBuffer(m)) s.ws.send(m, { binary: true });
      else s.send(m);
    }
    const closed = await s.closed();
    assert.equal(closed.code, code, name);
    assert.match(closed.reason, reason, name);
  });

  // Subprotocols: none or the legacy one are accepted and closed with 4406;
  // one we do not speak is refused at the upgrade with a reason; ours among
  // others is chosen.
  const proto = async (protocols) => {
    const s = rawSocket(main.url, '/graphql', protocols);
    await s.opened();
    return s;
  };
  runs.push((async () => {
    for (const p of [undefined, 'graphql-ws']) {
      const s = await proto(p);
      assert.deepEqual(await s.closed(), { code: 4406, reason: 'Subprotocol not acceptable' });
    }
    const refused = await proto('graphql-over-carrier-pigeon');
    assert.equal(refused.state.status, 400);
    const res = await upgradeRefusal(main.port, 'soap, mqtt');
    assert.equal(res.status, 400);
    assert.match(res.body, /subprotocol "soap, mqtt" is not supported/);
    const both = await proto(['mqtt', 'graphql-transport-ws']);
    assert.equal(both.ws.protocol, 'graphql-transport-ws');
    both.send(init({ access_token: token() }));
    assert.equal((await both.next()).type, 'connection_ack');
    both.close();
  })());

  // A token that expires while connected: 4403 once it has.
  runs.push((async () => {
    const s = await gqlSocket(main.url, { token: token({ ttl: 2 }) });
    const closed = await s.closed(8000);
    assert.equal(closed.code, 4403);
    assert.match(closed.reason, /token expired/);
  })());
  await Promise.all(runs);
});

check('graphql-ws retries the close codes worth retrying and stops on the others', async () => {
  const runs = [];

  // 4403: retried, so a client that fetches a fresh token gets in.
  runs.push((async () => {
    let calls = 0;
    const { client, life } = trackedClient(main.url, {
      connectionParams: () => ({ access_token: ++calls === 1 ? 'stale' : token() }),
    });
    const sub = listen(client, byStatus('retry-4403', '{ event }'));
    await sub.wait(1);
    assert.deepEqual(life.closes.map((c) => c.code), [4403]);
    assert.equal(life.connected, 1);
    sub.dispose();
    await client.dispose();
  })());

  // 4408: retried; the second connection_init comes in time.
  runs.push((async () => {
    let calls = 0;
    const { client, life } = trackedClient(main.url, {
      connectionParams: async () => {
        if (++calls === 1) await sleep(1500);
        return { access_token: token() };
      },
    });
    const sub = listen(client, byStatus('retry-4408', '{ event }'));
    await sub.wait(1);
    assert.deepEqual(life.closes.map((c) => c.code), [4408]);
    sub.dispose();
    await client.dispose();
  })());

  // 4403 on expiry: retried with a fresh token, and the subscription runs
  // on (graphql-ws subscribes again on the new connection).
  runs.push((async () => {
    let calls = 0;
    const { client, life } = trackedClient(main.url, {
      connectionParams: () => ({ access_token: token({ ttl: ++calls === 1 ? 2 : 3600 }) }),
    });
    const sub = listen(client, byStatus('expiry', '{ event key }'));
    await sub.wait(1);
    await waitFor('the expiry close', () => life.connected === 2, 10000);
    assert.deepEqual(life.closes.map((c) => c.code), [4403]);
    await sub.wait(2);
    const id = insert('expiry', 'after renewal');
    const items = await sub.wait(3);
    assert.deepEqual(items.map((e) => e.event), ['init', 'init', 'create']);
    assert.equal(items[2].key, id);
    sub.dispose();
    await client.dispose();
  })());

  // 4409: fatal; both operations learn why, nothing reconnects.
  runs.push((async () => {
    const { client, life } = trackedClient(main.url, { generateID: () => 'same' });
    const first = listen(client, byStatus('dup', '{ event }'));
    await first.wait(1);
    const second = listen(client, byStatus('dup', '{ event }'));
    const [e1, e2] = await Promise.all([first.error(), second.error()]);
    assert.equal(e1.code, 4409);
    assert.equal(e2.code, 4409);
    await sleep(300);
    assert.equal(life.opened, 1);
    await client.dispose();
  })());

  // 4400: fatal.
  runs.push((async () => {
    const { client, life } = trackedClient(main.url, {
      jsonMessageReplacer: (key, value) => (key === 'query' ? 42 : value),
    });
    const sub = listen(client, byStatus('bad', '{ event }'));
    const e = await sub.error();
    assert.equal(e.code, 4400);
    await sleep(300);
    assert.equal(life.opened, 1);
    await client.dispose();
  })());

  // 4406: fatal (a client stuck on the legacy subprotocol).
  runs.push((async () => {
    class Legacy extends WebSocket {
      constructor(url) {
        super(url, 'graphql-ws');
      }
    }
    const { client, life } = trackedClient(main.url, { webSocketImpl: Legacy });
    const sub = listen(client, byStatus('legacy', '{ event }'));
    const e = await sub.error();
    assert.equal(e.code, 4406);
    await sleep(300);
    assert.equal(life.opened, 1);
    await client.dispose();
  })());

  // 1001 (no pong to our pings): retried; graphql-ws starts its retry
  // count afresh on every acknowledged connection, so it keeps trying.
  runs.push((async () => {
    const { client, life } = trackedClient(pinger.url, { disablePong: true, retryAttempts: 1 });
    const sub = listen(client, byStatus('silent', '{ event }'));
    await waitFor('two keepalive closes', () => life.closes.length >= 2);
    assert.deepEqual(life.closes.slice(0, 2).map((c) => [c.code, c.reason]),
      [[1001, 'keepalive timeout'], [1001, 'keepalive timeout']]);
    await waitFor('a third connection', () => life.connected >= 3);
    assert.deepEqual(sub.errors, []);
    sub.dispose();
    await client.dispose();
  })());
  await Promise.all(runs);
});

check('pings both ways: the server pings, graphql-ws answers, silent sockets are closed', async () => {
  // graphql-ws answers our pings and pings us (keepAlive), and stays.
  const { client, life } = trackedClient(pinger.url, { keepAlive: 100 });
  const sub = listen(client, byStatus('alive', '{ event key }'));
  await sub.wait(1);
  await waitFor('server pings and pongs', () => life.pings >= 4 && life.pongs >= 4);

  // A raw socket that answers pings stays too; one that does not is closed.
  const answering = await gqlSocket(pinger.url, { token: token() });
  answering.ws.on('message', (m) => {
    if (JSON.parse(m).type === 'ping') answering.send({ type: 'pong' });
  });
  const silent = await gqlSocket(pinger.url, { token: token() });
  assert.deepEqual(await silent.next((m) => m.type === 'ping'), { type: 'ping' });
  assert.deepEqual(await silent.closed(), { code: 1001, reason: 'keepalive timeout' });

  const id = insert('alive', 'still here');
  const items = await sub.wait(2);
  assert.deepEqual(items[1], { event: 'create', key: id });
  assert.deepEqual(life.closes, []);
  assert.equal(answering.state.close, null);
  answering.close();
  sub.dispose();
  await client.dispose();
});

check('GraphQL as clients write it, through the wire', async () => {
  const { client } = trackedClient(main.url);
  const f = 'filter: { status: { _eq: "gql" } }';
  const subs = {
    // Two operations; operationName picks the second.
    operationName: listen(client,
      `subscription A { articles_mutated(${f}) { event key } }
       subscription B { articles_mutated(${f}, after: "") { key data { title } } }`,
      undefined, { operationName: 'B' }),
    // An enum argument from a variable.
    eventVariable: listen(client,
      `subscription Ev($e: EventEnum) {
         articles_mutated(event: $e, ${f}, after: "") { event key } }`,
      { e: 'update' }),
    // The whole filter from a variable.
    filterVariable: listen(client,
      `subscription ($f: articles_filter, $after: String) {
         articles_mutated(filter: $f, after: $after) { event key } }`,
      { f: { status: { _eq: 'gql' }, views: { _gt: 10 } }, after: '' }),
    // Variables inside a filter literal.
    nestedVariables: listen(client,
      `subscription ($min: GraphQLStringOrFloat, $st: String) {
         articles_mutated(filter: { _and: [{ status: { _eq: $st } }, { views: { _gt: $min } }] },
                          after: "") { event key } }`,
      { min: 10, st: 'gql' }),
    aliases: listen(client,
      `subscription { changed: articles_mutated(${f}, after: "") {
         k: key what: event row: data { heading: title n: views } } }`),
    fragments: listen(client,
      `subscription { articles_mutated(${f}, after: "") { ...Ev data { ...Row ... on articles { status } } } }
       fragment Ev on articles_mutated { event key }
       fragment Row on articles { title }`),
    directives: listen(client,
      `subscription ($withData: Boolean!) { articles_mutated(${f}, after: "") {
         key data @include(if: $withData) { title } event @skip(if: true) } }`,
      { withData: false }),
    typename: listen(client,
      `subscription { articles_mutated(${f}, after: "") { __typename event data { __typename id } } }`),
    shortForm: listen(client,
      `subscription { articles(${f}, after: "") { event data { title } } }`),
  };
  for (const s of Object.values(subs)) await s.wait(1, 'init events');

  const g1 = insert('gql', 'g1', 5);
  const g2 = insert('gql', 'g2', 20);
  stack.pg.psql(`UPDATE articles SET views = 50 WHERE id = ${g1};
                 DELETE FROM articles WHERE id = ${g2};`);

  // Changes of one row arrive in order; rows may interleave (partitions).
  const perKey = (items, key = 'key') => {
    const out = {};
    for (const e of items) (out[e[key]] ||= []).push(e);
    return out;
  };
  const r = {};
  const want = { operationName: 5, eventVariable: 2, filterVariable: 4, nestedVariables: 4,
    aliases: 5, fragments: 5, directives: 5, typename: 5, shortForm: 5 };
  for (const [name, s] of Object.entries(subs)) r[name] = (await s.wait(want[name])).slice(1);

  assert.deepEqual(perKey(r.operationName), {
    [g1]: [{ key: g1, data: { title: 'g1' } }, { key: g1, data: { title: 'g1' } }],
    [g2]: [{ key: g2, data: { title: 'g2' } }, { key: g2, data: null }],
  });
  assert.deepEqual(r.eventVariable, [{ event: 'update', key: g1 }]);
  // views > 10: g2 is created inside; g1 enters at 50 (a create), g2 leaves.
  const inView = {
    [g1]: [{ event: 'create', key: g1 }],
    [g2]: [{ event: 'create', key: g2 }, { event: 'delete', key: g2 }],
  };
  assert.deepEqual(perKey(r.filterVariable), inView);
  assert.deepEqual(perKey(r.nestedVariables), inView);
  assert.deepEqual(perKey(r.aliases, 'k')[g1], [
    { k: g1, what: 'create', row: { heading: 'g1', n: 5 } },
    { k: g1, what: 'update', row: { heading: 'g1', n: 50 } },
  ]);
  assert.equal(Object.keys(subs.aliases.events[1].data)[0], 'changed');
  assert.deepEqual(perKey(r.fragments)[g1][0],
    { event: 'create', key: g1, data: { title: 'g1', status: 'gql' } });
  assert.deepEqual(r.directives.map((e) => Object.keys(e)), [['key'], ['key'], ['key'], ['key']]);
  assert.deepEqual(r.typename.find((e) => e.data?.id === g1),
    { __typename: 'articles_mutated', event: 'create', data: { __typename: 'articles', id: g1 } });
  assert.deepEqual(Object.keys(subs.shortForm.events[1].data), ['articles']);
  assert.deepEqual(r.shortForm.map((e) => e.event).sort(),
    ['create', 'create', 'delete', 'update']);
  for (const s of Object.values(subs)) s.dispose();

  // Errors are GraphQL-shaped, with locations where they point somewhere.
  const failing = {
    syntax: ['subscription { articles_mutated { key }', undefined,
      /^Syntax Error: Expected Name, found <EOF>\.$/, [{ line: 1, column: 40 }]],
    unknownField: ['subscription {\n  articles_mutated { key nope }\n}', undefined,
      /Cannot query field "nope" on type "articles_mutated"/, [{ line: 2, column: 26 }]],
    unknownFilterField: ['subscription { articles_mutated(filter: { nope: { _eq: 1 } }) { key } }',
      undefined, /"nope" is not defined by type "articles_filter"/, [{ line: 1, column: 43 }]],
    unknownOperator: ['subscription { articles_mutated(filter: { views: { _foo: 1 } }) { key } }',
      undefined, /"_foo" is not defined by type "number_filter_operators"/, [{ line: 1, column: 52 }]],
    badVariable: ['subscription ($e: EventEnum) { articles_mutated(event: $e) { key } }',
      { e: 'explode' }, /Variable "\$e" got invalid value "explode"/, [{ line: 1, column: 15 }]],
    missingVariable: ['subscription ($w: Boolean!) { articles_mutated { key @include(if: $w) } }',
      {}, /Variable "\$w" of required type "Boolean!" was not provided/, [{ line: 1, column: 15 }]],
    query: ['query { _empty }', undefined, /subscription/i, [{ line: 1, column: 1 }]],
    unknownCollection: ['subscription { nosuch_mutated { key } }', undefined,
      /Cannot query field "nosuch_mutated" on type "Subscription"/, [{ line: 1, column: 16 }]],
    forbiddenCollection: ['subscription { secrets_mutated { key } }', undefined,
      /Cannot query field "secrets_mutated" on type "Subscription"/, [{ line: 1, column: 16 }]],
  };
  const errs = {};
  for (const [name, [query, variables]] of Object.entries(failing))
    errs[name] = listen(client, query, variables);
  for (const [name, [, , message, locations]] of Object.entries(failing)) {
    const e = await errs[name].error();
    assert.ok(Array.isArray(e) && e.length >= 1, `${name}: a list of errors`);
    assert.match(e[0].message, message, name);
    assert.deepEqual(e[0].locations, locations, name);
    assert.equal(typeof e[0].extensions.code, 'string', name);
  }
  // An unknown collection and one the client may not read read alike.
  const [unknown] = await errs.unknownCollection.error();
  const [forbidden] = await errs.forbiddenCollection.error();
  const firstSentence = (m) => m.replace(/ Did you mean .*$/, '');
  assert.equal(firstSentence(forbidden.message).replace('secrets', 'nosuch'),
    firstSentence(unknown.message));
  assert.deepEqual(forbidden.locations, unknown.locations);
  await client.dispose();
});

check('health, readiness and metrics are served and move', async () => {
  assert.equal((await fetch(`${main.http}/healthz`)).status, 200);
  const ready = await fetch(`${main.http}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(await ready.text(), /ready: 2 collections/);
  const wrong = await fetch(`${main.http}/graphql`);
  assert.equal(wrong.status, 400);

  await waitFor('earlier connections gone',
    async () => (await readMetrics(main.http)).cdc_pusher_connections === 0);
  const before = await readMetrics(main.http);
  const { client } = trackedClient(main.url);
  const subs = [1, 2, 3].map(() => listen(client, byStatus('metrics', '{ key }')));
  for (const s of subs) await s.wait(1);
  const during = await readMetrics(main.http);
  assert.equal(during.cdc_pusher_connections, 1);
  assert.equal(during.cdc_pusher_subscriptions, 3);
  assert.equal(during.cdc_pusher_groups, 1);
  insert('metrics', 'm1');
  insert('metrics', 'm2');
  for (const s of subs) await s.wait(3);
  const later = await readMetrics(main.http);
  // 3 init events and 2 changes for each of 3 subscriptions.
  assert.equal(later.cdc_pusher_deliveries_total - before.cdc_pusher_deliveries_total, 6);
  assert.ok(later.cdc_pusher_delivery_bytes_total > before.cdc_pusher_delivery_bytes_total);
  assert.equal(later.cdc_pusher_events_total - before.cdc_pusher_events_total, 2);
  assert.equal(later.cdc_pusher_queue_bytes, 0);
  for (const part of [0, 1, 2, 3])
    assert.equal(later[`cdc_pusher_consumer_lag{topic="cdc.public.articles",partition="${part}"}`], 0);
  for (const s of subs) s.dispose();
  await client.dispose();
  await waitFor('connections back to 0',
    async () => (await readMetrics(main.http)).cdc_pusher_connections === 0);
  const end = await readMetrics(main.http);
  assert.equal(end.cdc_pusher_subscriptions, 0);
  assert.equal(end.cdc_pusher_groups, 0);
});

check('identical subscriptions share one group and each gets every event once', async () => {
  const clients = [1, 2, 3].map(() => trackedClient(main.url).client);
  const q = byStatus('shared', '{ event key data { title } }');
  const subs = clients.flatMap((c) => Array.from({ length: 10 }, () => listen(c, q)));
  // One that differs only by its filter is a group of its own.
  const other = listen(clients[0], byStatus('shared-not', '{ event key data { title } }'));
  for (const s of [...subs, other]) await s.wait(1);
  const m = await readMetrics(main.http);
  assert.equal(m.cdc_pusher_subscriptions, 31);
  assert.equal(m.cdc_pusher_groups, 2);

  const ids = ['s1', 's2', 's3'].map((t) => insert('shared', t));
  for (const s of subs) {
    const items = (await s.wait(4)).slice(1);
    assert.deepEqual(items.map((e) => e.key), ids);
  }
  await sleep(200);
  for (const s of subs) assert.equal(s.events.length, 4, 'no event twice');
  assert.equal(other.events.length, 1);
  for (const c of clients) await c.dispose();
});
