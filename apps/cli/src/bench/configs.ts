import type { Compensation } from '@asyncdiff/asyncdiff';
import { resolveParallel, type ResolvedParallel } from '@asyncdiff/engine';
import { cpuDeviceGroups, type CoordinatorWait, type DeviceSpec } from '@asyncdiff/stages';

/** One row of the benchmark: an engine configuration. */
export interface BenchConfig {
  readonly id: string;
  readonly label: string;
  readonly runner: 'in-process' | 'process';
  /** In-process runner: ORT intra-op threads. */
  readonly threads?: number;
  readonly parallel: ResolvedParallel;
  readonly devices?: readonly DeviceSpec[];
  readonly wait?: CoordinatorWait;
  /** More devices than cores: stages share cores, numbers are not a speedup claim. */
  readonly oversubscribed: boolean;
  /** Part of the W sweep only (quality still measured). */
  readonly sweep?: boolean;
  /** A row of the paper-style table (issue #11 §5). */
  readonly paper?: boolean;
}

const seq = resolveParallel({ mode: 'sequential' });

const WAIT_LABEL = { sync: '', hybrid: ' (hybrid wait, GPU host option)', async: ' (async wait, the GPU host default)' } as const;

/**
 * The configurations measured side by side: sequential on one core, sequential on all cores,
 * the same in a stage process, cfg (the guidance halves on two devices), every AsyncDiff
 * configuration the cores allow (N = 2 stride 1 with and without staleness compensation, a W
 * sweep for N = 2, and the GPU host's waits: async, its default, and hybrid) and, on request,
 * oversubscribed ones.
 */
export function benchConfigs(cores: number, oversubscribed: boolean, warmups: readonly number[]): BenchConfig[] {
  const out: BenchConfig[] = [
    { id: 'seq-1', label: 'sequential, 1 core (in-process, 1 ORT thread)', runner: 'in-process', threads: 1, parallel: seq, oversubscribed: false, paper: true },
    { id: `seq-${cores}`, label: `sequential, ${cores} cores (in-process, ${cores} ORT threads)`, runner: 'in-process', threads: cores, parallel: seq, oversubscribed: false, paper: true },
    { id: 'seq-proc-1', label: 'sequential, 1 core (stage process)', runner: 'process', parallel: seq, devices: [{ kind: 'cpu', cpus: [0] }], wait: 'sync', oversubscribed: false },
  ];
  const asyncRow = (stages: number, stride: 1 | 2, warmup: number, extra: Partial<BenchConfig> = {}, compensation: Compensation = 'none'): BenchConfig => {
    const parallel = resolveParallel({ mode: 'async', stages, stride, warmup, compensation });
    const count = stride === 2 ? stages + 1 : stages;
    const { devices, oversubscribed: over } = cpuDeviceGroups(count, cores);
    const comp = compensation === 'none' ? '' : `-${compensation}`;
    return {
      id: `N${stages}S${stride}W${warmup}${comp}${extra.wait && extra.wait !== 'sync' ? `-${extra.wait}` : ''}`,
      label: `AsyncDiff N=${stages} stride ${stride} W=${warmup}${compensation === 'none' ? '' : `, ${compensation} compensation`}${extra.wait ? WAIT_LABEL[extra.wait] : ''}`,
      runner: 'process',
      parallel,
      devices,
      wait: 'sync',
      oversubscribed: over,
      ...extra,
    };
  };
  if (cores >= 2) {
    const { devices } = cpuDeviceGroups(2, cores);
    out.push({ id: 'cfg', label: 'cfg (guidance halves on 2 devices)', runner: 'process', parallel: resolveParallel({ mode: 'cfg' }), devices, wait: 'sync', oversubscribed: false, paper: true });
  }
  for (let n = 2; n <= cores; n++) out.push(asyncRow(n, 1, 3, n === 2 ? { paper: true } : {}));
  if (cores >= 2) out.push(asyncRow(2, 1, 3, { paper: true }, 'linear'));
  for (let n = 2; n + 1 <= cores; n++) out.push(asyncRow(n, 2, 3));
  for (const w of warmups) if (w !== 3) out.push(asyncRow(2, 1, w, { sweep: true }));
  out.push(asyncRow(2, 1, 3, { wait: 'hybrid' }));
  out.push(asyncRow(2, 1, 3, { wait: 'async' }));
  if (oversubscribed) {
    for (const [n, s] of [[3, 1], [4, 1], [2, 2], [3, 2]] as const) {
      const row = asyncRow(n, s, 3);
      if (row.oversubscribed && !out.some((c) => c.id === row.id)) out.push(row);
    }
  }
  return out;
}
