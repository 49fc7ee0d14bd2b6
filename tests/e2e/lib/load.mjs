// A write load whose expected history PostgreSQL keeps itself, and the
// check of a topic against it.
//
// Table items(id, ver, ...): every write of a row raises its ver by one, an
// insert starts it at 1, a delete moves (id, ver) into table gone in the
// same transaction, and deleted ids never come back.  So the row changes of
// key id committed after the slot's start are exactly ver 1..N (or the
// versions after its snapshot state), then a delete when id is in gone; a
// topic holds them exactly once and in order or it does not.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function schemaSql(rows, { pad = 24 } = {}) {
  return `
    CREATE TABLE items (id bigint PRIMARY KEY, ver int NOT NULL,
                        writer int NOT NULL, pad text);
    CREATE TABLE gone (id bigint PRIMARY KEY, ver int NOT NULL);
    CREATE SEQUENCE ids START ${rows + 1};
    INSERT INTO items SELECT g, 1, 0, repeat('p', ${pad})
      FROM generate_series(1, ${rows}) g;`;
}

const rand = (n) => Math.floor(Math.random() * n);

// One random statement of writer w over ids up to maxId.
function statement(w, maxId, deletes) {
  const id = 1 + rand(maxId);
  const x = rand(deletes ? 100 : 88);
  if (x < 30) return `INSERT INTO items SELECT nextval('ids'), 1, ${w}, 'n';`;
  if (x < 75) return `UPDATE items SET ver = ver + 1, writer = ${w} WHERE id = ${id};`;
  if (x < 88)
    return `UPDATE items SET ver = ver + 1, writer = ${w} WHERE id BETWEEN ${id} AND ${id + 7};`;
  return `WITH d AS (DELETE FROM items WHERE id = ${id} RETURNING id, ver)
          INSERT INTO gone SELECT id, ver FROM d;`;
}

function transaction(w, maxId, deletes) {
  if (rand(100) >= 20) return statement(w, maxId, deletes);
  let sql = 'BEGIN;\n';
  for (let i = 2 + rand(5); i > 0; i--) sql += `${statement(w, maxId, deletes)}\n`;
  return `${sql}COMMIT;`;
}

