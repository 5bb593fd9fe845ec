/**
 * The engine at real scale (issue #10 §5): a full-size SD 1.5-shaped UNet (859.5 M parameters,
 * random weights, 3.44 GB of external data, optimum's layout) denoising with classifier-free
 * guidance (batch 2), side by side in one run:
 *   - sequential on one core (one stage process pinned to core 0, 1 ORT thread);
 *   - sequential on both cores (one stage process, 2 ORT threads);
 *   - AsyncDiff N = 2 stride 1, one core per stage (speed-balanced cut), and the same with each
 *     stage capped at `--cap` of the weights (memory-balanced cut);
 *   - cfg: the guidance halves at batch 1 on one core each (exact).
 * Engines are opened one at a time (each holds a copy of the UNet's weights: all at once would
 * not fit in 24 GB next to other work) and the configurations are visited in interleaved rounds,
 * so ratios come from one run.
 *
 *   make -C tools/sd-fixtures full-sd15-unet      # once: writes var/models/full-sd15 (≈ 23 min, 10 GB RAM)
 *   npm run build
 *   npx tsx bench/real-scale.ts [--model var/models/full-sd15] [--size 256] [--steps 6] [--rounds 2] [--cap 0.6]
 *
 * Prints a table and writes the "Real scale" section of bench/RESULTS.md (+ bench/out/real-scale.json).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { GuidanceConditioning } from '@asyncdiff/asyncdiff';
import { Engine, type ParallelOptions } from '@asyncdiff/engine';
import { findGenerator, type DiffusersPackage } from '@asyncdiff/models';
import { ProcessRunner, peakRss, type DeviceSpec } from '@asyncdiff/stages';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'var/models/full-sd15' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    cap: { type: 'string', default: '0.6' },
    only: { type: 'string' },
    results: { type: 'string', default: 'bench/RESULTS.md' },
  },
});
const size = Number(values.size);
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const cap = Number(values.cap);
if (!existsSync(path.join(values.model, 'model_index.json'))) {
  console.error(`${values.model} is missing: make -C tools/sd-fixtures full-sd15-unet (writes var/models/full-sd15)`);
  process.exit(2);
}
const model = findGenerator(values.model) as DiffusersPackage;
const latent = size / model.vae.scaleFactor;
const cpu = (...cores: number[]): DeviceSpec => ({ kind: 'cpu', cpus: cores });

interface Config {
  readonly id: string;
  readonly label: string;
  readonly parallel: ParallelOptions;
  readonly devices: readonly DeviceSpec[];
  readonly maxStageWeightShare?: number;
}
const ALL: Config[] = [
  { id: 'seq-1', label: 'sequential, 1 core', parallel: { mode: 'sequential' }, devices: [cpu(0)] },
  { id: 'seq-2', label: 'sequential, 2 cores (2 ORT threads)', parallel: { mode: 'sequential' }, devices: [cpu(0, 1)] },
  { id: 'async', label: 'AsyncDiff N = 2 stride 1 W = 1 (speed-balanced cut)', parallel: { mode: 'async', stages: 2, warmup: 1 }, devices: [cpu(0), cpu(1)] },
  {
    id: 'async-cap',
    label: `AsyncDiff N = 2 stride 1 W = 1 (each stage ≤ ${cap} of the weights)`,
    parallel: { mode: 'async', stages: 2, warmup: 1 },
    devices: [cpu(0), cpu(1)],
    maxStageWeightShare: cap,
  },
  { id: 'cfg', label: 'cfg: guidance halves on one core each (exact)', parallel: { mode: 'cfg' }, devices: [cpu(0), cpu(1)] },
];
const CONFIGS = ALL.filter((c) => !values.only || values.only.split(',').includes(c.id));

/** Random but fixed text conditioning (the UNet's cost does not depend on the values). */
function conditioning(): GuidanceConditioning {
  const width = model.unet.crossAttentionDim;
  const rows = (seed: number): Float32Array => Float32Array.from({ length: 77 * width }, (_, i) => Math.sin(i * 0.37 + seed));
  return {
    images: 1,
    cond: { encoder_hidden_states: { dtype: 'float32', dims: [1, 77, width], data: rows(1) } },
    uncond: { encoder_hidden_states: { dtype: 'float32', dims: [1, 77, width], data: rows(2) } },
  };
}

interface Sample {
  /** Per-step wall times (ms) of the steady steps (after the warm-up step). */
  readonly stepMs: number[];
  readonly openMs: number;
  readonly handoffShare: number | undefined;
  readonly criticalShare: number | undefined;
  /** Mean time inside session.run per step, per stage process (ms): where an unbalanced cut shows. */
  readonly stageRunMs: number[];
  readonly stageWeightBytes: number[];
  readonly stagePeakRssBytes: number[];
}

