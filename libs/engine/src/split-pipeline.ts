import type { ComponentInputSpec, PipelineSpec } from '@asyncdiff/asyncdiff';
import { splitModel, type InputSpec, type LoadedSplitPlan } from '@asyncdiff/onnx-split';

import type { Denoiser } from './denoiser.js';
import { denoiserFeeds } from './whole-model.js';

/**
 * Turns a partitioner plan into the runners' PipelineSpec: the latent and the timestep are
 * recognised by the denoiser's io names, every other non-boundary input is conditioning (fresh
 * in every stage at every step), boundary inputs keep their producer stage.
 */
export function pipelineFromSplit(loaded: LoadedSplitPlan, denoiser: Pick<Denoiser, 'io' | 'signature'>): PipelineSpec {
  const { plan, stagePaths } = loaded;
  const { io } = denoiser;
  const eps = plan.graphOutputs.find((o) => o.name === io.output);
  if (!eps) throw new Error(`split plan has no graph output ${io.output}`);
  if (eps.stage !== plan.stageCount - 1) throw new Error(`${io.output} must come from the last stage, not stage ${eps.stage}`);
  const feeds = denoiserFeeds(denoiser.signature, io);
  const conditioning = new Set(feeds.conditioning.map((c) => c.name));
  return {
    epsOutput: io.output,
    ...feeds,
    components: plan.stages.map((st) => ({
      index: st.index,
      modelPath: stagePaths[st.index]!,
      outputs: st.outputs.map((o) => o.name),
      inputs: st.inputs.map((i): ComponentInputSpec => {
        if (i.kind === 'latent') return { kind: 'latent', name: i.name };
        if (i.kind === 'boundary') return { kind: 'boundary', name: i.name, producer: i.producer ?? -1 };
        if (i.name === io.timestep) return { kind: 'timestep', name: i.name };
        if (conditioning.has(i.name)) return { kind: 'conditioning', name: i.name };
        throw new Error(`stage ${st.index} input ${i.name} is neither the timestep nor a conditioning input of the denoiser`);
      }),
    })),
  };
}

/** Options for cutting a denoiser for AsyncDiff. */
export interface SplitForModelOptions {
  /** Batch the balance is measured at (2 = one image with classifier-free guidance). @defaultValue 2 */
  readonly profileBatch?: number;
  /** Where splits are cached. @defaultValue `<model dir>/splits` */
  readonly cacheDir?: string;
  /** Explicit node → stage assignment (overrides the balanced cut). */
  readonly assignment?: Readonly<Record<string, number>>;
  /**
   * Cap on each stage's share of the weights (memory per device), traded against the speed
   * balance: a UNet keeps most weights in its low-resolution blocks and spends most time in its
   * high-resolution ones. @defaultValue no cap
   */
  readonly maxStageWeightShare?: number;
}

/**
 * Cuts a denoiser into `stages` balanced components (cached by model hash, N and assignment)
 * and returns the pipeline the runners execute.
 */
export async function splitForModel(denoiser: Denoiser, stages: number, options: SplitForModelOptions = {}): Promise<{ pipeline: PipelineSpec; split: LoadedSplitPlan }> {
  const b = options.profileBatch ?? 2;
  const feeds = denoiserFeeds(denoiser.signature, denoiser.io);
  const timestep = denoiser.signature.inputs.find((i) => i.name === denoiser.io.timestep);
  const inputs: Record<string, InputSpec> = {
    [denoiser.io.sample]: { dtype: feeds.latentDtype, dims: [b, ...denoiser.sampleDims] },
    [denoiser.io.timestep]: { dtype: feeds.timestepDtype, dims: timestep?.dims.length === 0 ? [] : [b] },
  };
  for (const c of feeds.conditioning) inputs[c.name] = { dtype: c.dtype, dims: [b, ...(denoiser.conditioningRowDims[c.name] ?? [])] };
  const split = await splitModel({
    modelPath: denoiser.path,
    stages,
    latentInputs: [denoiser.io.sample],
    inputs,
    // The node profile runs without graph optimisations (to attribute time to source nodes), which
    // misjudges how fused stages run; calibration re-cuts on stages timed as they will run.
    profile: { runs: 20 },
    calibrationRounds: 3,
    // Stage 0 waits for the sampler's math and a futex wake-up (≈ 40–90 µs measured on the 2-core
    // dev VM, bench/RESULTS.md) while later stages start on the previous step's outputs.
    firstStageDelayMs: 0.1,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.assignment ? { assignment: options.assignment } : {}),
    ...(options.maxStageWeightShare !== undefined ? { maxStageWeightShare: options.maxStageWeightShare } : {}),
  });
  return { pipeline: pipelineFromSplit(split, denoiser), split };
}
