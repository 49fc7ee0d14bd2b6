// Differential test of the pusher's GraphQL front end against graphql-js.
//
// usage: node tests/graphql-diff/diff.mjs <path to graphql-check>
//
// Every file in corpus/ is one document.  Comment lines starting with "#!"
// carry what a request sends besides the document:
//   #! variables: {"x": 1}        the variables, one line of JSON
//   #! operationName: Name        the operation to run
//   #! expect: accept|reject      what both sides must answer (optional)
//
// Both sides define "accept" the same way.  graphql-check compiles the
// document with gql_compile.  graphql-js accepts when, against
// buildSchema(<the SDL graphql-check --sdl prints>):
//   1. parse() succeeds;
//   2. validate(schema, document, specifiedRules) returns no error and
//      does not throw;
//   3. the operation to run exists (getOperationAST with operationName);
//   4. it is a subscription: our own rule, since the pusher executes
//      nothing else, mirrored here (the SDL's Query type exists only
//      because buildSchema needs one);
//   5. getVariableValues() coerces the variables without error;
//   6. subscribe() starts, and executing one made-up event gives no error
//      (this is where @skip/@include with variables below the root are
//      evaluated, which we do when compiling).
// For documents both accept, the plan must match what graphql-js computed:
// the root field and response key, the events, the filter (the coerced
// "filter" argument), "after", and the payload of the made-up event.
// Prints a table of mismatches and exits non-zero when there is one.

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

let gql;
try {
  gql = await import('graphql');
} catch {
  console.error(
    'graphql-diff: graphql-js is not installed; run `npm ci` in tests/ ' +
      '(it installs graphql@16 into tests/node_modules)',
  );
  process.exit(1);
}

const checker = process.argv[2];
if (!checker || !existsSync(checker)) {
  console.error('usage: node diff.mjs <path to graphql-check>');
  process.exit(2);
}

const sdlRun = spawnSync(checker, ['--sdl'], { encoding: 'utf8' });
if (sdlRun.status !== 0) {
  console.error('graphql-check --sdl failed:', sdlRun.stderr);
  process.exit(1);
}
const schema = gql.buildSchema(sdlRun.stdout);

// -- the corpus --

function readEntry(file) {
  const text = readFileSync(path.join(here, 'corpus', file), 'utf8');
  const meta = { id: file, query: text };
  for (const line of text.split(/\r\n|\r|\n/)) {
    const m = /^\s*#!\s*(variables|operationName|expect):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'variables') meta.variables = JSON.parse(m[2]);
    else if (m[1] === 'operationName') meta.operationName = m[2].trim();
    else meta.expect = m[2].trim();
  }
  return meta;
}

const files = readdirSync(path.join(here, 'corpus'))
  .filter((f) => f.endsWith('.graphql'))
  .sort();
const entries = files.map(readEntry);

// -- our side --

const input = entries
  .map((e) =>
    JSON.stringify({
      id: e.id,
      query: e.query,
      variables: e.variables ?? null,
      operationName: e.operationName ?? null,
    }),
  )
  .join('\n');
