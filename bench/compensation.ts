/**
 * Staleness compensation for AsyncDiff (issue #11 §3): the quality of AsyncDiff with and without
 * compensating the one-step-stale boundary inputs, on both shipped models, next to sequential
 * sampling of the same seeds — including the alternatives that were tried and failed.
 *
 * Rows (all in-process: the runners execute the same plans to float tolerance, so quality does
 * not depend on processes or load):
 * - `none` / `linear` / `quadratic`: Lagrange extrapolation in the timestep of order 0/1/2;
 * - `linear ×γ`: the extrapolation damped uniformly (γ = 0.5);
 * - `linear, calibrated γ per tensor`: γ fitted per boundary tensor by least squares on a
 *   sequential calibration run of other seeds (how well h_{s-1} + γ(h_{s-1} − h_{s-2}) predicts h_s);
 * - `eps ×α`: no feature compensation, the final prediction extrapolated instead
 *   (eps_s + α(eps_s − eps_{s-1}) in parallel steps).
 *
 * Two Fréchet distances: in the evaluation classifier's 128-d feature space (the one the goal is
 * stated in) and on 8×8 area-pooled pixels (64-d), both against the real digits (video: real
 * frames); plus ink and edge statistics that explain where the two disagree.
 *
 *   nice -n 10 npx tsx bench/compensation.ts [--per-class 50] [--video-clips 100] [--skip-video] [--skip-digits] [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import {
  buildSchedule,
  sample,
  type Compensation,
  type GenerationBatch,
  type PipelineSpec,
  type PlannedStep,
  type Schedule,
  type StageRunner,
} from '@asyncdiff/asyncdiff';
import { featureStats, frechetDistanceFromStats, openEvaluator, type Evaluator, type FeatureStats } from '@asyncdiff/eval';
import { findModelPackage, type ModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { classConditioning, denoiserOf, schedulerOptions, splitForModel, wholeModelPipeline } from '@asyncdiff/engine';
import { InProcessRunner, type InProcessRunnerOptions } from '@asyncdiff/stages';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { measureQuality, type Quality } from '../apps/cli/src/quality/measure.js';
import { balancedClasses, type SampleSet } from '../apps/cli/src/quality/sample-set.js';

const { values } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '50' },
    'video-clips': { type: 'string', default: '100' },
    'skip-video': { type: 'boolean', default: false },
    'skip-digits': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'calibration-images': { type: 'string', default: '50' },
    results: { type: 'string', default: 'bench/RESULTS.md' },
  },
});
const STEPS = 50;
const WARMUP = 3;
const started = new Date();
const machine = machineLine();
const log = (s: string): void => void process.stderr.write(`compensation: ${s}\n`);

/** One measured configuration. */
interface Row {
  readonly label: string;
  readonly stages: number;
  readonly stride: 1 | 2;
  readonly compensation: Compensation;
  /** Uniform damping of the feature compensation, or 'calibrated' (per tensor). */
  readonly damping?: number | 'calibrated';
  /** Final-prediction extrapolation factor α (feature compensation off). */
  readonly epsAlpha?: number;
}

/** Where a set lies: both Fréchet distances, PSNR/SSIM against sequential, and image statistics. */
interface Measured {
  readonly row: Row;
  readonly q: Quality;
  /** The part of each Fréchet distance that is the squared distance of the means (the rest: covariances). */
  readonly meanTerm: number;
  readonly pixelMeanTerm: number;
  readonly pixelFrechet: number;
  /** The issue's variant: the first 480 generated against the first 480 real images. */
  readonly pixelFrechet480: number;
  readonly ink: number;
  readonly edge: number;
  readonly ms: number;
}

/**
 * Wraps a runner so that parallel steps' noise predictions are extrapolated forward
 * (eps + α(eps − eps_prev)): the "compensate the final prediction" alternative.
 */
