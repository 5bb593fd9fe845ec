import { ContinuousBatch, InvalidOptionError, isStale, modelRows, wholeModelStep, type ContinuousBatchOptions } from '@asyncdiff/asyncdiff';
import { timestepBatchingOf, type TimestepBatching } from '@asyncdiff/models';
import { gaussianNoise } from '@asyncdiff/tensor';

import { classConditioning, type Denoiser } from './denoiser.js';
import type { Engine, GenerateRequest, GenerateResult } from './engine.js';
import type { TextToImage } from './text-to-image.js';

/** The denoiser's timestep batching case, from its declared signature (`/v1/models` reads the same). */
export function timestepBatching(denoiser: Denoiser): TimestepBatching {
  return timestepBatchingOf(denoiser.signature.inputs.find((i) => i.name === denoiser.io.timestep)?.dims);
}

/** A request to join the engine's running batch: a generation plus its admission priority. */
export interface BatchJoinRequest extends GenerateRequest {
  /** Higher joins first when the batch is full (the API's job priority). @defaultValue 0 */
  readonly priority?: number;
}

/**
 * What placement knows of a job before its conditioning exists (a text job is encoded only once
 * it holds a seat): how many images, at what guidance and latent size.
 */
export interface BatchShape {
  readonly images: number;
  /** @defaultValue the model's default guidance */
  readonly guidance?: number | undefined;
  /** Latent dims without the batch axis. @defaultValue the denoiser's */
  readonly sampleDims?: readonly number[] | undefined;
}

/** The shape of a generation request (what `join` will be given). */
export function batchShapeOf(req: GenerateRequest): BatchShape {
  return { images: req.conditioning.images, guidance: req.guidance, sampleDims: req.sampleDims };
}

/** What the batch holds now (for status, metrics and the dashboard). */
export interface BatchOccupancy {
  readonly members: number;
  readonly rows: number;
  readonly maxRows: number;
  readonly queued: number;
}

/** Batch-wide settings an engine's batches share. */
export type EngineBatchOptions = Pick<ContinuousBatchOptions, 'maxRestarts' | 'restartBackoffMs' | 'onRestart' | 'onStep'> & {
  /** Admission control: most model rows per step (measured against a step-time budget, see `measureStepMs`). */
  readonly maxRows: number;
};

/**
 * Step-level continuous batching on one engine (sequential or cfg layout): one running batch
 * per (resolution, guidance on/off); a job with a different shape joins only once the engine's
 * current batch has emptied. The caller keeps other generations off the engine meanwhile.
 */
export class EngineBatches {
  private batch: ContinuousBatch | undefined;
  private key: string | undefined;
  /** Rows promised to jobs not joined yet, and their shape (one shape while any is promised). */
  private reservedRows = 0;
  private reservedKey: string | undefined;
  private readonly timesteps: TimestepBatching;

