import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findGenerator, type DiffusersPackage } from '@asyncdiff/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Engine } from './engine.js';
import { samplingOf } from './sampling.js';
import { TextToImage, openModelHost } from './text-to-image.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');

interface Summary {
  readonly shape: number[];
  readonly sum: number;
  readonly sumSq: number;
  readonly values?: number[];
  readonly first?: number[];
  readonly at?: { indices: number[]; values: number[] };
}

/** What tools/sd-fixtures' float64 torch reference made of one prompt (golden.json `sample`). */
interface GoldenSample {
  readonly prompt: string;
  readonly negative_prompt: string | null;
  readonly guidance_scale: number;
  readonly num_inference_steps: number;
  readonly height: number;
  readonly width: number;
  readonly timesteps: number[];
  readonly init_noise_sigma: number;
  readonly noise: { file: string; shape: number[] };
  readonly final_latents: Summary;
  readonly image: Summary;
}

function golden(name: string): { sample: GoldenSample; noise: Float32Array; onnxDtype: string } {
  const dir = path.join(PIPELINES, name);
  const g = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8')) as { sample: GoldenSample; onnx_dtype: string };
  const bytes = readFileSync(path.join(dir, g.sample.noise.file));
  return { sample: g.sample, noise: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), onnxDtype: g.onnx_dtype };
}

/** |a - b| ≤ tol · max(1, |b|): absolute near zero, relative for large sums. */
function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

function expectSummary(data: Float32Array, want: Summary, tol: number, what: string): void {
  let sum = 0;
  let sumSq = 0;
  for (const v of data) {
    sum += v;
    sumSq += v * v;
  }
  expect(close(sum, want.sum, tol), `${what} sum ${sum} vs ${want.sum}`).toBe(true);
  expect(close(sumSq, want.sumSq, tol), `${what} sumSq ${sumSq} vs ${want.sumSq}`).toBe(true);
  const picks: [number, number][] = [];
  (want.values ?? want.first ?? []).forEach((v, i) => picks.push([i, v]));
  want.at?.indices.forEach((idx, i) => picks.push([idx, want.at!.values[i]!]));
  for (const [i, v] of picks) expect(close(data[i] as number, v, tol), `${what}[${i}] ${data[i]} vs ${v}`).toBe(true);
}

describe.each([
  // float32 graphs against a float64 torch reference; the fp16 export is compared at half precision.
  ['tiny-sd15', 1e-4],
  ['tiny-sd21v', 1e-4],
  ['tiny-sdxl', 1e-4],
  ['tiny-sd15-fp16', 2e-2],
] as const)('%s: text → image as diffusers computes it', (name, tol) => {
  const model = findGenerator(path.join(PIPELINES, name)) as DiffusersPackage;
  const { sample, noise } = golden(name);
  let engine: Engine;
  let t2i: TextToImage;
  beforeAll(async () => {
    engine = await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process' });
    t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
  });
  afterAll(async () => {
    await t2i.close();
    await engine.close();
  });

  it('reproduces the reference latents and image from the same initial noise (tokenizer, encoders, scheduler, UNet, VAE)', async () => {
    const sampling = samplingOf(model);
    const fresh = sampling.create(sampling.defaults.scheduler, sample.num_inference_steps);
    expect(Array.from(fresh.timesteps)).toEqual(sample.timesteps);
    const latent = Float32Array.from(noise, (v) => v * sample.init_noise_sigma);
    const r = await t2i.generate({
      prompt: sample.prompt,
      ...(sample.negative_prompt !== null && { negativePrompt: sample.negative_prompt }),
      count: 1,
      width: sample.width,
      height: sample.height,
      seed: 0,
      steps: sample.num_inference_steps,
      guidance: sample.guidance_scale,
      resume: { step: 0, latent, scheduler: fresh.saveState() },
    });
    expectSummary(r.generation.latents, sample.final_latents, tol, 'final latents');
    expectSummary(r.pixels, sample.image, tol, 'image');
  });

  it('is deterministic: the same seed gives the same pixels, another seed others', async () => {
    const req = { prompt: 'a lighthouse at dusk', count: 2, seed: 7, steps: 3 } as const;
    const a = await t2i.generate(req);
    const b = await t2i.generate(req);
    const c = await t2i.generate({ ...req, seed: 8 });
    expect(Buffer.from(a.pixels.buffer).equals(Buffer.from(b.pixels.buffer))).toBe(true);
    expect(Buffer.from(a.pixels.buffer).equals(Buffer.from(c.pixels.buffer))).toBe(false);
    expect(a.pixels.length).toBe(2 * 3 * model.defaults.width * model.defaults.height);
    // Image 1 of a batch is image 0 of the next seed: a batch equals separate jobs.
    const single = await t2i.generate({ ...req, count: 1, seed: 8 });
    const per = 3 * model.defaults.width * model.defaults.height;
    const maxDiff = single.pixels.reduce((m, v, i) => Math.max(m, Math.abs(v - (a.pixels[per + i] as number))), 0);
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('refuses a size the package cannot make, naming the field', async () => {
    await expect(t2i.generate({ prompt: 'x', count: 1, seed: 0, steps: 1, width: model.resolution.multiple + 1 })).rejects.toMatchObject({ field: 'width' });
    await expect(t2i.generate({ prompt: 'x', count: 1, seed: 0, steps: 1, height: model.resolution.max * 2 })).rejects.toMatchObject({ field: 'height' });
  });
});

describe('text-to-image prompts', () => {
  const model = findGenerator(path.join(PIPELINES, 'tiny-sd15')) as DiffusersPackage;
  it('reports a prompt truncated at 77 tokens', async () => {
    const engine = await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process' });
    const t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
    try {
      const long = Array.from({ length: 90 }, () => 'cat').join(' ');
      const r = await t2i.generate({ prompt: long, negativePrompt: 'blurry', count: 1, seed: 1, steps: 1 });
      expect(r.truncation.prompt.truncated).toBe(true);
      expect(r.truncation.prompt.droppedTokens).toBeGreaterThan(0);
      expect(r.truncation.negativePrompt?.truncated).toBe(false);
    } finally {
      await t2i.close();
      await engine.close();
    }
  });
});
