import { combineInto } from '@asyncdiff/asyncdiff';
import { float16ToFloat32, float32ToFloat16 } from '@asyncdiff/tensor';

/** Boundary tensors a compensation extrapolates: hidden states. Integer tensors (shapes crossing a cut) pass as is. */
export type CompensableDtype = 'float32' | 'float16';

/** Whether a boundary tensor of this element type is extrapolated (see `CompensableDtype`). */
export function isCompensable(dtype: string): dtype is CompensableDtype {
  return dtype === 'float32' || dtype === 'float16';
}

/**
 * The consumer-side input buffer of one compensated boundary tensor: the extrapolation of the
 * producer's published outputs is computed straight into it (one pass over the sources, no other
 * copy), and the consumer's session reads it as its input. float16 tensors are combined in
 * float32 (scratch kept here, so a step allocates nothing).
 */
export class InputCompensator {
  /** What the consumer feeds its session: the tensor's dtype, `elements` long. */
  readonly input: Float32Array | Uint16Array;
  private readonly wide: Float32Array[] = [];
  private readonly wideOut: Float32Array | undefined;

  constructor(
    readonly dtype: CompensableDtype,
    readonly elements: number,
  ) {
    this.input = dtype === 'float32' ? new Float32Array(elements) : new Uint16Array(elements);
    this.wideOut = dtype === 'float16' ? new Float32Array(elements) : undefined;
  }

  /** Writes Σ weights[j]·sources[j] into `input` and returns it; sources are newest first, in the tensor's dtype. */
  compute(sources: readonly (Float32Array | Uint16Array)[], weights: readonly number[]): Float32Array | Uint16Array {
    for (const s of sources) if (s.length !== this.elements) throw new RangeError(`compensation source has ${s.length} elements, expected ${this.elements}`);
    if (this.dtype === 'float32') {
      combineInto(this.input as Float32Array, sources as Float32Array[], weights);
      return this.input;
    }
    const wide = sources.map((s, j) => {
      this.wide[j] ??= new Float32Array(this.elements);
      return float16ToFloat32(s as Uint16Array, this.wide[j]);
    });
    combineInto(this.wideOut!, wide, weights);
    float32ToFloat16(this.wideOut!, this.input as Uint16Array);
    return this.input;
  }
}
