import { buildSchedule, criticalPathUnits, scheduleToJson } from '@asyncdiff/asyncdiff';

import { boolFlag, choiceFlag, intFlag, parseFlags } from '../args.js';

export const planHelp = `asyncdiff plan --steps T --stages N --stride S --warmup W [--time-shift] [--json] [--with-inputs]

Prints the AsyncDiff schedule: per step, which component runs on which device with which
timestep index, and which device's output is the step's noise prediction.`;

/** `asyncdiff plan`: prints the schedule for inspection (table, or JSON for tools). */
export function planCommand(argv: string[], out: (s: string) => void): void {
  const f = parseFlags(argv, {
    steps: { type: 'string' },
    stages: { type: 'string' },
    stride: { type: 'string' },
    warmup: { type: 'string' },
    'time-shift': { type: 'boolean' },
    json: { type: 'boolean' },
    'with-inputs': { type: 'boolean' },
  });
  const steps = intFlag(f, 'steps', 50, 1, 10_000);
  const stages = intFlag(f, 'stages', 2, 1, 8);
  const stride = Number(choiceFlag(f, 'stride', ['1', '2'], '1')) as 1 | 2;
  const warmup = intFlag(f, 'warmup', 3, 1, 10_000);
  const schedule = buildSchedule({ steps, stages, stride, warmup, timeShift: boolFlag(f, 'time-shift') });
  if (boolFlag(f, 'json')) {
    out(JSON.stringify(scheduleToJson(schedule, boolFlag(f, 'with-inputs'))));
    return;
  }
  out(`# ${steps} steps, ${stages} components, stride ${stride} (${schedule.devices} devices), warm-up ${warmup}`);
  for (const st of schedule.steps) {
    const runs = st.runs.map((r) => `d${r.device}:C${r.component}@t${r.t}${r.inputsFrom === null ? '' : `<s${r.inputsFrom}`}`).join('  ');
    out(`${String(st.step).padStart(4)}  ${st.phase.padEnd(8)}  ${runs || '(reuse)'}  eps=d${st.eps.device}@s${st.eps.step}`);
  }
  const units = criticalPathUnits(schedule);
  out(`# critical path: ${units} component-times (sequential: ${steps * stages}); ideal speedup ${((steps * stages) / units).toFixed(2)}x`);
}
