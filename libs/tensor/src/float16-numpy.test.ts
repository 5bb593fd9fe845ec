import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { float16ToFloat32, float32ToFloat16, float16BitsToFloat32, float32ToFloat16Bits } from './index.js';

/** Values and the bits numpy's astype(float16) gives them (tools: see the fixture's `source`). */
const golden = JSON.parse(readFileSync(new URL('./test-fixtures/float16.json', import.meta.url), 'utf8')) as { values: number[]; bits: number[]; back: number[] };

describe('float16 conversions agree with numpy', () => {
  it('rounds every value exactly as numpy does (normals, subnormals, ties, overflow)', () => {
    const bits = float32ToFloat16(Float32Array.from(golden.values));
    expect(Array.from(bits)).toEqual(golden.bits);
  });

  it('decodes every half back to the value numpy decodes', () => {
    expect(Array.from(float16ToFloat32(Uint16Array.from(golden.bits)))).toEqual(golden.back);
  });

  it('keeps signs, infinities and NaN', () => {
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float16BitsToFloat32(float32ToFloat16Bits(Infinity))).toBe(Infinity);
    expect(float16BitsToFloat32(float32ToFloat16Bits(-Infinity))).toBe(-Infinity);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN)))).toBe(true);
  });

});
