import { ContinuousBatch, InvalidOptionError, isStale, wholeModelStep, type ContinuousBatchOptions } from '@asyncdiff/asyncdiff';
import { timestepBatchingOf, type TimestepBatching } from '@asyncdiff/models';
import { gaussianNoise } from '@asyncdiff/tensor';

import type { Denoiser } from './denoiser.js';
import type { Engine, GenerateRequest, GenerateResult } from './engine.js';

/** The denoiser's timestep batching case, from its declared signature (`/v1/models` reads the same). */
export function timestepBatching(denoiser: Denoiser): TimestepBatching {
  return timestepBatchingOf(denoiser.signature.inputs.find((i) => i.name === denoiser.io.timestep)?.dims);
}

/** A request to join the engine's running batch: a generation plus its admission priority. */
export interface BatchJoinRequest extends GenerateRequest {
  /** Higher joins first when the batch is full (the API's job priority). @defaultValue 0 */
  readonly priority?: number;
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

  /**
   * Whether `req` would join at the next step boundary: same shape as what runs (or is reserved),
   * and its rows free besides those reserved.
   */
  hasRoom(req: GenerateRequest): boolean {
    const { key, images, rows } = this.shapeOf(req);
    if (this.reservedRows > 0 && key !== this.reservedKey) return false;
    if (!this.batch || this.batch.idle) return rows + this.reservedRows <= this.options.maxRows;
    return key === this.key && this.batch.hasRoom(images, this.reservedRows);
  }

  /**
   * Promises `req`'s rows (and its shape) to a job that will `join` later: a caller that decides
   * where a job goes before the job can join (its run starts first) reserves, so that `hasRoom`
   * answers for the jobs on their way too. Release in the same turn as `join`, or when the job
   * will not join.
   */
  reserve(req: GenerateRequest): { release(): void } {
    const { key, rows } = this.shapeOf(req);
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
    const { key, sampleDims } = this.shapeOf(req);
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

  /** Batch key, latent dims, images and model rows (2 per image with guidance) of `req`. */
  private shapeOf(req: GenerateRequest): { key: string; sampleDims: readonly number[]; images: number; rows: number } {
    const sampleDims = req.sampleDims ?? this.engine.denoiser.sampleDims;
    const cfg = (req.guidance ?? this.engine.sampling.defaults.guidance) !== 1;
    const images = req.conditioning.images;
    return { key: `${sampleDims.join('x')}/${cfg ? 'cfg' : 'nocfg'}`, sampleDims, images, rows: cfg ? 2 * images : images };
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
 * Admission control's answer: the largest measured batch whose step time stays within
 * `budgetMs` (at least the smallest measured, so a lone job always runs).
 */
export function maxRowsWithin(measured: readonly { rows: number; stepMs: number }[], budgetMs: number): number {
  const sorted = [...measured].sort((a, b) => a.rows - b.rows);
  let best = sorted[0]?.rows ?? 1;
  for (const m of sorted) if (m.stepMs <= budgetMs) best = m.rows;
  return best;
}
