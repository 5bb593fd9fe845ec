import type { ControlBlock } from './control-block.js';

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

/** Zeroed counters for a runner of `devices` devices. */
export function emptyRunnerStats(devices: number): RunnerStats {
  return { steps: 0, stepUs: 0, criticalSessionUs: 0, sessionUs: new Array<number>(devices).fill(0), handoffUs: 0 };
}

/** Of finished runs, the device whose completion came last (it ended the wait). */
function lastDone(control: ControlBlock, expected: readonly (readonly [number, number])[]): number {
  return expected.reduce((a, [d]) => (control.stamps(d).doneAtUs > control.stamps(a).doneAtUs ? d : a), expected[0]![0]);
}

/**
 * Doorbell latency of a device's last run on the step's critical path: its wake-up after the
 * later of dispatch (`dispatchedAtUs`) and step start (a head-start dispatch sleeps through the
 * sampler's math), and the coordinator's wake-up (`noticedUs`) after its completion.
 */
function handoffOf(control: ControlBlock, device: number, dispatchedAtUs: number, stepStartUs: number, noticedUs: number): number {
  const { wokeAtUs, doneAtUs } = control.stamps(device);
  const request = wokeAtUs - Math.max(dispatchedAtUs, stepStartUs);
  const completion = noticedUs - doneAtUs;
  return Math.max(0, request) + Math.max(0, completion);
}

/**
 * The hand-off cost of a wait that just returned (see `RunnerStats.handoffUs`): the doorbell
 * latency of the run that ended it. `dispatchedAt` is by device, in `monotonicUs`.
 */
export function criticalHandoffUs(
  control: ControlBlock,
  expected: readonly (readonly [number, number])[],
  dispatchedAt: readonly number[],
  stepStartUs: number,
  noticedUs: number,
): number {
  const device = lastDone(control, expected);
  return handoffOf(control, device, dispatchedAt[device] ?? 0, stepStartUs, noticedUs);
}