class EpsExtrapolatingRunner implements StageRunner {
  private prev: Float32Array | undefined;
  private phase: PlannedStep['phase'] = 'warmup';
  private out = new Float32Array(0);
  constructor(
    private readonly inner: StageRunner,
    private readonly alpha: number,
  ) {}
  get devices(): number {
    return this.inner.devices;
  }
  get components(): number {
    return this.inner.components;
  }
  begin(b: GenerationBatch): Promise<void> {
    this.prev = undefined;
    return this.inner.begin(b);
  }
  runStep(step: PlannedStep, latent: Float32Array, tv: Float64Array): Promise<void> {
    this.phase = step.phase;
    return this.inner.runStep(step, latent, tv);
  }
  eps(device: number): Float32Array {
    const raw = this.inner.eps(device);
    const prev = this.prev;
    this.prev = Float32Array.from(raw);
    if (this.phase !== 'parallel' || !prev) return raw;
    if (this.out.length !== raw.length) this.out = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) this.out[i] = (raw[i] as number) + this.alpha * ((raw[i] as number) - (prev[i] as number));
    return this.out;
  }
  stageStatus(): ReturnType<StageRunner['stageStatus']> {
    return this.inner.stageStatus();
  }
  checkHealth(ms: number): Promise<readonly number[]> {
    return this.inner.checkHealth(ms);
  }
  recover(): Promise<readonly number[]> {
    return this.inner.recover();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Frames of a set as [count, h, w] values clipped to [-1, 1]. */
function frames(set: SampleSet): { data: Float32Array; count: number; h: number; w: number } {
  const d = set.sampleDims;
  const [h, w] = [d[d.length - 2]!, d[d.length - 1]!];
  const data = set.latents.map((v) => Math.max(-1, Math.min(1, v)));
  return { data, count: data.length / (h * w), h, w };
}

/** 2×2 area pooling (16×16 → 8×8): the pixel space of the second Fréchet distance. */
function pooled(data: Float32Array, count: number, h: number, w: number): Float32Array {
  const ph = h / 2;
  const pw = w / 2;
  const out = new Float32Array(count * ph * pw);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const b = n * h * w + 2 * y * w + 2 * x;
        out[n * ph * pw + y * pw + x] = ((data[b] as number) + (data[b + 1] as number) + (data[b + w] as number) + (data[b + w + 1] as number)) / 4;
      }
    }
  }
  return out;
}

/** Mean ink ((v+1)/2) and mean absolute horizontal+vertical gradient (edge sharpness) per pixel. */
function inkAndEdges(data: Float32Array, count: number, h: number, w: number): { ink: number; edge: number } {
  let ink = 0;
  let edge = 0;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = n * h * w + y * w + x;
        ink += ((data[i] as number) + 1) / 2;
        if (x + 1 < w) edge += Math.abs((data[i + 1] as number) - (data[i] as number));
        if (y + 1 < h) edge += Math.abs((data[i + w] as number) - (data[i] as number));
      }
    }
  }
  return { ink: ink / (count * h * w), edge: edge / (count * h * w) };
}

/**
 * Per boundary tensor, the least-squares damping γ of linear extrapolation on a sequential run
 * (the true trajectory of hidden states): argmin Σ_s ‖h_s − h_{s-1} − γ·r_s(h_{s-1} − h_{s-2})‖².
 * Also how much of the stale input's error the full (γ = 1) and the fitted extrapolation remove.
 */
