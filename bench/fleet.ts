/**
 * Fleet benchmark (issue #4): API requests/s for submit and status, submit→start latency of a job
 * (idle, and while the API is under status-polling load), and jobs/s end to end with the shipped
 * models on this machine's GPU host. Writes the "fleet" section of bench/RESULTS.md.
 *
 *   npm run build && npx tsx bench/fleet.ts
 *
 * `npx tsx bench/fleet.ts batching` runs only the continuous-batching comparison (see
 * fleet-batching.ts; `--images=N --videos=M`); `npx tsx bench/fleet.ts lone` only the interleaved
 * lone-job latency A/B (fleet-lone.ts; `--passes=N`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

import { createLocalObjectStore } from '@asyncdiff/storage';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { quantile } from '../apps/cli/src/bench/stats.js';
import { runBatchingBench } from './fleet-batching.js';
import { runLoneBench } from './fleet-lone.js';
import { freePort, startFleet, tempDir, waitForJobs, type Fleet } from '../test/support/fleet.js';

interface LoadResult {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  durationMs: number;
  latencyMs: { p50: number; p99: number };
}

function load(args: { url: string; method: string; body?: unknown; concurrency: number; durationMs: number }): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/load-gen.mjs', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load-gen exited ${code}`))));
  });
}

async function submit(fleet: Fleet, body: unknown): Promise<string> {
  const res = await fleet.post('/v1/jobs', body);
  if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

interface Record_ {
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  status: string;
}

async function startLatencies(fleet: Fleet, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = await submit(fleet, { type: 'image', model: 'digits', prompt: String(i % 10), seed: i, steps: 10 });
    const [job] = (await waitForJobs(fleet, [id], 60_000)) as unknown as Record_[];
    out.push(Date.parse(job!.startedAt!) - Date.parse(job!.createdAt));
  }
  return out;
}

async function throughput(fleet: Fleet, bodies: unknown[]): Promise<{ jobs: number; seconds: number; jobsPerSec: number }> {
  const t0 = Date.now();
  const ids: string[] = [];
  for (const b of bodies) ids.push(await submit(fleet, b));
  const jobs = (await waitForJobs(fleet, ids, 900_000)) as unknown as Record_[];
  const failed = jobs.filter((j) => j.status !== 'succeeded').length;
  if (failed > 0) throw new Error(`${failed} jobs did not succeed`);
  const last = Math.max(...jobs.map((j) => Date.parse(j.finishedAt!)));
  const seconds = (last - t0) / 1000;
  return { jobs: jobs.length, seconds, jobsPerSec: jobs.length / seconds };
}

/**
 * The coordinator's wait mode trades AsyncDiff speed against the event loop the API shares in
 * `serve`: per mode, one long AsyncDiff image job alone (its denoise time), then the same job
 * again while a separate process polls its status (API latency during generation).
 */
async function waitModeRow(store: Parameters<typeof startFleet>[0], wait: 'hybrid' | 'async'): Promise<string> {
  const fleet = await startFleet(store, await freePort(), { host: { coordinatorWait: wait } });
  try {
    const job = { type: 'image', model: 'digits', prompt: '4', steps: 50, parallel: { mode: 'async' } };
    await waitForJobs(fleet, [await submit(fleet, job)], 60_000); // open the engine
    const alone: number[] = [];
    for (let i = 0; i < 7; i++) {
      const id = await submit(fleet, { ...job, seed: i });
      await waitForJobs(fleet, [id], 60_000);
      const r = (await (await fleet.get(`/v1/jobs/${id}`)).json()) as { timings: Record<string, number> };
      alone.push(r.timings['denoiseMs'] ?? NaN);
    }
    const burst = await throughput(fleet, Array.from({ length: 40 }, (_, i) => ({ type: 'image', model: 'digits', prompt: String(i % 10), seed: 200 + i })));
    const long = await submit(fleet, { ...job, steps: 1000, seed: 99 });
    await new Promise((r) => setTimeout(r, 300));
    const polled = await load({ url: `${fleet.api.url}/v1/jobs/${long}`, method: 'GET', concurrency: 4, durationMs: 1500 });
    await waitForJobs(fleet, [long], 120_000);
    return `| ${wait} | ${quantile(alone, 0.5).toFixed(1)} | ${burst.jobsPerSec.toFixed(2)} | ${(polled.requests / (polled.durationMs / 1000)).toFixed(0)} req/s, p50 ${polled.latencyMs.p50.toFixed(1)} ms, p99 ${polled.latencyMs.p99.toFixed(1)} ms |`;
  } finally {
    await fleet.close();
  }
}

if (process.argv[2] === 'batching') {
  await runBatchingBench(process.argv.slice(3));
  process.exit(0);
}
if (process.argv[2] === 'lone') {
  await runLoneBench(process.argv.slice(3));
  process.exit(0);
}

