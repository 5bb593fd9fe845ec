import type { SchedulerSetup } from './scheduler.js';
import { discreteTimesteps } from './spacing.js';

/**
 * The update rule of one PNDM model evaluation. `prk0`…`prk3`: the four evaluations of a
 * Runge–Kutta warm-up step; `plms`: a linear multistep (Adams–Bashforth) step over the stored
 * outputs, of order = their number; `plms-second`: PLMS' second evaluation, which redoes the first
 * step from its start with the mean of both outputs (a Heun step).
 */
export type PndmRule = 'prk0' | 'prk1' | 'prk2' | 'prk3' | 'plms' | 'plms-second';

/** One model evaluation: its rule and the ᾱ indices it steps between (prevT < 0: final ᾱ). */
export interface PndmEvaluation {
  readonly rule: PndmRule;
  readonly t: number;
  readonly prevT: number;
}

/** The timesteps the model sees and what each evaluation does with its output. */
export interface PndmPlan {
  readonly timesteps: Float64Array;
  readonly evaluations: readonly PndmEvaluation[];
}

/**
 * PNDMScheduler's `set_timesteps` and the timestep arithmetic of its `step_prk` / `step_plms`.
 * With d = the spaced timesteps (descending) and r = ⌊trainSteps/steps⌋:
 * - PLMS only (`skipPrkSteps`): timesteps d0, d1, d1, d2, …, d_{N-1} (d0 alone for one step);
 *   evaluation 1 steps from d1 + r to d1 again (the Heun redo), every other one from t to t - r.
 * - PRK warm-up: 3 groups of 4 evaluations at d_g, d_{g+1}+r/2 (twice), d_{g+1}, all stepping
 *   from d_g (to midpoints at -⌊r/2⌋, then to the group's end), then PLMS from d3 on.
 */
export function pndmPlan(trainSteps: number, s: SchedulerSetup): PndmPlan {
  const d = discreteTimesteps(s.timestepSpacing, trainSteps, s.steps, s.stepsOffset);
  const ratio = Math.floor(trainSteps / s.steps);
  const timesteps: number[] = [];
  const evaluations: PndmEvaluation[] = [];
  const at = (i: number): number => d[i] as number;
  if (!s.skipPrkSteps) {
    const half = Math.floor(ratio / 2);
    for (let g = 0; g < 3; g++) {
      const group = [at(g), at(g + 1) + half, at(g + 1) + half, at(g + 1)];
      group.forEach((ts, k) => {
        const rule = (['prk0', 'prk1', 'prk2', 'prk3'] as const)[k] as PndmRule;
        timesteps.push(ts);
        evaluations.push({ rule, t: at(g), prevT: k % 2 === 0 ? ts - half : ts });
      });
    }
    for (let i = 3; i < d.length; i++) {
      timesteps.push(at(i));
      evaluations.push({ rule: 'plms', t: at(i), prevT: at(i) - ratio });
    }
  } else {
    const plms = d.length === 1 ? [at(0)] : [at(0), at(1), ...d.slice(1)];
    plms.forEach((ts, c) => {
      timesteps.push(ts);
      evaluations.push(c === 1 ? { rule: 'plms-second', t: ts + ratio, prevT: ts } : { rule: 'plms', t: ts, prevT: ts - ratio });
    });
  }
  return { timesteps: Float64Array.from(timesteps), evaluations };
}

/**
 * How many sample-length arrays a PNDM scheduler holds after `done` evaluations: the stored model
 * outputs (at most 3 are ever needed again), the sample a warm-up group or the Heun redo starts
 * from, and the running Runge–Kutta sum.
 */
export function pndmMemoryShape(evaluations: readonly PndmEvaluation[], done: number): { outputs: number; sample: boolean; sum: boolean } {
  let outputs = 0;
  let sample = false;
  let sum = false;
  for (const e of evaluations.slice(0, done)) {
    switch (e.rule) {
      case 'prk0':
        outputs = Math.min(outputs + 1, 3);
        sample = true;
        sum = true;
        break;
      case 'prk3':
        sample = false;
        sum = false;
        break;
      case 'plms':
        outputs = Math.min(outputs + 1, 3);
        sample = outputs === 1;
        break;
      case 'plms-second':
        sample = false;
        break;
      case 'prk1':
      case 'prk2':
        break;
    }
  }
  return { outputs, sample, sum };
}