async function calibrate(
  model: ModelPackage,
  pipeline: PipelineSpec,
  images: number,
): Promise<{ gamma: Record<string, number>; report: { name: string; gamma: number; staleErr: number; linearErr: number; fittedErr: number }[] }> {
  const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', STEPS));
  const tv = scheduler.timesteps;
  const boundary = new Set(pipeline.components.flatMap((c) => c.inputs.flatMap((i) => (i.kind === 'boundary' ? [i.name] : []))));
  const acc = new Map<string, { num: number; den: number; stale: number; lin: number; cross: number }>();
  const hist = new Map<string, Float32Array[]>();
  const runner = await InProcessRunner.create(pipeline, {
    onOutputs: (step, _device, outputs) => {
      for (const [name, t] of Object.entries(outputs)) {
        if (!boundary.has(name) || t.type !== 'float32') continue;
        const h = hist.get(name) ?? [];
        h.unshift(Float32Array.from(t.data as Float32Array));
        if (h.length > 3) h.pop();
        hist.set(name, h);
        if (h.length < 3 || step < 2) continue;
        const [h0, h1, h2] = h as [Float32Array, Float32Array, Float32Array];
        const r = (tv[step]! - tv[step - 1]!) / (tv[step - 1]! - tv[step - 2]!);
        const a = acc.get(name) ?? { num: 0, den: 0, stale: 0, lin: 0, cross: 0 };
        for (let i = 0; i < h0.length; i++) {
          const d0 = (h0[i] as number) - (h1[i] as number); // true change h_s − h_{s-1}
          const d1 = r * ((h1[i] as number) - (h2[i] as number)); // predicted change
          a.num += d0 * d1;
          a.den += d1 * d1;
          a.stale += d0 * d0;
        }
        acc.set(name, a);
      }
    },
  });
  const schedule = buildSchedule({ steps: STEPS, stages: pipeline.components.length, stride: 1, warmup: STEPS, timeShift: false });
  const classIds = balancedClasses(model, Math.max(1, Math.round(images / model.classes.length)));
  try {
    for (let s = 0; s < classIds.length; s += 25) {
      hist.clear();
      const chunk = classIds.slice(s, s + 25);
      await sample({ runner, schedule, scheduler: createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', STEPS)), sampleDims: model.sampleDims, conditioning: classConditioning(model, chunk), seed: 100_000 + s, guidance: model.defaults.guidance });
    }
  } finally {
    await runner.close();
  }
  const gamma: Record<string, number> = {};
  const report = [...acc.entries()].map(([name, a]) => {
    const g = a.den > 0 ? a.num / a.den : 0;
    gamma[name] = g;
    // ‖d0 − γ d1‖² = stale − 2γ num + γ² den
    return { name, gamma: g, staleErr: 1, linearErr: (a.stale - 2 * a.num + a.den) / a.stale, fittedErr: (a.stale - 2 * g * a.num + g * g * a.den) / a.stale };
  });
  return { gamma, report };
}

async function generate(
  model: ModelPackage,
  pipeline: PipelineSpec,
  schedule: Schedule,
  classIds: readonly number[],
  options: InProcessRunnerOptions & { epsAlpha?: number },
): Promise<SampleSet> {
  const batch = model.kind === 'video' ? 10 : 25;
  const per = model.sampleDims.reduce((a, b) => a * b, 1);
  const inner = await InProcessRunner.create(pipeline, { ...options, devices: schedule.devices });
  const runner = options.epsAlpha !== undefined ? new EpsExtrapolatingRunner(inner, options.epsAlpha) : inner;
  const t0 = performance.now();
  try {
    const latents = new Float32Array(classIds.length * per);
    for (let s = 0; s < classIds.length; s += batch) {
      const chunk = classIds.slice(s, s + batch);
      const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', STEPS));
      const r = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, chunk), seed: s, guidance: model.defaults.guidance });
      latents.set(r.latents, s * per);
    }
    return { latents, classIds, seedBase: 0, sampleDims: model.sampleDims, ms: performance.now() - t0 };
  } finally {
    await runner.close();
  }
}

function meanDistance(a: FeatureStats, b: FeatureStats): number {
  let d = 0;
  for (let i = 0; i < a.dim; i++) d += ((a.mean[i] as number) - (b.mean[i] as number)) ** 2;
  return d;
}

async function measure(evaluator: Evaluator, row: Row, set: SampleSet, ref: SampleSet | undefined, realPooled: Float32Array, realCount: number): Promise<Measured> {
  const q = await measureQuality(evaluator, set, ref);
  const f = frames(set);
  const features = (await evaluator.classify(f.data, f.count)).features;
  const meanTerm = meanDistance(featureStats(features, f.count, evaluator.package.featureSize), await evaluator.referenceStats(set.sampleDims.length === 4 ? 'videoFrames' : 'images'));
  const p = pooled(f.data, f.count, f.h, f.w);
  const dim = (f.h / 2) * (f.w / 2);
  const genPixel = featureStats(p, f.count, dim);
  const realPixel = featureStats(realPooled, realCount, dim);
  const pixelFrechet = frechetDistanceFromStats(genPixel, realPixel);
  const n480 = Math.min(480, f.count, realCount);
  const pixelFrechet480 = frechetDistanceFromStats(featureStats(p.subarray(0, n480 * dim), n480, dim), featureStats(realPooled.subarray(0, n480 * dim), n480, dim));
  const { ink, edge } = inkAndEdges(f.data, f.count, f.h, f.w);
  return { row, q, meanTerm, pixelMeanTerm: meanDistance(genPixel, realPixel), pixelFrechet, pixelFrechet480, ink, edge, ms: set.ms };
}

