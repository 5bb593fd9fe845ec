/**
 * Lone-job latency with continuous batching on vs off (issue #12: "lone-job latency unchanged,
 * ± 5%"), measured so that the answer survives this machine's noise. The batching bench runs its
 * configurations one after another, 7 lone jobs each, and its lone rows moved 134–217 ms between
 * runs with no pattern. Here one fleet per configuration (API + GPU host, one group of 2 CPU
 * devices, real Redis) is up at the same time and they take turns, one job at a time, each pass
 * in a fresh random order, so drift in the machine's load falls on all alike and no fleet is
 * always the one that runs right after itself (its stages and caches still warm: a fixed order
 * such as A B C C B A gave that to two fleets of three); the result per batching configuration
 * is the median of its ratios to the data-parallel job of the same pass, with a bootstrap 95%
 * interval over the passes. Writes the "lone" section of bench/RESULTS.md.
 *
 *   npm run build && npx tsx bench/fleet.ts lone [--passes=100]
 */
import { createModelCatalog } from '@asyncdiff/queue';
import { createLocalObjectStore } from '@asyncdiff/storage';

import type { GpuHostOptions } from '../apps/gpu-host/src/index.js';
import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { quantile } from '../apps/cli/src/bench/stats.js';
import { freePort, modelsDir, startFleet, tempDir, type Fleet } from '../test/support/fleet.js';
import { admissionLog } from './admission-log.js';

interface Side {
  readonly name: string;
  readonly host: Partial<GpuHostOptions>;
}

/** The baseline first; every other side is compared with it. */
const SIDES: readonly Side[] = [
  { name: 'data parallelism (`GPU_HOST_BATCHING=off`)', host: { batching: 'off' } },
  { name: 'continuous batching, default admission', host: { batching: 'continuous' } },
  // Batches on every device whatever the measured gain: each lone job runs as a batch of one.
  { name: 'continuous batching, 32-row cap, any gain', host: { batching: 'continuous', maxStepMs: 1000, minBatchGain: 1 } },
];

/** The two ways a lone job runs: auto (cfg on both devices when idle) and one device. */
const MODES = [
  { name: 'auto', parallel: undefined },
  { name: 'sequential', parallel: { mode: 'sequential' } },
] as const;

