// Filters and views end to end, on /websocket and /graphql alike:
// Directus's operators on the typed row, _and/_or nested, $NOW with an
// offset, unknown fields and operators refused when subscribing; and the
// view a filter defines: with REPLICA IDENTITY FULL a row entering it
// arrives as create, changing inside it as update, leaving it as delete,
// with deletes judged on the old row; with the DEFAULT identity what the
// pusher can and cannot see.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before } from 'node:test';
import { gqlSocket, rawSocket } from './lib/clients.mjs';
import { testWithLogs } from './lib/check.mjs';
import { Stack, waitFor } from './lib/stack.mjs';

const stack = new Stack('views');
let pusher;

before(async () => {
  const pg = await stack.startPostgres();
  pg.psql(`
    CREATE TABLE items (
      id int PRIMARY KEY, title text, status text, views int, price numeric(10,2),
      flag boolean, tags text[], meta jsonb, happened timestamptz, code uuid);
    ALTER TABLE items REPLICA IDENTITY FULL;
    CREATE TABLE plain (id int PRIMARY KEY, status text, views int);
    CREATE TABLE guarded (id int PRIMARY KEY, status text);
    CREATE TABLE toasty (id int PRIMARY KEY, big text, views int);`);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify({
    public: { collections: {
      items: { fields: ['*'] },
      plain: { fields: ['*'] },
      guarded: { fields: ['*'], filter: { status: { _eq: 'open' } } },
      toasty: { fields: ['*'] },
    } },
  }));
  pusher = await stack.startPusher({
    CDC_PERMISSIONS: perms, CDC_GRAPHQL_AUTH: 'public', CDC_REALTIME_AUTH: 'public',
    CDC_MAX_SUBSCRIPTIONS: '200', CDC_RATE_BURST: '200',
  });
});

after(async () => {
  await stack.stop();
});

const check = (name, fn) => testWithLogs(stack, name, fn);

const sql = (text) => stack.pg.psql(text);

// Subscribes each filter on both protocols, one connection per protocol,
// plus one subscription without a filter that tells when every event of
// the change set has been delivered (a connection's messages keep their
// order). Returns, per protocol and filter, the events as [key, event].
async function watch(collection, filters, change, { barrier, events, realtimeOnly } = {}) {
  const rt = rawSocket(pusher.url, '/websocket');
  await rt.opened();
  const gql = await gqlSocket(pusher.url);
  const gqlQuery = `subscription ($f: ${collection}_filter, $e: EventEnum) {
    ${collection}_mutated(filter: $f, event: $e, after: "") { key event } }`;
  const names = [...Object.keys(filters), '(all)'];
  for (const name of names) {
    const filter = filters[name];
    rt.send({ type: 'subscribe', collection, uid: name, event: events?.[name],
      query: { fields: ['id'], filter } });
    if (!realtimeOnly?.has(name)) {
      gql.send({ id: name, type: 'subscribe',
        payload: { query: gqlQuery, variables: { f: filter, e: events?.[name] } } });
    }
  }
  for (const name of names) {
    const init = await rt.next((m) => m.uid === name);
    assert.equal(init.event, 'init', `${name}: ${JSON.stringify(init)}`);
    if (!realtimeOnly?.has(name)) {
      const g = await gql.next((m) => m.id === name);
      assert.equal(g.type, 'next', `${name}: ${JSON.stringify(g)}`);
    }
  }

  change();
  await waitFor(`${barrier} events without a filter`, () =>
    rt.messages.filter((m) => m.uid === '(all)').length >= barrier &&
    gql.messages.filter((m) => m.id === '(all)').length >= barrier);
  const out = { realtime: {}, graphql: {} };
  for (const name of names) {
    out.realtime[name] = rt.messages.filter((m) => m.uid === name).map((m) =>
      [m.event === 'delete' ? m.data[0] : String(m.data[0].id), m.event]);
    out.graphql[name] = gql.messages.filter((m) => m.id === name).map((m) => {
      const e = m.payload.data[`${collection}_mutated`];
      return [e.key, e.event];
    });
  }
  rt.close();
  gql.close();
  return out;
}

// The ids that had an event, ascending.
const ids = (events) => events.map(([key]) => Number(key)).sort((a, b) => a - b);

