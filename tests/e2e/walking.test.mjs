// The pipeline end to end: rows changed with psql reach a graphql-ws
// subscriber with the right keys, events and typed values; the topic holds
// Confluent-framed records; bad requests get protocol errors while the
// pusher keeps serving everyone else.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { gqlSocket, gqlSubscribe, rawSocket } from './lib/clients.mjs';
import { withStack } from './lib/stack.mjs';

const TABLE = `
  CREATE TABLE articles (
    id serial PRIMARY KEY,
    title text,
    status text,
    views int,
    updated_at timestamptz
  );`;

const PERMISSIONS = JSON.stringify({
  public: { collections: { articles: { fields: ['*'] } } },
});

async function pipeline(stack) {
  const pg = await stack.startPostgres();
  pg.psql(TABLE);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', PERMISSIONS);
  return stack.startPusher({
    CDC_PERMISSIONS: perms,
    CDC_GRAPHQL_AUTH: 'public',
    CDC_REALTIME_AUTH: 'public',
  });
}

test('create, update and delete made with psql reach a graphql-ws subscriber', async () => {
  await withStack('walking', async (stack) => {
    const pusher = await pipeline(stack);
    const pg = stack.pg;
    const sub = gqlSubscribe(
      pusher.url,
      `subscription {
         articles_mutated(after: "") {
           key event cursor data { id title status views updated_at }
         }
       }`,
    );
    const [init] = await sub.waitEvents(1);
    assert.equal(init.event, 'init');
    assert.equal(init.key, null);
    assert.ok(init.cursor.length > 10);

    pg.psql(`
      INSERT INTO articles (title, status, views, updated_at)
        VALUES ('first', 'draft', 1, '2026-05-01 10:00:00.123456+00');
      INSERT INTO articles (title, status, views, updated_at)
        VALUES ('second', NULL, NULL, NULL);
      UPDATE articles SET title = 'first, edited', views = 2 WHERE id = 1;
      DELETE FROM articles WHERE id = 2;`);

    const items = (await sub.waitEvents(5)).slice(1);
    assert.deepEqual(
      items.map((e) => [e.event, e.key]),
      [['create', '1'], ['create', '2'], ['update', '1'], ['delete', '2']],
    );
    // id is the key, typed ID in GraphQL: sent as a string.
    assert.deepEqual(items[0].data, {
      id: '1',
      title: 'first',
      status: 'draft',
      views: 1,
      updated_at: '2026-05-01T10:00:00.123456Z',
    });
    assert.deepEqual(items[1].data, {
      id: '2', title: 'second', status: null, views: null, updated_at: null,
    });
    assert.equal(items[2].data.title, 'first, edited');
    assert.equal(items[2].data.views, 2);
    assert.equal(items[3].data, null);
    // Every event carries the cursor just after it, and they all differ.
    assert.equal(new Set(items.map((e) => e.cursor)).size, 4);
    for (const e of sub.events.slice(1))
      assert.equal(e.extensions.cursor, Object.values(e.data)[0].cursor);
    await sub.close();
  });
});

test('records on the topic are in the Confluent wire format', async () => {
  await withStack('framing', async (stack) => {
    await pipeline(stack);
    stack.pg.psql(`INSERT INTO articles (title) VALUES ('framed');
                   DELETE FROM articles WHERE id = 1;`);
    const topic = 'cdc.public.articles';
    const registry = async (subject) =>
      (await (await fetch(`${stack.reader.http}/subjects/${subject}/versions/latest`)).json()).id;
    const valueId = await registry(`${topic}-value`);
    const keyId = await registry(`${topic}-key`);

    // kcat prints each record as "offset key-length value-length" then the
    // raw value bytes, one record at a time.
    const kcat = (fmt) =>
      execFileSync('kcat', ['-C', '-q', '-e', '-b', stack.brokers, '-t', topic, '-f', fmt], {
        timeout: 20000,
      });
    const header = kcat('%o %K %S %h\n').toString().trim().split('\n');
    assert.equal(header.length, 3, `create, delete and tombstone: ${header}`);
    const tombstone = header[2].split(' ');
    assert.equal(tombstone[2], '-1', 'the delete is followed by a tombstone');
    assert.match(header[0], /cdc\.position=[0-9A-F]+\/[0-9A-F]+:1$/);

    const values = kcat('%s');
    const keys = kcat('%k');
    assert.equal(values[0], 0, 'magic byte');
    assert.equal(values.readUInt32BE(1), valueId, 'value schema id');
    assert.equal(keys[0], 0, 'key magic byte');
    assert.equal(keys.readUInt32BE(1), keyId, 'key schema id');
  });
});

test('the example analytics consumer reads every change once', async () => {
  await withStack('analytics', async (stack) => {
    await pipeline(stack);
    stack.pg.psql(`INSERT INTO articles (title, views) VALUES ('one', 1), ('two', 2);
                   UPDATE articles SET views = 10 WHERE id = 1;
                   DELETE FROM articles WHERE id = 2;`);
    const script = new URL('../../ops/examples/analytics-consumer.mjs', import.meta.url);
    const out = execFileSync(process.execPath, [script.pathname,
      '--topic', 'cdc.public.articles', '--brokers', stack.brokers,
      '--registry', stack.reader.http, '--exit-when-idle', '4000'], { timeout: 60000 });
    const changes = out.toString().trim().split('\n').map((l) => JSON.parse(l));
    const summary = changes
      .map((c) => `${c.op} ${c.key.id} ${c.row.title} ${c.row.views ?? '-'}`)
      .sort();
    // The delete's before holds the key only (REPLICA IDENTITY DEFAULT).
    assert.deepEqual(summary, ['c 1 one 1', 'c 2 two 2', 'd 2 null -', 'u 1 one 10']);
  });
});

test('bad requests get protocol errors and the pusher keeps serving', async () => {
  await withStack('bad-input', async (stack) => {
    const pusher = await pipeline(stack);
    const good = gqlSubscribe(
      pusher.url,
      'subscription { articles_mutated(after: "") { key event } }',
    );
    await good.waitEvents(1);

    // A collection that does not exist.
    const unknown = gqlSubscribe(pusher.url, 'subscription { nosuch_mutated { key } }');
    const [unknownErr] = await unknown.waitError();
    assert.match(unknownErr.message, /nosuch_mutated/);
    assert.ok(unknownErr.locations?.length, 'errors carry locations');

    // A subscription that does not parse.
    const broken = gqlSubscribe(pusher.url, 'subscription { articles_mutated { key ');
    const [syntaxErr] = await broken.waitError();
    assert.match(syntaxErr.message, /Syntax Error/);
    assert.deepEqual(syntaxErr.locations[0].line, 1);

    // A frame that is not JSON closes that connection with 4400.
    const raw = await gqlSocket(pusher.url);
    raw.send('this is not json');
    const closed = await raw.closed();
    assert.equal(closed.code, 4400);

    // A subscribe before connection_init: 4401.
    const early = rawSocket(pusher.url, '/graphql', 'graphql-transport-ws');
    await early.opened();
    early.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { articles_mutated { key } }' } });
    assert.equal((await early.closed()).code, 4401);

    // The good subscriber still gets changes.
    stack.pg.psql(`INSERT INTO articles (title) VALUES ('still served');`);
    const items = await good.waitEvents(2);
    assert.deepEqual([items[1].event, items[1].key], ['create', '1']);
    await good.close();
    await unknown.close();
    await broken.close();
  });
});
