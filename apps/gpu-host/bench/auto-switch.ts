/**
 * Where should `parallel.mode: auto` switch from a multi-device mode to data parallelism, and
 * which multi-device mode is faster for a lone job?
 *
 *   npm run build && npx tsx apps/gpu-host/bench/auto-switch.ts [--model moving-digits] [--steps 50] [--reps 2] [--bursts 1,2,4,8] [--modes async,cfg,sequential,auto,auto-fastest]
 *
 * Starts a real GPU host (one replica group of this machine's devices, real Redis, real stage
 * processes) and, per burst size K, submits K jobs at once with the mode forced to `async`
 * (AsyncDiff over all devices, one job at a time), `cfg` (the guidance halves on two devices) or
 * `sequential` (whole-model data parallelism: one job per device), then with `auto` (budget
 * exact, the default) and `auto-fastest` (budget fastest). Reports per-job latency (submit → done)
 * and the burst's makespan (first submit → last done). Engines are warmed first, so engine
 * start-up is not measured. Writes bench/out/gpu-host-auto-switch.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createJobClient, DEFAULT_REDIS_URL, redisTargetFromEnv, sidecarKey, type JobClient, type JobRecord } from '@asyncdiff/queue';
import { createLocalObjectStore } from '@asyncdiff/storage';

import { startGpuHost, type JobSidecar } from '../src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'moving-digits' },
    steps: { type: 'string', default: '50' },
    reps: { type: 'string', default: '2' },
    bursts: { type: 'string', default: '1,2,4,8' },
    modes: { type: 'string', default: 'async,cfg,sequential,auto,auto-fastest' },
  },
});
const model = values.model;
const steps = Number(values.steps);
const reps = Number(values.reps);
const bursts = values.bursts.split(',').map(Number);
const kind = model === 'moving-digits' ? 'video' : 'image';
const ALL_MODES = ['async', 'cfg', 'sequential', 'auto', 'auto-fastest'] as const;
type Mode = (typeof ALL_MODES)[number];
const MODES: readonly Mode[] = values.modes.split(',').map((m) => {
  const known = ALL_MODES.find((x) => x === m.trim());
  if (!known) throw new Error(`--modes: unknown mode ${m} (${ALL_MODES.join(', ')})`);
  return known;
});
const parallelOf = (mode: Mode): Record<string, string> => (mode === 'auto-fastest' ? { mode: 'auto', quality: 'fastest' } : { mode });

interface Row {
  mode: Mode;
  k: number;
  rep: number;
  latencyMs: number[];
  makespanMs: number;
  used: string[];
}

const connection = redisTargetFromEnv() ?? DEFAULT_REDIS_URL;
const prefix = `{bench-${randomUUID()}}`;
const storeDir = path.join(tmpdir(), `auto-switch-${randomUUID()}`);
const store = createLocalObjectStore({ rootDir: storeDir, urlSecret: 'b'.repeat(32) });
const client: JobClient = createJobClient({ connection, prefix });
const host = await startGpuHost({ connection, prefix, storage: store, devices: 'cpu', healthIntervalMs: 0, backlogPollMs: 50, checkpointIntervalMs: 0 });
const done = new Map<string, (r: JobRecord) => void>();
const unsubscribe = await client.onEvent((e) => {
  if (e.type !== 'state' || !['succeeded', 'failed', 'canceled'].includes(e.status)) return;
  const resolve = done.get(e.jobId);
  if (resolve) void client.get(e.jobId).then((r) => r && resolve(r));
});

async function burst(mode: Mode, k: number, seed0: number): Promise<{ records: JobRecord[]; t0: number }> {
  const t0 = Date.now();
  const waits: Promise<JobRecord>[] = [];
  await Promise.all(
    Array.from({ length: k }, async (_, i) => {
      const body = { type: kind, model, prompt: String(i % 10), seed: seed0 + i, steps, output: { format: kind === 'video' ? 'gif' : 'png' }, parallel: parallelOf(mode) };
      const { job } = await client.submit(body);
      waits.push(new Promise<JobRecord>((resolve) => done.set(job.id, resolve)));
    }),
  );
  const records = await Promise.all(waits);
  for (const r of records) if (r.status !== 'succeeded') throw new Error(`job ${r.id} ${r.status}: ${r.error?.message ?? ''}`);
  return { records, t0 };
}

async function usedOf(r: JobRecord): Promise<string> {
  const used = (JSON.parse((await store.get(sidecarKey(r.id))).toString('utf8')) as JobSidecar).parallel.used;
  return used.mode === 'async' || used.mode === 'hybrid' ? `${used.mode}(N=${used.stages})` : used.mode;
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// Warm every engine a mode can use (AsyncDiff and cfg on both devices, sequential on each device).
await burst('async', 1, 1);
await burst('cfg', 1, 1);
await burst('sequential', 2, 1);

const rows: Row[] = [];
for (let rep = 0; rep < reps; rep++) {
  for (const k of bursts) {
    for (const mode of MODES) {
      const { records, t0 } = await burst(mode, k, 100 + rep * 100);
      const finished = records.map((r) => r.finishedAt ?? Date.now());
      rows.push({ mode, k, rep, latencyMs: records.map((r) => (r.finishedAt ?? 0) - r.createdAt), makespanMs: Math.max(...finished) - t0, used: await Promise.all(records.map(usedOf)) });
      process.stderr.write('.');
    }
  }
}
process.stderr.write('\n');

const lines = [
  `model ${model}, ${steps} steps, ${host.devices.length} devices (${host.devices.map((d) => d.label).join(' ')}), ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}, ${reps} rep(s): medians over reps`,
  '',
  '| K | mode | mean latency ms | p50 latency ms | max latency ms | makespan ms | jobs/s | configs used |',
  '|---|---|---|---|---|---|---|---|',
];
for (const k of bursts) {
  for (const mode of MODES) {
    const rs = rows.filter((r) => r.k === k && r.mode === mode);
    const mean = median(rs.map((r) => r.latencyMs.reduce((a, b) => a + b, 0) / r.latencyMs.length));
    const p50 = median(rs.map((r) => median(r.latencyMs)));
    const max = median(rs.map((r) => Math.max(...r.latencyMs)));
    const span = median(rs.map((r) => r.makespanMs));
    const used = [...new Set(rs.flatMap((r) => r.used))].join(', ');
    lines.push(`| ${k} | ${mode === 'sequential' ? 'data-parallel' : mode} | ${mean.toFixed(0)} | ${p50.toFixed(0)} | ${max.toFixed(0)} | ${span.toFixed(0)} | ${((k * 1000) / span).toFixed(2)} | ${used} |`);
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bench/out');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'gpu-host-auto-switch.json'), JSON.stringify({ model, steps, reps, at: new Date().toISOString(), rows }, null, 2));

unsubscribe();
await host.close();
let cursor = '0';
do {
  const [next, keys] = await client.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length) await client.redis.del(...keys);
} while (cursor !== '0');
await client.close();
await store.close();
rmSync(storeDir, { recursive: true, force: true });
