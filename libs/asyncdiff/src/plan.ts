import { COMPENSATION_ORDER, COMPENSATIONS, isCompensation, type Compensation, type HistoryEntry } from './compensation.js';
import { InvalidOptionError } from './errors.js';

/** What defines an AsyncDiff schedule (DESIGN.md §2). */
export interface PlanOptions {
  /** Denoising steps T. */
  readonly steps: number;
  /** Components N the denoiser is cut into (1 = the whole model). */
  readonly stages: number;
  /** 1: N devices; 2: N+1 devices, one round advances two steps. */
  readonly stride: 1 | 2;
  /** Warm-up steps W run sequentially (W ≥ T gives plain sequential sampling). */
  readonly warmup: number;
  /** Condition on the previous timestep index (stride 1) / shift every index by -1 (stride 2). */
  readonly timeShift: boolean;
  /**
   * Staleness compensation of parallel runs (see compensation.ts): their boundary inputs are
   * extrapolated in the timestep from the producers' last outputs. Warm-up steps never compensate,
   * so W ≥ T stays exactly sequential. @defaultValue 'none'
   */
  readonly compensation?: Compensation;
}

/** One component executed on one device within a step. */
export interface PlannedRun {
  readonly device: number;
  readonly component: number;
  /** Timestep *index* into the scheduler's timestep list. */
  readonly t: number;
  /**
   * Every boundary input of this run is its producer's output of this step (producer component j
   * lives on device j). null for component 0, which reads only the fresh latent of the step.
   */
  readonly inputsFrom: number | null;
  /**
   * Compensated runs only: the producer outputs to extrapolate from, newest first
   * (`history[0].step === inputsFrom`), each with the timestep index it was made with. Every
   * producer ran in exactly these steps, one run per step, so they are its consecutive runs.
   * Absent when the run reads the stale input as is (no compensation, or only one output yet).
   */
  readonly history?: readonly HistoryEntry[];
}

/**
 * How the runs of a step execute: `warmup` chains them (component k sees k-1's output of the
 * same step), `parallel` starts them all at once on the previous outputs, `reuse` computes nothing.
 */
export type StepPhase = 'warmup' | 'parallel' | 'reuse';

/** The plan of one denoising step s. */
export interface PlannedStep {
  readonly step: number;
  readonly phase: StepPhase;
  readonly runs: readonly PlannedRun[];
  /** The noise prediction for step s: device `device`'s output made in step `step`. */
  readonly eps: { readonly device: number; readonly step: number };
}

/** A full schedule: the pure function of (T, N, stride, W, time shift) the runners execute. */
export interface Schedule {
  readonly options: PlanOptions;
  /** Devices used: N for stride 1, N+1 for stride 2. */
  readonly devices: number;
  readonly steps: readonly PlannedStep[];
}

const MAX_STAGES = 8;

