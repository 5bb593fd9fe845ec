import type { Scheduler } from '@asyncdiff/schedulers';
import { applyGuidance } from '@asyncdiff/schedulers';

import { InvalidOptionError, SamplingAbortedError, StageCrashedError } from './errors.js';
import { modelRows, type ConditioningTensors, type FeedTensor, type GuidanceConditioning } from './feed.js';
import { initialLatent, stepNoise } from './noise.js';
import type { PlannedStep } from './plan.js';
import type { StageRunner } from './runner.js';
import type { SampleResult, SamplerCheckpoint, StepProgress } from './sampler.js';
import { emptyPhaseTimes } from './timings.js';

/** One job of a continuous batch: everything that makes its output its own. */
export interface BatchMemberRequest {
  /** A fresh scheduler for this job's steps (stateful: one per job). */
  readonly scheduler: Scheduler;
  /** The job's images' conditioning (and unconditional counterparts when the batch guides). */
  readonly conditioning: GuidanceConditioning;
  /** Image i starts from the noise of seed + i, exactly as when the job runs alone. */
  readonly seed: number;
  /** Classifier-free guidance scale; ≠ 1 exactly when the batch was opened with `cfg`. */
  readonly guidance: number;
  /** Higher joins first when the batch is full (the API's job priority). @defaultValue 0 */
  readonly priority?: number;
  readonly signal?: AbortSignal | undefined;
  readonly onStep?: ((p: StepProgress) => void) | undefined;
  /** Continue from a checkpoint (no re-warm: the layouts a batch runs keep no hidden states). */
  readonly resume?: SamplerCheckpoint | undefined;
}

/** What a member got, as `sample` reports it, plus the stage restarts it lived through. */
export interface BatchMemberResult extends SampleResult {
  readonly restarts: number;
}

/** How a continuous batch runs. */
export interface ContinuousBatchOptions {
  /** Dims of one latent row without the batch axis (one resolution per batch). */
  readonly sampleDims: readonly number[];
  /** Whether members guide (2 model rows per image: every conditional row, then every unconditional one). */
  readonly cfg: boolean;
  /** Most model rows one step may hold (admission control; at most the runner's `maxBatch`). */
  readonly maxRows: number;
  /**
   * Whether rows at different steps may share a run: true for graphs with a per-sample timestep
   * input; false (a scalar timestep) admits a job only while every member is at its first step
   * too, so they step together.
   */
  readonly perRowTimesteps: boolean;
  /** Stage crashes survived per batch step before failing every member. @defaultValue 3 */
  readonly maxRestarts?: number;
  /** First restart delay, doubled on each further restart. @defaultValue 100 */
  readonly restartBackoffMs?: number;
  /** After dead stages were replaced, before the step is run again. */
  readonly onRestart?: (info: { readonly devices: readonly number[]; readonly restarts: number }) => void;
  /** After every batch step: members and model rows it ran (occupancy). */
  readonly onStep?: (info: { readonly members: number; readonly rows: number; readonly stepMs: number }) => void;
}

/** A model call in flight: what `finishStep` needs of what `startStep` dispatched. */
interface StepCall {
  /** Images and model rows of the call (members' images in order; with cfg, then their unconditional rows). */
  readonly images: number;
  readonly rows: number;
  readonly members: number;
  readonly t0: number;
  /** The call's raw model output (every row). */
  readonly eps: Promise<Float32Array>;
}

