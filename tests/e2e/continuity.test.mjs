// Continuity: 50 clients (graphql-ws and @directus/sdk, with filters, some
// with restricted roles) follow a table that changes at a steady rate
// while the pusher they use is killed with SIGKILL; they reconnect, half to
// the restarted pusher and half to a second one, each handing back the
// cursor of the last event it saw.  Every client's events must equal what
// its filter and role should see of the test's own change log: no gap, no
// duplicate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDirectus, realtime, staticToken } from '@directus/sdk';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Model, SqlStream, cdcToken, perKey } from './lib/feeds.mjs';
import { waitFor, withStack } from './lib/stack.mjs';

const CLIENTS = 50;
const COLS = ['id', 'grp', 'owner', 'n'];
const LIMITED = ['id', 'grp', 'n'];

const PERMISSIONS = {
  public: { collections: { feed: { fields: ['*'] } } },
  roles: {
    limited: { collections: { feed: { fields: LIMITED, filter: { grp: { _lt: 3 } } } } },
    mine: { collections: { feed: { fields: ['*'], filter: { owner: { _eq: '$CURRENT_USER' } } } } },
  },
};

// The SDK reads its subscription one message at a time; given ws's
// default of emitting a burst of messages synchronously, it would miss all
// but the first of a burst.  Browsers deliver each message as its own
// task, and so does ws with this option.
class TaskWebSocket extends WebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, { ...options, allowSynchronousEvents: false });
  }
}

// What a client asks for, and who it is.
function specs() {
  const filters = [
    [null, () => true],
    [{ grp: { _eq: 1 } }, (r) => r.grp === 1],
    [{ grp: { _in: [2, 3] } }, (r) => r.grp === 2 || r.grp === 3],
    [{ n: { _gt: 200 } }, (r) => r.n > 200],
    [{ _or: [{ grp: { _eq: 0 } }, { owner: { _eq: 'u1' } }] }, (r) => r.grp === 0 || r.owner === 'u1'],
  ];
  const out = [];
  for (let i = 0; i < CLIENTS; i++) {
    let [filter, match] = filters[i % filters.length];
    let role = { token: null, fields: COLS, allows: () => true };
    if (i % 7 === 3) {
      // This role may not read (nor filter on) owner.
      if (JSON.stringify(filter).includes('owner')) [filter, match] = filters[1];
      role = { token: cdcToken({ user: 'lim', role: 'limited' }), fields: LIMITED, allows: (r) => r.grp < 3 };
    } else if (i % 7 === 5) {
      const user = `u${i % 3}`;
      role = { token: cdcToken({ user, role: 'mine' }), fields: COLS, allows: (r) => r.owner === user };
    }
    out.push({
      kind: i % 2 ? 'sdk' : 'graphql',
      filter,
      token: role.token,
      fields: role.fields,
      visible: (r) => role.allows(r) && match(r),
    });
  }
  return out;
}

// A client that keeps its events and its last cursor, and reconnects with
// the cursor whenever its connection ends.
class Follower {
  constructor(i, spec) {
    Object.assign(this, spec);
    this.name = `${spec.kind} client ${i}`;
    this.events = [];
    this.errors = [];
    this.cursor = '';
    this.inits = 0;
    this.sessions = 0;
    this.stopped = false;
  }

  async follow(target) {
    while (!this.stopped && !this.errors.length) {
      const url = target();
      if (!url) {
        await sleep(50);
        continue;
      }
      this.sessions++;
      try {
        await (this.kind === 'graphql' ? this.graphql(url) : this.sdk(url));
      } catch (e) {
        if (e && e.type === 'subscribe') this.errors.push(e);
      }
      if (!this.stopped) await sleep(100);
    }
  }

