/**
 * Fleet benchmark (issue #4): API requests/s for submit and status, submit→start latency of a job
 * (idle, and while the API is under status-polling load), and jobs/s end to end with the shipped
 * models on this machine's GPU host. Writes the "fleet" section of bench/RESULTS.md.
 *
 *   npm run build && npx tsx bench/fleet.ts
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

import { createLocalObjectStore } from '@asyncdiff/storage';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { quantile } from '../apps/cli/src/bench/stats.js';
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
    ].join('\n');
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/fleet.json', JSON.stringify({ started, machine, submitLoad, statusLoad, idle, busy, busyLoad, images, videos }, null, 2));
    replaceSection('bench/RESULTS.md', 'fleet', md);
    process.stdout.write(`${md}\n`);
  } finally {
    await fleet2.close();
  }
} finally {
  outputs.remove();
}
