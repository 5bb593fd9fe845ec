import { describe, expect, it } from 'vitest';
import {
  float16BitsToFloat32,
  float16ToFloat32,
  float32ToFloat16,
  float32ToFloat16Bits,
  ShapeMismatchError,
} from './index.js';

/** The next float32 above / below a positive float32 `x`. */
function nextFloat32(x: number, direction: 1 | -1): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] ?? 0) + direction;
  return f[0] ?? NaN;
}

const isNaNBits = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('float16 bit patterns', () => {
  it('reads the patterns IEEE 754 binary16 defines', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(float16BitsToFloat32(0x3800)).toBe(0.5);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });

  it('writes the patterns IEEE 754 binary16 defines', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(isNaNBits(float32ToFloat16Bits(NaN))).toBe(true);
  });

  it('rounds to nearest, ties to even, at the edges of the range', () => {
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff); // below the midpoint to 2^16
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // tie, 0x7bff is odd: rounds up to Infinity
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the least subnormal: even is 0
    expect(float32ToFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 units: even is 2
    expect(float32ToFloat16Bits(2 ** -26)).toBe(0x0000);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, mantissa 0 is even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, mantissa 2 is even
    expect(float32ToFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // subnormal rounds up into the first normal
  });

  it('round-trips every one of the 65,536 patterns (NaNs stay NaN)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const back = float32ToFloat16Bits(float16BitsToFloat32(h));
      if (isNaNBits(h)) expect(isNaNBits(back)).toBe(true);
      else if (back !== h) expect(back.toString(16)).toBe(h.toString(16));
    }
  });

  it('sends each midpoint between neighbouring halves to the even one, and its float32 neighbours to the nearer', () => {
    for (let h = 0; h < 0x7bff; h++) {
      const low = float16BitsToFloat32(h);
      const high = float16BitsToFloat32(h + 1);
      const mid = (low + high) / 2; // exact in float32: one bit more than a half has
      const even = (h & 1) === 0 ? h : h + 1;
      const results = [float32ToFloat16Bits(mid), float32ToFloat16Bits(nextFloat32(mid, -1)), float32ToFloat16Bits(nextFloat32(mid, 1))];
      if (results[0] !== even || results[1] !== h || results[2] !== h + 1) {
        expect({ h, results }).toEqual({ h, results: [even, h, h + 1] });
      }
      // Negative values mirror positive ones in the sign bit.
      if (float32ToFloat16Bits(-mid) !== (even | 0x8000)) expect(float32ToFloat16Bits(-mid)).toBe(even | 0x8000);
    }
  });
});

describe('float16 arrays', () => {
  it('converts whole arrays both ways, into a given output or a new one', () => {
    const values = new Float32Array([0, 1, -2.5, 0.1, 70000]);
    const bits = float32ToFloat16(values);
    expect(Array.from(bits)).toEqual(Array.from(values, (v) => float32ToFloat16Bits(v)));
    const out = new Float32Array(5);
    expect(float16ToFloat32(bits, out)).toBe(out);
    expect(Array.from(out)).toEqual([0, 1, -2.5, float16BitsToFloat32(float32ToFloat16Bits(0.1)), Infinity]);
    expect(Math.abs((out[3] ?? 0) - 0.1)).toBeLessThan(2 ** -14);
  });

  it('refuses an output of the wrong length, naming it', () => {
    expect(() => float16ToFloat32(new Uint16Array(3), new Float32Array(2))).toThrow(ShapeMismatchError);
    expect(() => float32ToFloat16(new Float32Array(3), new Uint16Array(4))).toThrow(/^out: has 4 elements, expected 3$/);
  });
});
