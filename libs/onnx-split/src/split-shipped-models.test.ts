import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseGraph } from './graph-analysis.js';
import { readOnnxModel } from './onnx-io.js';
import { randomFeeds } from './random-feeds.js';
import { splitModel } from './split-model.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';

// For every N in 2…8, chaining the stage graphs reproduces the full model on the shipped models.
for (const [label, shipped] of Object.entries(SHIPPED)) {
  describe(`shipped model ${label}`, () => {
    let modelPath = '';
    let cacheDir = '';
    beforeAll(async () => {
      modelPath = await copyShippedModel(shipped.path);
      cacheDir = await mkdtemp(join(tmpdir(), 'onnx-split-cache-'));
    });
    afterAll(async () => {
      await rm(dirname(modelPath), { recursive: true, force: true });
      await rm(cacheDir, { recursive: true, force: true });
    });

    it('stage chains reproduce the full model for N = 2…8', async () => {
      const feeds = randomFeeds(shipped.inputs, 7, 10);
      const reference = (await runModel(modelPath, feeds)).eps;
      const analysis = analyseGraph((await readOnnxModel(modelPath)).model);
      expect(reference).toBeDefined();
      for (let n = 2; n <= 8; n++) {
        const split = await splitModel({
          modelPath,
          stages: n,
          inputs: shipped.inputs,
          cacheDir,
          profile: { runs: 3, warmupRuns: 1 },
          measureStages: false,
        });
        const { plan } = split;
        expect(plan.stages).toHaveLength(n);
        expect(plan.graphOutputs).toEqual([{ name: 'eps', dtype: 'float32', stage: n - 1 }]);
        expect(plan.stages[0]?.consumesLatent).toBe(true);
        for (const stage of plan.stages) {
          // Conditioning is recomputed in the stage from the non-latent inputs, never handed over.
          for (const input of stage.inputs) {
            if (input.kind === 'conditioning') expect(['class_labels', 'timestep']).toContain(input.name);
            if (input.kind === 'boundary') expect(input.producer).toBeLessThan(stage.index);
            if (input.kind === 'latent') expect(input.name).toBe('sample');
          }
        }
        // Every boundary tensor is a latent-dependent float hidden state going to a higher stage.
        for (const b of plan.boundaries) {
          expect(analysis.latentTensors.has(b.name), b.name).toBe(true);
          expect(b.dtype).toBe('float32');
          expect(b.consumers.every((c) => c > b.producer)).toBe(true);
        }
        const chained = await runStageChain(split, feeds);
        const diff = maxAbsDiff(chained.eps as never, reference as never);
        expect(diff, `N=${n}`).toBeLessThanOrEqual(1e-5);
      }
    });
  });
}