interface Member {
  readonly req: BatchMemberRequest;
  readonly images: number;
  readonly order: number;
  readonly steps: number;
  x: Float32Array;
  step: number;
  first: number;
  restarts: number;
  runnerMs: number;
  samplerMs: number;
  readonly startedAt: number;
  readonly resolve: (r: BatchMemberResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Step-level continuous batching over one runner: jobs join at step boundaries and leave when
 * done, each with its own seed, noise, scheduler state, timestep, guidance, step count and
 * cancellation. Every step runs all members' rows in one model call with per-row timesteps; a
 * member's rows get exactly the arithmetic `sample` gives them alone, so its bytes are the same
 * as long as the denoiser computes each row independently of the others (tested on the shipped
 * models). For exact layouts only (sequential, cfg): a stale-feature layout would have to warm a
 * newcomer up with a chained step that changes everyone else's rows.
 */
export class ContinuousBatch {
  private readonly members: Member[] = [];
  private readonly waiting: Member[] = [];
  private loop: Promise<void> | undefined;
  private arrivals = 0;
  private stepCount = 0;
  private closed = false;
  /** Dims and conditioning of the membership `begin` was last called for. */
  private bound: string | undefined;
  private readonly n: number;

  constructor(
    private readonly runner: StageRunner,
    private readonly options: ContinuousBatchOptions,
  ) {
    const cap = runner.maxBatch ?? Infinity;
    if (!Number.isSafeInteger(options.maxRows) || options.maxRows < 1 || options.maxRows > cap) {
      throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'maxRows', `maxRows must be an integer in 1..${cap}, got ${options.maxRows}`);
    }
    this.n = options.sampleDims.reduce((a, b) => a * b, 1);
  }

  /** Members running now. */
  get size(): number {
    return this.members.length;
  }

  /** Model rows of the members running now. */
  get rows(): number {
    return this.members.reduce((r, m) => r + this.rowsOf(m.images), 0);
  }

  /** Jobs waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Whether a job of `images` images would be admitted at the next step boundary, with
   * `reservedRows` more already promised to jobs about to join.
   */
  hasRoom(images: number, reservedRows = 0): boolean {
    if (this.closed) return false;
    const want = this.rows + this.waiting.reduce((r, m) => r + this.rowsOf(m.images), 0) + reservedRows + this.rowsOf(images);
    return want <= this.options.maxRows && (this.options.perRowTimesteps || this.members.every((m) => m.step === 0));
  }

  /** Whether nothing runs or waits (the batch may be closed or reused). */
  get idle(): boolean {
    return this.members.length === 0 && this.waiting.length === 0;
  }

  /**
   * Adds a job; it starts at the next step boundary where its rows fit (higher priority first,
   * then arrival order) and resolves with its final latents.
   */
  join(req: BatchMemberRequest): Promise<BatchMemberResult> {
    if (this.closed) return Promise.reject(new InvalidOptionError('SAMPLER_INVALID_OPTION', 'batch', 'the batch is closed'));
    const images = req.conditioning.images;
    if (!(images >= 1)) return Promise.reject(new InvalidOptionError('SAMPLER_INVALID_OPTION', 'count', 'at least one image is required'));
    if ((req.guidance !== 1) !== this.options.cfg) {
      return Promise.reject(new InvalidOptionError('SAMPLER_INVALID_OPTION', 'guidance', `this batch runs ${this.options.cfg ? 'with' : 'without'} guidance; guidance ${req.guidance} cannot join it`));
    }
    if (this.rowsOf(images) > this.options.maxRows) {
      return Promise.reject(new InvalidOptionError('SAMPLER_INVALID_OPTION', 'count', `${images} images need ${this.rowsOf(images)} rows; the batch holds ${this.options.maxRows}`));
    }
    return new Promise<BatchMemberResult>((resolve, reject) => {
      const resume = req.resume;
      if (resume) req.scheduler.loadState(resume.scheduler);
      const x = resume ? resume.latent : initialLatent(req.scheduler, req.seed, images, this.n);
      const first = resume?.step ?? 0;
      const m: Member = { req, images, order: this.arrivals++, steps: req.scheduler.steps, x, step: first, first, restarts: 0, runnerMs: 0, samplerMs: 0, startedAt: performance.now(), resolve, reject };
      this.waiting.push(m);
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  /** Fails every member and waiting job with `reason` and refuses new ones. */
  async close(reason: unknown = new InvalidOptionError('SAMPLER_INVALID_OPTION', 'batch', 'the batch is closed')): Promise<void> {
    this.closed = true;
    for (const m of this.waiting.splice(0)) m.reject(reason);
    this.failAll(reason);
    await this.loop;
  }

  private rowsOf(images: number): number {
    return modelRows(images, this.options.cfg ? 2 : 1);
  }

  private async run(): Promise<void> {
    // Joins made in the same turn as the one that started the loop are admitted with it: with a
    // scalar timestep they could not join a step later.
    await Promise.resolve();
    try {
      while (!this.closed) {
        this.admit();
        this.dropAborted();
        if (this.members.length === 0) {
          if (this.waiting.length === 0) return;
          continue;
        }
        // From the previous step's reports to this dispatch nothing awaits: what those reports
        // queued (each member's progress write) then runs while the stages compute, as it does
        // in `sample`, instead of between the steps, where it delayed every step of every job.
        const call = this.startStep();
        this.finishStep(call, await call.eps);
      }
    } catch (err) {
      this.failAll(err);
      for (const m of this.waiting.splice(0)) m.reject(err);
    } finally {
      if (this.bound !== undefined) this.runner.end?.();
      this.bound = undefined;
    }
  }

  /** Moves waiting jobs in (priority, then arrival) while their rows fit. */
  private admit(): void {
    if (this.waiting.length === 0) return;
    this.waiting.sort((a, b) => (b.req.priority ?? 0) - (a.req.priority ?? 0) || a.order - b.order);
    let rows = this.rows;
    const lockstep = !this.options.perRowTimesteps;
    for (let i = 0; i < this.waiting.length; ) {
      const m = this.waiting[i]!;
      const fits = rows + this.rowsOf(m.images) <= this.options.maxRows;
      const sameStep = !lockstep || this.members.length === 0 || this.members.every((o) => o.step === m.step && o.steps === m.steps);
      if (fits && sameStep) {
        this.waiting.splice(i, 1);
        this.members.push(m);
        rows += this.rowsOf(m.images);
      } else i++;
    }
  }

  private dropAborted(): void {
    for (let i = this.members.length - 1; i >= 0; i--) {
      const m = this.members[i]!;
      if (m.req.signal?.aborted) {
        this.members.splice(i, 1);
        m.reject(new SamplingAbortedError(m.step));
      }
    }
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const m = this.waiting[i]!;
      if (m.req.signal?.aborted) {
        this.waiting.splice(i, 1);
        m.reject(new SamplingAbortedError(m.step));
      }
    }
  }

  private failAll(err: unknown): void {
    for (const m of this.members.splice(0)) m.reject(err);
  }

  /**
   * Starts one model call for every member's rows: when the membership is bound already, the
   * stages are dispatched before this returns.
   */
  private startStep(): StepCall {
    const members = this.members;
    const { n } = this;
    const { cfg } = this.options;
    const images = members.reduce((a, m) => a + m.images, 0);
    const rows = this.rowsOf(images);
    const input = new Float32Array(rows * n);
    const t = new Float64Array(rows);
    let at = 0;
    for (const m of members) {
      const scaled = m.req.scheduler.scaleModelInput(m.x, m.step);
      const value = m.req.scheduler.timesteps[m.step] as number;
      input.set(scaled, at * n);
      t.fill(value, at, at + m.images);
      if (cfg) {
        input.set(scaled, (images + at) * n);
        t.fill(value, images + at, images + at + m.images);
      }
      at += m.images;
    }
    const t0 = performance.now();
    return { images, rows, members: members.length, t0, eps: this.runWithRecovery(rows, input, t) };
  }

  /** After the model call: each member's own scheduler step and report; finished members leave. */
  private finishStep(call: StepCall, raw: Float32Array): void {
    const { n } = this;
    const { cfg } = this.options;
    const { images, rows, t0 } = call;
    const t1 = performance.now();
    let at = 0;
    for (const m of [...this.members]) {
      const s0 = performance.now();
      const size = m.images * n;
      const eps = cfg ? applyGuidance(raw.subarray(at * n, at * n + size), raw.subarray((images + at) * n, (images + at) * n + size), m.req.guidance) : raw.slice(at * n, at * n + size);
      at += m.images;
      const s = m.step;
      const noise = m.req.scheduler.stochastic ? stepNoise(m.req.seed, m.images, n, s) : undefined;
      const xt = m.x;
      m.x = m.req.scheduler.step(s, xt, eps, noise);
      m.step = s + 1;
      m.runnerMs += t1 - t0;
      m.samplerMs += performance.now() - s0;
      const scheduler = m.req.scheduler;
      m.req.onStep?.({
        step: m.step,
        steps: m.steps,
        phase: 'warmup',
        stepMs: performance.now() - t0,
        checkpoint: { step: m.step, latent: m.x, scheduler: scheduler.saveState() },
        predictOriginal: () => scheduler.predictOriginal(s, xt, eps),
      });
      if (m.step >= m.steps) {
        this.members.splice(this.members.indexOf(m), 1);
        const phases = emptyPhaseTimes();
        phases.warmup = { steps: m.steps - m.first, runnerMs: m.runnerMs, samplerMs: m.samplerMs };
        m.resolve({ latents: m.x, stepsRun: m.steps - m.first, totalMs: performance.now() - m.startedAt, phases, restarts: m.restarts });
      }
    }
    this.options.onStep?.({ members: call.members, rows, stepMs: performance.now() - t0 });
  }

  /**
   * Runs the batch's model call; a stage crash replaces the dead stage and runs the same call
   * again (no member has stepped yet, so each resumes at its own step with nothing lost).
   */
  private async runWithRecovery(rows: number, input: Float32Array, t: Float64Array): Promise<Float32Array> {
    const maxRestarts = this.options.maxRestarts ?? 3;
    let restarts = 0;
    for (;;) {
      try {
        // Only a new membership waits here (for the stages to take its conditioning); otherwise
        // the dispatch happens in the caller's turn (see `run`).
        if (this.bound !== this.membershipKey()) await this.bind(rows);
        const step = this.stepCount++;
        await this.runner.runStep(wholeModelStep(step), input, t.subarray(0, 1), t);
        return this.runner.eps(0);
      } catch (err) {
        if (!(err instanceof StageCrashedError) || restarts >= maxRestarts) throw err;
        restarts += 1;
        for (const m of this.members) m.restarts += 1;
        await new Promise((r) => setTimeout(r, (this.options.restartBackoffMs ?? 100) * 2 ** (restarts - 1)));
        const devices = await this.runner.recover();
        this.bound = undefined;
        this.options.onRestart?.({ devices, restarts });
      }
    }
  }

  /** Who is in the batch now (what `bound` is compared with). */
  private membershipKey(): string {
    return this.members.map((m) => m.order).join(',');
  }

  /** Binds the runner to the members' rows (the membership changed since the last step). */
  private async bind(rows: number): Promise<void> {
    const key = this.membershipKey();
    const cond = this.members.map((m) => m.req.conditioning.cond);
    const sides = this.options.cfg ? [cond, this.members.map((m) => m.req.conditioning.uncond ?? {})] : [cond];
    const conditioning: Record<string, FeedTensor> = {};
    for (const name of Object.keys(this.members[0]!.req.conditioning.cond)) conditioning[name] = concatRows(sides.flat().map((c) => need(c, name)), rows);
    if (this.bound !== undefined) this.runner.end?.();
    this.bound = undefined;
    await this.runner.begin({ batch: rows, conditioning, sampleDims: this.options.sampleDims });
    this.bound = key;
  }
}

/**
 * Step `step` of a one-component layout (the whole model on each branch): one run reading the
 * latent and timestep index 0 — what a continuous batch and its calibration dispatch.
 */
export function wholeModelStep(step: number): PlannedStep {
  return { step, phase: 'warmup', runs: [{ device: 0, component: 0, t: 0, inputsFrom: null }], eps: { device: 0, step } };
}

function need(c: ConditioningTensors, name: string): FeedTensor {
  const t = c[name];
  if (!t) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'conditioning', `a member has no conditioning tensor ${name}`);
  return t;
}

/** Stacks tensors of one name along the batch axis (all of the first one's dtype and row shape). */
function concatRows(parts: readonly FeedTensor[], rows: number): FeedTensor {
  const head = parts[0]!;
  const row = head.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new (head.data.constructor as new (n: number) => FeedTensor['data'])(rows * row);
  let offset = 0;
  for (const p of parts) {
    if (p.dtype !== head.dtype || p.dims.slice(1).join() !== head.dims.slice(1).join()) {
      throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'conditioning', `conditioning tensors of one batch must share dtype and row shape (${head.dtype} [${head.dims.slice(1).join(', ')}])`);
    }
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  if (offset !== data.length) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'conditioning', `conditioning has ${offset / row} rows for a batch of ${rows}`);
  return { dtype: head.dtype, dims: [rows, ...head.dims.slice(1)], data } as FeedTensor;
}
