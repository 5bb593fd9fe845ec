import { randomBytes } from 'node:crypto';

import type { GenerationBatch, PlannedRun, PlannedStep, StageRunner, StageStatus } from '@asyncdiff/asyncdiff';
import { EngineError, componentOfDevice } from '@asyncdiff/asyncdiff';
import { sweepOrphanSegments } from '@asyncdiff/shm';

import { activeBranches, branchDevice, localOf, type BranchLayout } from './branches.js';
import { compensationWeights } from './compensation-weights.js';
import { ControlBlock, monotonicUs } from './control-block.js';
import { layoutFits } from './control-layout.js';
import { CoordinatorWaiter } from './coordinator-wait.js';
import { joinRowsAsFloat32, writeConditioning, writeLatent } from './feeds.js';
import { resolveProcessRunnerOptions, type ProcessRunnerOptions, type ResolvedProcessRunnerOptions } from './process-runner-options.js';
import { criticalHandoffUs, emptyRunnerStats, type RunnerStats } from './runner-stats.js';
import { bindingFor, configureStages, controlCapacityFor, sameBinding, type Binding } from './stage-binding.js';
import type { StageHandle } from './stage-handle.js';
import { checkStageHealth } from './stage-health.js';
import { StageRecords } from './stage-records.js';
import { layoutOf, producerDevices, readsLatent, spawnStage } from './stage-topology.js';

/**
 * A StageRunner over stage processes: one pinned process per device, boundary tensors in shared
 * memory, requests and completions through futex doorbells on a control block. Executes the
 * same plans as the in-process runner; a dead stage surfaces as `StageCrashedError` within
 * `crashCheckMs`, and `recover()` replaces it so the sampler can resume.
 */
