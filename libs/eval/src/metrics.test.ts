import { readFileSync } from 'node:fs';
import { gaussianNoise } from '@asyncdiff/tensor';
import { describe, expect, it } from 'vitest';
import {
  agreement,
  EvalError,
  featureStats,
  featureStatsFromJson,
  featureStatsToJson,
  formatPerClassTable,
  frechetDistance,
  frechetDistanceFromStats,
  meanOf,
  perClassTable,
  psnr,
  psnrPerImage,
  ssim,
  ssimPerImage,
  symmetricEigen,
} from './index.js';

interface MetricsFixture {
  frechet: { dim: number; nA: number; nB: number; seedA: number; seedB: number; ab: number; aa: number; halves: number }[];
  images: {
    kind: 'noise' | 'smooth';
    seed: number;
    count: number;
    perturbSeed: number;
    amount: number;
    psnr: number[];
    ssim: { size: number; sigma: number; values: number[] }[];
    ssimSelf: number;
  }[];
}
const fixture = JSON.parse(readFileSync(new URL('./test-fixtures/metrics.json', import.meta.url), 'utf8')) as MetricsFixture;

/** Same formulas as features() in tools/ref/metrics_ref.py (float64, rounded once to float32). */
function features(seed: number, n: number, dim: number, kind: 'a' | 'b'): Float32Array {
  const z = gaussianNoise(seed, n * dim);
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) {
      const v = z[r * dim + j] as number;
      out[r * dim + j] =
        kind === 'a'
          ? v + 0.5 * (z[r * dim + ((j + 1) % dim)] as number)
          : 1.25 * v + 0.1 * (j % 7) - 0.2 * (z[r * dim + ((j + 3) % dim)] as number);
    }
  }
  return out;
}

/** Same formulas as images() and perturb() in tools/ref/metrics_ref.py. */
function images(seed: number, count: number, kind: 'noise' | 'smooth'): Float32Array {
  const z = gaussianNoise(seed, count * 256);
  const clip = (v: number): number => Math.min(1, Math.max(-1, v));
  return z.map((v, i) => {
    const x = i % 16;
    const y = Math.floor(i / 16) % 16;
    return kind === 'noise' ? clip(v / 2.5) : clip((x + y) / 15 - 1 + 0.125 * v);
  });
}
function perturb(a: Float32Array, seed: number, amount: number): Float32Array {
  const z = gaussianNoise(seed, a.length);
  return a.map((v, i) => Math.min(1, Math.max(-1, v + amount * (z[i] as number))));
}

const close = (actual: number, expected: number, rtol: number, atol = 0): void => {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(rtol * Math.abs(expected) + atol);
};

describe('frechetDistance vs scipy.linalg.sqrtm (tools/ref/metrics_ref.py)', () => {
  it.each(fixture.frechet.map((c) => [c.dim, c] as const))('dim %i', (_dim, c) => {
    const a = features(c.seedA, c.nA, c.dim, 'a');
    const b = features(c.seedB, c.nB, c.dim, 'b');
    close(frechetDistance(a, c.nA, b, c.nB, c.dim), c.ab, 1e-9);
    close(frechetDistance(a, c.nA, a, c.nA, c.dim), 0, 0, 1e-9);
    const half = Math.floor(c.nA / 2);
    const h1 = a.subarray(0, half * c.dim);
    const h2 = a.subarray(half * c.dim);
    close(frechetDistance(h1, half, h2, c.nA - half, c.dim), c.halves, 1e-9);
  });

  it('reuses precomputed and JSON-cached statistics', () => {
    const a = features(1, 50, 6, 'a');
    const b = features(2, 60, 6, 'b');
    const sa = featureStatsFromJson(JSON.parse(JSON.stringify(featureStatsToJson(featureStats(a, 50, 6)))));
    expect(frechetDistanceFromStats(sa, featureStats(b, 60, 6))).toBeCloseTo(frechetDistance(a, 50, b, 60, 6), 12);
    expect(() => featureStatsFromJson({ count: 5, dim: 2, mean: [0], covariance: [1, 0, 0, 1] })).toThrow(
      expect.objectContaining({ field: 'stats.mean' }),
    );
  });

  it('handles rank-deficient covariances (fewer vectors than dims) without NaN', () => {
    const a = features(3, 20, 64, 'a');
    const b = features(4, 30, 64, 'b');
    const d = frechetDistance(a, 20, b, 30, 64);
    expect(Number.isFinite(d)).toBe(true);
    expect(d).toBeGreaterThan(0);
    expect(frechetDistance(a, 20, a, 20, 64)).toBeLessThan(1e-8);
  });

  it('validates shapes', () => {
    const a = new Float32Array(12);
    expect(() => frechetDistance(a, 4, a, 3, 4)).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', field: 'features' }));
    expect(() => frechetDistance(a, 1, a, 3, 12)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'count' }));
  });
});

