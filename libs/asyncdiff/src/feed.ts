import type { DataTypeMap } from '@asyncdiff/tensor';

/** Element types the engine feeds a denoiser (what diffusion ONNX exports use). */
export type FeedDtype = 'float32' | 'float16' | 'int64' | 'int32';

/** Every feed dtype (one source for validation and tables). */
export const FEED_DTYPES: readonly FeedDtype[] = ['float32', 'float16', 'int64', 'int32'];

/**
 * A tensor handed to a runner as is (conditioning): `data` is the typed array of its dtype
 * (float16 as Uint16Array bits), `dims[0]` the batch.
 */
export type FeedTensor = {
  readonly [D in FeedDtype]: { readonly dtype: D; readonly dims: readonly number[]; readonly data: DataTypeMap[D] };
}[FeedDtype];

/** Named conditioning tensors of one generation, rows in batch order. */
export type ConditioningTensors = Readonly<Record<string, FeedTensor>>;

/**
 * Conditioning of `images` images for classifier-free guidance: each tensor of `cond` and
 * `uncond` has `images` rows (the unconditional side: the null class, the negative prompt's or
 * zeroed embeddings). Both sides name the same tensors; `uncond` may be left out when the
 * generation runs without guidance (scale 1).
 */
export interface GuidanceConditioning {
  readonly images: number;
  readonly cond: ConditioningTensors;
  readonly uncond?: ConditioningTensors;
}

/**
 * Model rows a generation of `images` images runs at guidance scale `guidance`: classifier-free
 * guidance runs each image twice (conditional and unconditional), scale 1 once. The one rule for
 * batch sizes, shared memory, admission and placement.
 */
export function modelRows(images: number, guidance: number): number {
  return guidance !== 1 ? 2 * images : images;
}

/** Elements of one row of `t`. */
function rowSize(t: FeedTensor): number {
  return t.dims.slice(1).reduce((a, b) => a * b, 1);
}

function withRows(t: FeedTensor, rows: number, data: FeedTensor['data']): FeedTensor {
  return { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data } as FeedTensor;
}

/**
 * The model batch of a generation: with guidance, conditional rows first then unconditional ones
 * (the sampler's convention: eps rows 0..images-1 are conditional); without, the conditional rows.
 */
export function guidanceBatch(c: GuidanceConditioning, cfg: boolean): ConditioningTensors {
  const out: Record<string, FeedTensor> = {};
  for (const [name, cond] of Object.entries(c.cond)) {
    if (cond.dims[0] !== c.images) throw new RangeError(`conditioning ${name} has ${cond.dims[0]} rows, expected ${c.images}`);
    if (!cfg) {
      out[name] = cond;
      continue;
    }
    const uncond = c.uncond?.[name];
    if (!uncond || uncond.dtype !== cond.dtype || uncond.dims.join() !== cond.dims.join()) {
      throw new RangeError(`unconditional ${name} must match the conditional tensor (dtype ${cond.dtype}, dims [${cond.dims.join(', ')}])`);
    }
    const data = new (cond.data.constructor as new (n: number) => FeedTensor['data'])(cond.data.length * 2);
    (data as Float32Array).set(cond.data as Float32Array, 0);
    (data as Float32Array).set(uncond.data as Float32Array, cond.data.length);
    out[name] = withRows(cond, c.images * 2, data);
  }
  return out;
}

/** Rows `start` … `end - 1` of every tensor (views, no copy): one chunk of a larger request. */
export function sliceConditioning(c: GuidanceConditioning, start: number, end: number): GuidanceConditioning {
  const slice = (set: ConditioningTensors): ConditioningTensors => {
    const out: Record<string, FeedTensor> = {};
    for (const [name, t] of Object.entries(set)) {
      const n = rowSize(t);
      out[name] = withRows(t, end - start, t.data.subarray(start * n, end * n));
    }
    return out;
  };
  return { images: end - start, cond: slice(c.cond), ...(c.uncond && { uncond: slice(c.uncond) }) };
}
