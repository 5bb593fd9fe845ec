import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitModel } from './split-model.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';

// Balance of the default cut on the shipped image model. Costs are measured on a shared machine,
// so measured ratios are reported, not bounded (timings belong to bench/); the profile-based ratio
// is the cut's own objective and is held to the 15 % target.
describe('balance on the shipped image model', () => {
  let modelPath = '';
  let cacheDir = '';
  beforeAll(async () => {
    modelPath = await copyShippedModel(SHIPPED.digits.path);
    cacheDir = await mkdtemp(join(tmpdir(), 'onnx-split-balance-'));
  });
  afterAll(async () => {
    await rm(dirname(modelPath), { recursive: true, force: true });
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('keeps the slowest stage within 15 % of the mean (profiled costs) for N = 2, 3, 4', async () => {
    const rows: string[] = [];
    for (const n of [2, 3, 4]) {
      const common = { modelPath, stages: n, inputs: SHIPPED.digits.inputs, cacheDir, profile: { runs: 8, warmupRuns: 2 } };
      const profiled = await splitModel(common);
      const calibrated = await splitModel({ ...common, calibrationRounds: 2 });
      const p = profiled.plan;
      const c = calibrated.plan;
      rows.push(
        `N=${n}: profile-only cut slowest/mean ${p.balance.slowestOverMean.toFixed(3)} (profiled), ${p.balance.measuredSlowestOverMean?.toFixed(3)} (stages timed alone); ` +
          `calibrated cut ${c.balance.measuredSlowestOverMean?.toFixed(3)} (timed alone) — stage ms ${c.stages.map((s) => s.measuredRunMs?.toFixed(3)).join(' / ')}, full model ${c.balance.fullModelMeasuredMs?.toFixed(3)} ms (timed alone)`,
      );
      expect(p.balance.slowestOverMean).toBeLessThanOrEqual(1.15);
      // The calibrated cut's measured balance is a timing and lives in the benchmark
      // (bench/split-scale.ts --calibration-rounds): on a shared 2-core box it swung past any bound
      // that still meant something (1.74 while two installs ran). Here: calibration really timed
      // every stage of the cut it returns.
      expect(c.stages.every((s) => Number.isFinite(s.measuredRunMs) && (s.measuredRunMs as number) > 0)).toBe(true);
      expect(c.balance.measuredSlowestOverMean).toBeGreaterThanOrEqual(1);
      // Weights are split, not copied: each stage holds well under the whole model's parameters
      // plus the replicated conditioning weights.
      const total = p.stages.reduce((sum, s) => sum + s.parameterBytes - s.replicatedParameterBytes, 0);
      for (const s of p.stages) expect(s.parameterBytes - s.replicatedParameterBytes).toBeLessThan(total);
    }
    console.log(`balance, shipped digits model, batch 2, 1 thread:\n  ${rows.join('\n  ')}`);
  });
});
