// Helpers for the trust, cursor and continuity suites: tokens, sockets
// that keep every frame they receive, a psql session fed statement by
// statement, and a model of what a subscriber should see.
import crypto from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import { BIN, SECRET, waitFor } from './stack.mjs';

// A token signed by the cdc-token tool, as an operator would make one.
export function cdcToken({ user, role, admin = false, ttl, secret = SECRET, issuer } = {}) {
  const args = ['--secret', secret, '--user', user];
  if (role) args.push('--role', role);
  if (admin) args.push('--admin');
  if (ttl !== undefined) args.push('--ttl', String(ttl));
  if (issuer !== undefined) args.push('--issuer', issuer);
  return execFileSync(path.join(BIN, 'cdc-token'), args, { encoding: 'utf8' }).trim();
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A JWT built by hand, for the kinds cdc-token will not make.  alg picks
// the HMAC ("HS256", "HS384"); "none" leaves the signature empty and any
// other name gets random bytes.
export function handJwt(header, claims, { secret = SECRET, alg = header.alg } = {}) {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let sig;
  if (alg === 'HS256' || alg === 'HS384' || alg === 'HS512')
    sig = crypto.createHmac(`sha${alg.slice(2)}`, secret).update(head).digest();
  else if (alg === 'none') sig = Buffer.alloc(0);
  else sig = crypto.randomBytes(256);
  return `${head}.${b64url(sig)}`;
}

// Directus's claims for a user, valid for an hour unless told otherwise.
export function claims(extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    id: 'u-1', role: null, app_access: true, admin_access: false,
    iat: now, exp: now + 3600, iss: 'directus', ...extra,
  };
}

// A WebSocket that keeps every frame it receives, in order.
export class Socket {
  constructor(url, { protocol, headers } = {}) {
    this.url = url;
    this.frames = [];
    this.close = null;
    this.status = null;
    this.open = false;
    this.ws = new WebSocket(url, protocol, { headers });
    this.ws.on('open', () => (this.open = true));
    this.ws.on('message', (m) => {
      const text = m.toString();
      let v;
      try {
        v = JSON.parse(text);
      } catch {
        v = text;
      }
      this.frames.push(v);
    });
    this.ws.on('close', (code, reason) => {
      if (!this.close) this.close = { code, reason: reason.toString() };
    });
    this.ws.on('error', (e) => (this.error = e));
    this.ws.on('unexpected-response', (req, res) => {
      this.status = res.statusCode;
      this.close = { code: -1, reason: `HTTP ${res.statusCode}` };
      req.destroy();
    });
  }

  async opened(timeoutMs = 10000) {
    await waitFor(`${this.url} open`, () => this.open || this.close, timeoutMs);
    return this.open && !this.close;
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // The first frame at or after index from that pred accepts.
  async frame(pred, { from = 0, timeoutMs = 15000, what = 'a frame' } = {}) {
    let found;
    await waitFor(`${what} on ${this.url} (frames: ${JSON.stringify(this.frames.slice(-3))}, close: ${JSON.stringify(this.close)})`, () => {
      for (let i = from; i < this.frames.length; i++)
        if (pred(this.frames[i])) {
          found = this.frames[i];
          return true;
        }
      return false;
    }, timeoutMs, 20);
    return found;
  }

  async closed(timeoutMs = 15000) {
    await waitFor(`${this.url} to close`, () => this.close, timeoutMs);
    return this.close;
  }

  end() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }
}

// Directus realtime at /websocket.
export class Realtime extends Socket {
  constructor(base, { token } = {}) {
    super(`${base}/websocket${token ? `?access_token=${encodeURIComponent(token)}` : ''}`);
  }

  static async connect(base, { token, urlToken } = {}) {
    const s = new Realtime(base, { token: urlToken });
    if (!(await s.opened())) throw new Error(`could not open ${s.url}: ${JSON.stringify(s.close)}`);
    if (token) {
      const from = s.frames.length;
      s.send({ type: 'auth', access_token: token });
      const r = await s.frame((f) => f.type === 'auth', { from, what: 'auth answer' });
      if (r.status !== 'ok') throw new Error(`auth refused: ${JSON.stringify(r)}`);
    }
    return s;
  }

  subscribe(uid, collection, { fields, filter, cursor, event } = {}) {
    const msg = { type: 'subscribe', collection, uid };
    if (fields || filter) msg.query = {};
    if (fields) msg.query.fields = fields;
    if (filter) msg.query.filter = filter;
    if (cursor !== undefined) msg.cursor = cursor;
    if (event) msg.event = event;
    this.send(msg);
  }

  // Waits for the init (or error) answering subscription uid.
  async started(uid) {
    const f = await this.frame((m) => m.uid === uid && (m.event === 'init' || m.status === 'error'),
      { what: `init of ${uid}` });
    if (f.status === 'error') throw new Error(`subscribe ${uid} refused: ${JSON.stringify(f)}`);
    return f;
  }

  // Events of uid (init excluded), as {event, key(s), row, cursor}.
  events(uid) {
    return this.frames
      .filter((f) => f.type === 'subscription' && f.uid === uid && f.event !== 'init')
      .flatMap((f) =>
        f.data.map((d) => (f.event === 'delete'
          ? { event: 'delete', key: String(d), cursor: f.cursor }
          : { event: f.event, key: String(d.id), row: d, cursor: f.cursor })));
  }
}

// graphql-transport-ws at /graphql, by hand so that every frame is kept.
export class Gql extends Socket {
  constructor(base, { urlToken } = {}) {
    super(`${base}/graphql${urlToken ? `?access_token=${encodeURIComponent(urlToken)}` : ''}`,
      { protocol: 'graphql-transport-ws' });
  }

