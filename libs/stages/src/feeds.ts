import type { FeedDtype, FeedTensor } from '@asyncdiff/asyncdiff';
import { float16ToFloat32, float32ToFloat16, float32ToFloat16Bits, type DataTypeMap } from '@asyncdiff/tensor';

/**
 * The sampler's float64 timestep value as the graph wants it. Integer graphs get the value
 * truncated toward zero — what optimum's ONNX pipelines do when they cast float timesteps
 * (Euler's) to an int64 `timestep` input with numpy.
 */
export function timestepArray(dtype: FeedDtype, length: number): TimestepFeed {
  switch (dtype) {
    case 'float32': {
      const data = new Float32Array(length);
      return withRows(data, (v) => v);
    }
    case 'float16': {
      const data = new Uint16Array(length);
      return withRows(data, float32ToFloat16Bits);
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      return withRows(data, (v) => BigInt(Math.trunc(v)));
    }
    case 'int32': {
      const data = new Int32Array(length);
      return withRows(data, Math.trunc);
    }
  }
}

/** A timestep feed buffer and how to write it: one value for every row, or a value per row. */
export interface TimestepFeed {
  readonly data: DataTypeMap[FeedDtype];
  fill(value: number): void;
  /**
   * Row i gets `values[i]`. A feed with fewer elements than rows (a scalar or [1] graph input)
   * can only serve rows that share one step: anything else is refused, never silently merged.
   */
  fillRows(values: Float64Array): void;
}

function withRows<T extends number | bigint>(data: { length: number; fill(v: T): unknown; [i: number]: T }, convert: (v: number) => T): TimestepFeed {
  return {
    data: data as unknown as DataTypeMap[FeedDtype],
    fill: (v) => data.fill(convert(v)),
    fillRows: (values) => {
      if (data.length >= values.length) {
        for (let i = 0; i < values.length; i++) data[i] = convert(values[i] as number);
        return;
      }
      const first = values[0] as number;
      for (let i = 1; i < values.length; i++) {
        if (values[i] !== first) throw Object.assign(new RangeError('this graph takes one timestep for the whole batch: rows at different steps cannot share a run'), { code: 'STAGE_SCALAR_TIMESTEP' });
      }
      data.fill(convert(first));
    },
  };
}

/**
 * Dims of the timestep feed for a batch: a rank-0 graph input gets a scalar, a fixed [1] gets
 * one value, anything else one value per row (per-row timesteps: every row shares the step).
 */
export function timestepDims(declared: readonly (number | string)[] | undefined, batch: number): number[] {
  if (declared === undefined) return [batch];
  if (declared.length === 0) return [];
  if (declared.length === 1 && declared[0] === 1) return [1];
  return [batch];
}

/** Writes the sampler's float32 latent into a graph-typed buffer (converting for fp16 graphs). */
export function writeLatent(dst: Float32Array | Uint16Array, src: Float32Array): void {
  if (dst instanceof Float32Array) dst.set(src);
  else float32ToFloat16(src, dst.subarray(0, src.length));
}

/** A graph output as float32 for the sampler: float32 as is (a view), float16 converted into `scratch`. */
export function asFloat32(data: unknown, scratch: () => Float32Array): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) {
    const out = scratch();
    return float16ToFloat32(data, out.length === data.length ? out : new Float32Array(data.length));
  }
  throw new TypeError('noise prediction must be float32 or float16');
}

/**
 * Branches' predictions of their row ranges as the batch's float32 prediction: one part as
 * `asFloat32` gives it, several side by side in `scratch(total length)` (float16 converted).
 */
export function joinRowsAsFloat32(parts: readonly (Float32Array | Uint16Array)[], scratch: (length: number) => Float32Array): Float32Array {
  if (parts.length === 1) {
    const only = parts[0]!;
    return asFloat32(only, () => scratch(only.length));
  }
  // Branches computed row ranges in order: their predictions side by side are the batch's.
  const out = scratch(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    if (p instanceof Uint16Array) float16ToFloat32(p, out.subarray(offset, offset + p.length));
    else out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Copies a conditioning tensor's rows into a control-block region of the same dtype. */
export function writeConditioning(dst: DataTypeMap[FeedDtype], src: FeedTensor): void {
  if (dst.length < src.data.length) throw new RangeError(`conditioning needs ${src.data.length} elements, the block holds ${dst.length}`);
  (dst as Float32Array).set(src.data as Float32Array);
}
