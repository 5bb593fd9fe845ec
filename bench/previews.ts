/**
 * What live previews cost a generation (issue #13: ≤ 2 % at k = 5). For each model, the same
 * generation (same seed) runs with previews off and with `preview: {every: 5}`, alternating in
 * one run (off/on, then on/off, … so drift hits both): the engine with its stage process (process
 * runner, async coordinator wait — the GPU host's defaults) and, for "on", the GPU host's own
 * preview publisher (x̂0 → frame → PNG → base64) in `onStep`; publishing is a resolved promise
 * here (the Redis PUBLISH is one async command that does not block the loop). Models: the
 * shipped digits (image) and moving-digits (video), and the tiny SD 1.x diffusers fixture
 * (latent2rgb previews; text encoder and VAE in-process). The whole `generate` is timed, as a
 * user sees it.
 *
 *   npm run build && npx tsx bench/previews.ts [--rounds 10] [--steps 50]
 *
 * Prints a table and appends nothing: copy it into bench/RESULTS.md with the machine and date.
 */
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { StepProgress } from '@asyncdiff/asyncdiff';
import { classConditioning, Engine, openModelHost, previewRenderer, TextToImage, type PreviewRenderer } from '@asyncdiff/engine';
import { findModelPackage, loadDiffusersPackage } from '@asyncdiff/models';

import { previewPublisher } from '../apps/gpu-host/src/jobs/preview-publisher.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, steps: { type: 'string', default: '50' } } });
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const EVERY = 5;

interface Case {
  readonly name: string;
  /** One generation; `onStep` is undefined for "off". */
  run(onStep: ((p: StepProgress) => void) | undefined): Promise<void>;
  readonly render: PreviewRenderer;
  close(): Promise<void>;
}

async function classCase(name: string): Promise<Case> {
  const model = findModelPackage(name);
  const engine = await Engine.open({ model, parallel: { mode: 'sequential' } });
  return {
    name: `${name} (${model.sampleDims.join('×')}, ${steps} steps)`,
    render: previewRenderer(model, model.sampleDims),
    run: async (onStep) => {
      await engine.generate({ conditioning: classConditioning(model, [3]), seed: 7, steps, ...(onStep && { onStep }) });
    },
    close: () => engine.close(),
  };
}

async function diffusersCase(): Promise<Case> {
  const model = loadDiffusersPackage(path.resolve('test/fixtures/pipelines/tiny-sd15'));
  const engine = await Engine.open({ model, parallel: { mode: 'sequential' } });
  const t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
  const { width, height } = model.defaults;
  const s = model.vae.scaleFactor;
  return {
    name: `tiny-sd15 diffusers (${width}×${height}, latent ${model.unet.inChannels}×${height / s}×${width / s}, ${steps} steps)`,
    render: previewRenderer(model, [model.unet.inChannels, height / s, width / s]),
    run: async (onStep) => {
      await t2i.generate({ prompt: 'a red square', count: 1, seed: 7, steps, ...(onStep && { onStep }) });
    },
    close: async () => {
      await t2i.close();
      await engine.close();
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const rows: string[] = [];
for (const open of [() => classCase('digits'), () => classCase('moving-digits'), diffusersCase]) {
  const c = await open();
  const off: number[] = [];
  const on: number[] = [];
  const previewMs: number[] = [];
  let published = 0;
  let dropped = 0;
  await c.run(undefined); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      if (mode === 'off') {
        const t = performance.now();
        await c.run(undefined);
        off.push(performance.now() - t);
        continue;
      }
      const publisher = previewPublisher({
        every: EVERY,
        render: c.render,
        publish: async () => undefined,
        onError: (err) => console.error(err),
      });
      const t = performance.now();
      await c.run((p) => publisher.offer(p));
      await publisher.idle();
      on.push(performance.now() - t);
      previewMs.push(publisher.counts.workMs);
      published += publisher.counts.published;
      dropped += publisher.counts.dropped;
    }
  }
  await c.close();
  const mOff = median(off);
  const mOn = median(on);
  const work = median(previewMs);
  rows.push(
    `| ${c.name} | ${mOff.toFixed(1)} | ${mOn.toFixed(1)} | ${((100 * (mOn - mOff)) / mOff).toFixed(2)} % | ${work.toFixed(2)} (${((100 * work) / mOff).toFixed(2)} %) | ${published}/${dropped} |`,
  );
  console.error(rows.at(-1));
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${new Date().toISOString()}; ${rounds} rounds, k = ${EVERY}`);
console.log('| model | off: median ms | k = 5: median ms | overhead | preview work ms / generation (x̂0 + frame + PNG + base64; % of off) | previews published/dropped |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
