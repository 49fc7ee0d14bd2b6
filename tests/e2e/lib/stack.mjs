// Test fixture: a real PostgreSQL (initdb in a temporary folder, a free
// port, wal_level=logical), the dev Kafka broker, cdc-reader and pushers,
// each a real process with its log kept in the test's folder.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(new URL('.', import.meta.url).pathname, '../../..');
export const BUILD = process.env.CDC_BUILD_DIR || path.join(ROOT, 'build');
export const BIN = path.join(BUILD, 'bin');
export const SECRET = 'test-secret-0123456789abcdef0123456789';

function pgBin() {
  for (const v of ['15', '16', '17']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (fs.existsSync(path.join(d, 'initdb'))) return d;
  }
  throw new Error('PostgreSQL server programs (initdb) not found');
}

const isRoot = process.getuid && process.getuid() === 0;

// Runs a PostgreSQL program as the "postgres" user when we are root.
function asPostgres(cmd, args, opts = {}) {
  if (isRoot) return execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], opts);
  return execFileSync(cmd, args, opts);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

async function httpOk(url) {
  try {
    const r = await fetch(url);
    return r.ok;
  } catch {
    return false;
  }
}

// A child process whose output goes to a log file.
class Proc {
  constructor(name, cmd, args, env, logDir) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.env = env;
    this.logPath = path.join(logDir, `${name}.log`);
    this.exit = null;
    this.start();
  }

  start() {
    const log = fs.openSync(this.logPath, 'a');
    this.exit = null;
    this.child = spawn(this.cmd, this.args, {
      env: this.env,
      stdio: ['ignore', 'pipe', log],
    });
    this.stdout = '';
    this.child.stdout.on('data', (d) => {
      this.stdout += d;
      fs.appendFileSync(this.logPath, d);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        fs.closeSync(log);
        resolve(this.exit);
      });
    });
  }

  get pid() {
    return this.child.pid;
  }

  running() {
    return this.exit === null;
  }

  kill(signal = 'SIGTERM') {
    if (this.running()) this.child.kill(signal);
    return this.exited;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }
}

export class Postgres {
  constructor(dir) {
    this.dir = dir;
    this.data = path.join(dir, 'pg');
    this.bin = pgBin();
  }

  async start() {
    this.port = await freePort();
    if (!fs.existsSync(this.data)) {
      fs.mkdirSync(this.data, { recursive: true });
      if (isRoot) execFileSync('chown', ['-R', 'postgres', this.dir]);
      asPostgres(path.join(this.bin, 'initdb'), ['-D', this.data, '-A', 'trust', '-U', 'postgres'], {
        stdio: 'ignore',
      });
      fs.appendFileSync(
        path.join(this.data, 'postgresql.conf'),
        [
          'wal_level = logical',
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${this.dir}'`,
          'max_wal_senders = 20',
          'max_replication_slots = 20',
          // fsync off keeps commits cheap; synchronous_commit stays on, as
          // the walsender sends only WAL that has been flushed.
          'fsync = off',
          'full_page_writes = off',
          'wal_sender_timeout = 60s',
          '',
        ].join('\n'),
      );
    }
    await this.resume();
  }

  async resume() {
    asPostgres(
      path.join(this.bin, 'pg_ctl'),
      ['-D', this.data, '-o', `-p ${this.port}`, '-l', path.join(this.dir, 'postgresql.log'), '-w', 'start'],
      { stdio: 'ignore' },
    );
  }

  stop(mode = 'fast') {
    try {
      asPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.data, '-m', mode, '-w', 'stop'], {
        stdio: 'ignore',
      });
    } catch {
      // already stopped
    }
  }

  get url() {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  // Runs SQL with psql, as a user would; returns psql's output.
  psql(sql, { tuplesOnly = true } = {}) {
    const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', this.url];
    if (tuplesOnly) args.push('-At');
    return execFileSync('psql', args, { input: sql, encoding: 'utf8' });
  }

  // psql without waiting, for concurrent writers and large statements:
  // the server's own psql, not the Debian wrapper (a Perl start per call).
  psqlAsync(sql) {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(this.bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', this.url], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
      child.stdin.end(sql);
    });
  }
}

