// Real clients for the tests: graphql-ws, raw WebSocket (ws), the Directus
// SDK, kafkajs with the schema registry.
import crypto from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitFor } from './stack.mjs';

// A graphql-ws subscription that records everything it receives.
export function gqlSubscribe(url, query, { variables, token, clientOptions = {} } = {}) {
  const events = [];
  const errors = [];
  const closes = [];
  let completed = false;
  const client = createClient({
    url: `${url}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { access_token: token } : undefined,
    on: { closed: (e) => closes.push({ code: e.code, reason: e.reason }) },
    ...clientOptions,
  });
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (v) => events.push(v),
      error: (e) => errors.push(e),
      complete: () => (completed = true),
    },
  );
  const sub = {
    client,
    events,
    errors,
    closes,
    get completed() {
      return completed;
    },
    // The event payloads of the root field, whatever its alias.
    items() {
      return events
        .filter((e) => e.data)
        .map((e) => Object.values(e.data)[0]);
    },
    async waitEvents(n, timeoutMs = 20000) {
      await waitFor(`${n} events (have ${events.length}, errors ${JSON.stringify(errors)})`,
        () => events.length >= n || errors.length > 0, timeoutMs);
      if (errors.length) throw new Error(`subscription error: ${JSON.stringify(errors)}`);
      return sub.items();
    },
    async waitError(timeoutMs = 10000) {
      await waitFor('an error', () => errors.length > 0, timeoutMs);
      return errors[0];
    },
    close() {
      dispose();
      return client.dispose();
    },
  };
  return sub;
}

// A bare WebSocket with a queue of received messages.
export function rawSocket(url, path, protocols) {
  const ws = new WebSocket(`${url}${path}`, protocols);
  const messages = [];
  const state = { open: false, close: null, error: null };
  ws.on('open', () => (state.open = true));
  ws.on('message', (m) => {
    const text = m.toString();
    try {
      messages.push(JSON.parse(text));
    } catch {
      messages.push(text);
    }
  });
  ws.on('close', (code, reason) => (state.close = { code, reason: reason.toString() }));
  ws.on('error', (e) => (state.error = e));
  ws.on('unexpected-response', (req, res) => {
    state.error = new Error(`HTTP ${res.statusCode}`);
    state.status = res.statusCode;
    state.close = { code: -1, reason: `HTTP ${res.statusCode}` };
  });
  return {
    ws,
    messages,
    state,
    async opened() {
      await waitFor('socket open', () => state.open || state.close, 10000);
      return state.open;
    },
    send(obj) {
      ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    },
    async next(pred = () => true, timeoutMs = 10000) {
      const found = await waitFor('a message', () => messages.find(pred), timeoutMs);
      messages.splice(messages.indexOf(found), 1);
      return found;
    },
    async closed(timeoutMs = 10000) {
      await waitFor('socket close', () => state.close, timeoutMs);
      return state.close;
    },
    close() {
      ws.close();
    },
  };
}

// graphql-transport-ws by hand: open, init, ack.
export async function gqlSocket(url, { token, payload } = {}) {
  const s = rawSocket(url, '/graphql', 'graphql-transport-ws');
  await s.opened();
  s.send({ type: 'connection_init', payload: payload ?? (token ? { access_token: token } : {}) });
  await s.next((m) => m.type === 'connection_ack');
  return s;
}

// An HS256 access token shaped like Directus's, signed with secret.
export function signToken(secret, claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${sig}`;
}

// A daemon's /metrics as { 'name{labels}': value }.
export async function readMetrics(httpUrl) {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
