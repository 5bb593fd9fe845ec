/**
 * Continuous batching vs data parallelism (issue #12), side by side in one run: a fresh fleet
 * (API + GPU host, one group of 2 CPU devices, real Redis) per configuration; per configuration
 * the latency of a lone job, then a saturated queue (a burst of image jobs submitted at once) and
 * a video row. Latencies are server-side (`finishedAt − createdAt` of the job record). Writes the
 * "batching" section of bench/RESULTS.md.
 *
 *   npm run build && npx tsx bench/fleet.ts batching
 */
import { createModelCatalog } from '@asyncdiff/queue';
import { Redis } from 'ioredis';

import type { GpuHostOptions } from '../apps/gpu-host/src/index.js';
import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { quantile } from '../apps/cli/src/bench/stats.js';
import { freePort, modelsDir, REDIS_URL, startFleet, tempDir, type Fleet } from '../test/support/fleet.js';
import { createLocalObjectStore } from '@asyncdiff/storage';

import { admissionLog } from './admission-log.js';

/** Users of the closed-loop row. */
const CLIENTS = 16;

interface JobTimes {
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface Config {
  readonly name: string;
  readonly host: Partial<GpuHostOptions>;
}

interface Row {
  readonly config: string;
  readonly loneAutoMs: number;
  readonly loneSequentialMs: number;
  readonly closed: ClosedLoop;
  readonly images: Burst;
  readonly videos: Burst;
  readonly texts: Burst;
  readonly peakMembers: number;
  /** Commands the Redis server processed during the image burst, per job (every client: API, host, the bench's polls). */
  readonly redisCommandsPerJob: number;
  /** What admission control decided per model when it first opened a batch (the host's log). */
  readonly admission: Record<string, string>;
}

interface Burst {
  readonly jobs: number;
  readonly seconds: number;
  readonly jobsPerSec: number;
  readonly latencyMs: { p50: number; p99: number };
}

async function submit(fleet: Fleet, body: unknown): Promise<string> {
  const res = await fleet.post('/v1/jobs', body);
  if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Polls once a second, only what is not done yet (records carry their own times). */
async function finished(fleet: Fleet, ids: readonly string[], timeoutMs: number): Promise<JobTimes[]> {
  const done = new Map<string, JobTimes>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.length) {
    if (Date.now() > deadline) throw new Error(`${ids.length - done.size} jobs not done in ${timeoutMs} ms`);
    for (const id of ids) {
      if (done.has(id)) continue;
      const j = (await (await fleet.get(`/v1/jobs/${id}`)).json()) as JobTimes;
      if (['succeeded', 'failed', 'canceled'].includes(j.status)) done.set(id, j);
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 1000));
  }
  const jobs = ids.map((id) => done.get(id)!);
  const bad = jobs.filter((j) => j.status !== 'succeeded').length;
  if (bad > 0) throw new Error(`${bad} jobs did not succeed`);
  return jobs;
}

/** Commands the Redis server has processed since it started (`INFO stats`). */
async function redisCommands(redis: Redis): Promise<number> {
  const m = /total_commands_processed:(\d+)/.exec(await redis.info('stats'));
  if (!m) throw new Error('INFO stats has no total_commands_processed');
  return Number(m[1]);
}

const latency = (j: JobTimes): number => Date.parse(j.finishedAt!) - Date.parse(j.createdAt);

async function lone(fleet: Fleet, body: Record<string, unknown>, n: number): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const [j] = await finished(fleet, [await submit(fleet, { ...body, seed: 1000 + i })], 60_000);
    out.push(latency(j!));
  }
  return quantile(out, 0.5);
}

interface ClosedLoop {
  readonly clients: number;
  readonly jobs: number;
  readonly jobsPerSec: number;
  readonly latencyMs: { p50: number; p99: number };
}

/**
 * `clients` users, each submitting a job with `Prefer: wait` (the API answers when it ends) and
 * the next one as soon as it has: latency under a steady load of `clients` jobs in the system.
 */
