import type { Compensation, PipelineSpec } from '@asyncdiff/asyncdiff';
import { EngineError } from '@asyncdiff/asyncdiff';

import type { DeviceSpec } from './device.js';

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

/**
 * A runner's options with every default applied and checked: what the runner's parts read, so
 * none of them repeats a default or handles a missing field.
 */
export type ResolvedProcessRunnerOptions = Required<ProcessRunnerOptions>;

/**
 * Applies the defaults documented on `ProcessRunnerOptions` and rejects a device count that does
 * not fit the pipeline and branches, or a bad `stageStepTimeoutMs`, before any process is spawned.
 */
export function resolveProcessRunnerOptions(options: ProcessRunnerOptions): ResolvedProcessRunnerOptions {
  const wait = options.wait ?? 'async';
  const resolved: ResolvedProcessRunnerOptions = {
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
  return resolved;
}
