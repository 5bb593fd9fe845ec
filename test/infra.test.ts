/**
 * Validates everything under infra/: every YAML and JSON file parses; the Kubernetes manifests,
 * systemd units, Redis config, Prometheus config and Grafana dashboard keep the invariants the
 * fleet depends on; the env example parses with the services' real env parsers; and, where the
 * tools exist on the machine, `systemd-analyze`, `kubectl kustomize`, `promtool` and a real
 * `redis-server` check the files too. Metric names are checked against a live API in
 * infra-api.test.ts.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

import { redisTargetFromEnv } from '@asyncdiff/queue';
import { resolveStorageOptions } from '@asyncdiff/storage';
import { describe, expect, it } from 'vitest';

import { apiOptionsFromEnv, resolveApiOptions } from '../apps/api/src/index.js';
import { gpuHostOptionsFromEnv, resolveGpuHostOptions } from '../apps/gpu-host/src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INFRA = path.join(ROOT, 'infra');
const run = promisify(execFile);

// js-yaml comes with eslint (@eslint/eslintrc); it has no bundled types, so type the one call.
const yaml = createRequire(import.meta.url)('js-yaml') as { loadAll(text: string, iterator?: undefined, options?: { filename?: string }): unknown[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Upstream promtool knows kubernetes_sd_configs; Debian's build (no Kubernetes discovery) rejects it. */
async function promtoolHasKubernetesDiscovery(): Promise<boolean> {
  const dir = mkdtempSync(path.join(tmpdir(), 'promtool-probe-'));
  try {
    const probe = path.join(dir, 'probe.yml');
    writeFileSync(probe, JSON.stringify({ scrape_configs: [{ job_name: 'probe', kubernetes_sd_configs: [{ role: 'pod' }] }] }));
    await run('promtool', ['check', 'config', '--syntax-only', probe]);
    return true;
  } catch (e) {
    if (/kubernetes_sd_configs not found/.test(String((e as { stdout?: string }).stdout) + String((e as { stderr?: string }).stderr))) return false;
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

function loadYaml(rel: string): unknown[] {
  return yaml.loadAll(read(rel), undefined, { filename: rel }).filter((d) => d !== null && d !== undefined);
}

// ---- Kubernetes shapes (only the fields the checks read) ----
interface EnvVar {
  name: string;
  value?: unknown;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: { medium?: string }; configMap?: { name: string }; persistentVolumeClaim?: unknown }>;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
    template?: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
    ports?: Array<{ port: number; targetPort?: number | string }>;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    // HorizontalPodAutoscaler / KEDA ScaledObject
    scaleTargetRef?: { apiVersion?: string; kind?: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    metrics?: Array<{ type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } } }>;
    triggers?: Array<{ type: string; metricType?: string; metadata: Record<string, string> }>;
  };
}