async function runModel(model: ModelPackage, evaluator: Evaluator, perClass: number, rows: readonly Row[], calibrationImages: number): Promise<{ measured: Measured[]; calibration: Awaited<ReturnType<typeof calibrate>> | undefined; real: { ink: number; edge: number } }> {
  const denoiser = await denoiserOf(model);
  const whole = wholeModelPipeline(denoiser.path, denoiser.signature, denoiser.io);
  const pipelines = new Map<number, PipelineSpec>();
  const pipelineOf = async (n: number): Promise<PipelineSpec> => {
    let p = pipelines.get(n);
    if (!p) {
      log(`${model.name}: splitting into ${n}`);
      p = (await splitForModel(denoiser, n)).pipeline;
      pipelines.set(n, p);
    }
    return p;
  };
  const classIds = balancedClasses(model, perClass);
  const real = await evaluator.loadReference(model.kind === 'video' ? 'videoFrames' : 'images');
  const realPooled = pooled(real.images, real.count, 16, 16);
  const realStats = inkAndEdges(real.images, real.count, 16, 16);
  log(`${model.name}: sequential over ${classIds.length} samples`);
  const seqRow: Row = { label: 'sequential', stages: 1, stride: 1, compensation: 'none' };
  const ref = await generate(model, whole, buildSchedule({ steps: STEPS, stages: 1, stride: 1, warmup: STEPS, timeShift: false }), classIds, {});
  const measured: Measured[] = [await measure(evaluator, seqRow, ref, undefined, realPooled, real.count)];
  let calibration: Awaited<ReturnType<typeof calibrate>> | undefined;
  for (const row of rows) {
    const pipeline = await pipelineOf(row.stages);
    let damping: Record<string, number> | undefined;
    if (row.damping === 'calibrated') {
      calibration ??= await calibrate(model, pipeline, calibrationImages);
      damping = calibration.gamma;
    } else if (row.damping !== undefined) {
      const d = row.damping;
      damping = Object.fromEntries(pipeline.components.flatMap((c) => c.inputs.flatMap((i) => (i.kind === 'boundary' ? [[i.name, d]] : []))));
    }
    log(`${model.name}: ${row.label}`);
    const schedule = buildSchedule({ steps: STEPS, stages: row.stages, stride: row.stride, warmup: WARMUP, timeShift: false, compensation: row.compensation });
    const set = await generate(model, pipeline, schedule, classIds, { ...(damping && { compensationDamping: damping }), ...(row.epsAlpha !== undefined && { epsAlpha: row.epsAlpha }) });
    const m = await measure(evaluator, row, set, ref, realPooled, real.count);
    log(`${model.name}: ${row.label}: Fréchet ${m.q.frechet.toFixed(2)} (seq ${measured[0]!.q.frechet.toFixed(2)}), pixel ${m.pixelFrechet.toFixed(2)}, PSNR ${m.q.psnrDb?.toFixed(2)}`);
    measured.push(m);
  }
  return { measured, calibration, real: realStats };
}

const row = (stages: number, stride: 1 | 2, compensation: Compensation, extra: Partial<Row> = {}): Row => ({
  label: `N=${stages} stride ${stride}, ${extra.epsAlpha !== undefined ? `final prediction ×${extra.epsAlpha}` : compensation}${typeof extra.damping === 'number' ? ` ×${extra.damping}` : extra.damping === 'calibrated' ? ', calibrated γ per tensor' : ''}`,
  stages,
  stride,
  compensation,
  ...extra,
});

const digitRows: Row[] = values.quick
  ? [row(2, 1, 'none'), row(2, 1, 'linear')]
  : [
      row(2, 1, 'none'),
      row(2, 1, 'linear'),
      row(2, 1, 'quadratic'),
      row(2, 1, 'linear', { damping: 0.5 }),
      row(2, 1, 'linear', { damping: 'calibrated' }),
      row(2, 1, 'none', { epsAlpha: 0.5 }),
      row(2, 1, 'none', { epsAlpha: 1 }),
      row(3, 1, 'none'),
      row(3, 1, 'linear'),
      row(4, 1, 'none'),
      row(4, 1, 'linear'),
      row(2, 2, 'none'),
      row(2, 2, 'linear'),
      row(3, 2, 'none'),
      row(3, 2, 'linear'),
    ];
const videoRows: Row[] = values.quick ? [row(2, 1, 'none'), row(2, 1, 'linear')] : [row(2, 1, 'none'), row(2, 1, 'linear'), row(2, 1, 'quadratic')];

const evaluator = await openEvaluator();
const perClass = Number(values['per-class']);
const digits = values['skip-digits'] ? undefined : await runModel(findModelPackage('digits'), evaluator, perClass, digitRows, Number(values['calibration-images']));
const videoModel = findModelPackage('moving-digits');
const video = values['skip-video'] ? undefined : await runModel(videoModel, evaluator, Math.max(1, Math.round(Number(values['video-clips']) / videoModel.classes.length)), videoRows, 10);
await evaluator.close();

