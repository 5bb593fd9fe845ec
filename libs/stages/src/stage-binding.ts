import type { GenerationBatch, PipelineSpec } from '@asyncdiff/asyncdiff';
import { COMPENSATION_ORDER, EngineError } from '@asyncdiff/asyncdiff';

import { activeBranches, branchDevice, branchRows, localOf, type BranchLayout } from './branches.js';
import type { ControlBlock } from './control-block.js';
import type { ControlCapacity } from './control-layout.js';
import type { ResolvedProcessRunnerOptions } from './process-runner-options.js';
import type { StageHandle } from './stage-handle.js';
import { componentOf, producerDevices } from './stage-topology.js';

/** What the stages are bound to: batch, latent shape, conditioning dims and the control block. */
export interface Binding {
  /** Rows of the whole generation (split across branches by `branchRows`). */
  readonly batch: number;
  readonly sampleDims: readonly number[];
  readonly conditioningDims: Readonly<Record<string, readonly number[]>>;
  readonly control: string;
}

/** Whether stages bound to `a` can serve `b` as they are (no `control`: any control block will do). */
export function sameBinding(a: Binding, b: Omit<Binding, 'control'> & { control?: string }): boolean {
  const dims = (x: Readonly<Record<string, readonly number[]>>): string => JSON.stringify(Object.entries(x).sort(([k], [l]) => k.localeCompare(l)));
  return a.batch === b.batch && a.sampleDims.join() === b.sampleDims.join() && dims(a.conditioningDims) === dims(b.conditioningDims) && (b.control === undefined || a.control === b.control);
}

/** What the stages must be bound to for a generation (control block chosen by `controlFor`). */
export function bindingFor(pipeline: PipelineSpec, batch: GenerationBatch): Omit<Binding, 'control'> {
  const conditioningDims: Record<string, readonly number[]> = {};
  for (const c of pipeline.conditioning) {
    const t = batch.conditioning[c.name];
    if (!t) throw new EngineError('RUNNER_BAD_STEP', `the generation has no conditioning tensor ${c.name}`, false, c.name);
    if (t.dtype !== c.dtype) throw new EngineError('RUNNER_BAD_STEP', `conditioning ${c.name} is ${t.dtype}, the graph wants ${c.dtype}`, false, c.name);
    if (t.dims[0] !== batch.batch) throw new EngineError('RUNNER_BAD_STEP', `conditioning ${c.name} has ${t.dims[0]} rows for a batch of ${batch.batch}`, false, c.name);
    conditioningDims[c.name] = [...t.dims];
  }
  return { batch: batch.batch, sampleDims: [...batch.sampleDims], conditioningDims };
}

/**
 * What a control block must hold for a generation: `maxBatch` rows of its latent and of its
 * conditioning, so later generations of up to `maxBatch` rows reuse it.
 */
export function controlCapacityFor(o: ResolvedProcessRunnerOptions, devices: number, batch: GenerationBatch): ControlCapacity {
  const p = o.pipeline;
  return {
    devices,
    maxBatch: o.maxBatch,
    latentDtype: p.latentDtype,
    sampleElements: batch.sampleDims.reduce((a, b) => a * b, 1),
    conditioning: Object.fromEntries(
      p.conditioning.map((c) => [c.name, { dtype: c.dtype, rowElements: batch.conditioning[c.name]!.dims.slice(1).reduce((a, b) => a * b, 1) }]),
    ),
  };
}

/**
 * Binds the stages of the branches with rows in `b` to it and to `control`; returns, by device,
 * the name of the shm channel each bound stage publishes its outputs on ('' for a device left as
 * it was).
 */
export async function configureStages(
  o: ResolvedProcessRunnerOptions,
  layout: BranchLayout,
  handles: readonly StageHandle[],
  control: ControlBlock,
  b: Omit<Binding, 'control'>,
): Promise<string[]> {
  const devices = o.devices.length;
  const channelNames: string[] = new Array<string>(devices).fill('');
  const active = activeBranches(layout, b.batch);
  // Producers before consumers: a stage probes its output shapes from its inputs. Branches
  // without rows this generation keep their old binding (they are not dispatched).
  const order = [...Array(devices).keys()]
    .filter((d) => active.includes(localOf(layout, d).branch))
    .sort((a, c) => componentOf(o, a) - componentOf(o, c) || a - c);
  for (const d of order) {
    const { branch } = localOf(layout, d);
    const rows = branchRows(layout, b.batch, branch);
    const producers = producerDevices(o, layout, d).map((p) => ({ device: p, channel: channelNames[p]! }));
    const r = await handles[d]!.configure({
      ...b,
      batch: rows.end - rows.start,
      rowOffset: rows.start,
      deviceBase: branchDevice(layout, branch, 0),
      control: control.name,
      layout: control.layout,
      producers,
      slots: COMPENSATION_ORDER[o.maxCompensation] + 2,
    });
    channelNames[d] = r.channel;
  }
  return channelNames;
}
