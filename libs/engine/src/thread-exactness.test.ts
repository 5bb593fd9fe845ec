/**
 * The `exact` quality budget promises the same bytes whatever the load, host or device count: a
 * job may run sequentially on one device of any host (data parallelism) or as cfg on two. Devices
 * differ in ORT intra-op threads (a CPU device runs one thread per core of its group), and more
 * threads could split a reduction and change float summation order. Checked here, not assumed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findGenerator, findModelPackage, type DiffusersPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { classConditioning } from './denoiser.js';
import { Engine } from './engine.js';
import { TextToImage, openModelHost } from './text-to-image.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');
const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe.each(['digits', 'moving-digits'])('%s: sequential sampling is bit-identical across ORT thread counts and devices', (name) => {
  const model = findModelPackage(name);

  it('1, 2 and 4 intra-op threads in process, and stage processes pinned to either core, give the same bytes', async () => {
    const run = async (engine: Engine): Promise<Buffer> => {
      try {
        const r = await engine.generate({ conditioning: classConditioning(model, [3, 8]), seed: 17, steps: 12, guidance: 1.5, scheduler: 'ddim' });
        return bytes(r.latents);
      } finally {
        await engine.close();
      }
    };
    const one = await run(await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process', intraOpThreads: 1 }));
    for (const threads of [2, 4]) {
      expect((await run(await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process', intraOpThreads: threads }))).equals(one), `${threads} threads`).toBe(true);
    }
    for (const devices of [[{ kind: 'cpu' as const, cpus: [0] }], [{ kind: 'cpu' as const, cpus: [1] }], [{ kind: 'cpu' as const, cpus: [0, 1] }]]) {
      const got = await run(await Engine.open({ model, parallel: { mode: 'sequential' }, devices, wait: 'sync' }));
      expect(got.equals(one), JSON.stringify(devices)).toBe(true);
    }
  }, 180_000);
});

describe('tiny SD 1.5 export: the same across thread counts', () => {
  it('1 and 2 intra-op threads give the same latents', async () => {
    const model = findGenerator(path.join(PIPELINES, 'tiny-sd15')) as DiffusersPackage;
    const run = async (threads: number): Promise<Buffer> => {
      const engine = await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process', intraOpThreads: threads });
      const t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
      try {
        return bytes((await t2i.generate({ prompt: 'a lighthouse at dusk', count: 1, seed: 3, steps: 6 })).generation.latents);
      } finally {
        await t2i.close();
        await engine.close();
      }
    };
    expect((await run(2)).equals(await run(1))).toBe(true);
  }, 120_000);
});