function table(r: Awaited<ReturnType<typeof runModel>>): string[] {
  const seq = r.measured[0]!;
  const pct = (a: number, b: number): string => `${a >= b ? '+' : ''}${((a / b - 1) * 100).toFixed(1)}%`;
  return [
    '| configuration | agreement | Fréchet (classifier) | vs seq | of it: means | Fréchet (8×8 pixels) | vs seq | of it: means | 8×8 px, 480 vs 480 | PSNR vs seq (dB) | SSIM vs seq | ink | edge |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.measured.map(
      (m) =>
        `| ${m.row.label} | ${(m.q.agreement * 100).toFixed(1)}% | ${m.q.frechet.toFixed(2)} | ${m === seq ? '' : pct(m.q.frechet, seq.q.frechet)} | ${m.meanTerm.toFixed(2)} | ${m.pixelFrechet.toFixed(2)} | ${m === seq ? '' : pct(m.pixelFrechet, seq.pixelFrechet)} | ${m.pixelMeanTerm.toFixed(2)} | ${m.pixelFrechet480.toFixed(2)} | ${m.q.psnrDb?.toFixed(2) ?? '–'} | ${m.q.ssim?.toFixed(3) ?? '–'} | ${m.ink.toFixed(3)} | ${m.edge.toFixed(3)} |`,
    ),
    `| real ${r === video ? 'frames' : 'digits'} | | | | | | | | | | | ${r.real.ink.toFixed(3)} | ${r.real.edge.toFixed(3)} |`,
  ];
}

function calibrationTable(c: NonNullable<Awaited<ReturnType<typeof runModel>>['calibration']>): string[] {
  return [
    '| boundary tensor | fitted γ | error of stale input | error, linear (γ = 1) | error, fitted γ |',
    '|---|---:|---:|---:|---:|',
    ...c.report.map((e) => `| \`${e.name}\` | ${e.gamma.toFixed(3)} | 1.000 | ${e.linearErr.toFixed(3)} | ${e.fittedErr.toFixed(3)} |`),
  ];
}

mkdirSync('bench/out', { recursive: true });
const strip = (r: Awaited<ReturnType<typeof runModel>> | undefined): unknown =>
  r && { real: r.real, calibration: r.calibration?.report, rows: r.measured.map((m) => ({ ...m.row, agreement: m.q.agreement, frechet: m.q.frechet, meanTerm: m.meanTerm, pixelFrechet: m.pixelFrechet, pixelMeanTerm: m.pixelMeanTerm, pixelFrechet480: m.pixelFrechet480, psnrDb: m.q.psnrDb, ssim: m.q.ssim, ink: m.ink, edge: m.edge, ms: m.ms })) };
writeFileSync('bench/out/compensation.json', JSON.stringify({ started: started.toISOString(), machine, perClass, digits: strip(digits), video: strip(video) }, null, 2));
const md = [
  '## Staleness compensation (`npx tsx bench/compensation.ts`)',
  '',
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. ${STEPS} DDIM steps, W = ${WARMUP}, no time shift, default guidance; in-process runner (the stage processes compute the same numbers, runner tests). ` +
    `PSNR/SSIM against the sequential output of the same seeds. Fréchet (classifier): the eval classifier's 128-d features against the real set; Fréchet (8×8 pixels): 2×2 area-pooled pixels (64-d) against the same real set. ink = mean (v+1)/2, edge = mean |horizontal| + |vertical| neighbour difference (values clipped to [−1, 1]).`,
  '',
  ...(digits ? [`### digits (${digits.measured[0]!.q.samples} images, ${perClass} per class, seeds 0…${digits.measured[0]!.q.samples - 1})`, '', ...table(digits), ''] : []),
  ...(digits?.calibration ? ['Calibration of per-tensor damping (sequential run of other seeds; errors relative to reading the stale input, Σ‖h_s − ĥ_s‖²):', '', ...calibrationTable(digits.calibration), ''] : []),
  ...(video ? [`### moving-digits (${video.measured[0]!.q.samples} clips of ${videoModel.frames} frames; per-frame agreement and Fréchet against real frames)`, '', ...table(video), ''] : []),
].join('\n');
replaceSection(values.results, 'compensation', md);
process.stdout.write(`${md}\n`);