const run = spawnSync(checker, ['--batch'], {
  input: input + '\n',
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (run.status !== 0) {
  console.error('graphql-check --batch failed:', run.status, run.stderr);
  process.exit(1);
}
const ours = new Map();
for (const line of run.stdout.split('\n')) {
  if (!line) continue;
  const r = JSON.parse(line);
  ours.set(r.id, r);
}

// -- graphql-js's side --

// The made-up event: values follow from the column names, as
// graphql-check makes them.
function fakeRow(type) {
  const row = {};
  for (const [name, field] of Object.entries(type.getFields())) {
    const t = gql.getNamedType(field.type).name;
    if (t === 'ID') row[name] = 'id:' + name;
    else if (t === 'Boolean') row[name] = true;
    else if (t === 'Int') row[name] = name.length;
    else if (t === 'Float') row[name] = name.length + 0.5;
    else row[name] = 'v:' + name;
  }
  return row;
}

function errorText(e) {
  return e && e.message ? e.message : String(e);
}

async function theirs(entry) {
  let document;
  try {
    document = gql.parse(entry.query);
  } catch (e) {
    return { accept: false, why: errorText(e) };
  }
  let errors;
  try {
    errors = gql.validate(schema, document, gql.specifiedRules);
  } catch (e) {
    return { accept: false, why: 'validate threw: ' + errorText(e) };
  }
  if (errors.length) return { accept: false, why: errors[0].message };
  const op = gql.getOperationAST(document, entry.operationName);
  if (!op) return { accept: false, why: 'no operation to run' };
  if (op.operation !== 'subscription')
    return { accept: false, why: 'a ' + op.operation + ', not a subscription' };
  const vars = gql.getVariableValues(
    schema,
    op.variableDefinitions ?? [],
    entry.variables ?? {},
  );
  if (vars.errors) return { accept: false, why: vars.errors[0].message };

  let seen;
  const subscribeFieldResolver = (source, args, context, info) => {
    const returnType = gql.getNamedType(info.returnType);
    seen = {
      fieldName: info.fieldName,
      responseKey: info.path.key,
      args,
    };
    const payload = {
      [info.fieldName]: {
        key: 'K',
        event: 'create',
        cursor: 'CUR',
        data: fakeRow(gql.getNamedType(returnType.getFields().data.type)),
      },
    };
    return (async function* () {
      yield payload;
    })();
  };
  let stream;
  try {
    stream = await gql.subscribe({
      schema,
      document,
      operationName: entry.operationName,
      variableValues: entry.variables ?? {},
      subscribeFieldResolver,
    });
  } catch (e) {
    return { accept: false, why: 'subscribe threw: ' + errorText(e) };
  }
  if (!stream[Symbol.asyncIterator])
    return { accept: false, why: stream.errors[0].message };
  const first = await stream.next();
  await stream.return?.();
  if (first.value.errors)
    return { accept: false, why: first.value.errors[0].message };

  const events = seen.args.event ? [seen.args.event] : [
    'create',
    'update',
    'delete',
  ];
  return {
    accept: true,
    plan: {
      rootField: seen.fieldName,
      response_key: String(seen.responseKey),
      events,
      filter: seen.args.filter ?? null,
      after: typeof seen.args.after === 'string' ? seen.args.after : null,
      response: first.value.data,
    },
  };
}

// Equal as JSON values, object members in any order.
function sameJSON(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a))
    return a.length === b.length && a.every((x, i) => sameJSON(x, b[i]));
  if (typeof a !== 'object') return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && sameJSON(a[k], b[k]));
}

function comparePlans(o, t) {
  const root = o.collection + (o.short_form ? '' : '_mutated');
  if (root !== t.rootField) return `root field ${root} vs ${t.rootField}`;
  if (o.response_key !== t.response_key)
    return `response key ${o.response_key} vs ${t.response_key}`;
  if (!sameJSON(o.events, t.events))
    return `events ${o.events} vs ${t.events}`;
  if (!sameJSON(o.filter, JSON.parse(JSON.stringify(t.filter))))
    return `filter ${JSON.stringify(o.filter)} vs ${JSON.stringify(t.filter)}`;
  if (o.after !== t.after) return `after ${o.after} vs ${t.after}`;
  const a = JSON.stringify(o.response);
  const b = JSON.stringify(t.response);
  if (a !== b) return `payload ${a} vs ${b}`;
  return null;
}

const rows = [];
let accepted = 0;
for (const entry of entries) {
  const o = ours.get(entry.id);
  const t = await theirs(entry);
  const ov = o && o.accept ? 'accept' : 'reject';
  const tv = t.accept ? 'accept' : 'reject';
  let problem = null;
  if (!o) problem = 'graphql-check gave no answer';
  else if (ov !== tv) problem = 'verdicts differ';
  else if (entry.expect && entry.expect !== ov)
    problem = `both ${ov}, the corpus expects ${entry.expect}`;
  else if (ov === 'accept') problem = comparePlans(o.plan, t.plan);
  if (ov === 'accept') accepted++;
  if (problem)
    rows.push({
      document: entry.id,
      ours: ov + (o && o.errors.length ? ': ' + o.errors[0].message : ''),
      'graphql-js': tv + (t.why ? ': ' + t.why : ''),
      problem,
    });
}

console.log(
  `graphql-diff: ${entries.length} documents, ${accepted} accepted, ` +
    `${entries.length - accepted} rejected, ${rows.length} mismatches`,
);
if (rows.length) {
  console.table(rows);
  process.exit(1);
}