// One writer: a psql session fed batches of transactions (single
// statements and BEGIN ... COMMIT blocks), each batch followed by a marker
// psql echoes once it got there.  A failed statement (deadlock) rolls back
// and the session goes on; a lost session (server restart) is opened again.
async function writer(pg, w, state, batch, pauseMs) {
  while (state.running) {
    const child = spawn(path.join(pg.bin, 'psql'), ['-X', '-q', '-At',
      `host=${pg.dir} port=${pg.port} user=postgres dbname=postgres`], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    let wake = null;
    let alive = true;
    child.stdout.on('data', (d) => {
      out += d;
      if (wake) wake();
    });
    child.on('exit', () => {
      alive = false;
      if (wake) wake();
    });
    child.stdin.on('error', () => {});
    for (let n = 0; state.running && alive; n++) {
      let sql = '';
      let inserts = 0;
      for (let i = 0; i < batch; i++) {
        const t = transaction(w, state.maxId, state.deletes);
        inserts += (t.match(/nextval/g) || []).length;
        sql += `${t}\n`;
      }
      child.stdin.write(`${sql}\\echo batch-${n}\n`);
      while (alive && !out.includes(`batch-${n}\n`))
        await new Promise((resolve) => (wake = resolve));
      wake = null;
      out = '';
      if (alive) {
        state.committed += batch;
        state.maxId += inserts;
        await sleep(pauseMs);
      }
    }
    child.stdin.end();
    if (alive) await new Promise((resolve) => child.on('exit', resolve));
    if (state.running) {
      state.failed++;
      await sleep(200);
    }
  }
}

// Writers until stop(), each at about rate transactions a second;
// committed counts transactions sent in batches psql finished (some may
// have failed and rolled back).  Deletes only once state.deletes is set:
// a row deleted before the slot exists leaves no trace to check.
export function startWriters(pg, { writers = 3, rows, rate = 60, batch = 10, deletes = true } = {}) {
  const state = { running: true, committed: 0, failed: 0, maxId: rows, deletes };
  const loops = [];
  for (let w = 1; w <= writers; w++) loops.push(writer(pg, w, state, batch, (1000 * batch) / rate));
  state.stop = async () => {
    state.running = false;
    await Promise.all(loops);
  };
  return state;
}

// What PostgreSQL says every key's history ends with.
export function expected(pg) {
  const final = new Map();
  for (const line of pg.psql('SELECT id, ver FROM items').trim().split('\n')) {
    if (!line) continue;
    const [id, ver] = line.split('|').map(Number);
    final.set(id, { ver, deleted: false });
  }
  for (const line of pg.psql('SELECT id, ver FROM gone').trim().split('\n')) {
    if (!line) continue;
    const [id, ver] = line.split('|').map(Number);
    final.set(id, { ver, deleted: true });
  }
  return final;
}

const SNAPSHOT_ATTEMPT_SHIFT = 40n;

// Compares the decoded records of the items topic with PostgreSQL's final
// state; ids up to preexisting were there before the slot.  Returns
// { problems, stats }: problems is empty when every committed change is in
// the topic exactly once and in order.
export function checkTopic(records, final, { preexisting = 0 } = {}) {
  const problems = [];
  const byKey = new Map();
  const lastPos = new Map();
  const stats = { records: records.length, tombstones: 0, snapshotRows: 0, changes: 0, keys: 0 };

  for (const r of records) {
    // Positions only grow within a partition.
    const prev = lastPos.get(r.partition);
    if (!r.position) problems.push(`record without a position at ${r.partition}/${r.offset}`);
    else if (prev && (r.position.lsn < prev.lsn || (r.position.lsn === prev.lsn && r.position.seq <= prev.seq)))
      problems.push(`position goes back at partition ${r.partition} offset ${r.offset}`);
    if (r.position) lastPos.set(r.partition, r.position);
    if (!r.v) {
      stats.tombstones++;
      continue;
    }
    const id = Number(r.k.id);
    if (!byKey.has(id)) byKey.set(id, []);
    const row = r.v.after;
    byKey.get(id).push({
      op: r.v.op,
      ver: row ? Number(row.ver) : null,
      attempt: r.v.op === 'r' ? Number(r.position.seq >> SNAPSHOT_ATTEMPT_SHIFT) + 1 : 0,
      at: `${r.partition}/${r.offset}`,
    });
    if (r.v.op === 'r') stats.snapshotRows++;
    else stats.changes++;
  }

  for (const [id, want] of final) {
    const evs = byKey.get(id) || [];
    const show = () => evs.map((e) => `${e.op}${e.ver ?? ''}`).join(' ');
    stats.keys++;
    let i = 0;
    while (i < evs.length && evs[i].op === 'r') i++;
    const snap = evs.slice(0, i);
    const changes = evs.slice(i);
    if (changes.some((e) => e.op === 'r')) {
      problems.push(`key ${id}: snapshot row after a change: ${show()}`);
      continue;
    }
    const deletes = changes.filter((e) => e.op === 'd');
    const vers = changes.filter((e) => e.op !== 'd').map((e) => e.ver);
    if (want.deleted !== (deletes.length === 1) || deletes.length > 1 ||
        (deletes.length && changes[changes.length - 1].op !== 'd')) {
      problems.push(`key ${id}: ${want.deleted ? 'deleted' : 'present'} in PostgreSQL, topic has ${show()}`);
      continue;
    }
    // A row that existed before the slot starts with its snapshot row;
    // only one deleted while an interrupted snapshot was taken again may
    // have none, its changes then coming from the stream alone.
    if (!snap.length && id <= preexisting && !want.deleted) {
      problems.push(`key ${id}: no snapshot row: ${show()}`);
      continue;
    }
    if (!snap.length && id > preexisting &&
        (!vers.length || vers[0] !== 1 || changes[0].op !== 'c')) {
      problems.push(`key ${id}: history does not start with its insert: ${show()}`);
      continue;
    }
    for (let k = 1; k < vers.length; k++) {
      if (vers[k] !== vers[k - 1] + 1) {
        problems.push(`key ${id}: versions not consecutive (lost or doubled change): ${show()}`);
        break;
      }
    }
    if (vers.length && vers[vers.length - 1] !== want.ver) {
      problems.push(`key ${id}: last version ${vers[vers.length - 1]}, PostgreSQL has ${want.ver}: ${show()}`);
      continue;
    }
    // The snapshot the slot exported shows exactly the state the stream
    // starts from; a later attempt, a state between that and the last.
    const start = vers.length ? vers[0] - 1 : want.ver;
    for (const e of snap) {
      if (e.attempt === 1 && (e.ver !== start || changes[0]?.op === 'c'))
        problems.push(`key ${id}: snapshot row ${e.ver} is not the state the stream starts from (${start}): ${show()}`);
      else if (e.ver < start || e.ver > want.ver)
        problems.push(`key ${id}: snapshot row ${e.ver} outside ${start}..${want.ver}: ${show()}`);
    }
  }
  for (const id of byKey.keys())
    if (!final.has(id)) problems.push(`key ${id} is in the topic but was never committed`);
  return { problems, stats };
}