async function closedLoop(fleet: Fleet, clients: number, durationMs: number): Promise<ClosedLoop> {
  const lat: number[] = [];
  const t0 = Date.now();
  const end = t0 + durationMs;
  let last = t0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const res = await fetch(`${fleet.api.url}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', prefer: 'wait=60' },
          body: JSON.stringify({ type: 'image', model: 'digits', prompt: String((c + i) % 10), seed: 5000 + c * 1000 + i }),
        });
        const j = (await res.json()) as JobTimes;
        if (j.status !== 'succeeded') throw new Error(`closed loop: a job ended ${j.status} (HTTP ${res.status})`);
        lat.push(latency(j));
        last = Math.max(last, Date.parse(j.finishedAt!));
      }
    }),
  );
  return { clients, jobs: lat.length, jobsPerSec: lat.length / ((last - t0) / 1000), latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) } };
}

async function burst(fleet: Fleet, bodies: readonly Record<string, unknown>[]): Promise<Burst> {
  const t0 = Date.now();
  const ids: string[] = [];
  for (const b of bodies) ids.push(await submit(fleet, b));
  const jobs = await finished(fleet, ids, 900_000);
  const seconds = (Math.max(...jobs.map((j) => Date.parse(j.finishedAt!))) - t0) / 1000;
  const lat = jobs.map(latency);
  return { jobs: jobs.length, seconds, jobsPerSec: jobs.length / seconds, latencyMs: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) } };
}

/** The text row's pipeline: the tiny SD 1.5 export in optimum's layout (random weights, 64×64). */
const TEXT_MODEL = 'tiny-sd15';
const textJob = (i: number): Record<string, unknown> => ({ type: 'image', model: TEXT_MODEL, prompt: ['a red barn', 'a lighthouse at dusk', 'a cat on a wall', 'fog over a lake'][i % 4], seed: 100 + i, steps: 30 });

async function measure(config: Config, imageJobs: number, videoJobs: number, textJobs: number): Promise<Row> {
  const outputs = tempDir('fleet-batching');
  const port = await freePort();
  const store = createLocalObjectStore({ rootDir: outputs.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
  const models = modelsDir(outputs.dir, ['digits', 'moving-digits'], [TEXT_MODEL]);
  const { logger, decisions: admission } = admissionLog('bench');
  const fleet = await startFleet(store, port, {
    host: { ...config.host, modelsDir: models, logger },
    api: { queue: { models: createModelCatalog(models) } },
  });
  let peakMembers = 0;
  const redis = new Redis(REDIS_URL);
  const watch = setInterval(() => {
    for (const g of fleet.host.status().groups) for (const b of g.batches ?? []) peakMembers = Math.max(peakMembers, b.members);
  }, 20);
  try {
    process.stderr.write(`batching bench: ${config.name}: warm-up\n`);
    // Open every engine the runs below use (auto's wide one, and one per device), and let a
    // batching host measure its admission limit, so no row pays a start-up.
    await finished(fleet, await Promise.all(Array.from({ length: 6 }, (_, i) => submit(fleet, { type: 'image', model: 'digits', prompt: String(i), seed: i }))), 120_000);
    await finished(fleet, await Promise.all(Array.from({ length: 4 }, (_, i) => submit(fleet, { type: 'video', model: 'moving-digits', prompt: String(i), seed: i, output: { format: 'gif' } }))), 120_000);
    await finished(fleet, await Promise.all(Array.from({ length: 4 }, (_, i) => submit(fleet, textJob(i)))), 120_000);
    await lone(fleet, { type: 'image', model: 'digits', prompt: '4', parallel: { mode: 'sequential' } }, 2);
    process.stderr.write(`batching bench: ${config.name}: lone jobs\n`);
    const loneAutoMs = await lone(fleet, { type: 'image', model: 'digits', prompt: '4' }, 7);
    const loneSequentialMs = await lone(fleet, { type: 'image', model: 'digits', prompt: '4', parallel: { mode: 'sequential' } }, 7);
    process.stderr.write(`batching bench: ${config.name}: closed loop, ${CLIENTS} clients\n`);
    const closed = await closedLoop(fleet, CLIENTS, 20_000);
    process.stderr.write(`batching bench: ${config.name}: ${imageJobs} image jobs at once\n`);
    peakMembers = 0;
    const commandsBefore = await redisCommands(redis);
    const images = await burst(fleet, Array.from({ length: imageJobs }, (_, i) => ({ type: 'image', model: 'digits', prompt: String(i % 10), seed: 100 + i })));
    const imagePeakMembers = peakMembers;
    const redisCommandsPerJob = ((await redisCommands(redis)) - commandsBefore) / imageJobs;
    process.stderr.write(`batching bench: ${config.name}: ${videoJobs} video jobs at once\n`);
    const videos = await burst(fleet, Array.from({ length: videoJobs }, (_, i) => ({ type: 'video', model: 'moving-digits', prompt: String(i % 10), seed: 100 + i, output: { format: 'gif' } })));
    process.stderr.write(`batching bench: ${config.name}: ${textJobs} text jobs at once\n`);
    const texts = await burst(fleet, Array.from({ length: textJobs }, (_, i) => textJob(1000 + i)));
    return { config: config.name, loneAutoMs, loneSequentialMs, closed, images, videos, texts, peakMembers: imagePeakMembers, redisCommandsPerJob, admission };
  } finally {
    clearInterval(watch);
    redis.disconnect();
    await fleet.close();
    outputs.remove();
  }
}

/** A burst's two table cells: jobs/s (and its ratio to the same burst with batching off), p50 / p99 ms. */
const burstCells = (b: Burst, off: Burst): string =>
  `${b.jobsPerSec.toFixed(2)} (${(b.jobsPerSec / off.jobsPerSec).toFixed(2)}×) | ${b.latencyMs.p50.toFixed(0)} / ${b.latencyMs.p99.toFixed(0)}`;

/** Runs the comparison and writes its section. */
export async function runBatchingBench(argv: readonly string[]): Promise<void> {
  const imageJobs = Number(argv.find((a) => a.startsWith('--images='))?.slice(9) ?? 200);
  const videoJobs = Number(argv.find((a) => a.startsWith('--videos='))?.slice(9) ?? 20);
  const textJobs = Number(argv.find((a) => a.startsWith('--texts='))?.slice(8) ?? 40);
  const started = new Date();
  const machine = machineLine();
  const configs: Config[] = [
    { name: 'data parallelism (`GPU_HOST_BATCHING=off`)', host: { batching: 'off' } },
    { name: 'continuous batching, budget 2 × lone step, gain ≥ 1.2 (default)', host: { batching: 'continuous' } },
    { name: 'continuous batching, `GPU_HOST_MAX_STEP_MS=1000` (32-row cap), any gain', host: { batching: 'continuous', maxStepMs: 1000, minBatchGain: 1 } },
    { name: 'the same, `GPU_HOST_PROGRESS_INTERVAL_MS=250` (progress thinned)', host: { batching: 'continuous', maxStepMs: 1000, minBatchGain: 1, progressIntervalMs: 250 } },
  ];
  // `--only=2`: one configuration (profiling); the section is written only for a full run.
  const only = argv.find((a) => a.startsWith('--only='))?.slice(7);
  if (only !== undefined) {
    process.stdout.write(`${JSON.stringify(await measure(configs[Number(only)]!, imageJobs, videoJobs, textJobs))}\n`);
    return;
  }
  const rows: Row[] = [];
  for (const c of configs) rows.push(await measure(c, imageJobs, videoJobs, textJobs));
  const base = rows[0]!;
  const line = (r: Row): string =>
    `| ${r.config} | ${r.loneAutoMs.toFixed(0)} | ${r.loneSequentialMs.toFixed(0)} | ${r.closed.jobsPerSec.toFixed(2)} (${(r.closed.jobsPerSec / base.closed.jobsPerSec).toFixed(2)}×) | ${r.closed.latencyMs.p50.toFixed(0)} / ${r.closed.latencyMs.p99.toFixed(0)} (${(r.closed.latencyMs.p50 / r.loneAutoMs).toFixed(1)}× lone) | ${burstCells(r.images, base.images)} | ${burstCells(r.videos, base.videos)} | ${burstCells(r.texts, base.texts)} | ${r.peakMembers} | ${r.redisCommandsPerJob.toFixed(0)} | ${Object.entries(r.admission).map(([m, a]) => `${m}: ${a}`).join('; ') || '—'} |`;
  const md = [
    '## Continuous batching (`npx tsx bench/fleet.ts batching`)',
    '',
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. A fresh fleet per row (API, GPU host with one group of 2 CPU devices, local-folder store, one process, real Redis), rows run one after another in one run. Lone job: median of 7 submit→finish latencies of a 50-step \`digits\` image job (guidance 2), one at a time — \`auto\` (the default: cfg on both devices when idle) and \`sequential\` (one device: a batch of one when batching is on). 16 users: a closed loop of ${CLIENTS} clients for 20 s, each submitting an auto image job with \`Prefer: wait\` and the next as soon as it ended — latency under a steady load of ${CLIENTS} jobs in the system (the ratio compares it with the lone auto job). Burst (a saturated queue): ${imageJobs} 50-step \`digits\` image jobs (auto) submitted at once; jobs/s = jobs / (last finish − first submit); latency = submit→finish of each job (it includes the wait in the queue, so under a burst it grows with the job's place in line). Video: ${videoJobs} \`moving-digits\` GIF jobs at once. Text: ${textJobs} 30-step \`${TEXT_MODEL}\` jobs at once (the tiny SD 1.5 export in optimum's layout, 64×64, guidance 7.5: text encoder and VAE on the model host, the UNet loop in the batch). Peak members: the most jobs one device's batch held in the image burst. Redis commands per image job: commands the server processed during the image burst (\`INFO stats\`: API, GPU host and this bench's once-a-second polls of unfinished jobs) ÷ jobs. Admission: what each device's calibration decided per model (largest batch within the budget and its work per ms over a lone job's; "off": below the minimum gain, jobs run one per device).`,
    '',
    '| configuration | lone auto ms | lone sequential ms | 16 users: jobs/s | 16 users: latency p50 / p99 ms | burst: image jobs/s | burst: image latency p50 / p99 ms | burst: video jobs/s | burst: video latency p50 / p99 ms | burst: text jobs/s | burst: text latency p50 / p99 ms | peak members | Redis commands per image job | admission |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(line),
  ].join('\n');
  replaceSection('bench/RESULTS.md', 'batching', md);
  process.stdout.write(`${md}\n`);
}