  constructor(
    private readonly engine: Engine,
    private readonly options: EngineBatchOptions,
  ) {
    if (isStale(engine.layout.mode)) {
      throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'parallel', `continuous batching runs exact layouts (sequential, cfg), not ${engine.layout.mode}: a stale-feature pipeline would have to re-warm everyone for a newcomer`);
    }
    this.timesteps = timestepBatching(engine.denoiser);
  }

  /** Model rows a job of this shape takes in a step (2 per image with guidance). */
  rowsOf(shape: BatchShape): number {
    return this.shapeOf(shape).rows;
  }

  /**
   * Whether a job of this shape would join at the next step boundary: same shape as what runs (or is reserved),
   * and its rows free besides those reserved.
   */
  hasRoom(shape: BatchShape): boolean {
    const { key, images, rows } = this.shapeOf(shape);
    if (this.reservedRows > 0 && key !== this.reservedKey) return false;
    if (!this.batch || this.batch.idle) return rows + this.reservedRows <= this.options.maxRows;
    return key === this.key && this.batch.hasRoom(images, this.reservedRows);
  }

  /**
   * Promises a shape's rows (and the shape) to a job that will `join` later: a caller that decides
   * where a job goes before the job can join (its run starts first) reserves, so that `hasRoom`
   * answers for the jobs on their way too. Release in the same turn as `join`, or when the job
   * will not join.
   */
  reserve(shape: BatchShape): { release(): void } {
    const { key, rows } = this.shapeOf(shape);
    this.reservedRows += rows;
    this.reservedKey = key;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.reservedRows -= rows;
      },
    };
  }

  /** Members, rows and waiting jobs of the running batch. */
  get occupancy(): BatchOccupancy {
    const b = this.batch;
    return { members: b?.size ?? 0, rows: b?.rows ?? 0, maxRows: this.options.maxRows, queued: b?.queued ?? 0 };
  }

  /** Whether no job runs or waits. */
  get idle(): boolean {
    return !this.batch || this.batch.idle;
  }

  /** Runs `req` inside the engine's continuous batch; resolves like `Engine.generate`. */
  async join(req: BatchJoinRequest): Promise<GenerateResult> {
    const e = this.engine;
    const d = e.sampling.defaults;
    const steps = req.steps ?? d.steps;
    const guidance = req.guidance ?? d.guidance;
    const kind = req.scheduler ?? d.scheduler;
    const { key, sampleDims } = this.shapeOf(batchShapeOf(req));
    if (!this.batch || (this.batch.idle && this.key !== key)) {
      this.batch = new ContinuousBatch(e.runner, { ...this.options, sampleDims, cfg: guidance !== 1, perRowTimesteps: this.timesteps === 'per-sample' });
      this.key = key;
    } else if (this.key !== key) {
      throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'batch', `the engine's batch runs ${this.key}; ${key} must wait until it empties`);
    }
    const scheduler = e.sampling.create(kind, steps, req.eta);
    const r = await this.batch.join({
      scheduler,
      conditioning: req.conditioning,
      seed: req.seed,
      guidance,
      ...(req.priority !== undefined && { priority: req.priority }),
      signal: req.signal,
      onStep: req.onStep,
      resume: req.resume,
    });
    return { latents: r.latents, images: req.conditioning.images, sampleDims, totalMs: r.totalMs, phases: r.phases, restarts: r.restarts, steps, evaluations: scheduler.steps, guidance, scheduler: kind };
  }

  /** Fails whatever runs or waits (the engine is going away). */
  async close(reason?: unknown): Promise<void> {
    await this.batch?.close(reason);
  }

  /** Batch key, latent dims, images and model rows of a shape, with the model's defaults filled in. */
  private shapeOf(shape: BatchShape): { key: string; sampleDims: readonly number[]; images: number; rows: number } {
    const sampleDims = shape.sampleDims ?? this.engine.denoiser.sampleDims;
    const guidance = shape.guidance ?? this.engine.sampling.defaults.guidance;
    const cfg = guidance !== 1;
    return { key: `${sampleDims.join('x')}/${cfg ? 'cfg' : 'nocfg'}`, sampleDims, images: shape.images, rows: modelRows(shape.images, guidance) };
  }
}

/**
 * Step time of the engine's runner at each batch size in `rows` (ms, median of `steps` steps
 * after one untimed), on seeded noise with the first conditioning row repeated: what admission
 * control compares with its budget. Call between generations only.
 */
export async function measureStepMs(engine: Engine, rows: readonly number[], conditioning: GenerateRequest['conditioning'], steps = 5): Promise<{ rows: number; stepMs: number }[]> {
  const runner = engine.runner;
  const sampleDims = engine.denoiser.sampleDims;
  const n = sampleDims.reduce((a, b) => a * b, 1);
  const out: { rows: number; stepMs: number }[] = [];
  for (const r of rows) {
    const cond = Object.fromEntries(
      Object.entries(conditioning.cond).map(([name, t]) => {
        const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
        const data = new (t.data.constructor as new (k: number) => typeof t.data)(r * row);
        for (let i = 0; i < r; i++) (data as Float32Array).set((t.data as Float32Array).subarray(0, row), i * row);
        return [name, { dtype: t.dtype, dims: [r, ...t.dims.slice(1)], data }];
      }),
    ) as GenerateRequest['conditioning']['cond'];
    await runner.begin({ batch: r, conditioning: cond, sampleDims });
    try {
      const latent = gaussianNoise(7, r * n, 0);
      const t = new Float64Array(r).fill(500);
      const times: number[] = [];
      for (let s = 0; s <= steps; s++) {
        const t0 = performance.now();
        await runner.runStep(wholeModelStep(s), latent, t.subarray(0, 1), t);
        if (s > 0) times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      out.push({ rows: r, stepMs: times[Math.floor(times.length / 2)]! });
    } finally {
      runner.end?.();
    }
  }
  return out;
}

/**
 * One image's conditioning of the right shapes for `measureStepMs` (the values do not change a
 * step's time): class 0 for our packages, the empty prompt's embeddings for a text model.
 */
export async function probeConditioning(engine: Engine, text: TextToImage | undefined): Promise<GenerateRequest['conditioning']> {
  const model = engine.model;
  if (model.format === 'asyncdiff') return classConditioning(model, [0]);
  if (!text) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'model', `${model.name} is a text model: its conditioning needs its text encoders`);
  return (await text.encode({ prompt: '', count: 1, guidance: 1 })).conditioning;
}

