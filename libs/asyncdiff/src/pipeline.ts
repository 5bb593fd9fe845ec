import type { FeedDtype } from './feed.js';

/**
 * What a component input is fed with. `boundary` inputs are hidden states produced by an earlier
 * component (`producer`); the latent and the timestep come from the sampler for the step being
 * run; `conditioning` inputs are per-generation tensors (class labels, text embeddings, SDXL's
 * pooled embeds and time ids) that are the same at every step — fresh in every stage, never stale.
 */
export type ComponentInputSpec =
  | { readonly kind: 'latent'; readonly name: string }
  | { readonly kind: 'timestep'; readonly name: string }
  | { readonly kind: 'conditioning'; readonly name: string }
  | { readonly kind: 'boundary'; readonly name: string; readonly producer: number };

/** One component C_k of a cut denoiser: an ONNX file, what it reads and what it publishes. */
export interface ComponentSpec {
  readonly index: number;
  readonly modelPath: string;
  readonly inputs: readonly ComponentInputSpec[];
  readonly outputs: readonly string[];
}

/**
 * A per-generation conditioning input as the graph declares it. Its shape comes with each
 * generation's tensors (a runner sizes shared memory for `maxBatch` rows of what it is given).
 */
export interface ConditioningSpec {
  readonly name: string;
  readonly dtype: FeedDtype;
}

/**
 * A denoiser as the runners see it: N components in dependency order, the name of the noise
 * prediction (an output of the last component), and the element types the graph wants for the
 * latent/prediction (float16 for fp16 exports) and the timestep (int64 in optimum's SD exports,
 * float elsewhere). N = 1 is the unsplit model.
 */
export interface PipelineSpec {
  readonly components: readonly ComponentSpec[];
  readonly epsOutput: string;
  readonly latentDtype: 'float32' | 'float16';
  readonly timestepDtype: 'float32' | 'float16' | 'int64' | 'int32';
  /** Every conditioning input any component reads. */
  readonly conditioning: readonly ConditioningSpec[];
}

/** The component a device runs: device k holds C_k; stride 2's extra device N holds C_{N-1}. */
export function componentOfDevice(components: number, device: number): number {
  return Math.min(device, components - 1);
}
