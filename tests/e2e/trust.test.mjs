// Trust: who a client is, and what its role may read.  Access tokens
// (JWTs signed with CDC_SECRET, static tokens) work on both endpoints in
// every place a client can give one; the auth modes decide what a client
// without one gets; every kind of bad token gets the same answer while the
// log says why; an expiring token is renewed or ends the connection.  Each
// role sees only its rows and fields, on every frame, deletes and view
// transitions included; what it may not read cannot be selected, aliased,
// filtered on or even seen to exist; SIGHUP applies new rules to live
// subscriptions.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import {
  Gql, Model, Realtime, Socket, SqlStream, cdcToken, claims, handJwt, perKey,
} from './lib/feeds.mjs';
import { waitFor, withStack } from './lib/stack.mjs';

const TABLES = `
  CREATE TABLE posts (id int PRIMARY KEY, title text, body text, status text,
                      author text, team text, views int, secret text,
                      published_at timestamptz);
  ALTER TABLE posts REPLICA IDENTITY FULL;
  CREATE TABLE vault (id int PRIMARY KEY, code text);`;

const COLS = ['id', 'title', 'body', 'status', 'author', 'team', 'views', 'secret', 'published_at'];
const STATIC = 'static-token-for-the-trust-suite-0001';
const SECRET_MARK = 'TOPSECRET';

const RULES = {
  public: {
    collections: {
      posts: { fields: ['id', 'title', 'status'], filter: { status: { _eq: 'published' } } },
    },
  },
  roles: {
    writer: {
      collections: {
        posts: {
          fields: ['id', 'title', 'body', 'status', 'author', 'views'],
          filter: { author: { _eq: '$CURRENT_USER' } },
        },
      },
    },
    red: {
      collections: {
        posts: {
          fields: ['*'],
          filter: { _and: [{ team: { _eq: '$CURRENT_ROLE' } }, { published_at: { _lte: '$NOW' } }] },
        },
      },
    },
    boss: { admin_access: true },
  },
  tokens: { [STATIC]: { user: 'svc', role: 'writer' } },
};

// Who sees what: the view of each kind of client, and its fields.
const VIEWS = {
  public: { fields: ['id', 'title', 'status'], visible: (r) => r.status === 'published' },
  alice: {
    fields: ['id', 'title', 'body', 'status', 'author', 'views'],
    visible: (r) => r.author === 'alice',
  },
  svc: {
    fields: ['id', 'title', 'body', 'status', 'author', 'views'],
    visible: (r) => r.author === 'svc',
  },
  red: {
    fields: COLS,
    visible: (r) => r.team === 'red' && new Date(r.published_at) <= new Date(),
  },
  admin: { fields: COLS, visible: () => true },
};

const shape = (e) => `${e.event}:${JSON.stringify(e.row ?? null)}`;
const gqlQuery = (fields, args = '') =>
  `subscription { posts_mutated${args} { key event data { ${fields.join(' ')} } } }`;

async function setup(stack) {
  const pg = await stack.startPostgres();
  pg.psql(TABLES);
  await stack.startBroker();
  await stack.startReader();
  const perms = stack.writeFile('permissions.json', JSON.stringify(RULES));
  const base = {
    CDC_PERMISSIONS: perms, CDC_JWT_ISSUER: 'directus', CDC_AUTH_TIMEOUT_MS: '1500',
    CDC_REFRESH_MS: '300',
  };
  const [hs, pub, strict] = await Promise.all([
    stack.startPusher(base, { name: 'pusher-handshake' }),
    stack.startPusher({ ...base, CDC_GRAPHQL_AUTH: 'public', CDC_REALTIME_AUTH: 'public' },
      { name: 'pusher-public' }),
    stack.startPusher({ ...base, CDC_GRAPHQL_AUTH: 'strict', CDC_REALTIME_AUTH: 'strict' },
      { name: 'pusher-strict' }),
  ]);
  return { perms, hs, pub, strict };
}

