import { randomBytes } from 'node:crypto';

import type { ComponentSpec, GenerationBatch, PipelineSpec, PlannedRun, PlannedStep, StageRunner } from '@asyncdiff/asyncdiff';
import { EngineError, StageCrashedError, componentOfDevice } from '@asyncdiff/asyncdiff';
import { Channel, getAffinity, setProcessAffinity, sweepOrphanSegments, type Doorbell } from '@asyncdiff/shm';

import { ControlBlock, monotonicUs } from './control-block.js';
import type { DeviceSpec } from './device.js';
import { StageFailedError } from './errors.js';
import { StageHandle } from './stage-handle.js';

/** How a coordinator waits for its stages (see `ProcessRunnerOptions.wait`). */
export type CoordinatorWait = 'sync' | 'async' | 'hybrid';

/** Options of a stage-process runner. */
export interface ProcessRunnerOptions {
  readonly pipeline: PipelineSpec;
  /** One device per stage process: N for stride 1, N+1 for stride 2. */
  readonly devices: readonly DeviceSpec[];
  /** Dims of one latent row without batch. */
  readonly sampleDims: readonly number[];
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
   * Sync wait only: once one stage of a parallel step has finished, its core is idle, so the
   * coordinator busy-polls for the others this long instead of sleeping (saves a futex wake-up,
   * tens of µs in a VM, on every step's critical path). 0 always sleeps. @defaultValue 2000
   */
  readonly coordinatorSpinUs?: number;
}

/** Whether a generation currently pins this thread (see `pinCoordinator`); its runner holds `savedAffinity`. */
let threadPinned = false;
/** Generations between begin() and end() in this thread: hybrid waits block only when alone. */
let generationsInFlight = 0;

/** Whether a component reads the latent (its runs cannot start before the sampler's math). */
function readsLatent(c: ComponentSpec): boolean {
  return c.inputs.some((i) => i.kind === 'latent');
}

/** Spin budget of a device's stage: only stages that never wait for the coordinator's latent spin. */
function stageSpinUs(o: Required<ProcessRunnerOptions>, device: number): number {
  const c = o.pipeline.components[componentOfDevice(o.pipeline.components.length, device)];
  return !c || readsLatent(c) ? 0 : o.spinUs;
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
  readonly devices: number;
  readonly components: number;
  readonly stats: RunnerStats;
  private readonly control: ControlBlock;
  private readonly lastRun: number[];
  private readonly channels: (Channel | undefined)[];
  private configured: { batch: number } | undefined;
  /** The batch of the last configuration: `recover()` rebinds replaced stages to it at once. */
  private lastBatch: number | undefined;
  /** Runs of the next step started early by prepareStep: [device, request seq]. */
  private prepared: { step: number; expected: [number, number][] } | undefined;
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
    const n = options.sampleDims.reduce((a, b) => a * b, 1);
    this.control = ControlBlock.create(`ctl-${randomBytes(4).toString('hex')}`, this.devices, options.maxBatch, n);
    this.lastRun = new Array<number>(this.devices).fill(-1);
    this.channels = new Array<Channel | undefined>(this.devices).fill(undefined);
    this.stats = { steps: 0, stepUs: 0, criticalSessionUs: 0, sessionUs: new Array<number>(this.devices).fill(0), handoffUs: 0 };
    this.dispatchedAt = new Array<number>(this.devices).fill(0);
    this.readsLatent = options.pipeline.components.map(readsLatent);
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
      coordinatorSpinUs: 2000,
      pinCoordinator: true,
      ...options,
    };
    const N = resolved.pipeline.components.length;
    if (resolved.devices.length !== N && resolved.devices.length !== N + 1) {
      throw new EngineError('RUNNER_BAD_STEP', `${N} components need ${N} devices (stride 1) or ${N + 1} (stride 2), got ${resolved.devices.length}`, false, 'devices');
    }
    const handles = await Promise.all(resolved.devices.map((spec, d) => StageHandle.spawn(d, spec, resolved.pipeline.components[componentOfDevice(N, d)]!, { spinUs: stageSpinUs(resolved, d) })));
    return new ProcessRunner(resolved, handles);
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
    this.control.labels.set(batch.classLabels.subarray(0, batch.batch));
    if (this.configured?.batch !== batch.batch) await this.configure(batch.batch);
    // After the awaits: the sampler calls end() only for a begin that returned.
    if (!this.inGeneration) {
      this.inGeneration = true;
      generationsInFlight += 1;
    }
    this.pin();
  }

  async runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array): Promise<void> {
    this.ensureOpen();
    const cfg = this.configured;
    if (!cfg) throw new EngineError('RUNNER_BAD_STEP', 'runStep before begin', false);
    const t0 = performance.now();
    const stepStartUs = monotonicUs();
    this.control.latent.set(latent);
    let critical = 0;
    if (step.phase === 'warmup') {
      for (const run of step.runs) {
        const seq = this.dispatch(run, timestepValues);
        await this.waitFor([[run.device, seq]]);
        this.stats.handoffUs += this.handoffOf(run.device, stepStartUs, monotonicUs());
        critical += this.finish(run.device);
      }
    } else if (step.runs.length > 0) {
      const early = this.prepared?.step === step.step ? this.prepared.expected : [];
      this.prepared = undefined;
      const started = new Set(early.map(([d]) => d));
      const expected = [...early, ...step.runs.filter((run) => !started.has(run.device)).map((run) => [run.device, this.dispatch(run, timestepValues)] as [number, number])];
      await this.waitFor(expected);
      // The run that finished last ended the step; the coordinator noticed it as the wait returned.
      const noticedUs = monotonicUs();
      const last = expected.reduce((a, [d]) => (this.control.stamps(d).doneAtUs > this.control.stamps(a).doneAtUs ? d : a), expected[0]![0]);
      this.stats.handoffUs += this.handoffOf(last, stepStartUs, noticedUs);
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
    if (this.closed || !this.configured || step.phase !== 'parallel' || this.prepared) return;
    const early = step.runs.filter((run) => !this.readsLatent[componentOfDevice(this.components, run.device)]);
    if (early.length === 0) return;
    this.prepared = { step: step.step, expected: early.map((run) => [run.device, this.dispatch(run, timestepValues)]) };
  }

  eps(device: number): Float32Array {
    const ch = this.channels[device];
    const run = this.lastRun[device] ?? -1;
    if (!ch || run < 0) throw new EngineError('RUNNER_BAD_STEP', `device ${device} has no noise prediction yet`, false);
    return ch.slot((run & 1) as 0 | 1).data(this.options.pipeline.epsOutput, 'float32');
  }

  /**
   * Replaces dead stage processes (after a StageCrashedError) and forgets all hidden states (the
   * sampler re-warms one sequential step). Every stage is rebound at once to the last batch size,
   * so a replacement's first health check is a real inference and the next job does not pay for
   * the configure.
   */
  async recover(): Promise<number[]> {
    this.ensureOpen();
    const replaced: number[] = [];
    for (let d = 0; d < this.devices; d++) {
      const h = this.handles[d]!;
      if (h.alive()) continue;
      await h.close(500);
      const spec = this.options.devices[d]!;
      const fresh = await StageHandle.spawn(d, spec, this.options.pipeline.components[componentOfDevice(this.components, d)]!, { spinUs: stageSpinUs(this.options, d) });
      this.handles[d] = fresh;
      this.watch(fresh);
      replaced.push(d);
    }
    sweepOrphanSegments();
    this.configured = undefined;
    this.prepared = undefined;
    if (this.lastBatch !== undefined) {
      // Best effort: if a stage dies again here, the next `begin` notices (assertAlive) and
      // reports the crash to the caller's retry loop, which is where it belongs.
      await this.configure(this.lastBatch).catch(() => undefined);
    }
    return replaced;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.end();
      await Promise.all(this.handles.map((h) => h.close().catch(() => undefined)));
      for (const ch of this.channels) ch?.dispose();
      this.control.dispose();
    })();
    return this.closed;
  }

  private async configure(batch: number): Promise<void> {
    this.configured = undefined;
    const channelNames: string[] = new Array<string>(this.devices).fill('');
    // Producers before consumers: a stage probes its output shapes from its inputs.
    const order = [...Array(this.devices).keys()].sort((a, b) => componentOfDevice(this.components, a) - componentOfDevice(this.components, b) || a - b);
    for (const d of order) {
      const comp = this.options.pipeline.components[componentOfDevice(this.components, d)]!;
      const producerDevices = [...new Set(comp.inputs.flatMap((i) => (i.kind === 'boundary' ? [i.producer] : [])))];
      const producers = producerDevices.map((p) => ({ device: p, channel: channelNames[p]! }));
      const r = await this.handles[d]!.configure(batch, this.options.sampleDims, this.control.name, producers);
      channelNames[d] = r.channel;
    }
    for (let d = 0; d < this.devices; d++) {
      this.channels[d]?.dispose();
      this.channels[d] = Channel.open(channelNames[d]!);
      this.lastRun[d] = -1;
    }
    this.configured = { batch };
    this.lastBatch = batch;
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
    const { wokeAtUs, doneAtUs } = this.control.stamps(device);
    const request = wokeAtUs - Math.max(this.dispatchedAt[device] ?? 0, stepStartUs);
    const completion = noticedUs - doneAtUs;
    return Math.max(0, request) + Math.max(0, completion);
  }

  private dispatch(run: PlannedRun, timestepValues: Float64Array): number {
    const tValue = timestepValues[run.t];
    if (tValue === undefined) throw new EngineError('RUNNER_BAD_STEP', `timestep index ${run.t} out of range`, false);
    const producerRuns = this.lastRun.slice(0, this.components);
    const h = this.handles[run.device]!;
    h.state = 'busy';
    this.dispatchedAt[run.device] = monotonicUs();
    return this.control.dispatch(run.device, { run: (this.lastRun[run.device] ?? -1) + 1, tIndex: run.t, tValue, producerRuns });
  }

  /** Marks a device's run finished; returns its session.run time (µs). */
  private finish(device: number): number {
    const done = this.control.done(device);
    const h = this.handles[device]!;
    if (done.failed) {
      h.state = 'ready';
      throw new StageFailedError(device, `stage ${device} failed a run: ${h.stderrTail ?? 'see stage log'}`);
    }
    h.state = 'ready';
    this.lastRun[device] = (this.lastRun[device] ?? -1) + 1;
    this.stats.sessionUs[device] = (this.stats.sessionUs[device] ?? 0) + done.runUs;
    return done.runUs;
  }

  private async waitFor(expected: readonly (readonly [number, number])[]): Promise<void> {
    const bell = this.control.completion;
    for (;;) {
      const seen = bell.seq;
      let done = 0;
      let coreFree = false;
      for (const [d, seq] of expected) {
        if (this.control.done(d).seq !== seq) continue;
        done += 1;
        // Pinned beside device 0, only its completion frees our core; unpinned, any will do.
        if (!this.savedAffinity || d === 0) coreFree = true;
      }
      if (done === expected.length) return;
      // Once a core is free, poll instead of sleeping for the rest (saves a futex wake-up).
      const spinUs = coreFree ? this.options.coordinatorSpinUs : 0;
      const r = await this.waitOnce(bell, seen, spinUs);
      if (r.status !== 'rung') this.assertAlive(expected.map(([d]) => d));
    }
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
        h.state = 'crashed';
        this.configured = undefined;
        throw new StageCrashedError(d, `stage process of device ${d} (pid ${h.pid}) died${h.stderrTail ? `: ${h.stderrTail}` : ''}`);
      }
    }
  }

  private watch(h: StageHandle): void {
    // An exit wakes a waiting coordinator at once instead of at its next liveness check.
    h.onExitOnce(() => {
      if (!this.closed) this.control.completion.ring();
    });
  }

  private ensureOpen(): void {
    if (this.closed) throw new EngineError('RUNNER_CLOSED', 'runner is closed', false);
  }
}