/**
 * Admission control's answer: the largest measured batch whose step time stays within
 * `budgetMs` (at least the smallest measured, so a lone job always runs).
 */
export function maxRowsWithin(measured: readonly { rows: number; stepMs: number }[], budgetMs: number): number {
  const sorted = [...measured].sort((a, b) => a.rows - b.rows);
  let best = sorted[0]?.rows ?? 1;
  for (const m of sorted) if (m.stepMs <= budgetMs) best = m.rows;
  return best;
}

/** What admission control decided for an engine, and the measurements it decided on. */
export interface BatchAdmission {
  /** Step time per batch size, smallest first (sizes above the budget's first overrun are not measured). */
  readonly measured: readonly { readonly rows: number; readonly stepMs: number }[];
  readonly budgetMs: number;
  /** The largest measured batch within the budget (at least one job's rows). */
  readonly maxRows: number;
  /** Rows per ms at `maxRows` over rows per ms of one job alone. */
  readonly gain: number;
  /** Whether batching pays: more than one job fits and the gain reaches `minGain`. */
  readonly batched: boolean;
}

/** What admission control works within: one job's rows, the row cap, the step budget, the minimum gain. */
export interface CalibrationLimits {
  readonly perJob: number;
  readonly capRows: number;
  readonly maxStepMs: number | undefined;
  readonly minGain: number;
}

/**
 * Admission control for one engine: measures its step time at one job's rows (`perJob`), then
 * at doubling sizes up to `capRows` until a size overruns the step-time budget (`maxStepMs`,
 * else twice one job's step), and batches only when the largest size within budget does more
 * work per ms than a lone job by `minGain` — a model whose step time grows with its rows (a
 * video model on a CPU) gains nothing from sharing a step and would only slow each job down.
 */
export async function calibrateBatching(
  engine: Engine,
  conditioning: GenerateRequest['conditioning'],
  o: CalibrationLimits,
): Promise<BatchAdmission> {
  const measured: { rows: number; stepMs: number }[] = [];
  let budgetMs = o.maxStepMs ?? Infinity;
  for (let rows = o.perJob; rows <= Math.max(o.perJob, o.capRows); rows *= 2) {
    const [m] = await measureStepMs(engine, [rows], conditioning);
    measured.push(m!);
    if (o.maxStepMs === undefined && measured.length === 1) budgetMs = 2 * m!.stepMs;
    if (m!.stepMs > budgetMs) break;
  }
  return batchAdmission(measured, budgetMs, o.minGain);
}

/** The decision part of `calibrateBatching`, over measured step times (the first is one job's). */
export function batchAdmission(measured: readonly { rows: number; stepMs: number }[], budgetMs: number, minGain: number): BatchAdmission {
  const sorted = [...measured].sort((a, b) => a.rows - b.rows);
  const maxRows = maxRowsWithin(sorted, budgetMs);
  const lone = sorted[0];
  const best = sorted.find((m) => m.rows === maxRows);
  const gain = lone && best ? best.rows / best.stepMs / (lone.rows / lone.stepMs) : 1;
  return { measured: sorted, budgetMs, maxRows, gain, batched: lone !== undefined && maxRows > lone.rows && gain >= minGain };
}

