import { availableParallelism } from 'node:os';

import { describeDevice, type DeviceSpec } from '@asyncdiff/stages';

import { GpuHostError } from '../errors.js';
import { queryNvidiaSmi, type GpuInfo } from './nvidia-smi.js';

/** A device the host can pin a stage to, with what the dashboard shows about it. */
export interface HostDevice {
  readonly spec: DeviceSpec;
  /** `cuda:0`, `cpu[2,3]`. */
  readonly label: string;
  readonly name?: string;
  readonly memoryMiB?: number;
}

/** Where the devices came from. */
export type DeviceSource = 'nvidia-smi' | 'cpu' | 'given';

/** How to find devices (resolved host options). */
export interface DiscoverOptions {
  /** `auto`: GPUs when nvidia-smi lists any, else CPU groups; `cpu`: CPU groups only. */
  readonly mode: 'auto' | 'cpu';
  readonly coresPerDevice: number;
  /** Cores to split into devices. */
  readonly cores: number;
  readonly nvidiaSmiPath: string;
}

/** GPUs as CUDA devices (one stage process per GPU sees only it through CUDA_VISIBLE_DEVICES). */
export function cudaDevices(gpus: readonly GpuInfo[]): HostDevice[] {
  return gpus.map((g) => {
    const spec: DeviceSpec = { kind: 'cuda', gpu: g.index };
    return { spec, label: describeDevice(spec), name: g.name, ...(g.memoryMiB !== undefined && { memoryMiB: g.memoryMiB }) };
  });
}

/**
 * The CPU analogue of GPUs: consecutive groups of `coresPerDevice` cores (a stage pinned to a
 * group runs as many ORT threads as it has cores). Leftover cores that do not fill a group are
 * left to the coordinator; a machine with fewer cores than one group gets one device of all.
 */
export function cpuDevices(cores: number, coresPerDevice: number): HostDevice[] {
  const count = Math.max(1, Math.floor(cores / coresPerDevice));
  const per = Math.min(coresPerDevice, cores);
  return Array.from({ length: count }, (_, i) => {
    const spec: DeviceSpec = { kind: 'cpu', cpus: Array.from({ length: per }, (_, j) => i * per + j) };
    return { spec, label: describeDevice(spec) };
  });
}

/** Finds this machine's devices: all GPUs nvidia-smi lists, else CPU core groups (DESIGN §5). */
export async function discoverDevices(options: DiscoverOptions): Promise<{ devices: HostDevice[]; source: DeviceSource }> {
  if (options.mode === 'auto') {
    const gpus = await queryNvidiaSmi(options.nvidiaSmiPath);
    if (gpus && gpus.length > 0) return { devices: cudaDevices(gpus), source: 'nvidia-smi' };
  }
  return { devices: cpuDevices(options.cores, options.coresPerDevice), source: 'cpu' };
}

/** This machine's core count (what `cores` defaults to). */
export function machineCores(): number {
  return availableParallelism();
}

/**
 * Cuts the device list into replica groups of `groupSize` (N + stride − 1 of the default parallel
 * configuration). Leftover devices form one smaller group: it still runs sequential jobs, and
 * AsyncDiff with fewer stages when it has two or more devices.
 */
export function formReplicaGroups<T>(devices: readonly T[], groupSize: number): T[][] {
  if (devices.length === 0) throw new GpuHostError('NO_DEVICES', 'no devices to form replica groups from', false, 'devices');
  if (!Number.isSafeInteger(groupSize) || groupSize < 1) throw new GpuHostError('INVALID_OPTIONS', `groupSize must be ≥ 1, got ${groupSize}`, false, 'groupSize');
  const groups: T[][] = [];
  for (let i = 0; i < devices.length; i += groupSize) groups.push(devices.slice(i, i + groupSize));
  return groups;
}
