import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findGenerator, type DiffusersPackage } from '@asyncdiff/models';
import { loadSplitPlan } from '@asyncdiff/onnx-split';
import { afterAll, describe, expect, it } from 'vitest';

import { Engine } from './engine.js';
import type { ParallelOptions } from '@asyncdiff/asyncdiff';
import { TextToImage, openModelHost } from './text-to-image.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');
const cache = mkdtempSync(path.join(tmpdir(), 't2i-splits-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe.each(['tiny-sd15', 'tiny-sd21v', 'tiny-sdxl'])('%s: AsyncDiff on the UNet of a diffusers export', (name) => {
  const model = findGenerator(path.join(PIPELINES, name)) as DiffusersPackage;

  async function latents(parallel: ParallelOptions, runner: 'process' | 'in-process'): Promise<{ latents: Float32Array; engine: Engine }> {
    const engine = await Engine.open({ model, parallel, runner, splitCacheDir: cache, ...(runner === 'process' && { wait: 'sync' as const }) });
    const t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
    try {
      const r = await t2i.generate({ prompt: 'a lighthouse at dusk', negativePrompt: 'fog', count: 2, seed: 4, steps: 8 });
      return { latents: r.generation.latents, engine };
    } finally {
      await t2i.close();
      await engine.close();
    }
  }

  it('N = 2 and 3: W ≥ T through stage processes equals sequential sampling; asynchronous runs equal the in-process reference', async () => {
    const sequential = (await latents({ mode: 'sequential' }, 'in-process')).latents;
    for (const stages of [2, 3]) {
      const exact = await latents({ mode: 'async', stages, warmup: 100 }, 'process');
      expect(maxAbsDiff(exact.latents, sequential), `N=${stages} W≥T`).toBeLessThanOrEqual(1e-5);
      // Conditioning is an input of the stages that read it, never a boundary tensor (fresh every step).
      const conditioning = new Set(exact.engine.pipeline.conditioning.map((c) => c.name));
      for (const c of exact.engine.pipeline.components) {
        for (const input of c.inputs) if (conditioning.has(input.name)) expect(input.kind, `${input.name} in stage ${c.index}`).toBe('conditioning');
      }
      const asyncProc = (await latents({ mode: 'async', stages, warmup: 2 }, 'process')).latents;
      const asyncRef = (await latents({ mode: 'async', stages, warmup: 2 }, 'in-process')).latents;
      expect(maxAbsDiff(asyncProc, sequential), `N=${stages} stale features change the result`).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(asyncProc, asyncRef), `N=${stages} process = in-process`).toBeLessThanOrEqual(1e-5);
    }
  }, 300_000);

  it('writes each stage with only its own weights, in the cache folder (never beside the model)', async () => {
    const plans = await Promise.all(
      [2, 3].map(async (stages) => {
        const { engine } = await latents({ mode: 'async', stages, warmup: 100 }, 'in-process');
        return loadSplitPlan(path.dirname(engine.pipeline.components[0]!.modelPath));
      }),
    );
    const unetData = statSync(path.join(model.dir, 'unet', 'model.onnx_data')).size;
    for (const p of plans) {
      expect(p.planDir.startsWith(cache)).toBe(true);
      const stageData = p.stagePaths.map((s) => statSync(s.replace(/\.onnx$/, '.onnx_data')).size);
      // Each stage holds a part; together they hold the UNet's external weights about once
      // (conditioning subgraphs and tiny tensors are replicated where they are read).
      for (const bytes of stageData) expect(bytes).toBeLessThan(unetData);
      expect(stageData.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(unetData * 0.9);
    }
  }, 300_000);
});
