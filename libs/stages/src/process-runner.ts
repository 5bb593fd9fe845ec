import { randomBytes } from 'node:crypto';

import type { Compensation, ComponentSpec, GenerationBatch, PipelineSpec, PlannedRun, PlannedStep, StageRunner, StageStatus } from '@asyncdiff/asyncdiff';
import { COMPENSATION_ORDER, EngineError, StageCrashedError, componentOfDevice, extrapolationWeights, isIdentity } from '@asyncdiff/asyncdiff';
import { Channel, getAffinity, setProcessAffinity, sweepOrphanSegments, type Doorbell } from '@asyncdiff/shm';
import { float16ToFloat32 } from '@asyncdiff/tensor';

import { activeBranches, branchDevice, branchRows, localOf, type BranchLayout } from './branches.js';
import { ControlBlock, monotonicUs } from './control-block.js';
import { layoutFits, type ControlCapacity } from './control-layout.js';
import type { DeviceSpec } from './device.js';
import { StageFailedError } from './errors.js';
import { asFloat32, writeConditioning, writeLatent } from './feeds.js';
import { StageHandle } from './stage-handle.js';

/** How a coordinator waits for its stages (see `ProcessRunnerOptions.wait`). */
export type CoordinatorWait = 'sync' | 'async' | 'hybrid';

/** Options of a stage-process runner. */
export interface ProcessRunnerOptions {
  readonly pipeline: PipelineSpec;
  /** One device per stage process: N for stride 1, N+1 for stride 2 — per branch. */
  readonly devices: readonly DeviceSpec[];
  /**
   * Branches running the plan side by side on different rows (see `BranchLayout`): 2 puts the
   * unconditional half of a guided batch on its own devices (CFG-parallel; with N > 1 each
   * branch is an AsyncDiff pipeline — hybrid). Devices are numbered branch by branch.
   * @defaultValue 1
   */
  readonly branches?: 1 | 2;
  /** Largest model batch (rows) a generation may use. @defaultValue 32 */
  readonly maxBatch?: number;
  /**
   * How the coordinator waits for stages: `sync` blocks its thread on a futex for the whole
   * generation (lowest latency; CLI, benchmarks, worker threads); `async` sleeps on a helper
   * thread so the event loop keeps serving (BullMQ lock renewal, HTTP) but pays a thread hop and
   * an event-loop wake-up per wait; `hybrid` blocks like `sync` for at most `hybridBlockMs` per
   * wait (then finishes it like `async`) and returns to the event loop at least every
   * `hybridYieldMs` — sync speed for short steps, a loop that still turns — but only while it is
   * the thread's only generation in flight (otherwise it waits like `async`). @defaultValue 'async'
   */
  readonly wait?: CoordinatorWait;
  /** Hybrid wait: longest synchronous block per wait. @defaultValue 5 */
  readonly hybridBlockMs?: number;
  /** Hybrid wait: the event loop gets a turn at least this often during a generation. @defaultValue 20 */
  readonly hybridYieldMs?: number;
  /**
   * Stages that do not read the latent busy-poll their request doorbell this long after a run
   * before sleeping, so the next step's head start (prepareStep) reaches them without a futex
   * wake-up. Their core has nothing else to do. @defaultValue 300 with sync or hybrid wait, else 0
   */
  readonly spinUs?: number;
  /**
   * Sync and hybrid wait: pin the coordinator's thread, for the duration of a generation, to the
   * cores of device 0 — the stage that waits for the coordinator's latent anyway — so the
   * coordinator's polling and math never take a core from another stage. Generations interleaved
   * on one thread (hybrid waits in a GPU host) cannot all pin it: only the first to begin does,
   * and it restores the thread's affinity when it ends. @defaultValue true
   */
  readonly pinCoordinator?: boolean;
  /** How often a waiting coordinator checks that its stages are alive. @defaultValue 100 */
  readonly crashCheckMs?: number;
  /**
   * A run that has not finished this long after its dispatch counts as a stuck stage (alive but
   * hung: a deadlocked driver, a stopped process): its process is killed and the wait fails with
   * `StageCrashedError`, so the engine replaces it and resumes like after a crash. A fixed bound,
   * not one derived from measured steps: the first runs after a configure (and a GPU's kernel
   * tuning) are legitimately many times slower than the rest, and a false positive costs a stage
   * restart. Generous for our models (milliseconds per step) and for an SDXL-class UNet step on
   * a slow GPU (seconds). 0 disables it. @defaultValue 60000
   */
  readonly stageStepTimeoutMs?: number;
  /**
   * Sync wait only: once one stage of a parallel step has finished, its core is idle, so the
   * coordinator busy-polls for the others this long instead of sleeping (saves a futex wake-up,
   * tens of µs in a VM, on every step's critical path). 0 always sleeps. @defaultValue 2000
   */
  readonly coordinatorSpinUs?: number;
  /**
   * The highest staleness compensation generations may ask for: every stage's output channel
   * keeps its last order + 1 runs readable (order + 2 slots) so consumers can extrapolate from
   * them while it writes the next. 'none' keeps the plain double buffer.
   * @defaultValue 'quadratic'
   */
  readonly maxCompensation?: Compensation;
}