  graphql(url) {
    const filter = this.filter ? `, filter: ${JSON.stringify(this.filter).replace(/"(\w+)":/g, '$1:')}` : '';
    const query = `subscription($after: String) { feed_mutated(after: $after${filter}) {
      key event cursor data { ${this.fields.join(' ')} } } }`;
    return new Promise((resolve) => {
      const client = createClient({
        url: `${url}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: this.token ? { access_token: this.token } : undefined,
      });
      const done = () => {
        this.dispose = null;
        client.dispose();
        resolve();
      };
      client.subscribe({ query, variables: { after: this.cursor } }, {
        next: (v) => {
          const e = Object.values(v.data)[0];
          if (e.event === 'init') this.inits++;
          else this.events.push({ event: e.event, key: e.key, row: e.data });
          this.cursor = e.cursor;
        },
        error: (e) => {
          if (Array.isArray(e)) this.errors.push(e);
          done();
        },
        complete: done,
      });
      this.dispose = done;
    });
  }

  async sdk(url) {
    let client = createDirectus(`${url}/websocket`, { globals: { WebSocket: TaskWebSocket } })
      .with(realtime({ authMode: this.token ? 'handshake' : 'public', reconnect: false }));
    if (this.token) client = client.with(staticToken(this.token));
    this.dispose = () => client.disconnect();
    try {
      await client.connect();
      const query = { fields: this.fields };
      if (this.filter) query.filter = this.filter;
      const { subscription } = await client.subscribe('feed', { query, uid: 'feed', cursor: this.cursor });
      for await (const m of subscription) {
        if (m.event === 'init') {
          this.inits++;
        } else {
          for (const d of m.data)
            this.events.push(m.event === 'delete'
              ? { event: 'delete', key: String(d), row: null }
              : { event: m.event, key: String(d.id), row: d });
        }
        this.cursor = m.cursor;
      }
    } finally {
      this.dispose = null;
      client.disconnect();
    }
  }

  stop() {
    this.stopped = true;
    if (this.dispose) this.dispose();
  }
}

// A steady writer: one change every few milliseconds, in one session.
class Writer {
  constructor(sql, model) {
    this.sql = sql;
    this.model = model;
    this.seed = 7;
    this.next = 1;
    this.count = 0;
  }

  rand(n) {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    return this.seed % n;
  }

  one() {
    const m = this.model;
    const ids = [...m.rows.keys()];
    const k = this.count++;
    const pick = this.rand(10);
    if (ids.length < 20 || pick < 3) {
      const id = this.next++;
      this.sql.exec(m.insert({ id, grp: this.rand(5), owner: `u${this.rand(3)}`, n: k }));
    } else if (pick < 4) {
      this.sql.exec(m.delete(ids[this.rand(ids.length)]));
    } else {
      const changes = { n: k };
      if (pick < 7) changes.grp = this.rand(5);
      if (pick === 9) changes.owner = `u${this.rand(3)}`;
      this.sql.exec(m.update(ids[this.rand(ids.length)], changes));
    }
  }

  start(everyMs) {
    this.timer = setInterval(() => this.one(), everyMs);
  }

  async stop() {
    clearInterval(this.timer);
    await this.sql.sync();
  }
}

test('50 clients keep an exact view through a pusher killed and replaced', async () => {
  await withStack('continuity', async (stack) => {
    const pg = await stack.startPostgres();
    pg.psql(`CREATE TABLE feed (id int PRIMARY KEY, grp int NOT NULL, owner text, n int);
             ALTER TABLE feed REPLICA IDENTITY FULL;`);
    await stack.startBroker();
    await stack.startReader();
    const env = {
      CDC_PERMISSIONS: stack.writeFile('permissions.json', JSON.stringify(PERMISSIONS)),
      CDC_GRAPHQL_AUTH: 'public',
      CDC_REALTIME_AUTH: 'public',
      // Fewer replays at once than clients resuming: the rest wait their
      // turn.
      CDC_MAX_REPLAYS: '5',
    };
    const a = await stack.startPusher(env, { name: 'pusher-a' });
    const model = new Model('feed', COLS);
    const writer = new Writer(new SqlStream(pg.url), model);
    const followers = specs().map((s, i) => new Follower(i, s));
    let b = null;
    let killed = false;
    // Before the kill every client uses pusher A; after it the even ones
    // go back to A once restarted, the odd ones to B.
    const target = (i) => () => (!killed || i % 2 === 0 ? a.url : b?.url);
    const running = followers.map((f, i) => f.follow(target(i)));
    try {
      await waitFor('every client to start', () => followers.every((f) => f.inits === 1), 30000)
        .catch((e) => {
          const late = followers.filter((f) => f.inits !== 1);
          throw new Error(`${e.message}: ${late.map((f) => `${f.name} (${f.sessions} sessions, ${JSON.stringify(f.errors)})`).join(', ')}`);
        });

      writer.start(8);
      await sleep(1500);
      await a.kill('SIGKILL');
      killed = true;
      const atKill = writer.count;
      const [pb] = await Promise.all([
        stack.startPusher(env, { name: 'pusher-b' }),
        sleep(300).then(() => stack.restartPusher(a)),
      ]);
      b = pb;
      // Changes made while no pusher served the clients: they reach them
      // only through their cursors.
      const missed = writer.count - atKill;
      await sleep(1500);
      await writer.stop();

      const want = followers.map((f) => model.expected(f.visible, f.fields, 0,
        f.kind === 'graphql' ? { ids: ['id'] } : {}));
      await waitFor('every client to catch up', () =>
        followers.every((f, i) => f.events.length >= want[i].length || f.errors.length), 90000, 100);
      await sleep(200);
      const shape = (e) => `${e.event}:${JSON.stringify(e.row)}`;
      for (const [i, f] of followers.entries()) {
        assert.deepEqual(f.errors, [], f.name);
        assert.ok(f.sessions >= 2 && f.inits >= 2, `${f.name} reconnected (${f.sessions} sessions)`);
        assert.deepEqual(perKey(f.events, shape), perKey(want[i], shape), f.name);
        assert.equal(f.events.length, want[i].length, `${f.name}: no duplicate`);
      }
      assert.ok(writer.count > 200, `${writer.count} changes`);
      assert.ok(missed > 20, `${missed} changes during the outage`);
      assert.ok(want.every((w) => w.length > 0));
      // Each pusher serves half of them.
      for (const p of [a, b]) {
        const text = await (await fetch(`${p.http}/metrics`)).text();
        assert.equal(Number(text.match(/^cdc_pusher_subscriptions (\d+)/m)?.[1]), CLIENTS / 2, p.name);
      }
    } finally {
      for (const f of followers) f.stop();
      await Promise.all(running);
      await writer.stop().catch(() => {});
      await writer.sql.end();
    }
  });
});
