import { describe, expect, it } from 'vitest';

import { guidanceBatch, sliceConditioning, type GuidanceConditioning } from './feed.js';

const two: GuidanceConditioning = {
  images: 2,
  cond: {
    labels: { dtype: 'int64', dims: [2], data: BigInt64Array.from([3n, 8n]) },
    text: { dtype: 'float32', dims: [2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i) },
  },
  uncond: {
    labels: { dtype: 'int64', dims: [2], data: BigInt64Array.from([10n, 10n]) },
    text: { dtype: 'float32', dims: [2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => -i) },
  },
};

describe('guidance batches of conditioning tensors', () => {
  it('puts the conditional rows first, then the unconditional ones', () => {
    const b = guidanceBatch(two, true);
    expect(b['labels']!.dims).toEqual([4]);
    expect(Array.from(b['labels']!.data as BigInt64Array)).toEqual([3n, 8n, 10n, 10n]);
    expect(b['text']!.dims).toEqual([4, 2, 3]);
    expect(Array.from(b['text']!.data as Float32Array).slice(10, 14)).toEqual([10, 11, -0, -1]);
  });

  it('without guidance keeps only the conditional rows', () => {
    const b = guidanceBatch(two, false);
    expect(b['text']).toBe(two.cond['text']);
  });

  it('refuses mismatched sides and wrong row counts, naming the tensor', () => {
    const bad = { ...two, uncond: { ...two.uncond, text: { dtype: 'float32', dims: [2, 3, 3], data: new Float32Array(18) } } } as GuidanceConditioning;
    expect(() => guidanceBatch(bad, true)).toThrow(/unconditional text/);
    expect(() => guidanceBatch({ ...two, images: 3 }, true)).toThrow(/labels has 2 rows, expected 3/);
  });

  it('slices chunks of rows as views', () => {
    const c = sliceConditioning(two, 1, 2);
    expect(c.images).toBe(1);
    expect(c.cond['text']!.dims).toEqual([1, 2, 3]);
    expect(Array.from(c.cond['text']!.data as Float32Array)).toEqual([6, 7, 8, 9, 10, 11]);
    expect((c.uncond?.['labels']?.data as BigInt64Array).buffer).toBe((two.uncond?.['labels']?.data as BigInt64Array).buffer);
  });
});
