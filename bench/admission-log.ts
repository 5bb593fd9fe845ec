import { createHostLogger, type GpuHostOptions } from '../apps/gpu-host/src/index.js';

/**
 * A GPU host logger that keeps only what admission control decided per model when each device's
 * engine first opened a batch (the benches print it beside their numbers: a row means little
 * without knowing whether the model was batched at all). Calibration is per device, and on a
 * loaded CPU host two devices can decide differently for one model, so decisions are joined.
 */
export function admissionLog(hostId: string): { logger: NonNullable<GpuHostOptions['logger']>; decisions: Record<string, string> } {
  const decisions: Record<string, string> = {};
  const destination = {
    write: (line: string) => {
      const e = JSON.parse(line) as { engine?: string; maxRows?: number; gain?: number; batched?: boolean };
      if (e.batched === undefined || !e.engine) return;
      const model = e.engine.split('@')[0]!;
      const decision = e.batched ? `${e.maxRows} rows, ${e.gain?.toFixed(2)}×` : `off (${e.gain?.toFixed(2)}× at ${e.maxRows} rows)`;
      decisions[model] = decisions[model] ? `${decisions[model]} / ${decision}` : decision;
    },
  };
  return { logger: createHostLogger({ hostId, level: 'info', destination }), decisions };
}