  static async connect(base, { token, urlToken, payload } = {}) {
    const s = new Gql(base, { urlToken });
    if (!(await s.opened())) throw new Error(`could not open ${s.url}: ${JSON.stringify(s.close)}`);
    s.send({ type: 'connection_init', payload: payload ?? (token ? { access_token: token } : {}) });
    await waitFor('connection_ack', () => s.frames.some((f) => f.type === 'connection_ack') || s.close);
    if (s.close) throw new Error(`connection refused: ${JSON.stringify(s.close)}`);
    return s;
  }

  subscribe(id, query, variables) {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  // The first answer to a subscription with `after` is its init event
  // (or an error).  Queries here select `event`, so events() can tell it.
  async started(id) {
    const f = await this.frame((m) => m.id === id && (m.type === 'error' || m.type === 'next'),
      { what: `init of ${id}` });
    if (f.type === 'error') throw new Error(`subscribe ${id} refused: ${JSON.stringify(f.payload)}`);
    return Object.values(f.payload.data)[0];
  }

  async error(id) {
    return (await this.frame((m) => m.id === id && m.type === 'error', { what: `error of ${id}` })).payload;
  }

  // Events of id (init excluded), as {event, key, row, cursor}.
  events(id) {
    return this.frames
      .filter((f) => f.id === id && f.type === 'next')
      .map((f) => Object.values(f.payload.data)[0])
      .filter((e) => e.event !== 'init')
      .map((e) => ({ event: e.event, key: e.key, row: e.data, cursor: e.cursor }));
  }
}

// One psql session fed statement by statement, so statements commit in
// the order they are written; sync() waits until all have run.
export class SqlStream {
  constructor(url) {
    this.child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', url], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.out = '';
    this.err = '';
    this.marks = 0;
    this.child.stdout.on('data', (d) => (this.out += d));
    this.child.stderr.on('data', (d) => (this.err += d));
  }

  exec(sql) {
    this.child.stdin.write(`${sql.trim().replace(/;?$/, ';')}\n`);
  }

  async sync(timeoutMs = 30000) {
    const mark = `sync-${++this.marks}`;
    this.exec(`SELECT '${mark}'`);
    await waitFor(`psql to reach ${mark} (${this.err})`, () => {
      if (this.err) throw new Error(this.err);
      return this.out.includes(mark);
    }, timeoutMs, 10);
  }

  async end() {
    this.child.stdin.end();
    await new Promise((r) => this.child.on('exit', r));
  }
}

// The event a subscriber whose view is `visible` (row -> bool, its filter
// and its role's together) sees for a change, or null: entering the view
// is a create, staying an update, leaving a delete.
export function viewEvent(visible, op, before, after) {
  const was = before ? visible(before) : false;
  const is = after ? visible(after) : false;
  if (op === 'insert') return is ? 'create' : null;
  if (op === 'delete') return was ? 'delete' : null;
  if (was && is) return 'update';
  if (is) return 'create';
  if (was) return 'delete';
  return null;
}

// Groups events by key, keeping each key's order: partitions keep
// per-key order only, so that is what two streams can be compared on.
export function perKey(events, describe = (e) => `${e.event}:${JSON.stringify(e.row ?? null)}`) {
  const m = new Map();
  for (const e of events) {
    if (!m.has(e.key)) m.set(e.key, []);
    m.get(e.key).push(describe(e));
  }
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => Number(a) - Number(b)));
}

// The rows of a table as the test changes them, with each change logged.
export class Model {
  constructor(table, columns) {
    this.table = table;
    this.columns = columns;
    this.rows = new Map();
    this.log = [];
  }

  static lit(v) {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number') return String(v);
    return `'${String(v).replace(/'/g, "''")}'`;
  }

  insert(row) {
    this.rows.set(row.id, { ...row });
    this.log.push({ op: 'insert', key: String(row.id), before: null, after: { ...row } });
    const cols = Object.keys(row);
    return `INSERT INTO ${this.table} (${cols.join(', ')}) VALUES (${cols.map((c) => Model.lit(row[c])).join(', ')})`;
  }

  update(id, changes) {
    const before = this.rows.get(id);
    const after = { ...before, ...changes };
    this.rows.set(id, after);
    this.log.push({ op: 'update', key: String(id), before: { ...before }, after: { ...after } });
    const sets = Object.entries(changes).map(([c, v]) => `${c} = ${Model.lit(v)}`);
    return `UPDATE ${this.table} SET ${sets.join(', ')} WHERE id = ${id}`;
  }

  delete(id) {
    const before = this.rows.get(id);
    this.rows.delete(id);
    this.log.push({ op: 'delete', key: String(id), before: { ...before }, after: null });
    return `DELETE FROM ${this.table} WHERE id = ${id}`;
  }

  // What a subscriber with view `visible` and selected `fields` should get
  // for log entries from index `from`, as {event, key, row}.  GraphQL sends
  // a numeric key column as a string (it is an ID): ids names them.
  expected(visible, fields, from = 0, { ids = [] } = {}) {
    const out = [];
    for (const c of this.log.slice(from)) {
      const event = viewEvent(visible, c.op, c.before, c.after);
      if (!event) continue;
      const row = event === 'delete' ? null
        : Object.fromEntries(fields.map((f) => {
          const v = c.after[f] ?? null;
          return [f, ids.includes(f) && v !== null ? String(v) : v];
        }));
      out.push({ event, key: c.key, row });
    }
    return out;
  }
}