function checkInt(field: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidOptionError('PLAN_INVALID_OPTION', field, `${field} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
}

/** Validates plan options, naming the offending field. */
export function validatePlanOptions(o: PlanOptions): void {
  checkInt('steps', o.steps, 1, 10_000);
  checkInt('stages', o.stages, 1, MAX_STAGES);
  if (o.stride !== 1 && o.stride !== 2) {
    throw new InvalidOptionError('PLAN_INVALID_OPTION', 'stride', `stride must be 1 or 2, got ${String(o.stride)}`);
  }
  // Step 0 has no previous hidden states, so at least one sequential step is always needed.
  checkInt('warmup', o.warmup, 1);
  if (o.compensation !== undefined && !isCompensation(o.compensation)) {
    throw new InvalidOptionError('PLAN_INVALID_OPTION', 'compensation', `compensation must be one of ${COMPENSATIONS.join(', ')}, got ${String(o.compensation)}`);
  }
}

/**
 * Builds the AsyncDiff schedule exactly as DESIGN.md §2 defines it.
 *
 * Stride 2 rounds run at odd s ≥ W; at even s ≥ W nothing is computed and eps is device N-1's
 * output of the round at s-1 (made with index s) — with an even W the first post-warm-up step
 * therefore reuses the last warm-up prediction. Time shift applies to post-warm-up runs only.
 */
export function buildSchedule(options: PlanOptions): Schedule {
  validatePlanOptions(options);
  const { steps: T, stages: N, stride, warmup: W, timeShift } = options;
  const shift = timeShift ? 1 : 0;
  const last = N - 1;
  const out: PlannedStep[] = [];
  let lastRoundStep = W - 1; // outputs every parallel run reads: the previous round, or the last warm-up step
  for (let s = 0; s < T; s++) {
    if (s < W) {
      out.push({
        step: s,
        phase: 'warmup',
        runs: range(N).map((k) => ({ device: k, component: k, t: s, inputsFrom: k === 0 ? null : s })),
        eps: { device: last, step: s },
      });
      continue;
    }
    if (stride === 1) {
      const t = Math.max(0, s - shift);
      out.push({
        step: s,
        phase: 'parallel',
        runs: range(N).map((k) => ({ device: k, component: k, t, inputsFrom: k === 0 ? null : s - 1 })),
        eps: { device: last, step: s },
      });
      continue;
    }
    if (s % 2 === 0) {
      out.push({ step: s, phase: 'reuse', runs: [], eps: { device: last, step: s - 1 } });
      continue;
    }
    const ahead = Math.max(0, (s === T - 1 ? s : s + 1) - shift);
    const from = lastRoundStep;
    out.push({
      step: s,
      phase: 'parallel',
      runs: [
        ...range(N).map((k) => ({ device: k, component: k, t: ahead, inputsFrom: k === 0 ? null : from })),
        { device: N, component: last, t: Math.max(0, s - shift), inputsFrom: N === 1 ? null : from },
      ],
      eps: { device: N, step: s },
    });
    lastRoundStep = s;
  }
  const order = COMPENSATION_ORDER[options.compensation ?? 'none'];
  return { options: { ...options }, devices: stride === 2 ? N + 1 : N, steps: order > 0 ? attachHistory(out, order, 0) : out };
}

/**
 * Gives every parallel run that reads boundary inputs the history its compensation combines:
 * the last `order + 1` steps (≤ its `inputsFrom`, ≥ `since`) in which device 0 ran — every
 * producer (devices 0 … N-1) runs in exactly the steps device 0 runs in, with the same timestep
 * index. `since` is the first step whose outputs exist (a re-warm forgets everything before).
 * Runs with fewer than two usable outputs get no history (they read the stale input as is).
 */
export function attachHistory(steps: readonly PlannedStep[], order: number, since: number): PlannedStep[] {
  const ran: HistoryEntry[] = [];
  return steps.map((st) => {
    let result = st;
    if (st.phase === 'parallel' && order > 0) {
      result = {
        ...st,
        runs: st.runs.map((r) => {
          const { history: _old, ...plain } = r;
          if (r.inputsFrom === null) return plain;
          const from = r.inputsFrom;
          const history = ran.filter((h) => h.step <= from && h.step >= since).slice(-(order + 1)).reverse();
          return history.length >= 2 && history[0]!.step === from ? { ...plain, history } : plain;
        }),
      };
    }
    const own = st.runs.find((r) => r.device === 0);
    if (own) ran.push({ step: st.step, t: own.t });
    return result;
  });
}

/** The `asyncdiff plan --json` shape: one entry per step, no engine-internal fields. */
export function scheduleToJson(schedule: Schedule, withInputs = false): unknown[] {
  return schedule.steps.map((st) => ({
    step: st.step,
    runs: st.runs.map((r) =>
      withInputs
        ? { device: r.device, component: r.component, t: r.t, inputsFrom: r.inputsFrom, ...(r.history && { history: r.history }) }
        : { device: r.device, component: r.component, t: r.t },
    ),
    eps: { device: st.eps.device, step: st.eps.step },
  }));
}

/**
 * Component-time units on the critical path (a sequential warm-up step costs N, a parallel step
 * 1, a reuse step 0): the ideal speedup over sequential sampling is T·N / this.
 */
export function criticalPathUnits(schedule: Schedule): number {
  return schedule.steps.reduce((acc, st) => acc + (st.phase === 'warmup' ? st.runs.length : st.phase === 'parallel' ? 1 : 0), 0);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
