import { float16ToFloat32, float32ToFloat16 } from '@asyncdiff/tensor';
import { describe, expect, it } from 'vitest';

import { InputCompensator, isCompensable } from './compensate.js';

describe('InputCompensator', () => {
  it('extrapolates float32 inputs into its own buffer (2h₁ − h₂)', () => {
    const c = new InputCompensator('float32', 3);
    const out = c.compute([Float32Array.of(1, 2, 3), Float32Array.of(0.5, 2, 4)], [2, -1]);
    expect(out).toBe(c.input);
    expect(Array.from(out)).toEqual([1.5, 2, 2]);
  });

  it('combines float16 inputs in float32 and writes float16 bits', () => {
    const c = new InputCompensator('float16', 2);
    const h1 = float32ToFloat16(Float32Array.of(1, -2));
    const h2 = float32ToFloat16(Float32Array.of(0.5, -1));
    const h3 = float32ToFloat16(Float32Array.of(0.25, 0));
    const out = c.compute([h1, h2, h3], [3, -3, 1]);
    expect(out).toBeInstanceOf(Uint16Array);
    expect(Array.from(float16ToFloat32(out as Uint16Array))).toEqual([1.75, -3]);
  });

  it('refuses sources of another length, and integer tensors are not compensable', () => {
    const c = new InputCompensator('float32', 3);
    expect(() => c.compute([new Float32Array(2)], [1])).toThrow(/2 elements, expected 3/);
    expect(isCompensable('int64')).toBe(false);
    expect(isCompensable('float16')).toBe(true);
  });
});