describe('symmetricEigen', () => {
  it('reconstructs a symmetric matrix', () => {
    const n = 5;
    const z = gaussianNoise(9, n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (z[i * n + j] as number) + (z[j * n + i] as number);
    const { values, vectors } = symmetricEigen(a, n, true);
    const v = vectors as Float64Array;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += (v[i * n + k] as number) * (values[k] as number) * (v[j * n + k] as number);
        close(s, a[i * n + j] as number, 0, 1e-12);
      }
    }
  });
});

describe('psnr and ssim vs tools/ref/metrics_ref.py', () => {
  it.each(fixture.images.map((c) => [c.kind, c] as const))('%s images', (_kind, c) => {
    const a = images(c.seed, c.count, c.kind);
    const b = perturb(a, c.perturbSeed, c.amount);
    const per = psnrPerImage(a, b, c.count, 2);
    c.psnr.forEach((p, i) => close(per[i] as number, p, 1e-12));
    close(psnr(a.subarray(0, 256), b.subarray(0, 256), 2), c.psnr[0] as number, 1e-12);
    for (const w of c.ssim) {
      const values = ssimPerImage(a, b, c.count, 16, 16, { dataRange: 2, window: { size: w.size, sigma: w.sigma } });
      w.values.forEach((s, i) => close(values[i] as number, s, 1e-10));
    }
    close(ssim(a.subarray(0, 256), a.subarray(0, 256), 16, 16, { dataRange: 2 }), c.ssimSelf, 1e-12);
    const defaults = c.ssim.find((w) => w.size === 7 && w.sigma === 1.5);
    close(ssim(a.subarray(256, 512), b.subarray(256, 512), 16, 16, { dataRange: 2 }), defaults?.values[1] as number, 1e-10);
  });

  it('gives Infinity for identical images and caps means on request', () => {
    const a = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i));
    const b = a.slice();
    b[300] = (b[300] as number) + 0.5;
    const per = psnrPerImage(a, b, 2, 2);
    expect(per[0]).toBe(Number.POSITIVE_INFINITY);
    expect(meanOf(per)).toBe(Number.POSITIVE_INFINITY);
    expect(meanOf(per, 100)).toBeCloseTo((100 + (per[1] as number)) / 2, 10);
  });

  it('rejects bad arguments with errors naming them', () => {
    const a = new Float32Array(256);
    const expectField = (fn: () => unknown, field: string): void => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(EvalError);
        expect((e as EvalError).field).toBe(field);
        expect((e as EvalError).message).toContain(field);
        return;
      }
      expect.fail(`expected an EvalError naming ${field}`);
    };
    expectField(() => psnr(a, a, 0), 'dataRange');
    expectField(() => psnr(a, new Float32Array(3), 2), 'b');
    expectField(() => ssim(a, a, 16, 16, { dataRange: 2, window: { size: 8 } }), 'window.size');
    expectField(() => ssim(a, a, 16, 16, { dataRange: 2, window: { size: 17 } }), 'window.size');
    expectField(() => ssim(a, a, 16, 16, { dataRange: 2, window: { sigma: 0 } }), 'window.sigma');
    expectField(() => ssim(a, a, 16, 15, { dataRange: 2 }), 'a');
    expectField(() => ssimPerImage(a, a, 3, 16, 16, { dataRange: 2 }), 'count');
  });
});

describe('agreement and per-class table', () => {
  it('counts hits overall and per class', () => {
    const predicted = [0, 1, 1, 2, 2, 2];
    const requested = [0, 1, 2, 2, 2, 0];
    expect(agreement(predicted, requested)).toBeCloseTo(4 / 6, 12);
    const rows = perClassTable(predicted, requested, ['zero', 'one', 'two', 'three']);
    expect(rows.map((r) => [r.label, r.requested, r.correct])).toEqual([
      ['zero', 2, 1],
      ['one', 1, 1],
      ['two', 3, 2],
      ['three', 0, 0],
    ]);
    expect(rows[0]?.percent).toBe(50);
    expect(rows[3]?.percent).toBeNaN();
    const md = formatPerClassTable(rows);
    expect(md).toContain('| two | 3 | 2 | 66.7 |');
    expect(md).toContain('| three | 0 | 0 | – |');
    expect(md).toContain('| **all** | 6 | 4 | 66.7 |');
    expect(() => agreement([1], [1, 2])).toThrow(expect.objectContaining({ field: 'requested' }));
    expect(() => perClassTable([0], [7], ['a'])).toThrow(expect.objectContaining({ field: 'requested' }));
  });
});
