import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gaussianNoise, InvalidArgumentError, InvalidSeedError, philox4x32, TensorError } from './index.js';

interface NoiseFixture {
  kat: { counter: number[]; key: number[]; output: number[] }[];
  cases: { seed: string; stream: number; values: number[]; words: number[] }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('./test-fixtures/noise.json', import.meta.url), 'utf8'),
) as NoiseFixture;

describe('philox4x32', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    for (const { counter, key, output } of fixture.kat) {
      const [c0, c1, c2, c3] = counter as [number, number, number, number];
      const [k0, k1] = key as [number, number];
      philox4x32(c0, c1, c2, c3, k0, k1, out);
      expect([...out]).toEqual(output);
    }
  });
});

describe('gaussianNoise', () => {
  it('reproduces the golden values of tools/ref/noise_ref.py bit for bit', () => {
    for (const c of fixture.cases) {
      const seed = BigInt(c.seed);
      const z = gaussianNoise(seed, c.values.length, c.stream);
      expect([...z]).toEqual(c.values);
      if (seed <= BigInt(Number.MAX_SAFE_INTEGER)) expect(gaussianNoise(Number(seed), 5, c.stream)).toEqual(z.subarray(0, 5));
    }
  });

  it('is deterministic and prefix-stable', () => {
    const a = gaussianNoise(7, 1001, 3);
    expect(gaussianNoise(7, 1001, 3)).toEqual(a);
    expect(gaussianNoise(7, 13, 3)).toEqual(a.subarray(0, 13));
    expect(gaussianNoise(7, 0)).toHaveLength(0);
  });

  it('has mean 0, variance 1, light tails and uncorrelated streams', () => {
    const n = 1_000_000;
    const a = gaussianNoise(1234, n, 1);
    const b = gaussianNoise(1234, n, 2);
    const c = gaussianNoise(1235, n, 1);
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let ab = 0;
    let ac = 0;
    let lag = 0;
    let beyond3 = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i] as number;
      s += x;
      s2 += x * x;
      s4 += x * x * x * x;
      ab += x * (b[i] as number);
      ac += x * (c[i] as number);
      if (i > 0) lag += x * (a[i - 1] as number);
      if (Math.abs(x) > 3) beyond3++;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    // Standard errors: mean 1e-3, variance ~1.4e-3, correlations 1e-3; bounds are ~5 sigma.
    expect(Math.abs(mean)).toBeLessThan(5e-3);
    expect(Math.abs(variance - 1)).toBeLessThan(7e-3);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.05);
    expect(Math.abs(ab / n)).toBeLessThan(5e-3);
    expect(Math.abs(ac / n)).toBeLessThan(5e-3);
    expect(Math.abs(lag / n)).toBeLessThan(5e-3);
    expect(Math.abs(beyond3 / n - 0.0026998)).toBeLessThan(3e-4);
  });

  it('rejects bad seeds, streams and counts with typed errors naming the field', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53, -1n, 2n ** 53n]) {
      expect(() => gaussianNoise(bad, 4)).toThrow(InvalidSeedError);
      expect(() => gaussianNoise(bad, 4)).toThrow(/seed/);
    }
    expect(() => gaussianNoise('1' as unknown as number, 4)).toThrow(InvalidSeedError);
    expect(() => gaussianNoise(1, 4, -2)).toThrow(/stream/);
    expect(() => gaussianNoise(1, -1)).toThrow(InvalidArgumentError);
    try {
      gaussianNoise(-1, 1);
    } catch (e) {
      expect(e).toBeInstanceOf(TensorError);
      expect((e as TensorError).code).toBe('INVALID_SEED');
      expect((e as TensorError).name).toBe('InvalidSeedError');
    }
    expect(gaussianNoise(2 ** 53 - 1, 2)).toEqual(gaussianNoise(2n ** 53n - 1n, 2));
  });
});
