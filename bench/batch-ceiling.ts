/**
 * What continuous batching saves inside the kernels on this machine (issue #12): a denoiser call's
 * time per row at batch 1…64, one intra-op thread, the process pinned to one core (as a stage
 * process is). A job with guidance runs 2 rows per step; a batch of B jobs runs 2B rows in one
 * call, so the ORT work per job falls by (ms/row at 2 rows) ÷ (ms/row at 2B rows). A fleet gains
 * that plus what the batch's jobs share of each step's cost outside the call (shared-memory
 * hand-off, doorbells, the coordinator's JS), which this bench does not see. Also the share
 * of Conv in the kernel time (ORT's own profiler): a compute-bound kernel whose per-row cost does
 * not shrink with the batch. Writes the "batch-ceiling" section of bench/RESULTS.md.
 *
 *   npx tsx bench/batch-ceiling.ts [--rounds 3]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { findModelPackage } from '@asyncdiff/models';
import { setProcessAffinity } from '@asyncdiff/shm';
import ort from 'onnxruntime-node';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { median } from '../apps/cli/src/bench/stats.js';

// ORT is used directly here, not through our libs: no telemetry (see libs/stages/src/ort-env.ts).
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const BATCHES = [1, 2, 4, 8, 16, 32, 64] as const;
/** Rows of one guided job, the unit data parallelism runs per device. */
const LONE_ROWS = 2;
/** The default admission cap's largest batch (`GPU_HOST_MAX_BATCH_ROWS`). */
const CAP_ROWS = 32;

/** A denoiser and how to feed it `rows` rows. */
interface Subject {
  readonly name: string;
  readonly file: string;
  feeds(rows: number): Record<string, ort.Tensor>;
}

const filled = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

function packaged(name: string): Subject {
  const model = findModelPackage(name);
  const n = model.sampleDims.reduce((a, b) => a * b, 1);
  return {
    name,
    file: model.denoiserPath,
    feeds: (rows) => ({
      [model.io.sample]: new ort.Tensor('float32', filled(rows * n, Math.sin), [rows, ...model.sampleDims]),
      [model.io.timestep]: new ort.Tensor('float32', new Float32Array(rows).fill(500), [rows]),
      [model.io.classLabels]: new ort.Tensor('int64', BigInt64Array.from({ length: rows }, (_, i) => BigInt(i % 10)), [rows]),
    }),
  };
}

/** The tiny SD 1.5 export's UNet at 64×64 (8×8 latents), 77 tokens, per-sample timesteps. */
const tinySd15: Subject = {
  name: 'tiny-sd15 UNet (64×64)',
  file: 'test/fixtures/pipelines/tiny-sd15/unet/model.onnx',
  feeds: (rows) => ({
    sample: new ort.Tensor('float32', filled(rows * 4 * 8 * 8, Math.sin), [rows, 4, 8, 8]),
    timestep: new ort.Tensor('int64', new BigInt64Array(rows).fill(500n), [rows]),
    encoder_hidden_states: new ort.Tensor('float32', filled(rows * 77 * 32, Math.cos), [rows, 77, 32]),
  }),
};

function options(profile?: string): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}) };
}

/** Median ms of one call at `rows`, after a warm-up; about 0.5 s of calls per size. */
async function callMs(session: ort.InferenceSession, subject: Subject, rows: number): Promise<number> {
  const feeds = subject.feeds(rows);
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const t = performance.now();
  await session.run(feeds);
  const n = Math.max(10, Math.min(400, Math.round(500 / (performance.now() - t))));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    out.push(performance.now() - t0);
  }
  return median(out);
}

/** Conv's share of the kernel time of 20 calls at `rows`, from ORT's profile. */
async function convShare(subject: Subject, rows: number): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'batch-ceiling-'));
  const session = await ort.InferenceSession.create(subject.file, options(path.join(dir, 'ort')));
  const feeds = subject.feeds(rows);
  for (let i = 0; i < 20; i++) await session.run(feeds);
  session.endProfiling(); // onnxruntime-node returns nothing: the file is <prefix>_<date>.json
  await session.release();
  const name = readdirSync(dir).find((f) => f.endsWith('.json'));
  if (!name) throw new Error(`no ORT profile in ${dir}`);
  const events = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as { cat?: string; name: string; dur: number; args?: { op_name?: string } }[];
  rmSync(dir, { recursive: true, force: true });
  let conv = 0;
  let all = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    all += e.dur;
    if (e.args?.op_name === 'Conv') conv += e.dur;
  }
  return conv / all;
}

const started = new Date();
const machine = machineLine(); // before pinning: it reports the machine's cores
setProcessAffinity([0]);
const rows: string[] = [];
for (const subject of [packaged('digits'), packaged('moving-digits'), tinySd15]) {
  const perRow = new Map<number, number[]>(BATCHES.map((b) => [b, []]));
  for (let r = 0; r < rounds; r++) {
    const session = await ort.InferenceSession.create(subject.file, options());
    for (const b of BATCHES) perRow.get(b)!.push((await callMs(session, subject, b)) / b);
    await session.release();
    process.stderr.write(`batch-ceiling: ${subject.name} round ${r + 1}/${rounds}\n`);
  }
  const m = (b: number): number => median(perRow.get(b)!);
  const best = Math.min(...BATCHES.filter((b) => b <= CAP_ROWS).map(m));
  const [lone, wide] = [await convShare(subject, LONE_ROWS), await convShare(subject, CAP_ROWS)];
  rows.push(`| ${subject.name} | ${BATCHES.map((b) => m(b).toFixed(3)).join(' | ')} | ${(m(LONE_ROWS) / best).toFixed(2)}× | ${(100 * lone).toFixed(0)}% / ${(100 * wide).toFixed(0)}% |`);
}
const md = [
  '## Batch size vs the cost per row of a denoiser call (`npx tsx bench/batch-ceiling.ts`)',
  '',
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. onnxruntime-node directly, one intra-op thread, graph optimisation "all", the process pinned to core 0 (as a stage process is); median ms of one call ÷ rows, median of ${rounds} rounds (fresh session each). A guided job is ${LONE_ROWS} rows per step, so "kernel gain" = ms/row at ${LONE_ROWS} rows ÷ the best ms/row up to ${CAP_ROWS} rows: how much of a job's work inside the ORT call a continuous batch saves on this machine. A fleet also shares each step's cost outside the call (shared-memory hand-off, doorbells, the coordinator's JS) between the batch's jobs, which this bench does not see, so its jobs/s can grow by more (see "Continuous batching"). Conv share: Conv's part of the kernel time at ${LONE_ROWS} / ${CAP_ROWS} rows (ORT's profiler).`,
  '',
  `| denoiser | ${BATCHES.map((b) => `${b} row${b > 1 ? 's' : ''} ms/row`).join(' | ')} | kernel gain (${LONE_ROWS} → ≤ ${CAP_ROWS} rows) | Conv share ${LONE_ROWS} / ${CAP_ROWS} rows |`,
  `|---|${BATCHES.map(() => '---:').join('|')}|---:|---:|`,
  ...rows,
].join('\n');
replaceSection('bench/RESULTS.md', 'batch-ceiling', md);
process.stdout.write(`${md}\n`);
