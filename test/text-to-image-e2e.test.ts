/**
 * Issue #10 end to end: Stable Diffusion–class ONNX exports (the committed tiny pipelines in
 * optimum's layout) served by the API and a GPU host on a real Redis, with real stage processes
 * and a real model host for the text encoders and the VAE; outputs fetched through the URLs the
 * API hands out, like a user would.
 */
import path from 'node:path';

import { decodePngRgb } from '@asyncdiff/media';
import { createModelCatalog } from '@asyncdiff/queue';
import { createLocalObjectStore } from '@asyncdiff/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readSse } from '../apps/api/src/test-fixtures/harness.js';
import { freePort, modelsDir, startFleet, tempDir, waitForJobs, type Fleet } from './support/fleet.js';

interface TextJob {
  id: string;
  status: string;
  spec: { classId: number; text?: { width: number; height: number; negativePrompt?: string }; output: { scale: number }; scheduler: string };
  outputs: { key: string; contentType: string; kind: string; url: string | null; sha256: string }[];
  warnings: { code: string; field: string; message: string }[];
  error: { code: string; message: string } | null;
}

describe('text-to-image jobs through the API and a GPU host (tiny SD 1.5 and SDXL exports)', () => {
  let fleet: Fleet;
  let scratch: { dir: string; remove: () => void };

  beforeAll(async () => {
    scratch = tempDir('t2i-e2e');
    const models = modelsDir(scratch.dir, ['digits'], ['tiny-sd15', 'tiny-sdxl']);
    const port = await freePort();
    const store = createLocalObjectStore({ rootDir: path.join(scratch.dir, 'outputs'), baseUrl: `http://127.0.0.1:${port}/v1/files` });
    fleet = await startFleet(store, port, {
      api: { queue: { models: createModelCatalog(models) } },
      // Admission that always batches (a budget no step overruns, any gain): which jobs share a
      // step must not depend on how fast this machine is today.
      host: { modelsDir: models, devices: 'cpu', splitCacheDir: path.join(scratch.dir, 'splits'), maxStepMs: 60_000, minBatchGain: 1 },
    });
  }, 120_000);

  afterAll(async () => {
    await fleet?.close();
    scratch?.remove();
  });

  const submit = async (body: Record<string, unknown>): Promise<Response> => fleet.post('/v1/jobs', body);

  it('lists text models with their kind, size range, defaults and that they take text', async () => {
    const { models } = (await (await fleet.get('/v1/models')).json()) as { models: Record<string, unknown>[] };
    const sd = models.find((m) => m['name'] === 'tiny-sd15');
    const xl = models.find((m) => m['name'] === 'tiny-sdxl');
    const digits = models.find((m) => m['name'] === 'digits');
    expect(sd).toMatchObject({ kind: 'image', format: 'diffusers', takesText: true, prompts: [], defaults: { steps: 50, guidance: 7.5, scheduler: 'pndm' } });
    expect(sd?.['resolution']).toMatchObject({ width: 64, height: 64, multiple: 16, scale: 1 });
    expect(xl).toMatchObject({ format: 'diffusers', takesText: true, defaults: { guidance: 5, scheduler: 'euler' } });
    expect(digits).toMatchObject({ format: 'asyncdiff', takesText: false });
    // The SD 1.5 export's UNet takes a timestep per row (jobs join at any step); the SDXL fixture's
    // a scalar one (jobs share a batch only when they start together).
    expect(sd?.['batching']).toEqual({ timestep: 'per-sample', continuous: true, joinsAtAnyStep: true });
    expect(xl?.['batching']).toEqual({ timestep: 'scalar', continuous: true, joinsAtAnyStep: false });
  });

  it('streams latent2rgb previews (RGB, the latent size: 1/8 of the image) for a text job that asks', async () => {
    const r = await submit({ type: 'image', model: 'tiny-sd15', prompt: 'a red barn', width: 64, height: 48, seed: 3, steps: 8, parallel: { mode: 'sequential' }, preview: { every: 2 } });
    expect(r.status, await r.clone().text()).toBe(202);
    const { id } = (await r.json()) as { id: string };
    const events = await readSse(await fleet.get(`/v1/jobs/${id}/events`), 120_000);
    const previews = events.filter((e) => e.event === 'preview').map((e) => e.data as { step: number; width: number; height: number; mime: string; data: string });
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) {
      expect(p).toMatchObject({ mime: 'image/png', width: 8, height: 6 });
      expect(p.step % 2).toBe(0);
      const png = decodePngRgb(Buffer.from(p.data, 'base64'));
      expect([png.width, png.height]).toEqual([8, 6]);
    }
    expect((events.at(-1)!.data as { status: string }).status).toBe('succeeded');
  }, 180_000);

  it('makes RGB PNGs of the requested size from a text prompt, deterministically, and says when a prompt was truncated', async () => {
    const body = { type: 'image', model: 'tiny-sd15', prompt: 'a lighthouse at dusk', negativePrompt: 'fog', width: 64, height: 48, count: 2, seed: 9, steps: 6, parallel: { mode: 'sequential' } };
    const ids: string[] = [];
    for (const b of [body, body, { ...body, model: 'tiny-sdxl', count: 1 }, { ...body, count: 1, prompt: Array.from({ length: 90 }, () => 'cat').join(' ') }]) {
      const r = await submit(b);
      expect(r.status, await r.clone().text()).toBe(202);
      ids.push(((await r.json()) as { id: string }).id);
    }
    const jobs = (await waitForJobs(fleet, ids, 180_000)) as unknown as TextJob[];
    for (const job of jobs) expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const [a, b, xl, long] = jobs as [TextJob, TextJob, TextJob, TextJob];
    expect(a.spec).toMatchObject({ classId: -1, text: { width: 64, height: 48, negativePrompt: 'fog' }, output: { scale: 1 }, scheduler: 'pndm' });
    const images = a.outputs.filter((o) => o.kind === 'image');
    expect(images).toHaveLength(2);
    for (const o of [...images, ...xl.outputs.filter((x) => x.kind === 'image')]) {
      const png = decodePngRgb(Buffer.from(await (await fetch(o.url!)).arrayBuffer()));
      expect([png.width, png.height]).toEqual([64, 48]);
      // Colour, not gray: random weights still give channels that differ.
      let differ = 0;
      for (let i = 0; i < png.width * png.height; i++) if (png.pixels[3 * i] !== png.pixels[3 * i + 1]) differ++;
      expect(differ).toBeGreaterThan(100);
    }
    expect(b.outputs.map((o) => o.sha256).slice(0, 2)).toEqual(a.outputs.map((o) => o.sha256).slice(0, 2));
    expect(a.warnings).toEqual([]);
    expect(long.warnings).toEqual([expect.objectContaining({ code: 'PROMPT_TRUNCATED', field: 'prompt' })]);
    const sidecar = (await (await fetch(a.outputs.find((o) => o.kind === 'sidecar')!.url!)).json()) as Record<string, unknown>;
    expect(sidecar).toMatchObject({ model: 'tiny-sd15', classId: -1, text: { negativePrompt: 'fog', width: 64, height: 48 }, output: { width: 64, height: 48, frames: 1 } });
  }, 240_000);

  it('text jobs submitted together share a device\'s continuous batch, each with the bytes it gets alone', async () => {
    const body = { type: 'image', model: 'tiny-sd15', prompt: 'a red barn', width: 64, height: 64, seed: 31, steps: 30, parallel: { mode: 'sequential' } };
    const post = async (b: Record<string, unknown>): Promise<string> => {
      const r = await submit(b);
      expect(r.status, await r.clone().text()).toBe(202);
      return ((await r.json()) as { id: string }).id;
    };
    const loneId = await post(body);
    const [lone] = (await waitForJobs(fleet, [loneId], 120_000)) as unknown as TextJob[];
    expect(lone!.status).toBe('succeeded');
    const occupancy: number[] = [];
    const watch = setInterval(() => {
      for (const b of fleet.host.status().groups[0]!.batches ?? []) if (b.model === 'tiny-sd15') occupancy.push(b.members);
    }, 5);
    const ids = await Promise.all([body, ...['a lighthouse', 'a cat on a wall', 'fog over a lake', 'a green door'].map((prompt, i) => ({ ...body, prompt, seed: 40 + i, guidance: 3 + i }))].map(post));
    const jobs = (await waitForJobs(fleet, ids, 180_000)) as unknown as TextJob[];
    clearInterval(watch);
    for (const job of jobs) expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(Math.max(...occupancy)).toBeGreaterThanOrEqual(2);
    const sidecars = await Promise.all(jobs.map(async (j) => (await (await fetch(j.outputs.find((o) => o.kind === 'sidecar')!.url!)).json()) as { batched: boolean }));
    for (const s of sidecars) expect(s.batched).toBe(true);
    // The same prompt and seed, alone and inside a batch of others: the same PNG.
    const png = (j: TextJob) => j.outputs.find((o) => o.kind === 'image')!.sha256;
    expect(png(jobs[0]!)).toBe(png(lone!));
  }, 240_000);

  it('says which fields a model takes: 422 INVALID_SPEC naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'image', model: 'tiny-sd15', prompt: 'x', width: 50 }, 'width'],
      [{ type: 'image', model: 'tiny-sd15', prompt: 'x', height: 4096 }, 'height'],
      [{ type: 'image', model: 'digits', prompt: '7', negativePrompt: 'blur' }, 'negativePrompt'],
      [{ type: 'image', model: 'digits', prompt: '7', width: 64 }, 'width'],
      [{ type: 'image', model: 'digits', prompt: 'a lighthouse' }, 'prompt'],
      [{ type: 'video', model: 'tiny-sd15', prompt: 'x' }, 'model'],
    ];
    for (const [body, field] of cases) {
      const r = await submit(body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      const err = ((await r.json()) as { error: { code: string; field: string } }).error;
      expect(err.code).toBe('INVALID_SPEC');
      expect(err.field, JSON.stringify(body)).toBe(field);
    }
  });
});
