import { float16ToFloat32 } from '@asyncdiff/tensor';
import { TextError } from './errors.js';
import type { EncoderTensor, TextEncoderComponent, TextEncoderInference } from './inference.js';
import type { EncodedPrompt } from './prompt-tokenizer.js';

/** A float encoder output widened to float32 (row-major, batch first). */
export interface FloatOutput {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** The token-id input of an encoder graph: its name and integer type. */
export interface TokenInput {
  readonly name: string;
  readonly dtype: 'int32' | 'int64';
}

/**
 * Finds the graph's token input (`input_ids`, or its only input) and its type. optimum's exports
 * take int32 ids (older SD exports) or int64 (newer ones); anything else, or a second input we
 * could not feed, is refused before running.
 */
export function tokenInput(inference: TextEncoderInference, component: TextEncoderComponent): TokenInput {
  const { inputs } = inference.signature(component);
  const input = inputs.find((info) => info.name === 'input_ids') ?? (inputs.length === 1 ? inputs[0] : undefined);
  if (input === undefined) {
    throw new TextError('ENCODER_INPUT_UNSUPPORTED', `${component} has no input_ids input (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`, {
      field: component,
    });
  }
  const extra = inputs.find((info) => info.name !== input.name);
  if (extra !== undefined) {
    throw new TextError('ENCODER_INPUT_UNSUPPORTED', `${component} also needs input ${extra.name}, which a CLIP text encoder export does not have`, {
      field: `${component}.${extra.name}`,
    });
  }
  if (input.dtype !== 'int32' && input.dtype !== 'int64') {
    throw new TextError('ENCODER_INPUT_UNSUPPORTED', `${component} input ${input.name} is ${input.dtype}; token ids need int32 or int64`, {
      field: `${component}.${input.name}`,
    });
  }
  return { name: input.name, dtype: input.dtype };
}

/** The id rows of `prompts` as one [rows, length] tensor of `dtype`. */
export function idsTensor(prompts: readonly EncodedPrompt[], dtype: 'int32' | 'int64'): EncoderTensor {
  const length = prompts[0]?.ids.length ?? 0;
  const flat = prompts.flatMap((prompt) => prompt.ids);
  const dims = [prompts.length, length];
  return dtype === 'int32' ? { dtype, dims, data: Int32Array.from(flat) } : { dtype, dims, data: BigInt64Array.from(flat, (v) => BigInt(v)) };
}

/**
 * The `hidden_states.N` output that diffusers' `hidden_states[-2]` means: optimum names the
 * N+1 hidden states (embeddings, then each of N layers) `hidden_states.0` … `hidden_states.N`,
 * so the penultimate is `hidden_states.{N-1}`, the input of the last layer, before the final norm.
 */
export function penultimateHiddenState(inference: TextEncoderInference, component: TextEncoderComponent): string {
  const indices = inference
    .signature(component)
    .outputs.map((info) => /^hidden_states\.(\d+)$/.exec(info.name)?.[1])
    .filter((index): index is string => index !== undefined)
    .map(Number);
  const last = indices.length === 0 ? -1 : Math.max(...indices);
  const name = `hidden_states.${last - 1}`;
  if (last < 1 || !indices.includes(last - 1)) {
    throw new TextError(
      'ENCODER_OUTPUT_INVALID',
      `${component} has no ${last < 1 ? 'hidden_states.N outputs' : name} output; SDXL needs the penultimate hidden state (export with output_hidden_states)`,
      { field: component },
    );
  }
  return name;
}

function asFloat32(tensor: EncoderTensor, component: TextEncoderComponent, name: string): Float32Array {
  switch (tensor.dtype) {
    case 'float32':
      return tensor.data;
    case 'float16':
      return float16ToFloat32(tensor.data);
    case 'int32':
    case 'int64':
      throw new TextError('ENCODER_OUTPUT_INVALID', `${component} output ${name} is ${tensor.dtype}, expected float32 or float16`, {
        field: `${component}.${name}`,
      });
  }
}

/**
 * Runs one encoder on the id rows of `prompts` and returns the named outputs as float32, each
 * checked to have one row per prompt and `rank` dimensions.
 */
export async function runTextEncoder(
  inference: TextEncoderInference,
  component: TextEncoderComponent,
  prompts: readonly EncodedPrompt[],
  outputs: Readonly<Record<string, number>>,
  signal: AbortSignal | undefined,
): Promise<Record<string, FloatOutput>> {
  const input = tokenInput(inference, component);
  signal?.throwIfAborted();
  const names = Object.keys(outputs);
  const result = await inference.run(component, { [input.name]: idsTensor(prompts, input.dtype) }, names, signal === undefined ? {} : { signal });
  const read: Record<string, FloatOutput> = {};
  for (const name of names) {
    const tensor = result[name];
    if (tensor === undefined) {
      throw new TextError('ENCODER_OUTPUT_INVALID', `${component} did not return output ${name}`, { field: `${component}.${name}` });
    }
    const rank = outputs[name];
    const size = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.dims.length !== rank || tensor.dims[0] !== prompts.length || size !== tensor.data.length) {
      throw new TextError(
        'ENCODER_OUTPUT_INVALID',
        `${component} output ${name} has dims [${tensor.dims.join(', ')}] (${tensor.data.length} elements), expected ${rank} dims with ${prompts.length} rows`,
        { field: `${component}.${name}` },
      );
    }
    read[name] = { dims: [...tensor.dims], data: asFloat32(tensor, component, name) };
  }
  return read;
}
