import { COMPENSATION_ORDER } from './compensation.js';
import { attachHistory, type PlannedStep, type Schedule } from './plan.js';

/**
 * The schedule to resume with at step `at` after stages lost their hidden states (a restarted
 * stage process, a job moved to another host): step `at` becomes one sequential warm-up step
 * and later parallel steps that would have read older outputs read that step's instead; a
 * compensated run extrapolates only from outputs made from step `at` on.
 */
export function rewarmAt(schedule: Schedule, at: number): Schedule {
  const N = schedule.options.stages;
  const steps = schedule.steps.map((st): PlannedStep => {
    if (st.step < at || (st.step === at && st.phase === 'warmup')) return st;
    if (st.step === at) {
      return {
        step: at,
        phase: 'warmup',
        runs: Array.from({ length: N }, (_, k) => ({ device: k, component: k, t: at, inputsFrom: k === 0 ? null : at })),
        eps: { device: N - 1, step: at },
      };
    }
    const fix = (r: number | null): number | null => (r === null ? null : Math.max(r, at));
    return {
      ...st,
      runs: st.runs.map((r) => ({ ...r, inputsFrom: fix(r.inputsFrom) })),
      eps: { device: st.eps.device, step: Math.max(st.eps.step, at) },
    };
  });
  const order = COMPENSATION_ORDER[schedule.options.compensation ?? 'none'];
  return { ...schedule, steps: order > 0 ? attachHistory(steps, order, at) : steps };
}
