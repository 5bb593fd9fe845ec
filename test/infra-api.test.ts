/**
 * Checks infra/ against a live API and a live GPU host: the real app (`startApi`, configured from
 * the k8s ConfigMap and example Secret through `apiOptionsFromEnv`) on the real Redis with a fresh
 * key prefix, driven through every route family and every webhook outcome, and a real GPU host
 * (stage processes on CPU core groups) that runs a real AsyncDiff job; then both are scraped.
 * Both scrapes pass `promtool check metrics`; every metric name and label the Grafana dashboard
 * and the Prometheus rules use must be in them, and every `asyncdiff_*` family either exports must
 * be on the dashboard and explained in infra/README.md.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { JOB_KINDS, TERMINAL_STATUSES } from '@asyncdiff/queue';
import { deletePrefix, TEST_REDIS_URL, testPrefix } from '@asyncdiff/queue/test-fixtures';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { apiOptionsFromEnv, startApi, type ApiServer } from '../apps/api/src/index.js';
import { createHostLogger, startGpuHost, type GpuHost } from '../apps/gpu-host/src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REDIS_URL = TEST_REDIS_URL;
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');
// js-yaml comes with eslint (@eslint/eslintrc); it has no bundled types, so type the one call.
const yaml = createRequire(import.meta.url)('js-yaml') as { loadAll(text: string): unknown[] };

interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: { template?: { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ readinessProbe?: Probe; livenessProbe?: Probe }> } } };
}
interface Probe {
  httpGet?: { path: string };
}
const manifest = (file: string, kind: string): Manifest => {
  const found = (yaml.loadAll(read(`infra/k8s/${file}`)) as Manifest[]).find((d) => d.kind === kind);
  if (!found) throw new Error(`no ${kind} in ${file}`);
  return found;
};

// ---- Prometheus exposition ----

interface Family {
  type: string;
  labels: Map<string, Set<string>>;
}

/** Families by name, each with the label values seen; histogram series fold into their family. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) families.set(type[1], { type: type[2], labels: new Map() });
    if (!line || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample?.[1]) throw new Error(`not a sample line: ${line}`);
    const family = families.get(sample[1]) ?? families.get(sample[1].replace(/_(bucket|sum|count)$/, ''));
    if (!family) throw new Error(`sample without # TYPE: ${line}`);
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (!m[1] || m[2] === undefined) continue;
      family.labels.set(m[1], (family.labels.get(m[1]) ?? new Set()).add(m[2]));
    }
  }
  return families;
}

// ---- A small PromQL reader: enough to find metric names, label matchers and grouping labels ----

interface Matcher {
  label: string;
  op: string;
  value: string;
}
interface QueryParts {
  metrics: string[];
  selectors: Array<{ metric: string | undefined; matchers: Matcher[] }>;
  groupingLabels: string[];
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

function readQuery(expr: string): QueryParts {
  const selectors = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1],
    matchers: [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((x) => ({ label: x[1] ?? '', op: x[2] ?? '', value: x[3] ?? '' })),
  }));
  const groupingLabels: string[] = [];
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _kw, labels: string) => {
      groupingLabels.push(...labels.split(',').map((l) => l.trim()).filter(Boolean));
      return ' ';
    })
    .replace(/(?<![a-zA-Z0-9_:.])\d+(\.\d+)?(e[+-]?\d+)?/gi, ' ');
  const metrics = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => !m[2] && m[1] !== undefined && !PROMQL_KEYWORDS.has(m[1].toLowerCase()))
    .map((m) => m[1] ?? '');
  return { metrics, selectors, groupingLabels };
}

function balanced(expr: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('({['.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

// ---- The queries of the rules and the dashboard ----

interface RuleFile {
  groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}
const rules = (yaml.loadAll(read('infra/prometheus/alerts.yml'))[0] as RuleFile).groups.flatMap((g) => g.rules);
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

interface Panel {
  title: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(read('infra/grafana/asyncdiff-dashboard.json')) as { panels: Panel[]; templating: { list: Array<{ name: string; definition?: string }> } };
/** Grafana's variables, replaced by what they expand to for the default job. */
const expandGrafana = (expr: string) =>
  expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{?job\}?/g, 'asyncdiff-api')
    .replace(/\$\{?instance\}?/g, '.*');
