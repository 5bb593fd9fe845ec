import type { ComponentInputSpec, PipelineSpec } from '@asyncdiff/asyncdiff';
import type { ModelPackage } from '@asyncdiff/models';
import { splitModel, type LoadedSplitPlan } from '@asyncdiff/onnx-split';

/**
 * Turns a partitioner plan into the runners' PipelineSpec: conditioning inputs are recognised by
 * the model's io names (timestep, class labels), boundary inputs keep their producer stage.
 */
export function pipelineFromSplit(loaded: LoadedSplitPlan, model: Pick<ModelPackage, 'io'>): PipelineSpec {
  const { plan, stagePaths } = loaded;
  const eps = plan.graphOutputs.find((o) => o.name === model.io.output);
  if (!eps) throw new Error(`split plan has no graph output ${model.io.output}`);
  if (eps.stage !== plan.stageCount - 1) throw new Error(`${model.io.output} must come from the last stage, not stage ${eps.stage}`);
  return {
    epsOutput: model.io.output,
    components: plan.stages.map((st) => ({
      index: st.index,
      modelPath: stagePaths[st.index]!,
      outputs: st.outputs.map((o) => o.name),
      inputs: st.inputs.map((i): ComponentInputSpec => {
        if (i.kind === 'latent') return { kind: 'latent', name: i.name };
        if (i.kind === 'boundary') return { kind: 'boundary', name: i.name, producer: i.producer ?? -1 };
        if (i.name === model.io.timestep) return { kind: 'timestep', name: i.name };
        if (i.name === model.io.classLabels) return { kind: 'class-labels', name: i.name };
        throw new Error(`stage ${st.index} input ${i.name} is neither the timestep nor the class labels`);
      }),
    })),
  };
}

/** Options for cutting a shipped model for AsyncDiff. */
export interface SplitForModelOptions {
  /** Batch the balance is measured at (2 = one image with classifier-free guidance). @defaultValue 2 */
  readonly profileBatch?: number;
  /** Where splits are cached. @defaultValue `<model dir>/splits` */
  readonly cacheDir?: string;
  /** Explicit node → stage assignment (overrides the balanced cut). */
  readonly assignment?: Readonly<Record<string, number>>;
}

/**
 * Cuts a model package into `stages` balanced components (cached by model hash, N and
 * assignment) and returns the pipeline the runners execute.
 */
export async function splitForModel(model: ModelPackage, stages: number, options: SplitForModelOptions = {}): Promise<{ pipeline: PipelineSpec; split: LoadedSplitPlan }> {
  const b = options.profileBatch ?? 2;
  const split = await splitModel({
    modelPath: model.denoiserPath,
    stages,
    latentInputs: [model.io.sample],
    inputs: {
      [model.io.sample]: { dtype: 'float32', dims: [b, ...model.sampleDims] },
      [model.io.timestep]: { dtype: 'float32', dims: [b] },
      [model.io.classLabels]: { dtype: 'int64', dims: [b] },
    },
    // The node profile runs without graph optimisations (to attribute time to source nodes), which
    // misjudges how fused stages run; calibration re-cuts on stages timed as they will run.
    profile: { runs: 20 },
    calibrationRounds: 3,
    // Stage 0 waits for the sampler's math and a futex wake-up (≈ 40–90 µs measured on the 2-core
    // dev VM, bench/RESULTS.md) while later stages start on the previous step's outputs.
    firstStageDelayMs: 0.1,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.assignment ? { assignment: options.assignment } : {}),
  });
  return { pipeline: pipelineFromSplit(split, model), split };
}
