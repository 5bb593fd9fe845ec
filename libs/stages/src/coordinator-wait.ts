import { StageCrashedError } from '@asyncdiff/asyncdiff';
import { getAffinity, setProcessAffinity, type Doorbell } from '@asyncdiff/shm';

import { monotonicUs, type ControlBlock } from './control-block.js';
import type { ResolvedProcessRunnerOptions } from './process-runner-options.js';
import type { StageRecords } from './stage-records.js';

/** Whether a generation currently pins this thread (see `pinCoordinator`); its runner's waiter holds `savedAffinity`. */
let threadPinned = false;
/** Generations between begin() and end() in this thread: hybrid waits block only when alone. */
let generationsInFlight = 0;

/**
 * How one runner's coordinator waits for its stages' runs, the way `ProcessRunnerOptions.wait`
 * says: blocking, on a helper thread, or hybrid; spinning once a core is free; pinned beside
 * device 0 during a generation; and failing the wait as a crash when a stage dies or is stuck.
 * The thread-wide bookkeeping (who pinned the thread, how many generations are in flight) lives
 * here because every runner on the thread shares it.
 */
export class CoordinatorWaiter {
  /** This process's CPUs before `pin()`, restored by `end()` (through `leave()`). */
  private savedAffinity: number[] | undefined;
  /** Between begin() and end() (`enter()` and `leave()`; counted in `generationsInFlight`). */
  private inGeneration = false;
  /** Hybrid wait: when the event loop last had a turn (performance.now). */
  private loopTurnAt: number | undefined;

  constructor(
    private readonly options: ResolvedProcessRunnerOptions,
    private readonly records: StageRecords,
  ) {}

  /** A generation is beginning: the event loop counts as having just had its turn. */
  restartLoopTurn(): void {
    this.loopTurnAt = performance.now();
  }

  /** Counts the runner's generation as in flight on this thread (once) and pins the thread if it may. */
  enter(): void {
    if (!this.inGeneration) {
      this.inGeneration = true;
      generationsInFlight += 1;
    }
    this.pin();
  }

  /** Ends the runner's generation on this thread: no longer in flight, and the thread's affinity restored if it pinned it. */
  leave(): void {
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

  /**
   * Waits until every [device, seq] run is done; a stage that died or is stuck fails the wait
   * with `StageCrashedError`.
   */
  async waitFor(ctl: ControlBlock, expected: readonly (readonly [number, number])[]): Promise<void> {
    const bell = ctl.completion;
    for (;;) {
      const seen = bell.seq;
      let done = 0;
      let coreFree = false;
      for (const [d, seq] of expected) {
        if (ctl.done(d).seq !== seq) continue;
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
      await this.assertNotStuck(expected.filter(([d, seq]) => ctl.done(d).seq !== seq).map(([d]) => d));
    }
  }

  /** Fails with `StageCrashedError` if any of these devices' stages (default: all) has died, marking it crashed. */
  assertAlive(devices: readonly number[] = [...this.records.handles.keys()]): void {
    for (const d of devices) {
      const h = this.records.handle(d);
      if (!h.alive()) {
        this.records.crashed(d);
        throw new StageCrashedError(d, `stage process of device ${d} (pid ${h.pid}) died${h.stderrTail ? `: ${h.stderrTail}` : ''}`);
      }
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
    const stuck = pending.find((d) => now - (this.records.dispatchedAt[d] ?? now) > limitMs * 1000);
    if (stuck === undefined) return;
    const h = this.records.handle(stuck);
    const exited = new Promise<void>((resolve) => {
      if (h.child.exitCode !== null || h.child.signalCode !== null) resolve();
      else h.child.once('exit', () => resolve());
    });
    this.records.crashed(stuck);
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
}
