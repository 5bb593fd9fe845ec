import { COMPENSATIONS, buildSchedule, criticalPathUnits, scheduleToJson } from '@asyncdiff/asyncdiff';

import { boolFlag, choiceFlag, intFlag, parseFlags } from '../args.js';

export const planHelp = `asyncdiff plan --steps T --stages N --stride S --warmup W [--time-shift] [--compensate none|linear|quadratic] [--hybrid] [--json] [--with-inputs]

Prints the AsyncDiff schedule: per step, which component runs on which device with which
timestep index, and which device's output is the step's noise prediction. --hybrid prints the
CFG × AsyncDiff layout: the same schedule on two branches (conditional rows on devices
0…N−1, unconditional on N…2N−1; stride 2 adds one device per branch). With --compensate, a
compensated run lists the producer outputs it extrapolates from (step@timestep index, newest first).`;

/** `asyncdiff plan`: prints the schedule for inspection (table, or JSON for tools). */
export function planCommand(argv: string[], out: (s: string) => void): void {
  const f = parseFlags(argv, {
    steps: { type: 'string' },
    stages: { type: 'string' },
    stride: { type: 'string' },
    warmup: { type: 'string' },
    'time-shift': { type: 'boolean' },
    compensate: { type: 'string' },
    hybrid: { type: 'boolean' },
    json: { type: 'boolean' },
    'with-inputs': { type: 'boolean' },
  });
  const steps = intFlag(f, 'steps', 50, 1, 10_000);
  const stages = intFlag(f, 'stages', 2, 1, 8);
  const stride = Number(choiceFlag(f, 'stride', ['1', '2'], '1')) as 1 | 2;
  const warmup = intFlag(f, 'warmup', 3, 1, 10_000);
  const compensation = choiceFlag(f, 'compensate', COMPENSATIONS, 'none');
  const schedule = buildSchedule({ steps, stages, stride, warmup, timeShift: boolFlag(f, 'time-shift'), compensation });
  const branches = boolFlag(f, 'hybrid') ? 2 : 1;
  if (boolFlag(f, 'json')) {
    const json = scheduleToJson(schedule, boolFlag(f, 'with-inputs'));
    out(JSON.stringify(branches === 1 ? json : { ...json, branches: [{ rows: 'conditional', deviceOffset: 0 }, { rows: 'unconditional', deviceOffset: schedule.devices }] }));
    return;
  }
  const total = branches * schedule.devices;
  out(`# ${steps} steps, ${stages} components, stride ${stride} (${total} devices${branches === 2 ? `: ${schedule.devices} per guidance branch` : ''}), warm-up ${warmup}`);
  // In hybrid mode both branches run every planned run at once: device d and d + devices.
  const dev = (d: number): string => (branches === 2 ? `d${d}+d${d + schedule.devices}` : `d${d}`);
  for (const st of schedule.steps) {
    const from = (r: (typeof st.runs)[number]): string => (r.history ? `<${r.history.map((h) => `s${h.step}@t${h.t}`).join(',')}` : r.inputsFrom === null ? '' : `<s${r.inputsFrom}`);
    const runs = st.runs.map((r) => `${dev(r.device)}:C${r.component}@t${r.t}${from(r)}`).join('  ');
    out(`${String(st.step).padStart(4)}  ${st.phase.padEnd(8)}  ${runs || '(reuse)'}  eps=${dev(st.eps.device)}@s${st.eps.step}`);
  }
  const units = criticalPathUnits(schedule);
  out(`# critical path: ${units} component-times (sequential: ${steps * stages}); ideal speedup ${((steps * stages) / units).toFixed(2)}x`);
}