const K8S_DIR = 'infra/k8s';
const kustomization = loadYaml(`${K8S_DIR}/kustomization.yaml`)[0] as { resources: string[]; namespace: string };
const manifestFiles = readdirSync(path.join(ROOT, K8S_DIR)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
const objectsByFile = new Map(manifestFiles.map((f) => [f, loadYaml(`${K8S_DIR}/${f}`) as K8sObject[]]));
const applied = kustomization.resources.flatMap((f) => objectsByFile.get(f) ?? []);
const examples = manifestFiles.filter((f) => f.endsWith('.example.yaml')).flatMap((f) => objectsByFile.get(f) ?? []);

function find(kind: string, name: string, from: K8sObject[] = applied): K8sObject {
  const found = from.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in infra/k8s`);
  return found;
}
function podSpec(o: K8sObject): PodSpec {
  const spec = o.spec?.template?.spec;
  if (!spec) throw new Error(`${o.kind}/${o.metadata.name} has no pod template`);
  return spec;
}
function onlyContainer(o: K8sObject): Container {
  const [c, ...rest] = podSpec(o).containers;
  if (!c || rest.length) throw new Error(`${o.kind}/${o.metadata.name} should have exactly one container`);
  return c;
}
/** The environment a container sees, with ConfigMaps resolved and Secrets taken from the examples. */
function containerEnv(c: Container, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const src = from.configMapRef ? find('ConfigMap', from.configMapRef.name) : find('Secret', from.secretRef?.name ?? '', examples);
    Object.assign(env, src.data ?? src.stringData);
  }
  for (const v of c.env ?? []) if (typeof v.value === 'string') env[v.name] = v.value;
  return { ...env, ...extra };
}

/** Seconds a GPU host may take to exit after SIGTERM: its close deadline plus the 5 s main.ts adds. */
const gpuHostDrainSec = (env: Record<string, string>) => resolveGpuHostOptions(gpuHostOptionsFromEnv(env)).closeDeadlineMs / 1000 + 5;

const workloads = () => applied.filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind));

// ---- INI (systemd) and redis.conf parsers ----

/** Sections → key → values (systemd keys may repeat). Comments and blank lines are skipped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section?.[1]) {
      current = new Map();
      sections.set(section[1], current);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv?.[1] || kv[2] === undefined || !current) throw new Error(`line ${i + 1} is not "Key=value" inside a section: ${raw}`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2].trim()]);
  });
  return sections;
}

/** systemd time span → seconds ("90", "2min", "1min 30s", "500ms"). */
function timeSpanSec(span: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  if (/^\d+$/.test(span)) return Number(span);
  let total = 0;
  for (const part of span.split(/\s+/)) {
    const m = /^(\d+)([a-z]+)$/.exec(part);
    const unit = m?.[2] !== undefined ? units[m[2]] : undefined;
    if (!m || unit === undefined) throw new Error(`not a time span: ${span}`);
    total += Number(m[1]) * unit;
  }
  return total;
}

/** Directive → argument lists (a directive may appear more than once). */
function parseRedisConf(text: string): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const words = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
    const [name, ...args] = words;
    if (name) out.set(name.toLowerCase(), [...(out.get(name.toLowerCase()) ?? []), args]);
  }
  return out;
}
const lastArgs = (conf: Map<string, string[][]>, name: string): string[] | undefined => conf.get(name)?.at(-1);

/** `KEY=value` lines, and documented-but-commented `# KEY=value` lines, of the env example. */
function parseEnvExample(text: string): { active: Record<string, string>; documented: Record<string, string> } {
  const active: Record<string, string> = {};
  const documented: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const on = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    const off = /^#\s?([A-Z][A-Z0-9_]*)=(\S.*)$/.exec(line);
    const m = on ?? off;
    if (!m?.[1] || m[2] === undefined) continue;
    documented[m[1]] = m[2];
    if (on) active[m[1]] = m[2];
  }
  return { active, documented };
}

// ---------------------------------------------------------------------------------------------

describe('infra: every YAML and JSON file parses', () => {
  const files = filesUnder(INFRA).map((f) => path.relative(ROOT, f));

  it('finds the expected files', () => {
    for (const f of ['infra/README.md', 'infra/redis/redis.conf', 'infra/prometheus/prometheus.yml', 'infra/prometheus/alerts.yml', 'infra/grafana/asyncdiff-dashboard.json']) {
      expect(files, f).toContain(f);
    }
  });

  it.each(files.filter((f) => /\.(ya?ml|json)$/.test(f)))('%s', (f) => {
    if (f.endsWith('.json')) {
      expect(() => JSON.parse(read(f)) as unknown).not.toThrow();
    } else {
      const docs = loadYaml(f);
      expect(docs.length, `${f} holds no document`).toBeGreaterThan(0);
      for (const d of docs) expect(isObj(d), `${f}: every document is a mapping`).toBe(true);
    }
  });
});

describe('infra/k8s', () => {
  it('every object has apiVersion, kind and a DNS-1123 metadata.name, and no foreign namespace', () => {
    for (const [file, docs] of objectsByFile) {
      for (const o of docs) {
        expect(typeof o.apiVersion, `${file}: apiVersion`).toBe('string');
        expect(typeof o.kind, `${file}: kind`).toBe('string');
        expect(o.metadata?.name, `${file}: ${o.kind} metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        if (o.metadata.namespace !== undefined) expect(o.metadata.namespace, `${file}: ${o.kind}/${o.metadata.name}`).toBe(kustomization.namespace);
      }
    }
  });

  it('kustomization lists only files that exist, and every manifest but *.example.yaml', () => {
    for (const r of kustomization.resources) expect(existsSync(path.join(ROOT, K8S_DIR, r)), `kustomization resource ${r}`).toBe(true);
    for (const f of manifestFiles) {
      if (f.endsWith('.example.yaml')) expect(kustomization.resources, `${f} must not be applied`).not.toContain(f);
      else expect(kustomization.resources, `${f} is not listed in kustomization.yaml`).toContain(f);
    }
    expect(find('Namespace', kustomization.namespace)).toBeTruthy();
  });

  it.skipIf(!has('kubectl'))('`kubectl kustomize` builds it, everything namespaced into the fleet namespace', async () => {
    const { stdout } = await run('kubectl', ['kustomize', path.join(ROOT, K8S_DIR)], { maxBuffer: 16 << 20 });
    const built = yaml.loadAll(stdout).filter(isObj) as unknown as K8sObject[];
    expect(built.map((o) => o.kind).sort()).toEqual(applied.map((o) => o.kind).sort());
    for (const o of built) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(kustomization.namespace);
  });

  it('ConfigMap and Secret values, and container env values, are strings (Kubernetes rejects numbers there)', () => {
    for (const o of [...applied, ...examples]) {
      for (const [k, v] of Object.entries({ ...o.data, ...o.stringData })) expect(typeof v, `${o.kind}/${o.metadata.name} ${k}`).toBe('string');
    }
    for (const w of workloads()) {
      for (const c of podSpec(w).containers) for (const e of c.env ?? []) if (!e.valueFrom) expect(typeof e.value, `${w.metadata.name} env ${e.name}`).toBe('string');
    }
  });

  it('every referenced ConfigMap, Secret, key, volume and named port exists', () => {
    for (const w of workloads()) {
      const spec = podSpec(w);
      const where = `${w.kind}/${w.metadata.name}`;
      const volumes = new Set([...(spec.volumes ?? []).map((v) => v.name), ...(w.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata.name)]);
      for (const v of spec.volumes ?? []) if (v.configMap) find('ConfigMap', v.configMap.name);
      for (const c of spec.containers) {
        for (const m of c.volumeMounts ?? []) expect(volumes, `${where} mounts ${m.name}`).toContain(m.name);
        for (const f of c.envFrom ?? []) {
          if (f.configMapRef) find('ConfigMap', f.configMapRef.name);
          if (f.secretRef) find('Secret', f.secretRef.name, examples);
        }
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) expect(Object.keys(find('Secret', ref.name, examples).stringData ?? {}), `${where} ${e.name}`).toContain(ref.key);
        }
        const portNames = (c.ports ?? []).map((p) => p.name);
        for (const p of [c.readinessProbe, c.livenessProbe]) if (typeof p?.httpGet?.port === 'string') expect(portNames).toContain(p.httpGet.port);
      }
      const selector = w.spec?.selector?.matchLabels ?? {};
      expect(Object.keys(selector).length, `${where} selector`).toBeGreaterThan(0);
      expect(w.spec?.template?.metadata.labels, `${where}: selector must match the pod labels`).toMatchObject(selector);
    }
  });

  it('every Service selects a workload and targets a port its container declares', () => {
    for (const svc of applied.filter((o) => o.kind === 'Service')) {
      const selector = (svc.spec?.selector ?? {}) as Record<string, string>;
      const targets = workloads().filter((w) => Object.entries(selector).every(([k, v]) => w.spec?.template?.metadata.labels?.[k] === v));
      expect(targets.length, `Service/${svc.metadata.name} selects nothing`).toBeGreaterThan(0);
      const declared = targets.flatMap((w) => podSpec(w).containers.flatMap((c) => c.ports ?? []));
      for (const p of svc.spec?.ports ?? []) {
        const t = p.targetPort ?? p.port;
        expect(declared.some((d) => d.name === t || d.containerPort === t), `Service/${svc.metadata.name} targetPort ${String(t)}`).toBe(true);
      }
    }
  });

  it('every env var the pods get is one the env example documents', () => {
    const { documented } = parseEnvExample(read('infra/systemd/asyncdiff.env.example'));
    // REDISCLI_AUTH only authenticates redis-cli in the Redis pod.
    const podOnly = new Set(['REDISCLI_AUTH', 'NODE_ENV']);
    for (const w of workloads().filter((o) => o.metadata.name.startsWith('asyncdiff-'))) {
      for (const name of Object.keys(containerEnv(onlyContainer(w)))) {
        if (!podOnly.has(name)) expect(Object.keys(documented), `${w.metadata.name} env ${name}`).toContain(name);
      }
    }
  });

  describe('API Deployment', () => {
    const api = find('Deployment', 'asyncdiff-api');
    const c = onlyContainer(api);
    const http = c.ports?.find((p) => p.name === 'http');
    const probePort = (p: Probe | undefined) => (typeof p?.httpGet?.port === 'string' ? c.ports?.find((x) => x.name === p.httpGet?.port)?.containerPort : p?.httpGet?.port);

    it('readiness on /readyz and liveness on /healthz', () => {
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    });

    it('is scaled by an HPA on CPU from 2 replicas, and sets no replicas itself (apply would reset them)', () => {
      expect(api.spec?.replicas).toBeUndefined();
      const hpa = find('HorizontalPodAutoscaler', 'asyncdiff-api');
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: api.metadata.name });
      expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec?.maxReplicas).toBeGreaterThan(hpa.spec?.minReplicas ?? 0);
      const cpu = hpa.spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
      expect(cpu?.resource?.target.type).toBe('Utilization');
      // Utilization is relative to the request: without one the HPA cannot compute it.
      expect(c.resources?.requests?.['cpu']).toBeTruthy();
      // The PodDisruptionBudget still leaves a replica when the HPA is at its minimum.
      const pdb = find('PodDisruptionBudget', 'asyncdiff-api') as K8sObject & { spec: { minAvailable?: number } };
      expect(pdb.spec.minAvailable ?? 0).toBeLessThan(hpa.spec?.minReplicas ?? 0);
    });

    it('probes, container port and scrape annotations use the port and host the API really listens on', () => {
      const options = apiOptionsFromEnv(containerEnv(c));
      expect(http?.containerPort).toBe(options.port);
      expect(probePort(c.readinessProbe)).toBe(options.port);
      expect(probePort(c.livenessProbe)).toBe(options.port);
      // The API's default host is 127.0.0.1, which no probe or Service could reach in a pod.
      expect(['0.0.0.0', '::']).toContain(options.host);
      const annotations = api.spec?.template?.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(Number(annotations['prometheus.io/port'])).toBe(options.port);
      expect(annotations['prometheus.io/path']).toBe('/metrics');
    });

    it('its settings pass the API\'s own validation and select S3 storage', () => {
      const env = containerEnv(c);
      expect(() => resolveApiOptions(apiOptionsFromEnv(env))).not.toThrow();
      expect(resolveStorageOptions(env).kind).toBe('s3');
      expect(env['REDIS_URL']).toMatch(/^redis:\/\/:\$\(REDIS_PASSWORD\)@redis:6379/);
    });

    it('sets CPU and memory requests and a memory limit', () => {
      expect(c.resources?.requests?.['cpu']).toBeTruthy();
      expect(c.resources?.requests?.['memory']).toBeTruthy();
      expect(c.resources?.limits?.['memory']).toBeTruthy();
    });
  });

  describe('GPU-host Deployment', () => {
    const ds = find('Deployment', 'asyncdiff-gpu-host');
    const spec = podSpec(ds);
    const c = onlyContainer(ds);
    const metricsPort = c.ports?.find((p) => p.name === 'metrics');

    it('probes its own HTTP port 9464: liveness /healthz (with a startup allowance for model loading), readiness /readyz', () => {
      expect(metricsPort?.containerPort).toBe(9464);
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      const startup = c.startupProbe as Probe & { periodSeconds?: number; failureThreshold?: number };
      expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3), 'seconds a host may take to start').toBeGreaterThanOrEqual(300);
      const annotations = ds.spec?.template?.metadata.annotations ?? {};
      expect(Number(annotations['prometheus.io/port'])).toBe(9464);
    });

    it('sets no replicas (KEDA owns the count) and rolls one host at a time without a surge pod', () => {
      expect(ds.spec?.replicas).toBeUndefined();
      expect(ds.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
      const pdb = find('PodDisruptionBudget', 'asyncdiff-gpu-host') as K8sObject & { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } };
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(ds.spec?.template?.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    });

    it('is scaled by a KEDA ScaledObject on the backlog recording rules (waiting + prioritized, plus running)', () => {
      const so = find('ScaledObject', 'asyncdiff-gpu-host');
      expect(so.apiVersion).toBe('keda.sh/v1alpha1');
      expect(so.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: ds.metadata.name });
      expect(so.spec?.minReplicaCount).toBeGreaterThanOrEqual(0);
      expect(so.spec?.maxReplicaCount).toBeGreaterThan(so.spec?.minReplicaCount ?? 0);
      const [trigger, ...more] = so.spec?.triggers ?? [];
      expect(more).toEqual([]);
      expect(trigger?.type).toBe('prometheus');
      expect(trigger?.metricType).toBe('AverageValue');
      expect(Number(trigger?.metadata['threshold'])).toBeGreaterThan(0);
      expect(trigger?.metadata['serverAddress']).toMatch(/^https?:\/\//);
      // Only names the rules file defines, and the backlog rule counts BullMQ's prioritized set.
      const rules = (loadYaml('infra/prometheus/alerts.yml')[0] as { groups: Array<{ rules: Array<Record<string, string>> }> }).groups.flatMap((g) => g.rules);
      const recorded = new Map(rules.filter((r) => r['record']).map((r) => [r['record'], r['expr'] ?? '']));
      const used = [...(trigger?.metadata['query'] ?? '').matchAll(/asyncdiff:[a-z0-9_]+:[a-z0-9_]+/g)].map((m) => m[0]);
      expect(used).toEqual(['asyncdiff:queue_backlog:max', 'asyncdiff:queue_active:max']);
      for (const name of used) expect(recorded.has(name), name).toBe(true);
      expect(recorded.get('asyncdiff:queue_backlog:max')).toMatch(/prioritized/);
    });

    it('requests nvidia.com/gpu (limits = requests) on GPU nodes only, tolerating their taint', () => {
      const gpus = c.resources?.limits?.['nvidia.com/gpu'];
      expect(Number.isInteger(gpus) && Number(gpus) > 0, 'nvidia.com/gpu limit').toBe(true);
      expect(c.resources?.requests?.['nvidia.com/gpu']).toBe(gpus);
      expect(spec.nodeSelector ?? spec.affinity, 'a node selector or affinity for GPU nodes').toBeTruthy();
      expect(spec.tolerations?.some((t) => t.key === 'nvidia.com/gpu')).toBe(true);
    });

    it('mounts a memory-backed emptyDir at /dev/shm', () => {
      const mount = c.volumeMounts?.find((m) => m.mountPath === '/dev/shm');
      expect(mount, '/dev/shm mount').toBeTruthy();
      expect(spec.volumes?.find((v) => v.name === mount?.name)?.emptyDir?.medium).toBe('Memory');
    });

    it('points ASYNCDIFF_MODELS_DIR at a writable emptyDir (stage splits are cached next to the models)', () => {
      const dir = containerEnv(c)['ASYNCDIFF_MODELS_DIR'] ?? '';
      const mount = c.volumeMounts?.find((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
      expect(mount, `${dir} is on the read-only root filesystem`).toBeTruthy();
      expect(spec.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeTruthy();
    });

    it('gives the host time to drain (finish its step, hand the job back) and never sets CUDA_VISIBLE_DEVICES itself', () => {
      expect(spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(60);
      expect(spec.terminationGracePeriodSeconds ?? 30, 'grace period vs GPU_HOST_CLOSE_DEADLINE_MS').toBeGreaterThan(gpuHostDrainSec(containerEnv(c)));
      expect(Object.keys(containerEnv(c))).not.toContain('CUDA_VISIBLE_DEVICES');
      expect(() => resolveGpuHostOptions(gpuHostOptionsFromEnv(containerEnv(c)))).not.toThrow();
      expect(resolveStorageOptions(containerEnv(c)).kind, 'pods share no disk: outputs must go to S3').toBe('s3');
    });
  });

  describe('Redis StatefulSet', () => {
    const sts = find('StatefulSet', 'redis');
    const c = onlyContainer(sts);
    const args = [...(c.command ?? []), ...(c.args ?? [])];
    const argAfter = (flag: string) => args[args.indexOf(flag) + 1];

    it('loads redis.conf from the redis-config ConfigMap, keeps data on a PVC template, requires a password', () => {
      const configVolume = podSpec(sts).volumes?.find((v) => v.configMap?.name === 'redis-config');
      const configMount = c.volumeMounts?.find((m) => m.name === configVolume?.name);
      expect(args).toContain(`${configMount?.mountPath}/redis.conf`);
      const claim = sts.spec?.volumeClaimTemplates?.[0]?.metadata.name;
      expect(claim).toBeTruthy();
      expect(argAfter('--dir')).toBe(c.volumeMounts?.find((m) => m.name === claim)?.mountPath);
      expect(argAfter('--requirepass')).toBe('$(REDIS_PASSWORD)');
      expect(c.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toBeTruthy();
    });
  });
});

describe('infra/redis', () => {
  const text = read('infra/redis/redis.conf');
  const conf = parseRedisConf(text);

  it('redis.conf: AOF every second, noeviction (BullMQ), protected loopback bind', () => {
    expect(lastArgs(conf, 'appendonly')).toEqual(['yes']);
    expect(lastArgs(conf, 'appendfsync')).toEqual(['everysec']);
    expect(lastArgs(conf, 'maxmemory-policy')).toEqual(['noeviction']);
    expect(lastArgs(conf, 'protected-mode')).toEqual(['yes']);
    expect(lastArgs(conf, 'timeout'), 'BullMQ blocking connections must not be timed out').toEqual(['0']);
    const bind = lastArgs(conf, 'bind') ?? [];
    expect(bind.length).toBeGreaterThan(0);
    for (const a of bind) expect(a.replace(/^-/, ''), 'bind loopback only by default').toMatch(/^(127\.\d+\.\d+\.\d+|::1)$/);
  });

  it('the k8s redis-config ConfigMap holds the same redis.conf, byte for byte', () => {
    const cm = find('ConfigMap', 'redis-config');
    expect(cm.data?.['redis.conf']).toBe(text);
    const inCluster = parseRedisConf(String(cm.data?.['redis.conf']));
    expect(lastArgs(inCluster, 'appendonly')).toEqual(['yes']);
    expect(lastArgs(inCluster, 'maxmemory-policy')).toEqual(['noeviction']);
  });

  it.skipIf(!has('redis-server') || !has('redis-cli'))('a real redis-server starts with it and the StatefulSet\'s arguments', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asyncdiff-redis-conf-'));
    const sock = path.join(dir, 'redis.sock');
    const password = 'infra-test-password';
    const sts = onlyContainer(find('StatefulSet', 'redis'));
    // The pod's exact arguments, pointed at this checkout and a temp dir, on a unix socket only.
    const args = (sts.args ?? []).map((a) =>
      a === '/etc/redis/redis.conf' ? path.join(INFRA, 'redis/redis.conf') : a === '/data' ? dir : a === '0.0.0.0' ? '127.0.0.1' : a.replace('$(REDIS_PASSWORD)', password),
    );
    const server = spawn('redis-server', [...args, '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (b: Buffer) => (log += b.toString()));
    server.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const cli = async (...a: string[]) => (await run('redis-cli', ['-s', sock, ...a])).stdout.trim();
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) {
        if (server.exitCode !== null) break;
        await sleep(50);
      }
      expect(existsSync(sock), `redis-server did not start:\n${log}`).toBe(true);
      expect(await cli('ping')).toMatch(/NOAUTH/);
      const get = async (name: string) => (await cli('--no-auth-warning', '-a', password, 'config', 'get', name)).split('\n')[1];
      expect(await get('appendonly')).toBe('yes');
      expect(await get('appendfsync')).toBe('everysec');
      expect(await get('maxmemory-policy')).toBe('noeviction');
      expect(await get('dir')).toBe(dir);
      expect(existsSync(path.join(dir, lastArgs(conf, 'appenddirname')?.[0] ?? 'appendonlydir')), 'AOF directory created').toBe(true);
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null) await new Promise((resolve) => server.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('infra/systemd', () => {
  const units = {
    api: parseUnit(read('infra/systemd/asyncdiff-api.service')),
    gpuHost: parseUnit(read('infra/systemd/asyncdiff-gpu-host.service')),
  };
  const get = (u: Map<string, Map<string, string[]>>, section: string, key: string) => u.get(section)?.get(key)?.at(-1);

  it.each(Object.entries(units))('%s: required sections and keys', (name, u) => {
    expect([...u.keys()].sort()).toEqual(['Install', 'Service', 'Unit']);
    expect(get(u, 'Unit', 'Description')).toBeTruthy();
    expect(get(u, 'Unit', 'After')).toMatch(/network-online\.target/);
    expect(get(u, 'Service', 'User'), `${name}: a dedicated user`).toMatch(/^asyncdiff/);
    expect(get(u, 'Service', 'EnvironmentFile')).toBe('/etc/asyncdiff/asyncdiff.env');
    expect(get(u, 'Service', 'Restart')).toBe('on-failure');
    expect(get(u, 'Service', 'KillSignal')).toBe('SIGTERM');
    expect(Number(get(u, 'Service', 'LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(get(u, 'Service', 'NoNewPrivileges')).toBe('yes');
    expect(get(u, 'Service', 'ProtectSystem')).toBe('strict');
    expect(get(u, 'Service', 'MemoryDenyWriteExecute'), 'V8 needs W+X memory').toBeUndefined();
    expect(get(u, 'Install', 'WantedBy')).toBe('multi-user.target');
  });

  it('ExecStart runs the built entry point of an app that exists', () => {
    for (const [u, app] of [[units.api, 'api'], [units.gpuHost, 'gpu-host']] as const) {
      const exec = get(u, 'Service', 'ExecStart') ?? '';
      expect(exec).toMatch(new RegExp(`^/usr/bin/node .*apps/${app}/dist/main\\.js$`));
      expect(existsSync(path.join(ROOT, 'apps', app, 'src/main.ts')), `apps/${app}/src/main.ts`).toBe(true);
    }
  });

  it('the GPU host: long stop timeout for draining, SIGTERM to the supervisor only, /dev/shm and GPUs left usable', () => {
    const u = units.gpuHost;
    const envExample = parseEnvExample(read('infra/systemd/asyncdiff.env.example')).active;
    expect(timeSpanSec(get(u, 'Service', 'TimeoutStopSec') ?? '0')).toBeGreaterThanOrEqual(60);
    expect(timeSpanSec(get(u, 'Service', 'TimeoutStopSec') ?? '0'), 'TimeoutStopSec vs GPU_HOST_CLOSE_DEADLINE_MS').toBeGreaterThan(gpuHostDrainSec(envExample));
    expect(timeSpanSec(get(u, 'Service', 'TimeoutStopSec') ?? '0')).toBeGreaterThanOrEqual(timeSpanSec(get(units.api, 'Service', 'TimeoutStopSec') ?? '0'));
    expect(get(u, 'Service', 'KillMode')).toBe('mixed');
    expect(get(u, 'Service', 'PrivateDevices'), 'hides /dev/nvidia*').not.toBe('yes');
    expect(get(u, 'Service', 'DevicePolicy')).toBeUndefined();
    for (const key of ['InaccessiblePaths', 'TemporaryFileSystem', 'ReadOnlyPaths']) {
      for (const v of u.get('Service')?.get(key) ?? []) expect(v, key).not.toMatch(/\/dev(\/shm)?\b/);
    }
    expect(get(u, 'Service', 'Environment') ?? '', 'the supervisor pins each stage itself').not.toMatch(/CUDA_VISIBLE_DEVICES/);
    // RemoveIPC deletes every POSIX shm segment of the user: only the unit that owns them may set it.
    if (get(units.api, 'Service', 'User') === get(u, 'Service', 'User')) expect(get(units.api, 'Service', 'RemoveIPC')).not.toBe('yes');
  });

  it('the GPU host may write to the models folder of the env file (split cache) despite ProtectSystem=strict', () => {
    const dir = parseEnvExample(read('infra/systemd/asyncdiff.env.example')).active['ASYNCDIFF_MODELS_DIR'] ?? '';
    const writable = (units.gpuHost.get('Service')?.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/)).map((p) => p.replace(/^-/, ''));
    expect(writable.some((p) => dir === p || dir.startsWith(`${p}/`)), `${dir} is not in ReadWritePaths`).toBe(true);
  });

  it.skipIf(!has('systemd-analyze'))('systemd-analyze verify accepts both units and rates their exposure OK', async () => {
    const files = ['asyncdiff-api.service', 'asyncdiff-gpu-host.service'].map((f) => path.join(INFRA, 'systemd', f));
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { cwd: tmpdir(), encoding: 'utf8' });
    // A machine whose node is not /usr/bin/node (nvm, …) cannot judge ExecStart's binary: ignore only that.
    const complaints = `${verify.stdout}${verify.stderr}`
      .split('\n')
      .filter((l) => l.includes('asyncdiff') && !(l.includes('/usr/bin/node') && !existsSync('/usr/bin/node')));
    expect(complaints, complaints.join('\n')).toEqual([]);
    for (const [file, max] of [[files[0], 3], [files[1], 5]] as const) {
      const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', file ?? ''], { cwd: tmpdir() }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      const level = /Overall exposure level for [^:]+: ([\d.]+)/.exec(stdout)?.[1];
      expect(level, `no exposure level in:\n${stdout}`).toBeDefined();
      expect(Number(level), file).toBeLessThanOrEqual(max);
    }
  });

  describe('asyncdiff.env.example', () => {
    const { active, documented } = parseEnvExample(read('infra/systemd/asyncdiff.env.example'));
    const sources = ['apps', 'libs']
      .flatMap((d) => readdirSync(path.join(ROOT, d)).map((p) => path.join(ROOT, d, p, 'src')))
      .filter((d) => existsSync(d))
      .flatMap(filesUnder)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');

    it('documents every variable the API, the GPU host, the queue, storage and models read', () => {
      const envSchemaKeys = (file: string) => [...read(file).matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]);
      const apiVars = envSchemaKeys('apps/api/src/env.ts');
      const gpuHostVars = envSchemaKeys('apps/gpu-host/src/env.ts');
      expect(gpuHostVars).toContain('GPU_HOST_CLOSE_DEADLINE_MS');
      const storageVars = [...read('libs/storage/src/options.ts').matchAll(/get\('([A-Z0-9_]+)'\)/g)].map((m) => m[1]);
      expect(apiVars).toContain('PORT');
      expect(storageVars).toContain('S3_BUCKET');
      const redisVars = envSchemaKeys('libs/queue/src/transport/redis-env.ts');
      expect(redisVars).toEqual(expect.arrayContaining(['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME']));
      for (const v of [...apiVars, ...gpuHostVars, ...storageVars, ...redisVars, 'ASYNCDIFF_MODELS_DIR']) expect(Object.keys(documented), `${v} is not documented`).toContain(v);
    });

    it('documents only variables the code reads (no typos, no stale names)', () => {
      const runtime = new Set(['NODE_OPTIONS', 'NODE_ENV']);
      for (const v of Object.keys(documented)) if (!runtime.has(v)) expect(sources.includes(`'${v}'`) || sources.includes(`${v}:`), `${v} is read nowhere in apps/ or libs/`).toBe(true);
    });

    it('its values pass the real parsers, as shipped and with every example uncommented', () => {
      // Cluster and Sentinel exclude each other: uncomment one group at a time.
      const sentinelVars = ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'];
      const withCluster = Object.fromEntries(Object.entries(documented).filter(([k]) => !sentinelVars.includes(k)));
      const withSentinel = Object.fromEntries(Object.entries(documented).filter(([k]) => k !== 'REDIS_CLUSTER_NODES'));
      expect(redisTargetFromEnv(withCluster)?.kind).toBe('cluster');
      expect(redisTargetFromEnv(withSentinel)?.kind).toBe('sentinel');
      expect(redisTargetFromEnv(active)?.kind).toBe('standalone');
      for (const env of [active, withCluster, withSentinel]) {
        expect(() => resolveApiOptions(apiOptionsFromEnv(env))).not.toThrow();
        expect(() => resolveGpuHostOptions(gpuHostOptionsFromEnv(env))).not.toThrow();
        expect(() => resolveStorageOptions(env)).not.toThrow();
      }
      expect(resolveStorageOptions(documented).kind).toBe('s3');
      expect(resolveStorageOptions(active).kind).toBe('local');
      expect(Object.values(active).every((v) => v !== ''), 'an empty value is not "unset" for the API').toBe(true);
    });
  });
});

describe('infra/prometheus', () => {
  const prom = loadYaml('infra/prometheus/prometheus.yml')[0] as {
    rule_files?: string[];
    scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs?: Array<{ targets: string[] }>; kubernetes_sd_configs?: unknown[]; relabel_configs?: Array<Record<string, unknown>> }>;
  };
  const rules = loadYaml('infra/prometheus/alerts.yml')[0] as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };

  it('scrapes the API\'s /metrics statically and through kubernetes_sd, both as job="asyncdiff-api"', () => {
    const names = prom.scrape_configs.map((s) => s.job_name);
    expect(new Set(names).size).toBe(names.length);
    const staticJob = prom.scrape_configs.find((s) => s.static_configs);
    const k8sJob = prom.scrape_configs.find((s) => s.kubernetes_sd_configs);
    expect(staticJob?.job_name).toBe('asyncdiff-api');
    expect(staticJob?.metrics_path ?? '/metrics').toBe('/metrics');
    const defaultPort = apiOptionsFromEnv({}).port;
    for (const t of staticJob?.static_configs?.flatMap((s) => s.targets) ?? []) expect(t).toMatch(new RegExp(`:${defaultPort}$`));
    const relabels = k8sJob?.relabel_configs ?? [];
    expect(relabels.some((r) => r['target_label'] === 'job' && r['replacement'] === 'asyncdiff-api')).toBe(true);
    // The relabelling keeps pods by the annotation and the label the API Deployment sets.
    const pod = find('Deployment', 'asyncdiff-api').spec?.template?.metadata;
    const keepBy = (label: string) => relabels.find((r) => r['action'] === 'keep' && JSON.stringify(r['source_labels']) === JSON.stringify([label]))?.['regex'];
    expect(keepBy('__meta_kubernetes_pod_annotation_prometheus_io_scrape')).toBe(pod?.annotations?.['prometheus.io/scrape']);
    expect(keepBy('__meta_kubernetes_pod_label_app_kubernetes_io_name')).toBe(pod?.labels?.['app.kubernetes.io/name']);
    for (const f of prom.rule_files ?? []) expect(existsSync(path.join(INFRA, 'prometheus', f)), f).toBe(true);
  });

  it('alert rules are well-formed: unique names, expr, duration, severity, summary', () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => 'alert' in r);
    expect(alerts.length).toBeGreaterThanOrEqual(4);
    const names = alerts.map((r) => r['alert']);
    expect(new Set(names).size).toBe(names.length);
    for (const r of alerts) {
      const where = String(r['alert']);
      expect(typeof r['expr'], where).toBe('string');
      if (r['for'] !== undefined) expect(r['for'], where).toMatch(/^\d+[smhd]$/);
      expect(['critical', 'warning', 'info'], where).toContain((r['labels'] as Obj | undefined)?.['severity']);
      expect((r['annotations'] as Obj | undefined)?.['summary'], where).toBeTruthy();
    }
    for (const r of rules.groups.flatMap((g) => g.rules).filter((x) => 'record' in x)) expect(r['record']).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it.skipIf(!has('promtool'))('promtool accepts the config and the rules', async () => {
    const config = path.join(INFRA, 'prometheus/prometheus.yml');
    if (await promtoolHasKubernetesDiscovery()) {
      await run('promtool', ['check', 'config', '--syntax-only', config]);
    } else {
      // Debian's promtool is built without Kubernetes discovery and rejects the field itself.
      // Check everything else promtool knows (relabel rules, intervals, rule files) on a copy
      // whose kubernetes_sd_configs are swapped for a static target; the shape of the k8s job
      // is checked against the Deployment in the test above.
      const dir = mkdtempSync(path.join(tmpdir(), 'promtool-'));
      try {
        const swapped = {
          ...prom,
          rule_files: (prom.rule_files ?? []).map((f) => path.join(INFRA, 'prometheus', f)),
          scrape_configs: prom.scrape_configs.map(({ kubernetes_sd_configs, ...job }) =>
            kubernetes_sd_configs ? { ...job, static_configs: [{ targets: ['127.0.0.1:8080'] }] } : job),
        };
        const copy = path.join(dir, 'prometheus.yml');
        writeFileSync(copy, JSON.stringify(swapped)); // JSON is YAML
        await run('promtool', ['check', 'config', '--syntax-only', copy]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await run('promtool', ['check', 'rules', path.join(INFRA, 'prometheus/alerts.yml')]);
  });
});

describe('autoscaling signal (promtool evaluates the rules and the KEDA query)', () => {
  const so = find('ScaledObject', 'asyncdiff-gpu-host');
  const query = so.spec?.triggers?.[0]?.metadata['query'] ?? '';

  it.skipIf(!has('promtool'))('counts prioritized and waiting jobs once per fleet (not per API replica), plus running ones; 0 without data', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'promtool-keda-'));
    try {
      // Two API replicas report the same fleet-wide counts, as they do (read from Redis at scrape).
      const counts: Record<string, Record<string, number>> = {
        image: { waiting: 3, prioritized: 5, active: 2, delayed: 4, completed: 100, failed: 7, paused: 0 },
        video: { waiting: 0, prioritized: 1, active: 0, delayed: 0, completed: 9, failed: 0, paused: 0 },
      };
      const series = ['api-a:8080', 'api-b:8080'].flatMap((instance) =>
        Object.entries(counts).flatMap(([queue, states]) =>
          Object.entries(states).map(([state, n]) => ({ series: `asyncdiff_queue_jobs{job="asyncdiff-api",instance="${instance}",queue="${queue}",state="${state}"}`, values: `${n}x40` })),
        ),
      );
      const tests = {
        rule_files: [path.join(INFRA, 'prometheus/alerts.yml')],
        evaluation_interval: '30s',
        tests: [
          {
            interval: '15s',
            input_series: series,
            promql_expr_test: [
              {
                expr: 'asyncdiff:queue_backlog:max',
                eval_time: '5m',
                exp_samples: [
                  { labels: 'asyncdiff:queue_backlog:max{queue="image"}', value: 8 },
                  { labels: 'asyncdiff:queue_backlog:max{queue="video"}', value: 1 },
                ],
              },
              // 8 + 1 queued, 2 running; delayed (retry backoff), completed and failed do not count.
              { expr: query, eval_time: '5m', exp_samples: [{ labels: '{}', value: 11 }] },
            ],
          },
          {
            interval: '15s',
            input_series: [{ series: 'up{job="asyncdiff-api",instance="api-a:8080"}', values: '1x40' }],
            promql_expr_test: [{ expr: query, eval_time: '5m', exp_samples: [{ labels: '{}', value: 0 }] }],
          },
        ],
      };
      const file = path.join(dir, 'keda.test.yml');
      writeFileSync(file, JSON.stringify(tests)); // JSON is YAML
      const result = await run('promtool', ['test', 'rules', file]).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}`, failed: true }));
      expect('failed' in result ? result.stdout : '').toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('infra/grafana', () => {
  const dash = JSON.parse(read('infra/grafana/asyncdiff-dashboard.json')) as {
    uid: string;
    title: string;
    schemaVersion: number;
    templating: { list: Array<{ name: string; type: string }> };
    panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid?: string }; targets?: Array<{ expr?: string; refId?: string }> }>;
  };

  it('is a provisionable dashboard: uid, title, a Prometheus datasource variable', () => {
    expect(dash.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dash.title).toBeTruthy();
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dash.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
  });

  it('panels have unique ids, fit the 24-column grid without overlapping, and each query has a refId and expr', () => {
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toBeTruthy();
    }
  });
});