check('Directus operators, _and/_or and $NOW select the same rows on both protocols', async () => {
  const filters = {
    _eq: [{ status: { _eq: 'published' } }, [1, 3]],
    _neq: [{ status: { _neq: 'draft' } }, [1, 3, 4]],
    _lt: [{ views: { _lt: 25 } }, [1, 2]],
    _lte: [{ views: { _lte: 25 } }, [1, 2, 3]],
    _gt: [{ views: { _gt: 10 } }, [3, 5]],
    _gte: [{ price: { _gte: '9.99' } }, [1, 2]],
    _in: [{ status: { _in: ['draft', 'archived'] } }, [2, 4, 5]],
    _nin: [{ id: { _nin: ['1', '2'] } }, [3, 4, 5]],
    _null: [{ views: { _null: true } }, [4]],
    _nnull: [{ title: { _nnull: true } }, [1, 2, 3, 5]],
    _contains: [{ title: { _contains: 'News' } }, [3]],
    _ncontains: [{ title: { _ncontains: 'ph' } }, [2, 3, 5]],
    _icontains: [{ title: { _icontains: 'NEWS' } }, [1, 3]],
    _starts_with: [{ title: { _starts_with: 'Gam' } }, [3]],
    _ends_with: [{ title: { _ends_with: 'ta' } }, [2, 5]],
    _between: [{ views: { _between: [10, 25] } }, [1, 3]],
    _nbetween: [{ views: { _nbetween: [10, 25] } }, [2, 5]],
    _empty: [{ tags: { _empty: true } }, [2, 4], false],
    _nempty: [{ title: { _nempty: true } }, [1, 2, 3, 5]],
    array_contains: [{ tags: { _contains: 'b' } }, [1, 3], false],
    boolean: [{ flag: { _eq: true } }, [1, 4]],
    uuid: [{ code: { _eq: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' } }, [1]],
    json_null: [{ meta: { _null: true } }, [2]],
    now_minus_hour: [{ happened: { _gt: '$NOW(-1 hour)' } }, [1, 3]],
    now_minus_day: [{ happened: { _lt: '$NOW(-1 day)' } }, [5]],
    and_or: [{
      _or: [
        { _and: [{ status: { _eq: 'published' } }, { views: { _gt: 20 } }] },
        { _and: [{ status: { _eq: 'draft' } }, { _or: [{ views: { _eq: 0 } }, { price: { _lt: 1 } }] }] },
      ],
    }, [2, 3, 5]],
    field_or: [{ views: { _or: [{ _lt: 5 }, { _gt: 50 }] } }, [2, 5], false],
    several_fields: [{ status: { _eq: 'published' }, title: { _starts_with: 'A' } }, [1]],
  };
  // Array operators, and _or under a field, have no GraphQL input type.
  const rtOnly = new Set(Object.keys(filters).filter((n) => filters[n][2] === false));
  const got = await watch('items', Object.fromEntries(Object.entries(filters).map(
    ([n, [f]]) => [n, f],
  )), () => sql(`
    INSERT INTO items VALUES
      (1, 'Alpha news', 'published', 10, 9.99, true, '{a,b}', '{"k": 1}', now() - interval '10 minutes',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (2, 'beta', 'draft', 0, 100.00, false, '{}', NULL, now() - interval '2 hours', NULL),
      (3, 'Gamma News', 'published', 25, NULL, NULL, '{b}', '{}', now() + interval '1 day',
       'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (4, NULL, 'archived', NULL, 5.50, true, NULL, '[]', NULL, 'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (5, 'delta', 'draft', 100, 0.10, false, '{c}', '{"x": [1]}', '2020-01-01', NULL);`),
  { barrier: 5, realtimeOnly: rtOnly });
  for (const [name, [, want, graphql]] of Object.entries(filters)) {
    assert.deepEqual(ids(got.realtime[name]), want, `realtime ${name}`);
    if (graphql !== false) assert.deepEqual(ids(got.graphql[name]), want, `graphql ${name}`);
  }
  for (const events of [...Object.values(got.realtime), ...Object.values(got.graphql)])
    for (const [, event] of events) assert.equal(event, 'create');
});

check('an unknown field or operator is refused when subscribing, named', async () => {
  const rt = rawSocket(pusher.url, '/websocket');
  await rt.opened();
  const gql = await gqlSocket(pusher.url);
  const cases = [
    [{ nope: { _eq: 1 } }, /"nope"/],
    [{ views: { _like: 3 } }, /"_like"/],
    [{ _or: [{ status: { _eq: 'x' } }, { views: { _gtt: 3 } }] }, /"_gtt"/],
    [{ views: { _eq: 'many' } }, /"views"|many/],
  ];
  for (const [i, [filter, message]] of cases.entries()) {
    rt.send({ type: 'subscribe', collection: 'items', uid: `r${i}`, query: { filter } });
    const r = await rt.next((m) => m.uid === `r${i}`);
    assert.equal(r.error?.code, 'INVALID_QUERY', JSON.stringify(r));
    assert.match(r.error.message, message);
    gql.send({ id: `g${i}`, type: 'subscribe', payload: {
      query: 'subscription ($f: items_filter) { items_mutated(filter: $f) { key } }',
      variables: { f: filter } } });
    const g = await gql.next((m) => m.id === `g${i}`);
    assert.equal(g.type, 'error', JSON.stringify(g));
    assert.match(g.payload[0].message, message);
  }
  // And in a GraphQL literal, with where it is.
  gql.send({ id: 'lit', type: 'subscribe', payload: {
    query: 'subscription { items_mutated(filter: { views: { _like: 3 } }) { key } }' } });
  const lit = await gql.next((m) => m.id === 'lit');
  assert.match(lit.payload[0].message, /Field "_like" is not defined by type "number_filter_operators"/);
  assert.deepEqual(lit.payload[0].locations, [{ line: 1, column: 49 }]);
  rt.close();
  gql.close();
});

check('REPLICA IDENTITY FULL: entering is create, inside is update, leaving is delete', async () => {
  const published = { status: { _eq: 'published' } };
  const got = await watch('items', { view: published, deletes: published, creates: published },
    () => {
      sql(`
        INSERT INTO items (id, title, status) VALUES (100, 'x', 'draft');
        UPDATE items SET status = 'published' WHERE id = 100;
        UPDATE items SET title = 'y' WHERE id = 100;
        UPDATE items SET status = 'draft' WHERE id = 100;
        UPDATE items SET views = 1 WHERE id = 100;
        UPDATE items SET status = 'published' WHERE id = 100;
        DELETE FROM items WHERE id = 100;
        INSERT INTO items (id, title, status) VALUES (101, 'z', 'published');
        UPDATE items SET status = 'draft' WHERE id = 101;
        DELETE FROM items WHERE id = 101;`);
    },
    { barrier: 10, events: { deletes: 'delete', creates: 'create' } });
  for (const proto of ['realtime', 'graphql']) {
    const perKey = (events) => ({
      100: events.filter(([k]) => k === '100').map(([, e]) => e),
      101: events.filter(([k]) => k === '101').map(([, e]) => e),
    });
    assert.deepEqual(perKey(got[proto].view), {
      100: ['create', 'update', 'delete', 'create', 'delete'],
      101: ['create', 'delete'],
    }, proto);
    // A subscription to one kind of event sees that kind of transition.
    assert.deepEqual(perKey(got[proto].deletes), { 100: ['delete', 'delete'], 101: ['delete'] }, proto);
    assert.deepEqual(perKey(got[proto].creates), { 100: ['create', 'create'], 101: ['create'] }, proto);
    assert.equal(got[proto]['(all)'].length, 10);
  }
});

check('DEFAULT identity: entering is an update, leaving is not seen, deletes are sent', async () => {
  const got = await watch('plain', { view: { status: { _eq: 'published' } } }, () => {
    sql(`
      INSERT INTO plain VALUES (1, 'draft', 0);
      UPDATE plain SET status = 'published' WHERE id = 1;
      UPDATE plain SET status = 'draft' WHERE id = 1;
      DELETE FROM plain WHERE id = 1;
      INSERT INTO plain VALUES (2, 'published', 0);
      DELETE FROM plain WHERE id = 2;`);
  }, { barrier: 6 });
  for (const proto of ['realtime', 'graphql']) {
    const perKey = (k) => got[proto].view.filter(([key]) => key === k).map(([, e]) => e);
    // Without the old row the pusher cannot tell a row entering from one
    // changing inside, nor see one leaving; a delete carries only the key,
    // which the filter cannot rule out.
    assert.deepEqual(perKey('1'), ['update', 'delete'], proto);
    assert.deepEqual(perKey('2'), ['create', 'delete'], proto);
  }
});

check('DEFAULT identity and a row filter of the role: no delete is sent on a guess', async () => {
  const got = await watch('guarded', {}, () => {
    sql(`
      INSERT INTO guarded VALUES (1, 'open'), (2, 'closed');
      UPDATE guarded SET status = 'open' WHERE id = 2;
      DELETE FROM guarded WHERE id IN (1, 2);
      INSERT INTO guarded VALUES (1, 'open'), (2, 'open');`);
  }, { barrier: 4 });
  for (const proto of ['realtime', 'graphql']) {
    const perKey = (k) => got[proto]['(all)'].filter(([key]) => key === k).map(([, e]) => e);
    // The role reads open rows; a delete carries only the key, which does
    // not say whether the row was open, so it is not sent. (A row's events
    // keep their order: a delete would come before the second create.)
    assert.deepEqual(perKey('1'), ['create', 'create'], proto);
    assert.deepEqual(perKey('2'), ['update', 'create'], proto);
  }
});

// Subscriptions whose filter requires one value of a column are found by
// the row's value rather than tried one by one: each must still get
// exactly its events, by the old row and the new, whatever the kind.
check('subscriptions with an _eq are each served their rows, old and new', async () => {
  const uuid = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
  const filters = {};
  for (let k = 0; k < 40; k++) filters[`v${k}`] = { views: { _eq: k } };
  Object.assign(filters, {
    st: { status: { _eq: 'idx-open' } },
    code: { code: { _eq: uuid.toUpperCase() } },
    both: { _and: [{ views: { _eq: 7 } }, { status: { _eq: 'idx-open' } }] },
    or: { _or: [{ views: { _eq: 30 } }, { views: { _eq: 31 } }] },
  });
  const out = await watch('items', filters, () => sql(`
    INSERT INTO items (id, views, status) VALUES (9001, 7, 'x'), (9002, 7, 'idx-open'),
      (9003, 30, 'y');
    UPDATE items SET views = 8 WHERE id = 9001;
    INSERT INTO items (id, code) VALUES (9004, '${uuid}');
    UPDATE items SET views = 31, status = 'idx-open' WHERE id = 9003;
    DELETE FROM items WHERE id = 9002;
    INSERT INTO items (id, views) VALUES (9005, 999);`), { barrier: 8 });
  sql('DELETE FROM items WHERE id >= 9001');

  const want = {
    v7: [['9001', 'create'], ['9002', 'create'], ['9001', 'delete'], ['9002', 'delete']],
    v8: [['9001', 'create']],
    v30: [['9003', 'create'], ['9003', 'delete']],
    v31: [['9003', 'create']],
    st: [['9002', 'create'], ['9003', 'create'], ['9002', 'delete']],
    code: [['9004', 'create']],
    both: [['9002', 'create'], ['9002', 'delete']],
    or: [['9003', 'create'], ['9003', 'update']],
  };
  // Rows live in different partitions: order holds per row only.
  const byRow = (events) => [...events].sort((a, b) => Number(a[0]) - Number(b[0]));
  for (const name of Object.keys(filters)) {
    for (const protocol of ['realtime', 'graphql'])
      assert.deepEqual(byRow(out[protocol][name]), byRow(want[name] || []), `${protocol} ${name}`);
  }
});

check('an _eq on a value the change did not carry (unchanged TOAST) still matches', async () => {
  const big = Array.from({ length: 200 }, (_, i) =>
    crypto.createHash('md5').update(String(i)).digest('hex')).join('');
  const out = await watch('toasty', {
    big: { big: { _eq: big } },
    other: { big: { _eq: 'other' } },
    v1: { views: { _eq: 1 } },
  }, () => sql(`
    INSERT INTO toasty VALUES (1, '${big}', 0);
    UPDATE toasty SET views = 1 WHERE id = 1;
    INSERT INTO toasty VALUES (2, 'z', 5);`), { barrier: 3 });
  for (const protocol of ['realtime', 'graphql']) {
    assert.deepEqual(out[protocol].big, [['1', 'create'], ['1', 'update']], protocol);
    assert.deepEqual(out[protocol].v1, [['1', 'update']], protocol);
    // Unsent, the value may be the one asked for: the update is not held
    // back (the DEFAULT identity's rule, see README).
    assert.deepEqual(out[protocol].other, [['1', 'update']], protocol);
  }
});
