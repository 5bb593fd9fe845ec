import type { PlannedRun, StageStatus } from '@asyncdiff/asyncdiff';
import { EngineError, StageCrashedError } from '@asyncdiff/asyncdiff';
import { Channel } from '@asyncdiff/shm';

import { monotonicUs } from './control-block.js';
import { StageFailedError } from './errors.js';
import type { Binding } from './stage-binding.js';
import type { StageHandle } from './stage-handle.js';

/** Steps whose run number a device remembers (compensation checks its producers' recent history). */
const RECENT_STEPS = 8;

/**
 * What a stage-process runner knows about each of its devices: the stage's handle and state, its
 * run sequence (which run each recent step was), when its last run was dispatched, and the shm
 * channel its outputs are read from. Kept apart from the runner so dispatch, waiting and
 * recovery share one record instead of parallel arrays on the runner.
 */
export class StageRecords {
  /** The binding the stages hold now (undefined after a crash or before the first begin). */
  configured: Binding | undefined;
  /** Per device, its last finished run since its binding (-1: none); read by dispatch as the producers' runs. */
  readonly lastRun: number[];
  /** Per device, `monotonicUs` of its last dispatch. */
  readonly dispatchedAt: number[];
  private readonly channels: (Channel | undefined)[];
  /** Per device, the run number each recent step was dispatched as (compensation checks its producers' history). */
  private readonly runOfStep: Map<number, number>[];

  constructor(
    /** Stage handles by device; `replace` swaps in a respawned one. */
    readonly handles: StageHandle[],
    /** Per global device, the global devices of its component's producers (its own branch). */
    private readonly producersOf: readonly (readonly number[])[],
  ) {
    const devices = handles.length;
    this.lastRun = new Array<number>(devices).fill(-1);
    this.channels = new Array<Channel | undefined>(devices).fill(undefined);
    this.dispatchedAt = new Array<number>(devices).fill(0);
    this.runOfStep = Array.from({ length: devices }, () => new Map<number, number>());
  }

  /** A device's stage handle. */
  handle(device: number): StageHandle {
    return this.handles[device]!;
  }

  /** Puts a respawned stage in a dead one's place. */
  replace(device: number, handle: StageHandle): void {
    this.handles[device] = handle;
  }

  /**
   * Marks a device's stage crashed; the stages' binding is void with it (`recover()` rebinds
   * every stage). Returns the handle, for the caller's error.
   */
  crashed(device: number): StageHandle {
    const h = this.handle(device);
    h.markCrashed();
    this.configured = undefined;
    return h;
  }

  /** Each stage's device, process and lifecycle state (the StageRunner's `stageStatus`). */
  status(): readonly StageStatus[] {
    return this.handles.map((h) => ({ device: h.device, pid: h.pid, state: h.state }));
  }

  /** Forgets which run each step was (a new generation's steps start over). */
  forgetSteps(): void {
    for (const m of this.runOfStep) m.clear();
  }

  /**
   * Books `step` as a device's next run and marks its stage busy; returns the run number to
   * dispatch. A stage that died since the last wait fails as a crash.
   */
  startRun(device: number, step: number): number {
    const next = (this.lastRun[device] ?? -1) + 1;
    const recent = this.runOfStep[device]!;
    recent.set(step, next);
    if (recent.size > RECENT_STEPS) recent.delete(recent.keys().next().value as number);
    const h = this.handle(device);
    // A stage that died since the last wait (its exit event already marked it crashed, or the
    // process is gone) is a crash the caller recovers from, not a lifecycle bug: dispatching
    // to it would be `crashed → busy`.
    if (!h.alive()) {
      this.crashed(device);
      throw new StageCrashedError(device, `stage process of device ${device} (pid ${h.pid}) died before run ${step} was dispatched${h.stderrTail ? `: ${h.stderrTail}` : ''}`);
    }
    h.markBusy();
    this.dispatchedAt[device] = monotonicUs();
    return next;
  }

  /** Marks a device's run finished by its completion `done` (its channel's newest slot is now that run's); a failed run throws. */
  finishRun(device: number, done: { readonly failed: boolean }): void {
    const h = this.handle(device);
    if (done.failed) {
      h.markReady();
      throw new StageFailedError(device, `stage ${device} failed a run: ${h.stderrTail ?? 'see stage log'}`);
    }
    h.markReady();
    this.lastRun[device] = (this.lastRun[device] ?? -1) + 1;
  }

  /** Checks that a compensated run's history is its producers' latest consecutive runs (what the stage reads). */
  checkHistory(device: number, run: PlannedRun): void {
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

  /**
   * Opens the channels the stages just bound publish on (by device; '' for none) in place of
   * the old ones, and restarts every device's run sequence.
   */
  rebind(channelNames: readonly string[]): void {
    for (let d = 0; d < this.handles.length; d++) {
      this.channels[d]?.dispose();
      const name = channelNames[d];
      this.channels[d] = name ? Channel.open(name) : undefined;
      this.lastRun[d] = -1;
    }
  }

  /** A global device's latest prediction (its `epsOutput`), as its slot holds it (float32 or float16). */
  epsOf(device: number, epsOutput: string): Float32Array | Uint16Array {
    const ch = this.channels[device];
    const run = this.lastRun[device] ?? -1;
    if (!ch || run < 0) throw new EngineError('RUNNER_BAD_STEP', `device ${device} has no noise prediction yet`, false);
    return ch.slotOf(run).tensor(epsOutput).data as Float32Array | Uint16Array;
  }

  /** Unmaps every channel (the runner is closing). */
  disposeChannels(): void {
    for (const ch of this.channels) ch?.dispose();
  }
}