const panelQueries = dashboard.panels
  .flatMap((p) => [p, ...(p.panels ?? [])])
  .flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard panel "${p.title}"`, expr: expandGrafana(t.expr ?? '') })));
const variableQueries = dashboard.templating.list.flatMap((v) => {
  const m = /^label_values\((.*),\s*([a-zA-Z_]+)\)$/.exec(v.definition ?? '');
  return m?.[1] ? [{ where: `dashboard variable $${v.name}`, expr: expandGrafana(m[1]), label: m[2] }] : [];
});
const queries = [...rules.map((r) => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, expr: r.expr })), ...panelQueries, ...variableQueries];

/** Whether promtool (Debian's `prometheus` package) is installed. */
const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** `promtool check metrics` on an exposition: its exit status and what it said. */
function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

// Labels Prometheus itself adds (scrape target and the relabelling in prometheus.yml).
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'node', 'fleet']);
const PROMETHEUS_SERIES = new Set(['up']);

// ---------------------------------------------------------------------------------------------

describe('infra against a live API', () => {
  const prefix = testPrefix('infra');
  const deployment = manifest('api-deployment.yaml', 'Deployment');
  const secret = manifest('secret.example.yaml', 'Secret');
  const apiKey = (secret.stringData?.['API_KEYS'] ?? '').split(',')[0] ?? '';
  let api: ApiServer;
  let hooks: Server;
  let families: Map<string, Family>;
  let exposition = '';
  let host: GpuHost | undefined;
  let hostStore: LocalObjectStore | undefined;
  let hostDir = '';
  let hostExposition = '';
  let hostFamilies: Map<string, Family>;
  /** The GPU host's JSON log lines. */
  const hostLines: Array<Record<string, unknown>> = [];
  let jobId = '';

  const call = (p: string, init: RequestInit = {}) => fetch(`${api.url}${p}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...init.headers } });

  beforeAll(async () => {
    // A webhook receiver: /flaky answers 500 once then 200 (retry, delivered); /gone answers 410 (gave_up).
    let flakyCalls = 0;
    hooks = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = req.url === '/gone' ? 410 : req.url === '/flaky' && flakyCalls++ === 0 ? 500 : 200;
        res.end();
      });
    });
    hooks.listen(0, '127.0.0.1');
    await once(hooks, 'listening');
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;

    // Configured exactly as a pod is (ConfigMap + Secret), on a test Redis prefix and a free port.
    // The receiver is on loopback: opt in for exactly that address, as an operator would.
    const env = { ...manifest('configmap.yaml', 'ConfigMap').data, ...secret.stringData, REDIS_URL, QUEUE_PREFIX: prefix, WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32' };
    const options = apiOptionsFromEnv(env);
    api = await startApi({
      ...options,
      port: 0,
      host: '127.0.0.1',
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      queue: { ...options.queue, webhookBackoffDelayMs: 50 },
    });

    // Every route family, so that every route label value exists.
    const jobIds: string[] = [];
    for (const hook of ['/flaky', '/gone']) {
      const res = await call('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'image', model: 'digits', prompt: '2', steps: 3, webhook: `${hookUrl}${hook}` }) });
      expect(res.status).toBe(202);
      jobIds.push(((await res.json()) as { id: string }).id);
    }
    for (const id of jobIds) {
      await (await call(`/v1/jobs/${id}`)).text();
      await (await call(`/v1/jobs/${id}/cancel`, { method: 'POST' })).text();
      await (await call(`/v1/jobs/${id}/events`)).text(); // terminal: one event, then the stream ends
    }
    for (const p of ['/v1/jobs', '/v1/models', '/openapi.json', '/healthz', '/readyz', '/no-such-route']) await (await call(p)).text();
    await (await fetch(`${api.url}/v1/jobs`)).text(); // 401 without a key

    // Wait until the deliverer has seen each outcome.
    const deadline = Date.now() + 30_000;
    for (;;) {
      exposition = await (await fetch(`${api.url}/metrics`)).text();
      const outcomes = parseExposition(exposition).get('asyncdiff_webhook_deliveries_total')?.labels.get('outcome') ?? new Set();
      if (['delivered', 'retry', 'gave_up'].every((o) => outcomes.has(o)) || Date.now() > deadline) break;
      await sleep(100);
    }

    // A real GPU host on the same prefix runs a real AsyncDiff job (2 stage processes).
    hostDir = mkdtempSync(path.join(tmpdir(), 'infra-host-'));
    hostStore = createLocalObjectStore({ rootDir: hostDir });
    host = await startGpuHost({
      connection: REDIS_URL,
      prefix,
      storage: hostStore,
      hostId: 'infra-host',
      devices: 'cpu',
      // Admission that always batches, so the sequential job's batch series exist however loaded the machine is.
      maxStepMs: 60_000,
      minBatchGain: 1,
      healthIntervalMs: 0,
      heartbeatIntervalMs: 200,
      metricsPort: 0,
      logger: createHostLogger({ hostId: 'infra-host', destination: { write: (line: string) => void hostLines.push(JSON.parse(line) as Record<string, unknown>) } }),
    });
    // An AsyncDiff job (stage metrics) and a sequential one, which runs in a continuous batch
    // (batch occupancy metrics).
    const runJob = async (parallel: { mode: string }) => {
      const job = await call('/v1/jobs', { method: 'POST', body: JSON.stringify({ type: 'image', model: 'digits', prompt: '3', steps: 6, parallel }) });
      expect(job.status).toBe(202);
      const id = ((await job.json()) as { id: string }).id;
      const jobDeadline = Date.now() + 120_000;
      for (;;) {
        const status = ((await (await call(`/v1/jobs/${id}`)).json()) as { status: string }).status;
        if (status === 'succeeded') return id;
        if (status === 'failed' || Date.now() > jobDeadline) throw new Error(`the GPU host's ${parallel.mode} job ended ${status}`);
        await sleep(100);
      }
    };
    jobId = await runJob({ mode: 'async' });
    await runJob({ mode: 'sequential' });
    hostExposition = await (await fetch(`${host.probeUrl ?? ''}/metrics`)).text();
    exposition = await (await fetch(`${api.url}/metrics`)).text();
    families = new Map([...parseExposition(exposition), ...(hostFamilies = parseExposition(hostExposition))]);
  }, 240_000);

  afterAll(async () => {
    await host?.close();
    await hostStore?.close();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
    await api?.close();
    hooks?.close();
    await deletePrefix(prefix);
  });

  it('answers the Deployment\'s probe paths and serves Prometheus text at the scrape annotation\'s path', async () => {
    const c = deployment.spec?.template?.spec.containers[0];
    for (const p of [c?.readinessProbe?.httpGet?.path, c?.livenessProbe?.httpGet?.path]) {
      expect(p).toBeDefined();
      expect((await fetch(`${api.url}${p ?? ''}`)).status, p).toBe(200);
    }
    const res = await fetch(`${api.url}${deployment.spec?.template?.metadata.annotations?.['prometheus.io/path'] ?? ''}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it.skipIf(!HAVE_PROMTOOL)('promtool check metrics passes on both scrapes (API and GPU host)', () => {
    for (const [who, text] of [['API', exposition], ['GPU host', hostExposition]] as const) {
      expect(text, who).toContain('# TYPE asyncdiff_');
      expect(text, who).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge');
      expect(promtoolCheckMetrics(text), who).toEqual({ status: 0, output: '' });
    }
    // The check can fail: the precomputed-quantile gauge this replaced is what promtool flagged.
    const legacy = '# HELP x_latency_seconds p95.\n# TYPE x_latency_seconds gauge\nx_latency_seconds{quantile="0.95"} 1\n# HELP y_active_total n.\n# TYPE y_active_total gauge\ny_active_total 1\n';
    expect(promtoolCheckMetrics(legacy).status).not.toBe(0);
  });

  it('the GPU host observed the job: queue wait, run time, every step, every stage\'s session.run, hand-offs', () => {
    const sample = (series: string): number => {
      const m = new RegExp(`^${series.replace(/[{}"+.[\]]/g, '\\$&')} (\\S+)$`, 'm').exec(hostExposition);
      expect(m, `${series} in the GPU host's scrape`).not.toBeNull();
      return Number(m?.[1]);
    };
    expect(sample('asyncdiff_job_queue_wait_seconds_count{kind="image",model="digits"}')).toBe(2);
    expect(sample('asyncdiff_job_run_seconds_count{kind="image",model="digits",mode="async",outcome="succeeded"}')).toBe(1);
    expect(sample('asyncdiff_job_run_seconds_sum{kind="image",model="digits",mode="async",outcome="succeeded"}')).toBeGreaterThan(0);
    expect(sample('asyncdiff_step_seconds_count{model="digits",mode="async"}')).toBe(6);
    expect(sample('asyncdiff_step_seconds_sum{model="digits",mode="async"}')).toBeGreaterThan(0);
    expect(sample('asyncdiff_step_handoff_seconds_count{model="digits",mode="async"}')).toBe(6);
    expect(sample('asyncdiff_step_handoff_seconds_sum{model="digits",mode="async"}')).toBeGreaterThan(0);
    for (const stage of ['0', '1']) {
      expect(sample(`asyncdiff_stage_run_seconds_count{model="digits",mode="async",stage="${stage}"}`)).toBe(6);
      expect(sample(`asyncdiff_stage_run_seconds_sum{model="digits",mode="async",stage="${stage}"}`)).toBeGreaterThan(0);
    }
    // The sequential job ran its 6 steps in a continuous batch of its own (1 image with guidance: 2 rows per step).
    expect(sample('asyncdiff_job_run_seconds_count{kind="image",model="digits",mode="sequential",outcome="succeeded"}')).toBe(1);
    const batchSteps = [...hostExposition.matchAll(/^asyncdiff_batch_step_rows_count\{group="g0",device="([^"]+)",model="digits"\} (\S+)$/gm)];
    expect(batchSteps.map((m) => Number(m[2])).reduce((a, b) => a + b, 0), hostExposition).toBe(6);
    expect(sample(`asyncdiff_batch_step_rows_sum{group="g0",device="${batchSteps[0]?.[1] ?? ''}",model="digits"}`)).toBe(12);
    // The job has left: its batch emptied and gave the device back to the group.
    expect(sample(`asyncdiff_batch_members{group="g0",device="${batchSteps[0]?.[1] ?? ''}",model="digits"}`)).toBe(0);
    expect(sample('asyncdiff_devices{group="g0"}')).toBe(2);
    expect(sample('asyncdiff_devices_busy{group="g0"}')).toBe(0);
    expect(sample('asyncdiff_stage_restarts_total{group="g0"}')).toBe(0);
    expect(sample('asyncdiff_job_retries_total{kind="image"}')).toBe(0);
  });

  it('the GPU host answers its probe paths and logs host, group, job id and step on every job line', async () => {
    const base = host?.probeUrl ?? '';
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { started: 'ok', stages: 'ok', redis: 'ok' } });
    expect(ready.status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const jobLines = hostLines.filter((l) => l['jobId'] === jobId);
    expect(jobLines.map((l) => l['msg'])).toEqual(['job started', 'job succeeded']);
    for (const line of jobLines) expect(line).toMatchObject({ host: 'infra-host', group: 'g0', jobId, step: expect.any(Number) });
    expect(jobLines.at(-1)?.['step']).toBe(6);
    expect(hostLines.every((l) => l['host'] === 'infra-host' && l['service'] === 'asyncdiff-gpu-host')).toBe(true);
  });

  it('the scrape holds the families and label values the checks below rely on', () => {
    expect([...families.keys()].filter((n) => n.startsWith('asyncdiff_')).length).toBeGreaterThanOrEqual(6);
    expect(families.get('asyncdiff_webhook_deliveries_total')?.labels.get('outcome')).toEqual(new Set(['delivered', 'retry', 'gave_up']));
    expect(families.get('asyncdiff_http_requests_total')?.labels.get('route')).toContain('/v1/jobs/:id/events');
    expect(families.get('asyncdiff_jobs_finished_total')?.labels.get('status')).toContain('canceled');
    expect(families.get('asyncdiff_queue_jobs')?.labels.get('queue')).toEqual(new Set(JOB_KINDS));
  });

  /** Label values the code can produce beyond those this scrape happened to see. */
  const knownValues = (label: string): Set<string> => {
    const values = new Set<string>([...families.values()].flatMap((f) => [...(f.labels.get(label) ?? [])]));
    if (label === 'status') for (const s of TERMINAL_STATUSES) values.add(s);
    if (label === 'queue' || label === 'kind') for (const k of JOB_KINDS) values.add(k);
    return values;
  };
  const familyOf = (metric: string): Family | undefined => families.get(metric) ?? families.get(metric.replace(/_(bucket|sum|count)$/, ''));

  it.each(queries)('$where uses only exported metrics, labels and label values', ({ where, expr, ...rest }) => {
    expect(balanced(expr), `${where}: unbalanced brackets in ${expr}`).toBe(true);
    const parts = readQuery(expr);
    expect(parts.metrics.length, `${where}: no metric in ${expr}`).toBeGreaterThan(0);
    const allLabels = new Set([...families.values()].flatMap((f) => [...f.labels.keys()]));
    const usable = new Set(TARGET_LABELS);
    for (const m of parts.metrics) {
      const family = familyOf(m);
      const known = family !== undefined || recorded.has(m) || PROMETHEUS_SERIES.has(m);
      expect(known, `${where}: ${m} is neither exported by the API or GPU host, recorded by a rule, nor a Prometheus series`).toBe(true);
      if (m.startsWith('asyncdiff_')) expect(family, `${where}: neither the API nor the GPU host exports ${m}`).toBeDefined();
      if (family) for (const l of family.labels.keys()) usable.add(l);
      if (recorded.has(m)) for (const l of allLabels) usable.add(l);
    }
    for (const { metric, matchers } of parts.selectors) {
      const family = metric ? familyOf(metric) : undefined;
      for (const { label, op, value } of matchers) {
        if (TARGET_LABELS.has(label)) continue;
        if (family) expect([...family.labels.keys()], `${where}: ${metric ?? ''} has no label ${label}`).toContain(label);
        const literals = op === '=' || op === '!=' ? [value] : value.split('|').every((v) => /^[A-Za-z0-9_/:-]+$/.test(v)) ? value.split('|') : [];
        for (const v of literals) expect([...knownValues(label)], `${where}: ${label}="${v}" never occurs`).toContain(v);
      }
    }
    for (const l of [...parts.groupingLabels, ...('label' in rest && rest.label ? [rest.label] : [])]) expect([...usable], `${where}: groups by unknown label ${l}`).toContain(l);
  });

  it('every family the API and the GPU host export is on the dashboard and explained in infra/README.md', () => {
    const dashboardText = panelQueries.map((q) => q.expr).join('\n');
    const readme = read('infra/README.md');
    expect([...hostFamilies.keys()].filter((n) => n.startsWith('asyncdiff_')).length).toBeGreaterThanOrEqual(10);
    for (const name of [...families.keys()].filter((n) => n.startsWith('asyncdiff_'))) {
      expect(dashboardText.includes(name), `${name} is on no dashboard panel`).toBe(true);
      expect(readme.includes(`\`${name}\``), `${name} is not explained in infra/README.md`).toBe(true);
    }
  });
});