async function measure(c: Config): Promise<Sample> {
  const t0 = performance.now();
  const engine = await Engine.open({
    model,
    parallel: c.parallel,
    devices: c.devices,
    wait: 'sync',
    maxBatch: 2,
    stageStepTimeoutMs: 0,
    ...(c.maxStageWeightShare !== undefined && { maxStageWeightShare: c.maxStageWeightShare }),
  });
  const openMs = performance.now() - t0;
  try {
    const runner = engine.runner;
    const before = runner instanceof ProcessRunner ? { ...runner.stats, sessionUs: [...runner.stats.sessionUs] } : undefined;
    const stepMs: number[] = [];
    await engine.generate({ conditioning: conditioning(), sampleDims: [model.unet.inChannels, latent, latent], seed: 1, steps, guidance: 7.5, scheduler: 'ddim', onStep: (p) => stepMs.push(p.stepMs) });
    let handoffShare: number | undefined;
    let criticalShare: number | undefined;
    let stageRunMs: number[] = [];
    if (runner instanceof ProcessRunner && before) {
      const s = runner.stats;
      const stepUs = s.stepUs - before.stepUs;
      handoffShare = (s.handoffUs - before.handoffUs) / stepUs;
      criticalShare = (s.criticalSessionUs - before.criticalSessionUs) / stepUs;
      stageRunMs = s.sessionUs.map((us, d) => (us - (before.sessionUs[d] ?? 0)) / 1000 / steps);
    }
    const stageWeightBytes = engine.pipeline.components.map((comp) => {
      const data = comp.modelPath.replace(/\.onnx$/, '.onnx_data');
      return statSync(comp.modelPath).size + (existsSync(data) ? statSync(data).size : 0);
    });
    const stagePeakRssBytes = runner instanceof ProcessRunner ? runner.pids.map((pid) => peakRss(pid)) : [];
    return { stepMs: stepMs.slice(1), openMs, handoffShare, criticalShare, stageRunMs, stageWeightBytes, stagePeakRssBytes };
  } finally {
    await engine.close();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const started = new Date();
const unetBytes = statSync(path.join(model.dir, 'unet', 'model.onnx_data')).size + statSync(model.unet.path).size;
const samples = new Map<string, Sample[]>();
for (let r = 0; r < rounds; r++) {
  for (const c of r % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) {
    console.error(`round ${r + 1}/${rounds}: ${c.label} (load ${loadavg()[0]!.toFixed(1)})`);
    const s = await measure(c);
    console.error(`  open ${(s.openMs / 1000).toFixed(1)} s, steps ${s.stepMs.map((x) => (x / 1000).toFixed(2)).join(' ')} s`);
    samples.set(c.id, [...(samples.get(c.id) ?? []), s]);
  }
}

const stepOf = (id: string): number => median(samples.get(id)?.flatMap((s) => s.stepMs) ?? []);
const seq1 = stepOf('seq-1');
const seq2 = stepOf('seq-2');
const GB = 1e9;
const rows = CONFIGS.map((c) => {
  const all = samples.get(c.id)!;
  const last = all[all.length - 1]!;
  const step = stepOf(c.id);
  const weights = last.stageWeightBytes.map((b) => `${(b / GB).toFixed(2)} GB (${((100 * b) / unetBytes).toFixed(0)} %)`).join(' / ');
  const rss = last.stagePeakRssBytes.map((b) => (b / GB).toFixed(1)).join(' / ');
  const share = (pick: (s: Sample) => number | undefined): string => {
    const xs = all.flatMap((s) => (pick(s) === undefined ? [] : [pick(s) as number]));
    return xs.length ? `${(100 * median(xs)).toFixed(2)} %` : '–';
  };
  const runs = last.stageRunMs.map((_, d) => (median(all.map((s) => s.stageRunMs[d] ?? NaN)) / 1000).toFixed(2)).join(' / ');
  return {
    c,
    step,
    line: `| ${c.label} | ${(step / 1000).toFixed(2)} | ${(seq1 / step).toFixed(2)}× | ${(seq2 / step).toFixed(2)}× | ${weights} | ${rss} | ${runs || '–'} | ${share((s) => s.criticalShare)} | ${share((s) => s.handoffShare)} | ${(median(all.map((s) => s.openMs)) / 1000).toFixed(0)} |`,
  };
});
const machine = `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
const section = [
  '## Real scale: a full-size SD 1.5-shaped UNet',
  '',
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine} (load average at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')}), \`npx tsx bench/real-scale.ts --size ${size} --steps ${steps} --rounds ${rounds} --cap ${cap}\`. UNet: ${(unetBytes / GB).toFixed(2)} GB of float32 weights (random, 859.5 M parameters), ${size}×${size} output (latent ${latent}×${latent}), classifier-free guidance (batch 2), DDIM; per configuration ${rounds} interleaved round(s) of ${steps} steps, median of the steps after the first (AsyncDiff's warm-up step). Engines are opened one at a time.`,
  '',
  '| configuration | s / step | vs seq. 1 core | vs seq. 2 cores | weights per stage | peak RSS per stage (GB) | session.run per stage (s / step) | slowest session.run / step | hand-off / step | open (s) |',
  '|---|---:|---:|---:|---|---|---|---:|---:|---:|',
  ...rows.map((r) => r.line),
  '',
].join('\n');
console.log(section);
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/real-scale.json', JSON.stringify({ started, size, steps, rounds, cap, unetBytes, samples: Object.fromEntries(samples) }, null, 2));
const results = existsSync(values.results) ? readFileSync(values.results, 'utf8') : '# Benchmark results\n';
const start = results.indexOf('## Real scale');
const next = start < 0 ? -1 : results.indexOf('\n## ', start + 1);
const updated = start < 0 ? `${results.trimEnd()}\n\n${section}` : `${results.slice(0, start)}${section}${next < 0 ? '' : results.slice(next + 1)}`;
writeFileSync(values.results, updated.endsWith('\n') ? updated : `${updated}\n`);
