import { availableParallelism } from 'node:os';

/**
 * Where a stage runs. On a GPU host a stage sees one GPU (`CUDA_VISIBLE_DEVICES`) and uses the
 * ORT CUDA provider; on a CPU-only host a "device" is a group of cores the stage is pinned to,
 * with as many ORT intra-op threads as cores.
 */
export type DeviceSpec =
  | { readonly kind: 'cpu'; readonly cpus: readonly number[] }
  | { readonly kind: 'cuda'; readonly gpu: number; readonly cpus?: readonly number[] };

/** Human-readable device label for logs, metrics and the dashboard. */
export function describeDevice(d: DeviceSpec): string {
  return d.kind === 'cpu' ? `cpu[${d.cpus.join(',')}]` : `cuda:${d.gpu}`;
}

/** ORT intra-op threads for a stage on this device. */
export function threadsFor(d: DeviceSpec): number {
  return d.kind === 'cpu' ? d.cpus.length : 1;
}

/**
 * Splits this machine's cores into `count` equal groups (the CPU analogue of `count` GPUs).
 * With fewer cores than groups the groups share cores — "oversubscribed", which benchmarks
 * must label as such.
 */
export function cpuDeviceGroups(count: number, cores: number = availableParallelism()): { devices: DeviceSpec[]; oversubscribed: boolean } {
  if (count <= cores) {
    const per = Math.floor(cores / count);
    return {
      devices: Array.from({ length: count }, (_, i) => ({ kind: 'cpu' as const, cpus: Array.from({ length: per }, (_, j) => i * per + j) })),
      oversubscribed: false,
    };
  }
  return {
    devices: Array.from({ length: count }, (_, i) => ({ kind: 'cpu' as const, cpus: [i % cores] })),
    oversubscribed: true,
  };
}
