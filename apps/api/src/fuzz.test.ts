import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from './test-fixtures/harness.js';

/** One malformed request and what the error must name. */
interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** The error's `field` must be one of these (or a sub-path of one); undefined: any non-empty field. */
  readonly fields?: readonly string[];
}

/** Deterministic PRNG (mulberry32) so a failing case reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = { type: 'image', model: 'digits', prompt: '7' };
const DEEP = JSON.parse('['.repeat(200) + ']'.repeat(200)) as unknown;

/** Invalid values per spec field (each is invalid on its own, for an image job on `digits`). */
const BAD: Record<string, readonly unknown[]> = {
  type: ['gif', 1, null, [], {}, true, '', 'IMAGE', DEEP],
  model: ['', 1, null, 'Digits!', 'x'.repeat(100), 'nope', [], {}, 'moving-digits', DEEP],
  prompt: ['', 7, null, [], {}, 'x'.repeat(201), 'cat', '   ', DEEP],
  seed: [-1, 2 ** 32, 1.5, '1', null, 1e308, -1e308, [], true, 2 ** 53 + 2],
  steps: [0, 1001, 2.5, '10', null, -5, 1e308, {}, false],
  guidance: [-0.1, 30.5, '1', null, [], 1e308, -1e308, {}],
  scheduler: ['plms', 1, null, '', 'DDIM', [], {}],
  count: [0, 17, 1.5, '2', null, -1, 1e308, []],
  output: ['png', 1, null, [], { format: 'jpg' }, { scale: 0 }, { scale: 17 }, { scale: 2.5 }, { format: 1 }, { extra: 1 }, { format: 'gif' }, { format: 'png', scale: '8' }, { format: DEEP }],
  parallel: ['async', 1, null, [], { mode: 'fast' }, { stages: 0 }, { stages: 9 }, { stride: 3 }, { warmup: 0 }, { warmup: 1.5 }, { timeShift: 'yes' }, { compensation: 'cubic' }, { compensation: 1 }, { x: { y: { z: 1 } } }, { mode: 'sequential', stages: 4 }, { stages: DEEP }],
  priority: [-1, 101, 50.5, 'high', null, 1e308, []],
  // The last three are well-formed but forbidden targets (400 WEBHOOK_TARGET_FORBIDDEN): literals, so nothing resolves.
  webhook: ['ftp://x.y/z', 'not a url', 1, null, `http://h.test/${'a'.repeat(3000)}`, 'javascript:alert(1)', 'http://', [], {}, 'http://169.254.169.254/latest/meta-data', 'http://0x7f000001/', 'http://[::ffff:127.0.0.1]/'],
};

/** Random JSON-ish garbage: nested arrays/objects/strings/numbers, never `{}` (which is valid for objects). */
function garbage(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (depth > 4 || r < 0.25) return [rand() * 1e6 - 5e5, 'g'.repeat(Math.floor(rand() * 20)), null, true][Math.floor(rand() * 4)];
  if (r < 0.6) return Array.from({ length: 1 + Math.floor(rand() * 4) }, () => garbage(rand, depth + 1));
  return Object.fromEntries(Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => [`k${i}${Math.floor(rand() * 1000)}`, garbage(rand, depth + 1)]));
}

