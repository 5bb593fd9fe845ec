import type { ComponentInputSpec, ConditioningSpec, FeedDtype, PipelineSpec } from '@asyncdiff/asyncdiff';

import type { GraphSignature } from './graph-signature.js';

/** How a denoiser graph's inputs and outputs are used: which is the latent, the timestep, the prediction. */
export interface DenoiserIo {
  readonly sample: string;
  readonly timestep: string;
  readonly output: string;
}

/** Why a denoiser graph cannot be run: the file's declared inputs/outputs do not fit `io`. */
export class DenoiserSignatureError extends Error {
  override readonly name = 'DenoiserSignatureError';
  readonly code = 'DENOISER_SIGNATURE';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

function feedDtype(sig: GraphSignature, name: string, where: 'input' | 'output'): FeedDtype {
  const v = (where === 'input' ? sig.inputs : sig.outputs).find((x) => x.name === name);
  if (!v) throw new DenoiserSignatureError(`the denoiser has no ${where} "${name}"; it has ${(where === 'input' ? sig.inputs : sig.outputs).map((x) => x.name).join(', ')}`, name);
  if (v.dtype.startsWith('elem_type')) throw new DenoiserSignatureError(`denoiser ${where} "${name}" has an unsupported type (${v.dtype})`, name);
  return v.dtype as FeedDtype;
}

/**
 * The pipeline-wide feed types of a denoiser read from its graph, as optimum's pipelines read
 * them: the latent's dtype (float16 for fp16 exports), the timestep's (int64 or float) and every
 * other input as conditioning (class labels, text embeddings, SDXL's pooled embeds and time ids).
 */
export function denoiserFeeds(sig: GraphSignature, io: DenoiserIo): Pick<PipelineSpec, 'latentDtype' | 'timestepDtype' | 'conditioning'> {
  const latentDtype = feedDtype(sig, io.sample, 'input');
  if (latentDtype !== 'float32' && latentDtype !== 'float16') throw new DenoiserSignatureError(`latent input "${io.sample}" must be float32 or float16, not ${latentDtype}`, io.sample);
  const out = feedDtype(sig, io.output, 'output');
  if (out !== latentDtype) throw new DenoiserSignatureError(`prediction "${io.output}" is ${out} but the latent is ${latentDtype}`, io.output);
  const timestepDtype = feedDtype(sig, io.timestep, 'input');
  const conditioning: ConditioningSpec[] = sig.inputs
    .filter((i) => i.name !== io.sample && i.name !== io.timestep)
    .map((i) => ({ name: i.name, dtype: feedDtype(sig, i.name, 'input') }));
  return { latentDtype, timestepDtype, conditioning };
}

/** The whole denoiser as a single component (sequential sampling, and data-parallel replicas). */
export function wholeModelPipeline(path: string, sig: GraphSignature, io: DenoiserIo): PipelineSpec {
  const feeds = denoiserFeeds(sig, io);
  const inputs: ComponentInputSpec[] = sig.inputs.map((i) =>
    i.name === io.sample ? { kind: 'latent', name: i.name } : i.name === io.timestep ? { kind: 'timestep', name: i.name } : { kind: 'conditioning', name: i.name },
  );
  return { components: [{ index: 0, modelPath: path, inputs, outputs: [io.output] }], epsOutput: io.output, ...feeds };
}
