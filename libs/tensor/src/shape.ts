import { InvalidArgumentError } from './errors.js';

/** Dimensions of a tensor, outermost first (batch is `dims[0]`). */
export type Dims = readonly number[];

/**
 * Number of elements of a tensor with these dims (1 for a scalar `[]`). Throws if a dim is not a
 * non-negative safe integer.
 */
export function sizeOf(dims: Dims): number {
  let n = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i] as number;
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgumentError(`dims[${i}]`, `must be a non-negative integer, got ${String(d)}`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('dims', `describe too many elements (${n})`);
  return n;
}

/** Whether two dims lists are identical. */
export function sameDims(a: Dims, b: Dims): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
