import { existsSync } from 'node:fs';
import path from 'node:path';

import type { GuidanceConditioning } from '@asyncdiff/asyncdiff';
import { ModelError, type DiffusersPackage, type GeneratorPackage, type ModelPackage } from '@asyncdiff/models';

import { graphSignature, type GraphSignature } from './graph-signature.js';
import type { DenoiserIo } from './whole-model.js';

/**
 * A denoiser graph as the engine runs it, whatever package it came from: its file, which inputs
 * are the latent and the timestep, its declared signature (dtypes), and the default shapes it
 * is split and probed at.
 */
export interface Denoiser {
  /** Stable identity for caches and logs (`name@version`). */
  readonly id: string;
  readonly path: string;
  readonly io: DenoiserIo;
  readonly signature: GraphSignature;
  /** Default latent row dims ([C,H,W] or [C,F,H,W]). */
  readonly sampleDims: readonly number[];
  /** Dims of one batch row of each conditioning input (class labels: [], text embeddings: [77, D]). */
  readonly conditioningRowDims: Readonly<Record<string, readonly number[]>>;
}

/** Tokens per prompt of every CLIP text encoder of SD 1.x/2.x and SDXL. */
const TEXT_TOKENS = 77;

/** The denoiser of a package: our model.json + ONNX, or a diffusers export's UNet. */
export async function denoiserOf(model: GeneratorPackage): Promise<Denoiser> {
  return model.format === 'asyncdiff' ? classDenoiser(model) : unetDenoiser(model);
}

async function classDenoiser(model: ModelPackage): Promise<Denoiser> {
  return {
    id: `${model.name}@${model.version}`,
    path: model.denoiserPath,
    io: { sample: model.io.sample, timestep: model.io.timestep, output: model.io.output },
    signature: await graphSignature(model.denoiserPath),
    sampleDims: model.sampleDims,
    conditioningRowDims: { [model.io.classLabels]: [] },
  };
}

/**
 * An optimum UNet export: inputs `sample`, `timestep`, `encoder_hidden_states` (+ SDXL's
 * `text_embeds`, `time_ids`), output `out_sample`; its weights in external data beside it.
 */
async function unetDenoiser(model: DiffusersPackage): Promise<Denoiser> {
  const rel = (p: string): string => path.relative(model.dir, p);
  const signature = await graphSignature(model.unet.path);
  for (const location of signature.externalData) {
    const file = path.join(path.dirname(model.unet.path), location);
    if (!existsSync(file)) throw new ModelError('MODEL_INVALID', `${model.name}: ${rel(file)} (the UNet's external weights) is missing`, rel(file));
  }
  const need = (name: string): void => {
    if (!signature.inputs.some((i) => i.name === name)) {
      throw new ModelError('MODEL_INVALID', `${model.name}: ${rel(model.unet.path)} has no input "${name}" (inputs: ${signature.inputs.map((i) => i.name).join(', ')})`, rel(model.unet.path));
    }
  };
  for (const name of ['sample', 'timestep', 'encoder_hidden_states', ...(model.pipeline === 'sdxl' ? ['text_embeds', 'time_ids'] : [])]) need(name);
  const output = signature.outputs[0]?.name;
  if (!output) throw new ModelError('MODEL_INVALID', `${model.name}: ${rel(model.unet.path)} has no output`, rel(model.unet.path));
  // SDXL's cross_attention_dim already counts both encoders' concatenated hidden states.
  const rows: Record<string, readonly number[]> = { encoder_hidden_states: [TEXT_TOKENS, model.unet.crossAttentionDim] };
  if (model.pipeline === 'sdxl') {
    rows['text_embeds'] = [model.unet.textEmbedsDim ?? 0];
    rows['time_ids'] = [6];
  }
  return {
    id: `${model.name}@${model.version}`,
    path: model.unet.path,
    io: { sample: 'sample', timestep: 'timestep', output },
    signature,
    sampleDims: [model.unet.inChannels, model.unet.sampleSize, model.unet.sampleSize],
    conditioningRowDims: rows,
  };
}

/**
 * Conditioning of a class-conditional generation: one class id per image, the model's null
 * class on the unconditional side (classifier-free guidance).
 */
export function classConditioning(model: Pick<ModelPackage, 'io' | 'nullClass'>, classIds: readonly number[]): GuidanceConditioning {
  const name = model.io.classLabels;
  const images = classIds.length;
  return {
    images,
    cond: { [name]: { dtype: 'int64', dims: [images], data: BigInt64Array.from(classIds, (c) => BigInt(c)) } },
    uncond: { [name]: { dtype: 'int64', dims: [images], data: new BigInt64Array(images).fill(BigInt(model.nullClass)) } },
  };
}