/** Whether a generation currently pins this thread (see `pinCoordinator`); its runner holds `savedAffinity`. */
let threadPinned = false;
/** Generations between begin() and end() in this thread: hybrid waits block only when alone. */
let generationsInFlight = 0;

/** Whether a component reads the latent (its runs cannot start before the sampler's math). */
function readsLatent(c: ComponentSpec): boolean {
  return c.inputs.some((i) => i.kind === 'latent');
}

/** The branch layout of a runner's options. */
function layoutOf(o: Pick<ProcessRunnerOptions, 'devices' | 'branches'>): BranchLayout {
  const branches = o.branches ?? 1;
  return { branches, perBranch: o.devices.length / branches };
}

/** The component a global device holds (its local device's, in every branch). */
function componentOf(o: Required<ProcessRunnerOptions>, device: number): number {
  return componentOfDevice(o.pipeline.components.length, localOf(layoutOf(o), device).local);
}

/** Spin budget of a device's stage: only stages that never wait for the coordinator's latent spin. */
function stageSpinUs(o: Required<ProcessRunnerOptions>, device: number): number {
  const c = o.pipeline.components[componentOf(o, device)];
  return !c || readsLatent(c) ? 0 : o.spinUs;
}

/** What the stages are bound to: batch, latent shape, conditioning dims and the control block. */
interface Binding {
  /** Rows of the whole generation (split across branches by `branchRows`). */
  readonly batch: number;
  readonly sampleDims: readonly number[];
  readonly conditioningDims: Readonly<Record<string, readonly number[]>>;
  readonly control: string;
}

function sameBinding(a: Binding, b: Omit<Binding, 'control'> & { control?: string }): boolean {
  const dims = (x: Readonly<Record<string, readonly number[]>>): string => JSON.stringify(Object.entries(x).sort(([k], [l]) => k.localeCompare(l)));
  return a.batch === b.batch && a.sampleDims.join() === b.sampleDims.join() && dims(a.conditioningDims) === dims(b.conditioningDims) && (b.control === undefined || a.control === b.control);
}

/** Spawns device `d`'s stage with its component and the pipeline's feed types. */
function spawnStage(o: Required<ProcessRunnerOptions>, d: number, spec: DeviceSpec): Promise<StageHandle> {
  const component = o.pipeline.components[componentOf(o, d)]!;
  const { latentDtype, timestepDtype } = o.pipeline;
  return StageHandle.spawn(d, spec, component, { latentDtype, timestepDtype }, { spinUs: stageSpinUs(o, d) });
}