// The whole pipeline for one test.
export class Stack {
  constructor(name) {
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `cdc-${name}-`));
    fs.chmodSync(this.dir, 0o755);
    this.procs = [];
    this.pushers = [];
  }

  async startPostgres() {
    this.pg = new Postgres(this.dir);
    await this.pg.start();
    return this.pg;
  }

  async startBroker(args = []) {
    const bootstrap = path.join(this.dir, 'bootstrap');
    this.broker = new Proc(
      'kafka-dev-broker',
      path.join(BIN, 'kafka-dev-broker'),
      ['--bootstrap-file', bootstrap, ...args],
      process.env,
      this.dir,
    );
    this.procs.push(this.broker);
    this.brokers = await waitFor('the dev broker', () =>
      fs.existsSync(bootstrap) ? fs.readFileSync(bootstrap, 'utf8').trim() : null,
    );
    return this.brokers;
  }

  baseEnv(extra = {}) {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('CDC_')) delete env[k];
    return {
      ...env,
      ASAN_OPTIONS: env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
      CDC_KAFKA_BROKERS: this.brokers,
      CDC_DATABASE_URL: this.pg ? this.pg.url : '',
      CDC_SECRET: SECRET,
      ...extra,
    };
  }

  // Starts a reader; resolves once /readyz answers 200 (unless standby).
  async startReader(env = {}, { waitReady = true, name = 'cdc-reader' } = {}) {
    const port = await freePort();
    const proc = new Proc(
      name,
      path.join(BIN, 'cdc-reader'),
      [],
      this.baseEnv({ CDC_READER_HTTP: `127.0.0.1:${port}`, ...env }),
      this.dir,
    );
    proc.http = `http://127.0.0.1:${port}`;
    this.procs.push(proc);
    if (!this.reader) this.reader = proc;
    if (waitReady)
      await waitFor(`${name} ready`, async () => {
        if (!proc.running()) throw new Error(`${name} exited: ${proc.log().slice(-2000)}`);
        return httpOk(`${proc.http}/readyz`);
      }, 30000);
    else
      await waitFor(`${name} listening`, () => httpOk(`${proc.http}/healthz`), 30000);
    return proc;
  }

  // Restarts a stopped reader on the same HTTP address.
  async restartReader(proc) {
    proc.start();
    await waitFor(`${proc.name} ready`, async () => {
      if (!proc.running()) throw new Error(`${proc.name} exited: ${proc.log().slice(-2000)}`);
      return httpOk(`${proc.http}/readyz`);
    }, 30000);
  }

  async startPusher(env = {}, { name } = {}) {
    const port = await freePort();
    const pname = name || `pusher-${this.pushers.length + 1}`;
    const registry = env.CDC_SCHEMA_REGISTRY_URL || this.reader.http;
    const proc = new Proc(
      pname,
      path.join(BIN, 'pusher'),
      [],
      this.baseEnv({
        CDC_PUSHER_LISTEN: `127.0.0.1:${port}`,
        CDC_SCHEMA_REGISTRY_URL: registry,
        ...env,
      }),
      this.dir,
    );
    proc.port = port;
    proc.url = `ws://127.0.0.1:${port}`;
    proc.http = `http://127.0.0.1:${port}`;
    this.procs.push(proc);
    this.pushers.push(proc);
    await waitFor(`${pname} ready`, async () => {
      if (!proc.running()) throw new Error(`${pname} exited: ${proc.log().slice(-2000)}`);
      return httpOk(`${proc.http}/readyz`);
    }, 30000);
    return proc;
  }

  async restartPusher(proc) {
    proc.start();
    await waitFor(`${proc.name} ready`, async () => {
      if (!proc.running()) throw new Error(`${proc.name} exited: ${proc.log().slice(-2000)}`);
      return httpOk(`${proc.http}/readyz`);
    }, 30000);
  }

  writeFile(name, text) {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, text);
    return p;
  }

  // Logs of every process, for a failing test's report.
  logs(maxPerFile = 4000) {
    return this.procs
      .map((p) => `---- ${p.name} ----\n${p.log().slice(-maxPerFile)}`)
      .join('\n');
  }

  async stop() {
    for (const p of [...this.procs].reverse()) {
      if (p === this.broker) continue;
      await p.kill('SIGTERM');
    }
    if (this.broker) await this.broker.kill('SIGTERM');
    if (this.pg) this.pg.stop('immediate');
    // Sanitizer reports and crashes are failures even when the test passed.
    const bad = this.procs.filter(
      (p) => p.exit && (p.exit.signal === 'SIGABRT' || p.exit.signal === 'SIGSEGV' ||
        /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(p.log())),
    );
    if (bad.length) {
      throw new Error(`process failure in ${bad.map((p) => p.name).join(', ')}:\n${this.logs(20000)}`);
    }
    if (!process.env.CDC_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Runs fn with a stack; on failure prints every process's log.
export async function withStack(name, fn) {
  const stack = new Stack(name);
  try {
    await fn(stack);
  } catch (e) {
    console.error(stack.logs());
    try {
      await stack.stop();
    } catch (e2) {
      console.error(e2.message);
    }
    throw e;
  }
  await stack.stop();
}