const started = new Date();
const machine = machineLine();
const outputs = tempDir('fleet-bench');
const port = await freePort();
const store = createLocalObjectStore({ rootDir: outputs.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
// API throughput is measured with the GPU host idle (no models running on the shared cores).
const fleet = await startFleet(store, port, { host: { queues: ['video'] } });
try {
  const probe = await submit(fleet, { type: 'image', model: 'digits', prompt: '7', seed: 1 });
  const base = fleet.api.url;
  process.stderr.write('fleet bench: API submit load\n');
  const submitLoad = await load({ url: `${base}/v1/jobs`, method: 'POST', body: { type: 'image', model: 'digits', prompt: '3' }, concurrency: 32, durationMs: 5000 });
  process.stderr.write('fleet bench: API status load\n');
  const statusLoad = await load({ url: `${base}/v1/jobs/${probe}`, method: 'GET', concurrency: 32, durationMs: 5000 });
  await fleet.close();

  const fleet2 = await startFleet(store, await freePort());
  let fleet2Closed = false;
  try {
    process.stderr.write('fleet bench: submit→start, idle\n');
    await startLatencies(fleet2, 3); // open engines
    const idle = await startLatencies(fleet2, 40);
    process.stderr.write('fleet bench: submit→start under status load\n');
    const pollTarget = await submit(fleet2, { type: 'image', model: 'digits', prompt: '1', seed: 1, steps: 5 });
    const loaded = load({ url: `${fleet2.api.url}/v1/jobs/${pollTarget}`, method: 'GET', concurrency: 16, durationMs: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    const busy = await startLatencies(fleet2, 20);
    const busyLoad = await loaded;
    process.stderr.write('fleet bench: jobs/s end to end\n');
    const images = await throughput(fleet2, Array.from({ length: 40 }, (_, i) => ({ type: 'image', model: 'digits', prompt: String(i % 10), seed: 100 + i })));
    const videos = await throughput(fleet2, Array.from({ length: 10 }, (_, i) => ({ type: 'video', model: 'moving-digits', prompt: String(i % 10), seed: 100 + i, output: { format: 'gif' } })));
    await fleet2.close();
    fleet2Closed = true;
    process.stderr.write('fleet bench: coordinator wait modes\n');
    const waitRows: string[] = [];
    for (const wait of ['hybrid', 'async'] as const) waitRows.push(await waitModeRow(store, wait));
    const rps = (r: LoadResult): string => `${(r.requests / (r.durationMs / 1000)).toFixed(0)} req/s (p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms; statuses ${JSON.stringify(r.statuses)}, errors ${r.errors})`;
    const ms = (xs: number[]): string => `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms (n=${xs.length})`;
    const md = [
      '## Fleet (`npx tsx bench/fleet.ts`)',
      '',
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. API, GPU host (one replica group of 2 CPU devices) and a local-folder store in one process on a real Redis; load from a separate process (32 keep-alive connections for submit/status, 5 s each).`,
      '',
      '| measure | result |',
      '|---|---|',
      `| API submit (\`POST /v1/jobs\`), GPU host idle | ${rps(submitLoad)} |`,
      `| API status (\`GET /v1/jobs/:id\`), GPU host idle | ${rps(statusLoad)} |`,
      `| submit → start, idle fleet (10-step image jobs, one at a time) | ${ms(idle)} |`,
      `| submit → start while the API serves ${(busyLoad.requests / (busyLoad.durationMs / 1000)).toFixed(0)} status req/s | ${ms(busy)} |`,
      `| jobs/s end to end, 40 image jobs (50 steps, guidance, auto mode) submitted at once | ${images.jobsPerSec.toFixed(2)} jobs/s (${images.seconds.toFixed(1)} s) |`,
      `| jobs/s end to end, 10 video jobs (8 frames, 50 steps, GIF) submitted at once | ${videos.jobsPerSec.toFixed(2)} jobs/s (${videos.seconds.toFixed(1)} s) |`,
      '',
      'Submit→start is server-side (`startedAt − createdAt` of the job record, ms resolution): queueing in BullMQ, the worker picking the job up, the auto-mode decision and device lease.',
      '',
      '**Coordinator wait** (`GPU_HOST_COORDINATOR_WAIT`, a fresh fleet per mode): denoise time of a lone 50-step AsyncDiff image job (N = 2, median of 7, from the job\'s timings); jobs/s for 40 image jobs submitted at once (auto mode: mostly data parallelism, two generations interleaved on the coordinator\'s thread); the API\'s status latency in the same process while a 1,000-step AsyncDiff job runs (4 polling connections from another process, 1.5 s; both cores are busy with the stages, so every request competes with them).',
      '',
      '| coordinator wait | lone job denoise ms (50 steps) | 40 image jobs, jobs/s | status polling during a lone generation |',
      '|---|---:|---:|---|',
      ...waitRows,
    ].join('\n');
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/fleet.json', JSON.stringify({ started, machine, submitLoad, statusLoad, idle, busy, busyLoad, images, videos, waitRows }, null, 2));
    replaceSection('bench/RESULTS.md', 'fleet', md);
    process.stdout.write(`${md}\n`);
  } finally {
    if (!fleet2Closed) await fleet2.close();
  }
} finally {
  outputs.remove();
}