/** Counters for the benchmark's profile: where a step's time goes. */
export interface RunnerStats {
  steps: number;
  /**
   * Wall time of steps with runs, µs: from the end of the previous step's runs (the sampler's math
   * in between included) to the end of this step's — the whole period a step costs.
   */
  stepUs: number;
  /** Per step, the slowest run's time inside session.run (what an ideal hand-off would cost), µs. */
  criticalSessionUs: number;
  /** Sum over devices of time inside session.run, µs. */
  sessionUs: number[];
  /**
   * The hand-off itself, µs: on each step's critical path (the run that ended the step, or every
   * run of a warm-up chain), request doorbell → stage awake plus stage done → coordinator awake.
   * Tensors never move (zero copy), so this is all a hand-off costs.
   */
  handoffUs: number;
}

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
  private readonly lastRun: number[];
  private readonly channels: (Channel | undefined)[];
  /** The binding the stages hold now (undefined after a crash or before the first begin). */
  private configured: Binding | undefined;
  /** The last binding: `recover()` rebinds replaced stages to it at once. */
  private lastBinding: Binding | undefined;
  private epsScratch = new Float32Array(0);
  /** Per device, the run number each recent step was dispatched as (compensation checks its producers' history). */
  private readonly runOfStep: Map<number, number>[];
  /** Per global device, the global devices of its component's producers (its own branch). */
  private readonly producersOf: number[][];
  /** Runs of the next step started early by prepareStep: [device, request seq]. */
  private prepared: { step: number; expected: [number, number][] } | undefined;
  /** The step being dispatched reads each row's timestep from the control block (see `runStep`). */
  private perRow = false;
  /** Per component: whether it reads the latent (such runs cannot start before the sampler's math). */
  private readonly readsLatent: boolean[];
  /** This process's CPUs before `pin()`, restored by `end()`. */
  private savedAffinity: number[] | undefined;
  /** Per device, `monotonicUs` of its last dispatch. */
  private readonly dispatchedAt: number[];
  /** Between begin() and end() (counted in `generationsInFlight`). */
  private inGeneration = false;
  /** Hybrid wait: when the event loop last had a turn (performance.now). */
  private loopTurnAt: number | undefined;
  /** When the last step's runs finished (performance.now), within the current generation. */
  private lastDoneAt: number | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly options: Required<ProcessRunnerOptions>,
    private readonly handles: StageHandle[],
  ) {
    this.devices = options.devices.length;
    this.components = options.pipeline.components.length;
    this.layout = layoutOf(options);
    this.lastRun = new Array<number>(this.devices).fill(-1);
    this.channels = new Array<Channel | undefined>(this.devices).fill(undefined);
    this.stats = { steps: 0, stepUs: 0, criticalSessionUs: 0, sessionUs: new Array<number>(this.devices).fill(0), handoffUs: 0 };
    this.dispatchedAt = new Array<number>(this.devices).fill(0);
    this.readsLatent = options.pipeline.components.map(readsLatent);
    this.runOfStep = Array.from({ length: this.devices }, () => new Map<number, number>());
    this.producersOf = Array.from({ length: this.devices }, (_, d) => {
      const comp = options.pipeline.components[componentOf(options, d)]!;
      const { branch } = localOf(this.layout, d);
      return [...new Set(comp.inputs.flatMap((i) => (i.kind === 'boundary' ? [branchDevice(this.layout, branch, i.producer)] : [])))];
    });
    for (const h of handles) this.watch(h);
  }

  /** Spawns and loads every stage process (in parallel). */
  static async create(options: ProcessRunnerOptions): Promise<ProcessRunner> {
    const wait = options.wait ?? 'async';
    const resolved: Required<ProcessRunnerOptions> = {
      maxBatch: 32,
      wait,
      hybridBlockMs: 5,
      hybridYieldMs: 20,
      spinUs: wait === 'async' ? 0 : 300,
      crashCheckMs: 100,
      stageStepTimeoutMs: 60_000,
      coordinatorSpinUs: 2000,
      pinCoordinator: true,
      branches: 1,
      maxCompensation: 'quadratic',
      ...options,
    };
    const N = resolved.pipeline.components.length;
    const B = resolved.branches;
    if (resolved.devices.length !== B * N && resolved.devices.length !== B * (N + 1)) {
      throw new EngineError(
        'RUNNER_BAD_STEP',
        `${N} components in ${B} branch(es) need ${B * N} devices (stride 1) or ${B * (N + 1)} (stride 2), got ${resolved.devices.length}`,
        false,
        'devices',
      );
    }
    if (!Number.isSafeInteger(resolved.stageStepTimeoutMs) || resolved.stageStepTimeoutMs < 0) {
      throw new EngineError('RUNNER_BAD_STEP', `stageStepTimeoutMs must be an integer ≥ 0, got ${resolved.stageStepTimeoutMs}`, false, 'stageStepTimeoutMs');
    }
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
    return this.handles.map((h) => h.pid);
  }

  /** Stage handles by device (health checks, memory stats, supervision). */
  get stages(): readonly StageHandle[] {
    return this.handles;
  }

  async begin(batch: GenerationBatch): Promise<void> {
    this.ensureOpen();
    if (batch.batch > this.options.maxBatch) {
      throw new EngineError('RUNNER_BAD_STEP', `batch ${batch.batch} exceeds maxBatch ${this.options.maxBatch}`, false, 'count');
    }
    this.assertAlive();
    await this.settlePrepared();
    this.lastDoneAt = undefined;
    this.loopTurnAt = performance.now();
    for (const m of this.runOfStep) m.clear();
    const binding = this.bindingFor(batch);
    const control = this.controlFor(batch);
    this.active = activeBranches(this.layout, batch.batch);
    for (const c of this.options.pipeline.conditioning) writeConditioning(control.conditioning.get(c.name)!.data, batch.conditioning[c.name]!);
    if (!this.configured || !sameBinding(this.configured, { ...binding, control: control.name })) await this.configure(binding);
    // After the awaits: the sampler calls end() only for a begin that returned.
    if (!this.inGeneration) {
      this.inGeneration = true;
      generationsInFlight += 1;
    }
    this.pin();
  }

  async runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array, rowTimesteps?: Float64Array): Promise<void> {
    this.ensureOpen();
    const cfg = this.configured;
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
        await this.waitFor(expected);
        const noticedUs = monotonicUs();
        this.stats.handoffUs += this.handoffOf(this.lastDone(control, expected), stepStartUs, noticedUs);
        let slowest = 0;
        for (const [device] of expected) slowest = Math.max(slowest, this.finish(device));
        critical += slowest;
      }
    } else if (step.runs.length > 0) {
      const early = this.prepared?.step === step.step ? this.prepared.expected : [];
      this.prepared = undefined;
      const started = new Set(early.map(([d]) => localOf(this.layout, d).local));
      const expected = [...early, ...step.runs.filter((run) => !started.has(run.device)).flatMap((run) => this.dispatchAll(step.step, run, timestepValues))];
      await this.waitFor(expected);
      // The run that finished last ended the step; the coordinator noticed it as the wait returned.
      const noticedUs = monotonicUs();
      this.stats.handoffUs += this.handoffOf(this.lastDone(control, expected), stepStartUs, noticedUs);
      for (const [device] of expected) critical = Math.max(critical, this.finish(device));
    }
    const now = performance.now();
    this.stats.steps += 1;
    this.stats.stepUs += (now - (this.lastDoneAt ?? t0)) * 1000;
    this.lastDoneAt = now;
    this.stats.criticalSessionUs += critical;
  }

  end(): void {
    if (this.inGeneration) {
      this.inGeneration = false;
      generationsInFlight -= 1;
    }
    if (this.savedAffinity) {
      setProcessAffinity(this.savedAffinity);
      this.savedAffinity = undefined;
      threadPinned = false;
    }
  }

  prepareStep(step: PlannedStep, timestepValues: Float64Array): void {
    this.perRow = false;
    if (this.closed || !this.configured || step.phase !== 'parallel' || this.prepared) return;
    const early = step.runs.filter((run) => !this.readsLatent[componentOfDevice(this.components, run.device)]);
    if (early.length === 0) return;
    this.prepared = { step: step.step, expected: early.flatMap((run) => this.dispatchAll(step.step, run, timestepValues)) };
  }

  eps(device: number): Float32Array {
    const parts = this.active.map((b) => this.epsOf(branchDevice(this.layout, b, device)));
    if (parts.length === 1) {
      const only = parts[0]!;
      return asFloat32(only, () => this.scratch(only.length));
    }
    // Branches computed row ranges in order: their predictions side by side are the batch's.
    const out = this.scratch(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      if (p instanceof Uint16Array) float16ToFloat32(p, out.subarray(offset, offset + p.length));
      else out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  /** A global device's latest prediction, as its slot holds it (float32 or float16). */
  private epsOf(device: number): Float32Array | Uint16Array {
    const ch = this.channels[device];
    const run = this.lastRun[device] ?? -1;
    if (!ch || run < 0) throw new EngineError('RUNNER_BAD_STEP', `device ${device} has no noise prediction yet`, false);
    return ch.slotOf(run).tensor(this.options.pipeline.epsOutput).data as Float32Array | Uint16Array;
  }

  private scratch(length: number): Float32Array {
    if (this.epsScratch.length !== length) this.epsScratch = new Float32Array(length);
    return this.epsScratch;
  }

  stageStatus(): readonly StageStatus[] {
    return this.handles.map((h) => ({ device: h.device, pid: h.pid, state: h.state }));
  }

  /**
   * A real inference on every live stage's current binding (between generations); a stage that
   * fails or hangs past `timeoutMs` is killed, so `recover()` replaces it.
   */
  async checkHealth(timeoutMs: number): Promise<readonly number[]> {
    this.ensureOpen();
    const dead: number[] = [];
    for (const stage of this.handles) {
      if (!stage.alive()) {
        dead.push(stage.device);
        continue;
      }
      try {
        // A health check is one inference at the bound shapes: give a big model's stage (seconds
        // per run on a CPU host) three of its last runs' time before calling it hung.
        const lastRunMs = this.control ? this.control.done(stage.device).runUs / 1000 : 0;
        await stage.health(Math.max(timeoutMs, Math.ceil(3 * lastRunMs)));
      } catch {
        dead.push(stage.device);
        stage.child.kill('SIGKILL');
        await new Promise<void>((resolve) => (stage.alive() ? stage.onExitOnce(() => resolve()) : resolve()));
      }
    }
    return dead;
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
      const h = this.handles[d]!;
      if (h.alive()) continue;
      await h.close(500);
      const spec = this.options.devices[d]!;
      const fresh = await spawnStage(this.options, d, spec);
      this.handles[d] = fresh;
      this.watch(fresh);
      replaced.push(d);
    }
    sweepOrphanSegments();
    this.configured = undefined;
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
      await Promise.all(this.handles.map((h) => h.close().catch(() => undefined)));
      for (const ch of this.channels) ch?.dispose();
      this.control?.dispose();
    })();
    return this.closed;
  }

  /** What the stages must be bound to for a generation (control block chosen by `controlFor`). */
  private bindingFor(batch: GenerationBatch): Omit<Binding, 'control'> {
    const conditioningDims: Record<string, readonly number[]> = {};
    for (const c of this.options.pipeline.conditioning) {
      const t = batch.conditioning[c.name];
      if (!t) throw new EngineError('RUNNER_BAD_STEP', `the generation has no conditioning tensor ${c.name}`, false, c.name);
      if (t.dtype !== c.dtype) throw new EngineError('RUNNER_BAD_STEP', `conditioning ${c.name} is ${t.dtype}, the graph wants ${c.dtype}`, false, c.name);
      if (t.dims[0] !== batch.batch) throw new EngineError('RUNNER_BAD_STEP', `conditioning ${c.name} has ${t.dims[0]} rows for a batch of ${batch.batch}`, false, c.name);
      conditioningDims[c.name] = [...t.dims];
    }
    return { batch: batch.batch, sampleDims: [...batch.sampleDims], conditioningDims };
  }

  /**
   * The control block for a generation: the current one if it can hold the latent and the
   * conditioning, else a new one sized for `maxBatch` rows of them (the stages are rebound to it).
   */
  private controlFor(batch: GenerationBatch): ControlBlock {
    const p = this.options.pipeline;
    const need: ControlCapacity = {
      devices: this.devices,
      maxBatch: this.options.maxBatch,
      latentDtype: p.latentDtype,
      sampleElements: batch.sampleDims.reduce((a, b) => a * b, 1),
      conditioning: Object.fromEntries(
        p.conditioning.map((c) => [c.name, { dtype: c.dtype, rowElements: batch.conditioning[c.name]!.dims.slice(1).reduce((a, b) => a * b, 1) }]),
      ),
    };
    if (this.control && layoutFits(this.control.layout, need)) return this.control;
    const fresh = ControlBlock.create(`ctl-${randomBytes(4).toString('hex')}`, need);
    this.control?.dispose();
    this.control = fresh;
    this.configured = undefined;
    return fresh;
  }

  private async configure(b: Omit<Binding, 'control'>): Promise<void> {
    const control = this.control!;
    this.configured = undefined;
    const channelNames: string[] = new Array<string>(this.devices).fill('');
    const active = activeBranches(this.layout, b.batch);
    // Producers before consumers: a stage probes its output shapes from its inputs. Branches
    // without rows this generation keep their old binding (they are not dispatched).
    const order = [...Array(this.devices).keys()]
      .filter((d) => active.includes(localOf(this.layout, d).branch))
      .sort((a, c) => componentOf(this.options, a) - componentOf(this.options, c) || a - c);
    for (const d of order) {
      const { branch } = localOf(this.layout, d);
      const rows = branchRows(this.layout, b.batch, branch);
      const comp = this.options.pipeline.components[componentOf(this.options, d)]!;
      const producerDevices = [...new Set(comp.inputs.flatMap((i) => (i.kind === 'boundary' ? [branchDevice(this.layout, branch, i.producer)] : [])))];
      const producers = producerDevices.map((p) => ({ device: p, channel: channelNames[p]! }));
      const r = await this.handles[d]!.configure({
        ...b,
        batch: rows.end - rows.start,
        rowOffset: rows.start,
        deviceBase: branchDevice(this.layout, branch, 0),
        control: control.name,
        layout: control.layout,
        producers,
        slots: COMPENSATION_ORDER[this.options.maxCompensation] + 2,
      });
      channelNames[d] = r.channel;
    }
    for (let d = 0; d < this.devices; d++) {
      this.channels[d]?.dispose();
      const name = channelNames[d];
      this.channels[d] = name ? Channel.open(name) : undefined;
      this.lastRun[d] = -1;
    }
    const binding = { ...b, control: control.name };
    this.configured = binding;
    this.lastBinding = binding;
  }

  private pin(): void {
    const cpus = this.options.devices[0]?.cpus;
    if (this.options.wait === 'async' || !this.options.pinCoordinator || !cpus || cpus.length === 0 || this.savedAffinity) return;
    // One thread has one affinity: with hybrid waits several generations interleave on it (data
    // parallelism in a GPU host), and only the first to begin may pin it and restore it.
    if (threadPinned) return;
    threadPinned = true;
    this.savedAffinity = getAffinity();
    setProcessAffinity(cpus);
  }

  /** Waits out runs a prepareStep started when the generation was stopped before using them. */
  private async settlePrepared(): Promise<void> {
    const p = this.prepared;
    if (!p) return;
    this.prepared = undefined;
    await this.waitFor(p.expected);
    for (const [device] of p.expected) this.finish(device);
  }

  /**
   * Doorbell latency of a device's last run on the step's critical path: its wake-up after the
   * later of dispatch and step start (a head-start dispatch sleeps through the sampler's math),
   * and the coordinator's wake-up (`noticedUs`) after its completion.
   */
  private handoffOf(device: number, stepStartUs: number, noticedUs: number): number {
    const { wokeAtUs, doneAtUs } = this.ctl.stamps(device);
    const request = wokeAtUs - Math.max(this.dispatchedAt[device] ?? 0, stepStartUs);
    const completion = noticedUs - doneAtUs;
    return Math.max(0, request) + Math.max(0, completion);
  }

  /** Dispatches a planned run to its device in every active branch; returns [device, seq] pairs to wait for. */
  private dispatchAll(step: number, run: PlannedRun, timestepValues: Float64Array): [number, number][] {
    const weights = this.weightsOf(run, timestepValues);
    return this.active.map((b) => {
      const device = branchDevice(this.layout, b, run.device);
      return [device, this.dispatch(device, step, run, timestepValues, weights)];
    });
  }

  /** A run's compensation weights over its producers' last runs (empty: read them as they are). */
  private weightsOf(run: PlannedRun, timestepValues: Float64Array): number[] {
    const history = run.history;
    if (!history) return [];
    const weights = extrapolationWeights(timestepValues[run.t] as number, history.map((h) => timestepValues[h.t] as number));
    if (isIdentity(weights)) return [];
    const keeps = COMPENSATION_ORDER[this.options.maxCompensation] + 1;
    if (weights.length > keeps) {
      throw new EngineError('RUNNER_BAD_STEP', `compensation over ${weights.length} outputs, this runner keeps ${keeps} (maxCompensation ${this.options.maxCompensation})`, false, 'compensation');
    }
    return weights;
  }

  /** Checks that a compensated run's history is its producers' latest consecutive runs (what the stage reads). */
  private checkHistory(device: number, run: PlannedRun): void {
    const history = run.history ?? [];
    for (const p of this.producersOf[device] ?? []) {
      const last = this.lastRun[p] ?? -1;
      history.forEach((h, i) => {
        if (this.runOfStep[p]?.get(h.step) !== last - i) {
          throw new EngineError('RUNNER_BAD_STEP', `device ${device}: producer ${p}'s output of step ${h.step} is not its run ${last - i}`, false);
        }
      });
    }
  }

  /** Of finished runs, the device whose completion came last (it ended the wait). */
  private lastDone(control: ControlBlock, expected: readonly (readonly [number, number])[]): number {
    return expected.reduce((a, [d]) => (control.stamps(d).doneAtUs > control.stamps(a).doneAtUs ? d : a), expected[0]![0]);
  }

  private dispatch(device: number, step: number, run: PlannedRun, timestepValues: Float64Array, weights: readonly number[]): number {
    const tValue = timestepValues[run.t];
    if (tValue === undefined) throw new EngineError('RUNNER_BAD_STEP', `timestep index ${run.t} out of range`, false);
    if (weights.length > 0) this.checkHistory(device, run);
    const next = (this.lastRun[device] ?? -1) + 1;
    const recent = this.runOfStep[device]!;
    recent.set(step, next);
    if (recent.size > 8) recent.delete(recent.keys().next().value as number);
    // Producers are named by global device (a branch reads its own branch's producers).
    const producerRuns = this.lastRun;
    const h = this.handles[device]!;
    // A stage that died since the last wait (its exit event already marked it crashed, or the
    // process is gone) is a crash the caller recovers from, not a lifecycle bug: dispatching
    // to it would be `crashed → busy`.
    if (!h.alive()) {
      h.markCrashed();
      this.configured = undefined;
      throw new StageCrashedError(device, `stage process of device ${device} (pid ${h.pid}) died before run ${step} was dispatched${h.stderrTail ? `: ${h.stderrTail}` : ''}`);
    }
    h.markBusy();
    this.dispatchedAt[device] = monotonicUs();
    return this.ctl.dispatch(device, { run: next, tIndex: run.t, tValue, perRow: this.perRow, producerRuns, weights });
  }

  /** Marks a device's run finished; returns its session.run time (µs). */
  private finish(device: number): number {
    const done = this.ctl.done(device);
    const h = this.handles[device]!;
    if (done.failed) {
      h.markReady();
      throw new StageFailedError(device, `stage ${device} failed a run: ${h.stderrTail ?? 'see stage log'}`);
    }
    h.markReady();
    this.lastRun[device] = (this.lastRun[device] ?? -1) + 1;
    this.stats.sessionUs[device] = (this.stats.sessionUs[device] ?? 0) + done.runUs;
    return done.runUs;
  }

  private async waitFor(expected: readonly (readonly [number, number])[]): Promise<void> {
    const bell = this.ctl.completion;
    for (;;) {
      const seen = bell.seq;
      let done = 0;
      let coreFree = false;
      for (const [d, seq] of expected) {
        if (this.ctl.done(d).seq !== seq) continue;
        done += 1;
        // Pinned beside device 0, only its completion frees our core; unpinned, any will do.
        if (!this.savedAffinity || d === 0) coreFree = true;
      }
      if (done === expected.length) return;
      // Once a core is free, poll instead of sleeping for the rest (saves a futex wake-up).
      const spinUs = coreFree ? this.options.coordinatorSpinUs : 0;
      const r = await this.waitOnce(bell, seen, spinUs);
      if (r.status === 'rung') continue;
      this.assertAlive(expected.map(([d]) => d));
      await this.assertNotStuck(expected.filter(([d, seq]) => this.ctl.done(d).seq !== seq).map(([d]) => d));
    }
  }

  /**
   * Kills a stage whose run is past `stageStepTimeoutMs` and fails the wait as a crash, so the
   * caller's recovery replaces it. Waits (bounded) for the process to be gone, so the sweep in
   * `recover()` finds its segments orphaned.
   */
  private async assertNotStuck(pending: readonly number[]): Promise<void> {
    const limitMs = this.options.stageStepTimeoutMs;
    if (limitMs <= 0) return;
    const now = monotonicUs();
    const stuck = pending.find((d) => now - (this.dispatchedAt[d] ?? now) > limitMs * 1000);
    if (stuck === undefined) return;
    const h = this.handles[stuck]!;
    const exited = new Promise<void>((resolve) => {
      if (h.child.exitCode !== null || h.child.signalCode !== null) resolve();
      else h.child.once('exit', () => resolve());
    });
    h.markCrashed();
    this.configured = undefined;
    h.child.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    throw new StageCrashedError(stuck, `stage process of device ${stuck} (pid ${h.pid}) was stuck: a run took more than ${limitMs} ms (stageStepTimeoutMs); killed`);
  }

  /** One wait on the completion bell, the way `options.wait` says (hybrid: sync first, bounded). */
  private async waitOnce(bell: Doorbell, seen: number, spinUs: number): Promise<{ status: 'rung' | 'timed-out' | 'interrupted' }> {
    const o = this.options;
    if (o.wait === 'sync') return bell.wait(seen, { timeoutMs: o.crashCheckMs, spinUs });
    // Hybrid blocks only while it is the thread's only generation: blocking for one of two
    // interleaved generations (data parallelism in a GPU host) stalls the other one.
    if (o.wait === 'async' || generationsInFlight > 1) return bell.waitAsync(seen, { timeoutMs: o.crashCheckMs });
    const now = performance.now();
    this.loopTurnAt ??= now;
    if (now - this.loopTurnAt >= o.hybridYieldMs) {
      // Let timers and I/O run (lock renewal, progress events, HTTP) before blocking again.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.loopTurnAt = performance.now();
      if (bell.seq !== seen) return { status: 'rung' };
    }
    const r = bell.wait(seen, { timeoutMs: Math.min(o.hybridBlockMs, o.crashCheckMs), spinUs });
    if (r.status === 'rung') return r;
    // A long step (or a dead stage): finish the wait without holding the loop.
    const a = await bell.waitAsync(seen, { timeoutMs: o.crashCheckMs });
    this.loopTurnAt = performance.now();
    return a;
  }

  private assertAlive(devices: readonly number[] = [...this.handles.keys()]): void {
    for (const d of devices) {
      const h = this.handles[d]!;
      if (!h.alive()) {
        h.markCrashed();
        this.configured = undefined;
        throw new StageCrashedError(d, `stage process of device ${d} (pid ${h.pid}) died${h.stderrTail ? `: ${h.stderrTail}` : ''}`);
      }
    }
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