// The log of a pusher from a given length on.
const logSince = (proc, from) => proc.log().slice(from);

test('identity and permissions', async (t) => {
  await withStack('trust', async (stack) => {
    const { perms, hs, pub, strict } = await setup(stack);
    const sql = new SqlStream(stack.pg.url);
    const model = new Model('posts', COLS);
    const sockets = [];
    const track = (s) => (sockets.push(s), s);
    const alice = cdcToken({ user: 'alice', role: 'writer' });
    const bob = cdcToken({ user: 'bob', role: 'writer' });
    const red = cdcToken({ user: 'rosa', role: 'red' });
    const admin = cdcToken({ user: 'root', admin: true });
    const boss = cdcToken({ user: 'bea', role: 'boss' });
    try {
      await t.test('tokens work on both endpoints, wherever a client gives them', async () => {
        const ways = {
          'graphql connection_init': () => Gql.connect(hs.url, { token: alice }),
          'graphql URL': () => Gql.connect(hs.url, { urlToken: alice }),
          'graphql static token': () => Gql.connect(hs.url, { token: STATIC }),
          'realtime auth message': () => Realtime.connect(hs.url, { token: alice }),
          'realtime URL': () => Realtime.connect(hs.url, { urlToken: alice }),
          'realtime static token': () => Realtime.connect(hs.url, { token: STATIC }),
          'strict graphql URL': () => Gql.connect(strict.url, { urlToken: alice }),
          'strict realtime URL': () => Realtime.connect(strict.url, { urlToken: STATIC }),
        };
        for (const [way, open] of Object.entries(ways)) {
          const s = track(await open());
          // The identity holds: the role's fields can be selected.
          if (s instanceof Gql) {
            s.subscribe('1', `subscription { posts_mutated(after: "") { key event data { body } } }`);
            assert.equal(Object.values((await s.frame((f) => f.id === '1')).payload.data ?? {})[0]?.event,
              'init', way);
          } else {
            s.subscribe('1', 'posts', { fields: ['body'] });
            assert.equal((await s.started('1')).event, 'init', way);
          }
          s.end();
        }
      });

      await t.test('auth modes: public, handshake and strict', async () => {
        // public: no token reads as the public role.
        const g = track(await Gql.connect(pub.url));
        g.subscribe('1', 'subscription { posts_mutated(after: "") { key event data { title } } }');
        await g.started('1');
        g.subscribe('2', 'subscription { posts_mutated { data { body } } }');
        assert.match((await g.error('2'))[0].message, /body/);
        const r = track(await Realtime.connect(pub.url));
        r.subscribe('1', 'posts');
        await r.started('1');

        // handshake: no token is refused.
        const g2 = track(new Gql(hs.url));
        await g2.opened();
        g2.send({ type: 'connection_init', payload: {} });
        assert.equal((await g2.closed()).code, 4403);
        const r2 = track(new Realtime(hs.url));
        await r2.opened();
        r2.subscribe('1', 'posts');
        const refused = await r2.frame((f) => f.type === 'auth');
        assert.equal(refused.error.code, 'AUTH_FAILED');
        await r2.closed();
        const r3 = track(new Realtime(hs.url));
        await r3.opened();
        assert.equal((await r3.frame((f) => f.type === 'auth')).error.code, 'AUTH_TIMEOUT');
        await r3.closed();

        // An empty token is no token: refused in handshake mode.
        const g4 = track(new Gql(hs.url));
        await g4.opened();
        g4.send({ type: 'connection_init', payload: { access_token: '' } });
        assert.equal((await g4.closed()).code, 4403);
        const r4 = track(new Realtime(hs.url));
        await r4.opened();
        r4.send({ type: 'auth', access_token: '' });
        assert.equal((await r4.frame((f) => f.type === 'auth')).error?.code, 'AUTH_FAILED');
        await r4.closed();

        // strict: no token, or a token given only later, is HTTP 401.
        for (const path of ['/graphql', '/websocket']) {
          const s = track(new Socket(`${strict.url}${path}`,
            { protocol: path === '/graphql' ? 'graphql-transport-ws' : undefined }));
          await s.closed();
          assert.equal(s.status, 401, path);
        }
        assert.match(strict.log(), /refused a connection to \/graphql: no access_token in the URL/);
      });

      await t.test('every refused token gets the same answer, and the log says why', async () => {
        const now = Math.floor(Date.now() / 1000);
        const kinds = {
          'bad signature': [handJwt({ alg: 'HS256', typ: 'JWT' }, claims(),
            { secret: 'another-secret-0123456789abcdef-xyz' }), /signature does not match/],
          'alg none': [handJwt({ alg: 'none', typ: 'JWT' }, claims()), /"none"/],
          HS384: [handJwt({ alg: 'HS384', typ: 'JWT' }, claims()), /algorithm "HS384" is refused/],
          RS256: [handJwt({ alg: 'RS256', typ: 'JWT' }, claims()), /algorithm "RS256" is refused/],
          expired: [cdcToken({ user: 'alice', role: 'writer', ttl: 1 }), /expired at/],
          'nbf in the future': [handJwt({ alg: 'HS256', typ: 'JWT' }, claims({ nbf: now + 3600 })),
            /not valid before/],
          'wrong issuer': [handJwt({ alg: 'HS256', typ: 'JWT' }, claims({ iss: 'someone-else' })),
            /issuer "someone-else" is not "directus"/],
          malformed: ['this-is-not-a-token', /neither a known static token nor a JWT/],
          'malformed JWT': ['e30.e30.e30', /JWT/],
        };
        await new Promise((r) => setTimeout(r, 2100)); // lets the 1 s token expire
        const answers = { gqlInit: new Set(), gqlUrl: new Set(), rtAuth: new Set(), rtUrl: new Set(), strict: new Set() };
        for (const [kind, [token, why]] of Object.entries(kinds)) {
          const from = hs.log().length;
          const g = track(new Gql(hs.url));
          await g.opened();
          g.send({ type: 'connection_init', payload: { access_token: token } });
          answers.gqlInit.add(JSON.stringify(await g.closed()));
          const gu = track(new Gql(hs.url, { urlToken: token }));
          answers.gqlUrl.add(JSON.stringify(await gu.closed()));
          const r = track(new Realtime(hs.url));
          await r.opened();
          r.send({ type: 'auth', access_token: token });
          answers.rtAuth.add(JSON.stringify([await r.frame((f) => f.type === 'auth'), await r.closed()]));
          const ru = track(new Realtime(hs.url, { token }));
          answers.rtUrl.add(JSON.stringify(await ru.closed()));
          const su = track(new Realtime(strict.url, { token }));
          await su.closed();
          answers.strict.add(su.status);
          // Four refusals on the handshake pusher, each logged with the reason.
          await waitFor(`the log to say why (${kind})`, () =>
            (logSince(hs, from).match(new RegExp(`token refused: .*${why.source}`, 'g')) || []).length >= 4);
          assert.match(strict.log(), new RegExp(`refused a connection to /websocket.*: .*${why.source}`), kind);
        }
        assert.deepEqual([...answers.gqlInit], [JSON.stringify({ code: 4403, reason: 'Forbidden' })]);
        assert.deepEqual([...answers.gqlUrl], [JSON.stringify({ code: 4403, reason: 'Forbidden' })]);
        assert.equal(answers.rtAuth.size, 1, [...answers.rtAuth].join('\n'));
        assert.match([...answers.rtAuth][0], /"code":"AUTH_FAILED","message":"authentication failed"/);
        assert.equal(answers.rtUrl.size, 1, [...answers.rtUrl].join('\n'));
        assert.deepEqual([...answers.strict], [401]);
        // The log never holds a token.
        for (const [token] of Object.values(kinds)) {
          for (const p of [hs, strict])
            assert.ok(!p.log().includes(token.split('.').at(-1) || token), `${p.name} logged a token`);
        }
      });

      await t.test('an expiring token: renewed in time on /websocket, else the connection ends', async () => {
        const short = () => cdcToken({ user: 'alice', role: 'writer', ttl: 2 });
        const renewed = track(await Realtime.connect(hs.url, { token: short() }));
        renewed.subscribe('p', 'posts');
        await renewed.started('p');
        const lapsed = track(await Realtime.connect(hs.url, { token: short() }));
        const g = track(await Gql.connect(hs.url, { token: short() }));
        g.subscribe('p', gqlQuery(['id'], '(after: "")'));
        await g.started('p');

        await renewed.frame((f) => f.type === 'auth' && f.error?.code === 'TOKEN_EXPIRED', { timeoutMs: 5000 });
        renewed.send({ type: 'auth', access_token: alice });
        await renewed.frame((f) => f.type === 'auth' && f.status === 'ok');
        await lapsed.frame((f) => f.type === 'auth' && f.error?.code === 'TOKEN_EXPIRED', { timeoutMs: 5000 });
        assert.equal((await lapsed.closed()).code, 1000);
        assert.deepEqual(await g.closed(), { code: 4403, reason: 'Forbidden: token expired' });

        // The renewed connection still receives, past the deadline.
        await new Promise((r) => setTimeout(r, 1700));
        sql.exec(model.insert({ id: 1, title: 'renewed', author: 'alice', status: 'draft', views: 1 }));
        await sql.sync();
        const ev = await renewed.frame((f) => f.type === 'subscription' && f.event === 'create');
        assert.equal(ev.data[0].title, 'renewed');
        assert.equal(renewed.close, null);
      });

      await t.test('a new identity on the same connection reads only what it may', async () => {
        const s = track(await Realtime.connect(hs.url, { token: boss }));
        s.subscribe('v', 'vault');
        await s.started('v');
        s.subscribe('p', 'posts', { fields: ['id', 'title'] });
        await s.started('p');
        const from = s.frames.length;
        s.send({ type: 'auth', access_token: bob });
        await s.frame((f) => f.type === 'auth' && f.status === 'ok', { from });
        const ended = await s.frame((f) => f.uid === 'v' && f.status === 'error', { from });
        assert.equal(ended.error.code, 'FORBIDDEN');
        assert.match(ended.error.message, /"vault" ended/);
        sql.exec(model.insert({ id: 2, title: 'for alice', author: 'alice', status: 'published' }));
        sql.exec(model.insert({ id: 3, title: 'for bob', author: 'bob', status: 'draft' }));
        await sql.sync();
        const ev = await s.frame((f) => f.uid === 'p' && f.event === 'create', { from });
        assert.deepEqual(ev.data, [{ id: 3, title: 'for bob' }]);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(s.events('p').length, 1, 'the row of alice did not reach bob');
      });

      // Clients of every kind, subscribed before the changes below.
      const clients = [];
      const add = async (name, view, s, kind, fields, protoFields) => {
        clients.push({ name, view, s, kind, fields, protoFields, from: model.log.length });
      };
      await t.test('each role sees its rows and fields on every frame', async () => {
        const gqlFor = async (url, token, view, extra = '') => {
          const g = track(await Gql.connect(url, { token }));
          g.subscribe('q', gqlQuery(VIEWS[view].fields, `(after: ""${extra})`));
          await g.started('q');
          return g;
        };
        const rtFor = async (url, token, opts = {}) => {
          const r = track(await Realtime.connect(url, { token }));
          r.subscribe('q', 'posts', { fields: ['*'], ...opts });
          await r.started('q');
          return r;
        };
        await add('public/graphql', VIEWS.public, await gqlFor(pub.url, undefined, 'public'), 'gql');
        await add('public/realtime', VIEWS.public, await rtFor(pub.url), 'rt');
        await add('alice/graphql', VIEWS.alice, await gqlFor(hs.url, alice, 'alice'), 'gql');
        await add('alice/realtime', VIEWS.alice, await rtFor(hs.url, alice), 'rt');
        await add('alice/realtime views>10', {
          fields: VIEWS.alice.fields, visible: (r) => VIEWS.alice.visible(r) && r.views > 10,
        }, await rtFor(hs.url, alice, { filter: { views: { _gt: 10 } } }), 'rt');
        await add('svc/realtime', VIEWS.svc, await rtFor(hs.url, STATIC), 'rt');
        await add('red/graphql', VIEWS.red, await gqlFor(hs.url, red, 'red'), 'gql');
        await add('red/realtime', VIEWS.red, await rtFor(hs.url, red), 'rt');
        await add('admin/graphql', VIEWS.admin, await gqlFor(hs.url, admin, 'admin'), 'gql');
        await add('boss/realtime', VIEWS.admin, await rtFor(pub.url, boss), 'rt');

        // Changes that move rows in and out of every view.
        const past = '2020-01-01T00:00:00Z';
        const future = '2099-01-01T00:00:00Z';
        const ins = (id, o) => sql.exec(model.insert({
          id, title: `t${id}`, body: `body ${id}`, status: 'draft', author: 'alice', team: 'red',
          views: 0, secret: `${SECRET_MARK}-${id}`, published_at: past, ...o,
        }));
        ins(10, {});
        ins(11, { status: 'published', author: 'bob', team: 'blue' });
        ins(12, { author: 'svc', views: 50 });
        ins(13, { published_at: future, author: 'bob' });
        ins(14, { status: 'published', views: 20 });
        sql.exec(model.update(10, { status: 'published' }));             // public: enters
        sql.exec(model.update(10, { author: 'bob' }));                   // alice: leaves
        sql.exec(model.update(11, { author: 'alice', views: 11 }));      // alice: enters
        sql.exec(model.update(14, { secret: `${SECRET_MARK}-changed` })); // secret only
        sql.exec(model.update(13, { published_at: past }));              // red: enters
        sql.exec(model.update(12, { team: 'blue' }));                    // red: leaves
        sql.exec(model.update(14, { status: 'draft' }));                 // public: leaves
        sql.exec(model.delete(11));                                      // alice, public
        sql.exec(model.delete(12));                                      // svc only
        sql.exec(model.delete(13));                                      // red, not alice
        ins(15, { author: 'svc', status: 'published', team: 'blue' });
        sql.exec(model.update(15, { views: 99 }));
        await sql.sync();

        const gqlIds = (row) => row && ('id' in row ? { ...row, id: String(row.id) } : row);
        for (const c of clients) {
          let want = model.expected(c.view.visible, c.view.fields, c.from);
          if (c.kind === 'gql') want = want.map((e) => ({ ...e, row: gqlIds(e.row) }));
          await waitFor(`${c.name} to get ${want.length} events`,
            () => c.s.events('q').length >= want.length);
          await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(perKey(c.s.events('q'), shape), perKey(want, shape), c.name);
          assert.equal(c.s.events('q').length, want.length, `${c.name}: nothing more`);
        }
        // Every frame a restricted client got: its fields only, its rows only.
        for (const c of clients.filter((x) => x.view !== VIEWS.admin)) {
          for (const f of c.s.frames) {
            const text = JSON.stringify(f);
            if (!c.view.fields.includes('secret'))
              assert.ok(!text.includes(SECRET_MARK), `${c.name} got a secret: ${text}`);
            const data = c.kind === 'gql' ? Object.values(f.payload?.data ?? {})[0]?.data
              : f.type === 'subscription' && f.event !== 'delete' && f.event !== 'init' ? f.data[0] : null;
            if (!data) continue;
            assert.deepEqual(Object.keys(data), c.view.fields, `${c.name}: ${text}`);
          }
        }
      });

      await t.test('what a role may not read cannot be selected, aliased, filtered on or found', async () => {
        const g = track(await Gql.connect(pub.url));
        const refusals = {
          alias: 'subscription { posts_mutated { data { t: body } } }',
          'inline fragment': 'subscription { posts_mutated { data { ... on posts { secret } } } }',
          'named fragment': 'subscription { posts_mutated { data { ...F } } } fragment F on posts { author }',
          filter: 'subscription { posts_mutated(filter: { secret: { _eq: "x" } }) { key } }',
          'filter in _or': 'subscription { posts_mutated(filter: { _or: [{ id: { _eq: 1 } }, { views: { _gt: 1 } }] }) { key } }',
        };
        for (const [how, q] of Object.entries(refusals)) {
          g.subscribe(how, q);
          const [err] = await g.error(how);
          assert.equal(err.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', how);
        }
        // A forbidden field reads as a field that does not exist.
        g.subscribe('no-such-field', 'subscription { posts_mutated { data { nosuch } } }');
        g.subscribe('forbidden-field', 'subscription { posts_mutated { data { body } } }');
        const [a] = await g.error('no-such-field');
        const [b] = await g.error('forbidden-field');
        assert.equal(b.message.replace('body', 'nosuch'), a.message);
        // A forbidden collection reads as one that does not exist.
        g.subscribe('no-such-coll', 'subscription { nosuch_mutated { key } }');
        g.subscribe('forbidden-coll', 'subscription { vault_mutated { key } }');
        const [c] = await g.error('no-such-coll');
        const [d] = await g.error('forbidden-coll');
        assert.equal(d.message.replaceAll('vault', 'nosuch'), c.message);

        const r = track(await Realtime.connect(pub.url));
        const rtAnswer = async (uid, collection, query) => {
          r.subscribe(uid, collection, query);
          const f = await r.frame((m) => m.uid === uid && m.status === 'error');
          return f.error;
        };
        const field = await rtAnswer('f1', 'posts', { fields: ['body'] });
        const nofield = await rtAnswer('f2', 'posts', { fields: ['nosuch'] });
        assert.equal(field.code, 'INVALID_QUERY');
        assert.equal(field.message.replace('body', 'nosuch'), nofield.message);
        const filt = await rtAnswer('f3', 'posts', { filter: { secret: { _null: false } } });
        const nofilt = await rtAnswer('f4', 'posts', { filter: { nosuch: { _null: false } } });
        assert.equal(filt.code, 'INVALID_QUERY');
        assert.equal(filt.message.replace('secret', 'nosuch'), nofilt.message);
        assert.deepEqual(await rtAnswer('c1', 'vault', {}), await rtAnswer('c2', 'nosuch', {}));
        assert.equal((await rtAnswer('c3', 'vault', {})).code, 'FORBIDDEN');
        assert.equal(r.frames.filter((f) => f.type === 'subscription').length, 0);
      });

      await t.test('SIGHUP applies new rules to live subscriptions', async (st) => {
        // Before: public reads published rows' id, title and status.
        const keep = track(await Gql.connect(pub.url));
        keep.subscribe('k', gqlQuery(['id', 'title'], '(after: "")'));
        await keep.started('k');
        const byField = track(await Realtime.connect(pub.url));
        byField.subscribe('f', 'posts', { fields: ['id', 'title', 'status'] });
        await byField.started('f');
        byField.subscribe('w', 'posts', { fields: ['id'], filter: { status: { _eq: 'published' } } });
        await byField.started('w');
        byField.subscribe('ok', 'posts', { fields: ['id', 'title'] });
        await byField.started('ok');
        const writer = track(await Gql.connect(hs.url, { token: alice }));
        writer.subscribe('a', gqlQuery(['id', 'title'], '(after: "")'));
        await writer.started('a');

        // After: public reads id and title of rows with 100 views or more;
        // writers read nothing.
        const next = structuredClone(RULES);
        next.public.collections.posts = { fields: ['id', 'title'], filter: { views: { _gte: 100 } } };
        next.roles.writer.collections = {};
        fs.writeFileSync(perms, JSON.stringify(next));
        st.after(() => fs.writeFileSync(perms, JSON.stringify(RULES)));
        const before = pub.log().length;
        const hsBefore = hs.log().length;
        pub.kill('SIGHUP');
        hs.kill('SIGHUP');
        await waitFor('the reloads', () => /reloaded/.test(logSince(pub, before)) &&
          /reloaded/.test(logSince(hs, hsBefore)));

        const ended = async (s, uid, why) => {
          const f = await s.frame((m) => (m.uid === uid || m.id === uid) && (m.status === 'error' || m.type === 'error'));
          const e = f.error ?? f.payload[0];
          assert.equal(e.code ?? e.extensions.code, 'FORBIDDEN');
          assert.match(e.message, why);
        };
        await ended(byField, 'f', /"posts" ended: a field it selects may no longer be read/);
        await ended(byField, 'w', /"posts" ended: its filter reads a field/);
        await ended(writer, 'a', /"posts" ended: permission to read it was withdrawn/);
        assert.equal(byField.close, null);
        assert.equal(writer.close, null);

        const from = model.log.length;
        sql.exec(model.insert({ id: 20, title: 'popular', status: 'draft', views: 150, author: 'alice', secret: SECRET_MARK }));
        sql.exec(model.insert({ id: 21, title: 'published, few views', status: 'published', views: 5, author: 'alice' }));
        sql.exec(model.update(21, { views: 500 }));
        sql.exec(model.update(20, { views: 10 }));
        await sql.sync();
        const visible = (row) => row.views >= 100;
        const want = model.expected(visible, ['id', 'title'], from);
        await waitFor('the new rules to apply', () => keep.events('k').length >= want.length &&
          byField.events('ok').length >= want.length);
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(perKey(keep.events('k'), shape),
          perKey(want.map((e) => ({ ...e, row: e.row && { ...e.row, id: String(e.row.id) } })), shape));
        assert.deepEqual(perKey(byField.events('ok').filter((e) => Number(e.key) >= 20), shape),
          perKey(want, shape));
        assert.equal(writer.events('a').length, 0);
      });

      await t.test('a reload after a column was dropped keeps each subscription on its own version', async () => {
        const reload = async () => {
          const from = hs.log().length;
          hs.kill('SIGHUP');
          await waitFor('the reload', () => /reloaded/.test(logSince(hs, from)));
        };
        await reload(); // the original rules again
        const g = track(await Gql.connect(hs.url, { token: alice }));
        g.subscribe('v', gqlQuery(['id', 'title', 'author'], '(after: "")'));
        await g.started('v');
        const from = model.log.length;
        // Columns after "body" move one place to the left in the new version.
        sql.exec('ALTER TABLE posts DROP COLUMN body');
        for (const r of model.rows.values()) delete r.body;
        const ins = (id, o) => sql.exec(model.insert({
          id, title: `v${id}`, status: 'draft', author: 'alice', team: 'red', views: 1, ...o,
        }));
        ins(30, {});
        ins(31, { author: 'bob' });
        const logFrom = hs.log().length;
        await sql.sync();
        await waitFor('the first rows of the new version', () => g.events('v').length >= 1);
        await waitFor('the pusher to see the new version',
          () => /\[cdc\.public\.posts\] schema changed/.test(logSince(hs, logFrom)));
        await reload();
        ins(32, {});
        ins(33, { author: 'bob', status: 'alice' });
        sql.exec(model.update(30, { author: 'bob' }));
        sql.exec(model.update(31, { author: 'alice' }));
        await sql.sync();
        const want = model.expected(VIEWS.alice.visible, ['id', 'title', 'author'], from)
          .map((e) => ({ ...e, row: e.row && { ...e.row, id: String(e.row.id) } }));
        await waitFor('alice\'s events', () => g.events('v').length >= want.length || g.frames.some((f) => f.type === 'error'));
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(perKey(g.events('v'), shape), perKey(want, shape));
      });
    } finally {
      for (const s of sockets) s.end();
      await sql.end();
    }
  });
});
