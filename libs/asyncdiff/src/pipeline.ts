import type { ModelPackage } from '@asyncdiff/models';

/**
 * What a component input is fed with. `boundary` inputs are hidden states produced by an earlier
 * component (`producer`); the rest come from the sampler for the step being run.
 */
export type ComponentInputSpec =
  | { readonly kind: 'latent'; readonly name: string }
  | { readonly kind: 'timestep'; readonly name: string }
  | { readonly kind: 'class-labels'; readonly name: string }
  | { readonly kind: 'boundary'; readonly name: string; readonly producer: number };

/** One component C_k of a cut denoiser: an ONNX file, what it reads and what it publishes. */
export interface ComponentSpec {
  readonly index: number;
  readonly modelPath: string;
  readonly inputs: readonly ComponentInputSpec[];
  readonly outputs: readonly string[];
}

/**
 * A denoiser as the runners see it: N components in dependency order and the name of the noise
 * prediction (an output of the last component). N = 1 is the unsplit model.
 */
export interface PipelineSpec {
  readonly components: readonly ComponentSpec[];
  readonly epsOutput: string;
}

/** The whole denoiser as a single component (sequential sampling, and data-parallel replicas). */
export function wholeModelPipeline(model: Pick<ModelPackage, 'denoiserPath' | 'io'>): PipelineSpec {
  return {
    components: [
      {
        index: 0,
        modelPath: model.denoiserPath,
        inputs: [
          { kind: 'latent', name: model.io.sample },
          { kind: 'timestep', name: model.io.timestep },
          { kind: 'class-labels', name: model.io.classLabels },
        ],
        outputs: [model.io.output],
      },
    ],
    epsOutput: model.io.output,
  };
}

/** The component a device runs: device k holds C_k; stride 2's extra device N holds C_{N-1}. */
export function componentOfDevice(components: number, device: number): number {
  return Math.min(device, components - 1);
}