/** Submit→finish ms of one 50-step `digits` job (server-side times, `Prefer: wait`), and of that its denoising. */
async function loneMs(fleet: Fleet, parallel: unknown, seed: number): Promise<{ totalMs: number; denoiseMs: number }> {
  const body = { type: 'image', model: 'digits', prompt: String(seed % 10), seed, ...(parallel ? { parallel } : {}) };
  const res = await fetch(`${fleet.api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait=60' }, body: JSON.stringify(body) });
  const j = (await res.json()) as { status: string; createdAt: string; finishedAt: string | null; timings: { denoiseMs: number } | null };
  if (j.status !== 'succeeded' || !j.timings) throw new Error(`lone job ended ${j.status} (HTTP ${res.status})`);
  return { totalMs: Date.parse(j.finishedAt!) - Date.parse(j.createdAt), denoiseMs: j.timings.denoiseMs };
}

/** A deterministic generator (mulberry32) for the pass order and the bootstrap: a rerun orders and resamples alike. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of `xs` in random order (Fisher–Yates over `next`). */
function shuffled<T>(xs: readonly T[], next: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Median of `ratios` and its 95% percentile-bootstrap interval (2,000 resamples of the pairs). */
function medianWithInterval(ratios: readonly number[]): { median: number; low: number; high: number } {
  const next = rng(12);
  const medians: number[] = [];
  for (let b = 0; b < 2000; b++) medians.push(quantile(Array.from({ length: ratios.length }, () => ratios[Math.floor(next() * ratios.length)]!), 0.5));
  return { median: quantile(ratios, 0.5), low: quantile(medians, 0.025), high: quantile(medians, 0.975) };
}

/** One mode's latencies per side (SIDES order) and each batching side's ratios to the baseline. */
interface ModeResult {
  readonly mode: string;
  readonly ms: number[][];
  /** The denoising part of each job (the job record's `timings.denoiseMs`), per side. */
  readonly denoiseMs: number[][];
  /** ratios[k]: side k ÷ the baseline job of the same pass (empty for the baseline). */
  readonly ratios: number[][];
}

/** Runs the interleaved comparison and writes its section. */
export async function runLoneBench(argv: readonly string[]): Promise<void> {
  const passes = Number(argv.find((a) => a.startsWith('--passes='))?.slice(9) ?? 100);
  const started = new Date();
  const machine = machineLine();
  const outputs = tempDir('fleet-lone');
  const fleets: Fleet[] = [];
  const admission = SIDES.map((_, k) => admissionLog(`bench-lone-${k}`));
  try {
    const models = modelsDir(outputs.dir, ['digits'], []);
    for (const [k, side] of SIDES.entries()) {
      const port = await freePort();
      const store = createLocalObjectStore({ rootDir: outputs.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
      fleets.push(await startFleet(store, port, { host: { ...side.host, modelsDir: models, logger: admission[k]!.logger }, api: { queue: { models: createModelCatalog(models) } } }));
    }
    // Open every engine both modes use and let each batching host measure its admission limit
    // (a burst opens a batch), so no measured job pays a start-up.
    for (const f of fleets) {
      await Promise.all(Array.from({ length: 6 }, (_, i) => loneMs(f, undefined, i)));
      for (const m of MODES) for (let i = 0; i < 3; i++) await loneMs(f, m.parallel, 900 + i);
    }
    const results: ModeResult[] = [];
    for (const m of MODES) {
      process.stderr.write(`lone bench: ${m.name}, ${passes} passes\n`);
      const nextOrder = rng(7);
      const r: ModeResult = { mode: m.name, ms: SIDES.map(() => []), denoiseMs: SIDES.map(() => []), ratios: SIDES.map(() => []) };
      for (let pass = 0; pass < passes; pass++) {
        const ms: number[] = [];
        for (const k of shuffled(SIDES.map((_, k) => k), nextOrder)) {
          const { totalMs, denoiseMs } = await loneMs(fleets[k]!, m.parallel, 1000 + pass);
          ms[k] = totalMs;
          r.denoiseMs[k]!.push(denoiseMs);
        }
        for (const [k, v] of ms.entries()) {
          r.ms[k]!.push(v);
          if (k > 0) r.ratios[k]!.push(v / ms[0]!);
        }
      }
      results.push(r);
    }
    const pct = (x: number): string => `${x >= 1 ? '+' : '−'}${Math.abs(100 * (x - 1)).toFixed(1)}%`;
    const ms = (xs: readonly number[]): string => `${quantile(xs, 0.5).toFixed(0)} (p90 ${quantile(xs, 0.9).toFixed(0)})`;
    const lines = results.flatMap((r) =>
      SIDES.map((side, k) => {
        const head = `| ${r.mode} | ${side.name} | ${ms(r.ms[k]!)} | ${quantile(r.denoiseMs[k]!, 0.5).toFixed(0)}`;
        if (k === 0) return `${head} | — | — |`;
        const ci = medianWithInterval(r.ratios[k]!);
        const within = ci.low >= 0.95 && ci.high <= 1.05 ? 'yes' : ci.high < 0.95 || ci.low > 1.05 ? 'no' : 'undecided';
        return `${head} | ${pct(ci.median)} [${pct(ci.low)}, ${pct(ci.high)}] | ${within} |`;
      }),
    );
    const decided = SIDES.slice(1)
      .map((side, k) => `${side.name}: ${Object.entries(admission[k + 1]!.decisions).map(([model, a]) => `${model} ${a}`).join('; ') || 'no batch opened'}`)
      .join('; ');
    const md = [
      '## Lone-job latency, batching on vs off, interleaved (`npx tsx bench/fleet.ts lone`)',
      '',
      `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. One fleet per configuration, all up at once on one Redis (each: API, GPU host with one group of 2 CPU devices pinned to the same two cores, local-folder store). One 50-step \`digits\` image job (guidance 2) at a time with \`Prefer: wait\`; the fleets take turns, one job each per pass, each pass in a fresh random order (seeded), ${passes} passes per mode, the same seeds on every fleet; latency = submit→finish from the job record. Change = median over the ${passes} passes of (this fleet's job ÷ the data-parallel job of the same pass), with a 95% bootstrap interval over the passes; "within ± 5%" = the whole interval inside 0.95–1.05 (issue #12's target). Admission per device — ${decided}.`,
      '',
      '| lone job mode | configuration | submit→finish median ms (p90) | of which denoising, median ms | change vs data parallelism [95% interval] | within ± 5% |',
      '|---|---|---:|---:|---:|---|',
      ...lines,
    ].join('\n');
    replaceSection('bench/RESULTS.md', 'lone', md);
    process.stdout.write(`${md}\n`);
  } finally {
    for (const f of fleets) await f.close();
    outputs.remove();
  }
}
