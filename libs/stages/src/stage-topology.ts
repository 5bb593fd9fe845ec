import type { ComponentSpec } from '@asyncdiff/asyncdiff';
import { componentOfDevice } from '@asyncdiff/asyncdiff';

import { branchDevice, localOf, type BranchLayout } from './branches.js';
import type { DeviceSpec } from './device.js';
import type { ProcessRunnerOptions, ResolvedProcessRunnerOptions } from './process-runner-options.js';
import { StageHandle } from './stage-handle.js';

/** Whether a component reads the latent (its runs cannot start before the sampler's math). */
export function readsLatent(c: ComponentSpec): boolean {
  return c.inputs.some((i) => i.kind === 'latent');
}

/** The branch layout of a runner's options. */
export function layoutOf(o: Pick<ProcessRunnerOptions, 'devices' | 'branches'>): BranchLayout {
  const branches = o.branches ?? 1;
  return { branches, perBranch: o.devices.length / branches };
}

/** The component a global device holds (its local device's, in every branch). */
export function componentOf(o: ResolvedProcessRunnerOptions, device: number): number {
  return componentOfDevice(o.pipeline.components.length, localOf(layoutOf(o), device).local);
}

/** Per global device, the global devices of its component's producers (its own branch): whose outputs its stage reads. */
export function producerDevices(o: ResolvedProcessRunnerOptions, layout: BranchLayout, device: number): number[] {
  const comp = o.pipeline.components[componentOf(o, device)]!;
  const { branch } = localOf(layout, device);
  return [...new Set(comp.inputs.flatMap((i) => (i.kind === 'boundary' ? [branchDevice(layout, branch, i.producer)] : [])))];
}

/** Spin budget of a device's stage: only stages that never wait for the coordinator's latent spin. */
function stageSpinUs(o: ResolvedProcessRunnerOptions, device: number): number {
  const c = o.pipeline.components[componentOf(o, device)];
  return !c || readsLatent(c) ? 0 : o.spinUs;
}

/** Spawns device `d`'s stage with its component and the pipeline's feed types. */
export function spawnStage(o: ResolvedProcessRunnerOptions, d: number, spec: DeviceSpec): Promise<StageHandle> {
  const component = o.pipeline.components[componentOf(o, d)]!;
  const { latentDtype, timestepDtype } = o.pipeline;
  return StageHandle.spawn(d, spec, component, { latentDtype, timestepDtype }, { spinUs: stageSpinUs(o, d) });
}
