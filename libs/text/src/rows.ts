import { float32ToFloat16 } from '@asyncdiff/tensor';
import type { FloatOutput } from './encoder-io.js';

/**
 * A conditioning tensor for the UNet, in the UNet's input dtype (float16 as raw bits in a
 * Uint16Array, as ONNX Runtime for Node takes it).
 */
export type ConditioningTensor =
  | { readonly dtype: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'float16'; readonly dims: readonly number[]; readonly data: Uint16Array };

/** The float types a UNet takes its conditioning in. */
export type ConditioningDType = ConditioningTensor['dtype'];

/** Row `index` of a batch-first float32 output (a view). */
export function rowOf(output: FloatOutput, index: number): Float32Array {
  const width = output.data.length / (output.dims[0] ?? 1);
  return output.data.subarray(index * width, (index + 1) * width);
}

/**
 * Stacks `count` copies of the conditional row, then (with guidance) `count` copies of the
 * unconditional row, or zeros where `uncond` is `'zeros'`: the sampler's row order.
 */
export function stackRows(cond: Float32Array, uncond: Float32Array | 'zeros' | undefined, count: number): Float32Array {
  const width = cond.length;
  const out = new Float32Array(width * count * (uncond === undefined ? 1 : 2));
  for (let i = 0; i < count; i++) out.set(cond, i * width);
  if (uncond !== undefined && uncond !== 'zeros') for (let i = 0; i < count; i++) out.set(uncond, (count + i) * width);
  return out;
}

/** Joins two [rows, length, a] and [rows, length, b] outputs into [rows, length, a + b] (torch.cat(dim=-1)). */
export function concatLastAxis(left: FloatOutput, right: FloatOutput): FloatOutput {
  const a = left.dims.at(-1) ?? 0;
  const b = right.dims.at(-1) ?? 0;
  const vectors = left.data.length / a;
  const data = new Float32Array(vectors * (a + b));
  for (let v = 0; v < vectors; v++) {
    data.set(left.data.subarray(v * a, (v + 1) * a), v * (a + b));
    data.set(right.data.subarray(v * b, (v + 1) * b), v * (a + b) + a);
  }
  return { dims: [...left.dims.slice(0, -1), a + b], data };
}

/** Wraps float32 values as a conditioning tensor of `dtype` (narrowing to float16 bits if asked). */
export function conditioningTensor(dims: readonly number[], data: Float32Array, dtype: ConditioningDType): ConditioningTensor {
  return dtype === 'float32' ? { dtype, dims, data } : { dtype, dims, data: float32ToFloat16(data) };
}