export class ProcessRunner implements StageRunner {
  /** Every device of every branch. */
  readonly devices: number;
  readonly components: number;
  readonly stats: RunnerStats;
  /** How devices group into branches (CFG-parallel puts the guidance halves on separate branches). */
  readonly layout: BranchLayout;
  /** Branches with rows in the current generation. */
  private active: number[] = [0];
  /** Created (and regrown) by `begin` for the latent and conditioning it must hold. */
  private control: ControlBlock | undefined;
  /** Per device: its stage, run sequence, dispatch time, output channel; and the stages' binding. */
  private readonly records: StageRecords;
  /** How the coordinator waits for the stages' runs (and notices crashed or stuck stages). */
  private readonly waiter: CoordinatorWaiter;
  /** The last binding: `recover()` rebinds replaced stages to it at once. */
  private lastBinding: Binding | undefined;
  private epsScratch = new Float32Array(0);
  /** Runs of the next step started early by prepareStep: [device, request seq]. */
  private prepared: { step: number; expected: [number, number][] } | undefined;
  /** The step being dispatched reads each row's timestep from the control block (see `runStep`). */
  private perRow = false;
  /** Per component: whether it reads the latent (such runs cannot start before the sampler's math). */
  private readonly readsLatent: boolean[];
  /** When the last step's runs finished (performance.now), within the current generation. */
  private lastDoneAt: number | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly options: ResolvedProcessRunnerOptions,
    handles: StageHandle[],
  ) {
    this.devices = options.devices.length;
    this.components = options.pipeline.components.length;
    this.layout = layoutOf(options);
    this.stats = emptyRunnerStats(this.devices);
    this.readsLatent = options.pipeline.components.map(readsLatent);
    this.records = new StageRecords(
      handles,
      Array.from({ length: this.devices }, (_, d) => producerDevices(options, this.layout, d)),
    );
    this.waiter = new CoordinatorWaiter(options, this.records);
    for (const h of handles) this.watch(h);
  }

  /** Spawns and loads every stage process (in parallel). */
  static async create(options: ProcessRunnerOptions): Promise<ProcessRunner> {
    const resolved = resolveProcessRunnerOptions(options);
    // A coordinator killed earlier (kill -9, OOM) left its control block behind.
    sweepOrphanSegments();
    const handles = await Promise.all(resolved.devices.map((spec, d) => spawnStage(resolved, d, spec)));
    return new ProcessRunner(resolved, handles);
  }

  /** Largest model batch (rows) one generation may use; `Engine.generate` runs bigger requests in chunks. */
  get maxBatch(): number {
    return this.options.maxBatch;
  }

  /** Process ids of the stages, by device. */
  get pids(): number[] {
    return this.records.handles.map((h) => h.pid);
  }

  /** Stage handles by device (health checks, memory stats, supervision). */
  get stages(): readonly StageHandle[] {
    return this.records.handles;
  }

  async begin(batch: GenerationBatch): Promise<void> {
    this.ensureOpen();
    if (batch.batch > this.options.maxBatch) {
      throw new EngineError('RUNNER_BAD_STEP', `batch ${batch.batch} exceeds maxBatch ${this.options.maxBatch}`, false, 'count');
    }
    this.waiter.assertAlive();
    await this.settlePrepared();
    this.lastDoneAt = undefined;
    this.waiter.restartLoopTurn();
    this.records.forgetSteps();
    const binding = bindingFor(this.options.pipeline, batch);
    const control = this.controlFor(batch);
    this.active = activeBranches(this.layout, batch.batch);
    for (const c of this.options.pipeline.conditioning) writeConditioning(control.conditioning.get(c.name)!.data, batch.conditioning[c.name]!);
    const configured = this.records.configured;
    if (!configured || !sameBinding(configured, { ...binding, control: control.name })) await this.configure(binding);
    // After the awaits: the sampler calls end() only for a begin that returned.
    this.waiter.enter();
  }

  async runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array, rowTimesteps?: Float64Array): Promise<void> {
    this.ensureOpen();
    const cfg = this.records.configured;
    if (!cfg) throw new EngineError('RUNNER_BAD_STEP', 'runStep before begin', false);
    const control = this.control!;
    const t0 = performance.now();
    const stepStartUs = monotonicUs();
    writeLatent(control.latent.data as Float32Array | Uint16Array, latent);
    if (rowTimesteps) {
      if (rowTimesteps.length !== cfg.batch) throw new EngineError('RUNNER_BAD_STEP', `${rowTimesteps.length} row timesteps for a batch of ${cfg.batch}`, false);
      if (this.prepared) throw new EngineError('RUNNER_BAD_STEP', 'per-row timesteps cannot follow prepareStep (the early runs already read the shared value)', false);
      control.rowTimesteps.set(rowTimesteps);
    }
    this.perRow = rowTimesteps !== undefined;
    let critical = 0;
    if (step.phase === 'warmup') {
      for (const run of step.runs) {
        // Every branch runs the chained step at once (the guidance halves in parallel).
        const expected = this.dispatchAll(step.step, run, timestepValues);
        await this.waiter.waitFor(control, expected);
        const noticedUs = monotonicUs();
        this.stats.handoffUs += criticalHandoffUs(control, expected, this.records.dispatchedAt, stepStartUs, noticedUs);
        let slowest = 0;
        for (const [device] of expected) slowest = Math.max(slowest, this.finish(device));
        critical += slowest;
      }
    } else if (step.runs.length > 0) {
      const early = this.prepared?.step === step.step ? this.prepared.expected : [];
      this.prepared = undefined;
      const started = new Set(early.map(([d]) => localOf(this.layout, d).local));
      const expected = [...early, ...step.runs.filter((run) => !started.has(run.device)).flatMap((run) => this.dispatchAll(step.step, run, timestepValues))];
      await this.waiter.waitFor(control, expected);
      // The run that finished last ended the step; the coordinator noticed it as the wait returned.
      const noticedUs = monotonicUs();
      this.stats.handoffUs += criticalHandoffUs(control, expected, this.records.dispatchedAt, stepStartUs, noticedUs);
      for (const [device] of expected) critical = Math.max(critical, this.finish(device));
    }
    const now = performance.now();
    this.stats.steps += 1;
    this.stats.stepUs += (now - (this.lastDoneAt ?? t0)) * 1000;
    this.lastDoneAt = now;
    this.stats.criticalSessionUs += critical;
  }

  end(): void {
    this.waiter.leave();
  }

  prepareStep(step: PlannedStep, timestepValues: Float64Array): void {
    this.perRow = false;
    if (this.closed || !this.records.configured || step.phase !== 'parallel' || this.prepared) return;
    const early = step.runs.filter((run) => !this.readsLatent[componentOfDevice(this.components, run.device)]);
    if (early.length === 0) return;
    this.prepared = { step: step.step, expected: early.flatMap((run) => this.dispatchAll(step.step, run, timestepValues)) };
  }

  eps(device: number): Float32Array {
    const parts = this.active.map((b) => this.records.epsOf(branchDevice(this.layout, b, device), this.options.pipeline.epsOutput));
    return joinRowsAsFloat32(parts, (length) => this.scratch(length));
  }

  private scratch(length: number): Float32Array {
    if (this.epsScratch.length !== length) this.epsScratch = new Float32Array(length);
    return this.epsScratch;
  }

  stageStatus(): readonly StageStatus[] {
    return this.records.status();
  }

  /**
   * A real inference on every live stage's current binding (between generations); a stage that
   * fails or hangs past `timeoutMs` is killed, so `recover()` replaces it.
   */
  async checkHealth(timeoutMs: number): Promise<readonly number[]> {
    this.ensureOpen();
    return checkStageHealth(this.records.handles, () => this.control, timeoutMs);
  }

  /**
   * Replaces dead stage processes (after a StageCrashedError) and forgets all hidden states (the
   * sampler re-warms one sequential step). Every stage is rebound at once to the last batch size,
   * so a replacement's first health check is a real inference and the next job does not pay for
   * the configure.
   */
  async recover(): Promise<readonly number[]> {
    this.ensureOpen();
    const replaced: number[] = [];
    for (let d = 0; d < this.devices; d++) {
      const h = this.records.handle(d);
      if (h.alive()) continue;
      await h.close(500);
      const spec = this.options.devices[d]!;
      const fresh = await spawnStage(this.options, d, spec);
      this.records.replace(d, fresh);
      this.watch(fresh);
      replaced.push(d);
    }
    sweepOrphanSegments();
    this.records.configured = undefined;
    this.prepared = undefined;
    if (this.lastBinding !== undefined) {
      // Best effort: if a stage dies again here, the next `begin` notices (assertAlive) and
      // reports the crash to the caller's retry loop, which is where it belongs.
      await this.configure(this.lastBinding).catch(() => undefined);
    }
    return replaced;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.end();
      await Promise.all(this.records.handles.map((h) => h.close().catch(() => undefined)));
      this.records.disposeChannels();
      this.control?.dispose();
    })();
    return this.closed;
  }

  /**
   * The control block for a generation: the current one if it can hold the latent and the
   * conditioning, else a new one sized for `maxBatch` rows of them (the stages are rebound to it).
   */
  private controlFor(batch: GenerationBatch): ControlBlock {
    const need = controlCapacityFor(this.options, this.devices, batch);
    if (this.control && layoutFits(this.control.layout, need)) return this.control;
    const fresh = ControlBlock.create(`ctl-${randomBytes(4).toString('hex')}`, need);
    this.control?.dispose();
    this.control = fresh;
    this.records.configured = undefined;
    return fresh;
  }

  private async configure(b: Omit<Binding, 'control'>): Promise<void> {
    const control = this.control!;
    this.records.configured = undefined;
    const channelNames = await configureStages(this.options, this.layout, this.records.handles, control, b);
    this.records.rebind(channelNames);
    const binding = { ...b, control: control.name };
    this.records.configured = binding;
    this.lastBinding = binding;
  }

  /** Waits out runs a prepareStep started when the generation was stopped before using them. */
  private async settlePrepared(): Promise<void> {
    const p = this.prepared;
    if (!p) return;
    this.prepared = undefined;
    await this.waiter.waitFor(this.ctl, p.expected);
    for (const [device] of p.expected) this.finish(device);
  }

  /** Dispatches a planned run to its device in every active branch; returns [device, seq] pairs to wait for. */
  private dispatchAll(step: number, run: PlannedRun, timestepValues: Float64Array): [number, number][] {
    const weights = compensationWeights(run, timestepValues, this.options.maxCompensation);
    return this.active.map((b) => {
      const device = branchDevice(this.layout, b, run.device);
      return [device, this.dispatch(device, step, run, timestepValues, weights)];
    });
  }

  private dispatch(device: number, step: number, run: PlannedRun, timestepValues: Float64Array, weights: readonly number[]): number {
    const tValue = timestepValues[run.t];
    if (tValue === undefined) throw new EngineError('RUNNER_BAD_STEP', `timestep index ${run.t} out of range`, false);
    if (weights.length > 0) this.records.checkHistory(device, run);
    const next = this.records.startRun(device, step);
    // Producers are named by global device (a branch reads its own branch's producers).
    const producerRuns = this.records.lastRun;
    return this.ctl.dispatch(device, { run: next, tIndex: run.t, tValue, perRow: this.perRow, producerRuns, weights });
  }

  /** Marks a device's run finished; returns its session.run time (µs). */
  private finish(device: number): number {
    const done = this.ctl.done(device);
    this.records.finishRun(device, done);
    this.stats.sessionUs[device] = (this.stats.sessionUs[device] ?? 0) + done.runUs;
    return done.runUs;
  }

  private watch(h: StageHandle): void {
    // An exit wakes a waiting coordinator at once instead of at its next liveness check.
    h.onExitOnce(() => {
      if (!this.closed) this.control?.completion.ring();
    });
  }

  private get ctl(): ControlBlock {
    if (!this.control) throw new EngineError('RUNNER_BAD_STEP', 'no generation has begun on this runner', false);
    return this.control;
  }

  private ensureOpen(): void {
    if (this.closed) throw new EngineError('RUNNER_CLOSED', 'runner is closed', false);
  }
}