function buildCases(): Case[] {
  const rand = prng(20240611);
  const cases: Case[] = [];
  const json = (name: string, body: unknown, fields?: readonly string[], headers: Record<string, string> = {}): Case => ({
    name,
    method: 'POST',
    path: '/v1/jobs',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    ...(fields && { fields }),
  });
  const fieldNames = Object.keys(BAD);

  // 1. One bad field.
  for (const [field, values] of Object.entries(BAD)) values.forEach((v, i) => cases.push(json(`bad ${field} #${i}`, { ...BASE, [field]: v }, [field])));
  // 2. Two bad fields: the error names one of them.
  for (let i = 0; i < 350; i++) {
    const [f1, f2] = [fieldNames[Math.floor(rand() * fieldNames.length)]!, fieldNames[Math.floor(rand() * fieldNames.length)]!];
    const v1 = BAD[f1]![Math.floor(rand() * BAD[f1]!.length)];
    const v2 = BAD[f2]![Math.floor(rand() * BAD[f2]!.length)];
    cases.push(json(`bad ${f1}+${f2} #${i}`, { ...BASE, [f1]: v1, [f2]: v2 }, [f1, f2]));
  }
  // 3. Random nested garbage in one field.
  for (let i = 0; i < 200; i++) {
    const f = fieldNames[Math.floor(rand() * fieldNames.length)]!;
    cases.push(json(`garbage ${f} #${i}`, { ...BASE, [f]: garbage(rand) }, [f]));
  }
  // 4. Missing required fields, unknown fields, non-object bodies.
  for (const drop of [['type'], ['model'], ['prompt'], ['type', 'model'], ['model', 'prompt'], ['type', 'prompt'], ['type', 'model', 'prompt']]) {
    const body: Record<string, unknown> = { ...BASE };
    for (const d of drop) delete body[d];
    cases.push(json(`missing ${drop.join('+')}`, body, drop));
  }
  for (const key of ['extra', 'constructor', 'a.b', 'Type', 'seed ', '']) cases.push(json(`unknown field "${key}"`, { ...BASE, [key]: 1 }, [key === '' ? '""' : key]));
  cases.push({ name: '__proto__ field', method: 'POST', path: '/v1/jobs', body: '{"type":"image","model":"digits","prompt":"1","__proto__":{"polluted":1}}', headers: { 'content-type': 'application/json' }, fields: ['__proto__'] });
  for (const body of [[], [BASE], DEEP, { a: garbage(rand) }]) cases.push(json(`non-spec body ${JSON.stringify(body).slice(0, 20)}`, body));
  // 5. Bodies that are not JSON (or not a JSON object/array).
  const valid = JSON.stringify({ ...BASE, seed: 1, output: { format: 'png' } });
  const broken = ['{', '}', '{"type":', "{'type':'image'}", '{"type":"image",}', 'NaN', 'undefined', 'null', '123', '"str"', 'true', '{"a":1}}', '\u0000', '[1,2', '{"type":"image" "model":"digits"}', 'tru', '\uFEFF{}x', '{"a":"\\x"}', '--', '<xml/>'];
  for (const b of broken) cases.push({ name: `broken JSON ${JSON.stringify(b)}`, method: 'POST', path: '/v1/jobs', body: b, headers: { 'content-type': 'application/json' }, fields: ['body'] });
  for (let i = 0; i < 150; i++) {
    const cut = 1 + Math.floor(rand() * (valid.length - 2));
    cases.push({ name: `truncated JSON at ${cut}`, method: 'POST', path: '/v1/jobs', body: valid.slice(0, cut), headers: { 'content-type': 'application/json' }, fields: ['body'] });
  }
  for (let i = 0; i < 60; i++) {
    const bytes = Array.from({ length: 1 + Math.floor(rand() * 60) }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join('');
    if (isJsonContainer(bytes)) continue;
    cases.push({ name: `random text #${i}`, method: 'POST', path: '/v1/jobs', body: bytes, headers: { 'content-type': 'application/json' }, fields: ['body'] });
  }
  // 6. Wrong content types, charsets, encodings; huge bodies.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonp', 'json', 'application/octet-stream', '']) {
    cases.push({ name: `content-type "${type}"`, method: 'POST', path: '/v1/jobs', body: valid, headers: type ? { 'content-type': type } : {}, fields: ['Content-Type'] });
  }
  cases.push({ name: 'no body, no content type', method: 'POST', path: '/v1/jobs', fields: ['Content-Type'] });
  cases.push({ name: 'latin1 charset', method: 'POST', path: '/v1/jobs', body: valid, headers: { 'content-type': 'application/json; charset=latin1' }, fields: ['Content-Type'] });
  cases.push({ name: 'unknown encoding', method: 'POST', path: '/v1/jobs', body: valid, headers: { 'content-type': 'application/json', 'content-encoding': 'br2' }, fields: ['Content-Type'] });
  cases.push({ name: 'gzip that is not gzip', method: 'POST', path: '/v1/jobs', body: valid, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, fields: ['body'] });
  for (const size of [17_000, 100_000, 1_000_000]) {
    cases.push(json(`huge prompt ${size}`, { ...BASE, prompt: 'x'.repeat(size) }, ['body']));
    cases.push(json(`huge unknown field ${size}`, { ...BASE, pad: 'y'.repeat(size) }, ['body']));
  }
  // 7. Bad Idempotency-Key headers.
  for (const key of ['a b', 'x'.repeat(256), '\t', 'é']) cases.push(json(`Idempotency-Key ${JSON.stringify(key).slice(0, 12)}`, BASE, ['Idempotency-Key'], { 'Idempotency-Key': key }));
  // 8. Bad list queries.
  const queries: Array<[string, string]> = [
    ['status=bogus', 'status'], ['status=', 'status'], ['status=QUEUED', 'status'], ['status=queued&status=running', 'status'],
    ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['limit=-1', 'limit'], ['limit=1e3', 'limit'], ['limit=1.5', 'limit'],
    ['limit=99999999999999999999', 'limit'], ['limit=', 'limit'], ['limit=1&limit=2', 'limit'], ['cursor=', 'cursor'], ['cursor=garbage!', 'cursor'],
    ['cursor=%00', 'cursor'], [`cursor=${'A'.repeat(200)}`, 'cursor'], [`cursor=${Buffer.from('v1|all|job_x').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('v2|all|job_01ARZ3NDEKTSV4RRFFQ69G5FAV').toString('base64url')}`, 'cursor'], ['foo=1', 'foo'], ['limit=10&sort=asc', 'sort'],
    ['status[]=queued', 'status[]'], ['%ZZ=1', '%ZZ'],
  ];
  for (const [q, field] of queries) cases.push({ name: `list ?${q.slice(0, 40)}`, method: 'GET', path: `/v1/jobs?${q}`, fields: [field] });
  // 9. Bad ids on every id route.
  const ids = ['x', 'job_', 'job_123', `job_${'0'.repeat(25)}`, `job_${'0'.repeat(27)}`, 'job_01arz3ndektsv4rrffq69g5fav', 'job_01ARZ3NDEKTSV4RRFFQ69G5FAU!', '%2e%2e', '..', 'JOB_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'job_01ARZ3NDEKTSV4RRFFQ69G5FAI', '%00', '%F0%9F%92%A9', 'a'.repeat(2000), '1', 'null', '%20', 'job_01ARZ3NDEKTSV4RRFFQ69G5FAV%0A'];
  for (const id of ids) {
    // fetch resolves dot segments itself ("/v1/jobs/../cancel" → "/v1/cancel"): no route then.
    const fields = id === '..' || id === '%2e%2e' ? ['path'] : ['id'];
    cases.push({ name: `GET id ${id.slice(0, 20)}`, method: 'GET', path: `/v1/jobs/${id}`, fields });
    cases.push({ name: `cancel id ${id.slice(0, 20)}`, method: 'POST', path: `/v1/jobs/${id}/cancel`, fields });
    cases.push({ name: `events id ${id.slice(0, 20)}`, method: 'GET', path: `/v1/jobs/${id}/events`, fields });
    const batchId = id.replace(/job_/i, 'batch_');
    // "/v1/batches/../jobs" is "/v1/jobs" after fetch resolves it: a valid listing.
    if (fields[0] === 'path') continue;
    cases.push({ name: `GET batch id ${batchId.slice(0, 20)}`, method: 'GET', path: `/v1/batches/${batchId}`, fields });
    cases.push({ name: `batch jobs id ${batchId.slice(0, 20)}`, method: 'GET', path: `/v1/batches/${batchId}/jobs`, fields });
    cases.push({ name: `cancel batch id ${batchId.slice(0, 20)}`, method: 'POST', path: `/v1/batches/${batchId}/cancel`, fields });
  }
  // 11. Malformed batches: each names its field.
  const matrix = { type: 'image', model: 'digits', prompts: ['1'], seeds: [1] };
  const batchCases: Array<[unknown, string]> = [
    [{}, 'jobs'], [[], 'body'], [{ matrix: { ...matrix, prompts: [] } }, 'matrix.prompts'], [{ matrix: { ...matrix, seeds: ['1'] } }, 'matrix.seeds.0'],
    [{ matrix: { ...matrix, seeds: [2 ** 32] } }, 'matrix.seeds.0'], [{ matrix: { ...matrix, steps: [1.5] } }, 'matrix.steps.0'], [{ matrix: { ...matrix, scheduler: ['nope'] } }, 'matrix.scheduler.0'],
    [{ matrix: { ...matrix, model: 'ghost' } }, 'matrix.model'], [{ matrix: { ...matrix, type: 'audio' } }, 'matrix.type'], [{ matrix, name: '' }, 'name'], [{ matrix, bogus: 1 }, 'bogus'],
    [{ jobs: [{ ...BASE, webhook: 'http://x' }] }, 'jobs.0.webhook'], [{ jobs: [{ ...BASE, priority: 5 }] }, 'jobs.0.priority'], [{ jobs: 'all' }, 'jobs'], [{ jobs: [null] }, 'jobs.0'],
  ];
  for (const [body, field] of batchCases) cases.push({ ...json(`batch ${field}`, body, [field]), path: '/v1/batches' });
  // 10. Unknown routes and methods.
  for (const [method, path, field] of [
    ['DELETE', '/v1/jobs', 'method'], ['PUT', '/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'method'], ['PATCH', '/v1/models', 'method'], ['POST', '/healthz', 'method'],
    ['GET', '/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel', 'method'], ['GET', '/v2/jobs', 'path'], ['GET', '/v1/job', 'path'], ['GET', '/', 'path'],
    ['GET', '/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV/outputs', 'path'], ['POST', '/v1/bundles', 'path'], ['DELETE', '/v1/batches', 'method'], ['GET', '/..%2f..%2fetc/passwd', 'path'],
  ] as const) {
    cases.push({ name: `${method} ${path}`, method, path, fields: [field] });
  }
  return cases;
}

function isJsonContainer(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

describe('fuzz: malformed requests', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('answers at least 1,000 malformed requests with 4xx JSON naming the field, never 5xx', { timeout: 120_000 }, async () => {
    const cases = buildCases();
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const run = async (c: Case) => {
      const res = await fetch(`${h.url}${c.path}`, { method: c.method, ...(c.headers && { headers: c.headers }), ...(c.body !== undefined && { body: c.body }) });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = await res.text();
      let body: { error?: { code?: unknown; field?: unknown } } | undefined;
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = undefined;
      }
      const code = body?.error?.code;
      const field = body?.error?.field;
      const problems: string[] = [];
      if (res.status < 400 || res.status >= 500) problems.push(`status ${res.status}`);
      if (!res.headers.get('content-type')?.startsWith('application/json')) problems.push(`content-type ${res.headers.get('content-type')}`);
      if (typeof code !== 'string' || !/^[A-Z_]+$/.test(code)) problems.push(`code ${String(code)}`);
      if (typeof field !== 'string' || field.length === 0) problems.push(`field ${String(field)}`);
      else if (c.fields && !c.fields.some((f) => field === f || field.startsWith(`${f}.`))) problems.push(`field ${field}, wanted ${c.fields.join('|')}`);
      if (problems.length) failures.push(`${c.name}: ${problems.join('; ')} — ${text.slice(0, 200)}`);
    };
    for (let i = 0; i < cases.length; i += 25) await Promise.all(cases.slice(i, i + 25).map(run));
    expect(failures).toEqual([]);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    // Nothing malformed created a job.
    const list = (await (await fetch(`${h.url}/v1/jobs?limit=100`)).json()) as { jobs: unknown[] };
    expect(list.jobs).toHaveLength(0);
  });
});
