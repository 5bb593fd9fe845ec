import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ContinuousBatch, SamplingAbortedError, type StageRunner } from '@asyncdiff/asyncdiff';
import { findGenerator, findModelPackage, type DiffusersPackage } from '@asyncdiff/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { classConditioning } from './denoiser.js';
import { EngineBatches, batchAdmission, maxRowsWithin, measureStepMs, timestepBatching } from './engine-batch.js';
import { Engine, type GenerateRequest } from './engine.js';
import { TextToImage, openModelHost } from './text-to-image.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');

const digits = findModelPackage('digits');
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Three jobs that differ in everything a job owns: class, seed, steps, guidance scale, scheduler, images. */
const jobs: Record<'a' | 'b' | 'c', GenerateRequest> = {
  a: { conditioning: classConditioning(digits, [3]), seed: 11, steps: 20, guidance: 2 },
  b: { conditioning: classConditioning(digits, [5, 6]), seed: 12, steps: 15, guidance: 3.5, scheduler: 'ddpm' },
  c: { conditioning: classConditioning(digits, [9]), seed: 99, steps: 9, guidance: 1.5, scheduler: 'dpmpp-2m' },
};

describe('batchAdmission: batch only where a full batch does more work per ms than a lone job', () => {
  // Step times (ms) per batch size, as calibration measures them; the first is one job's rows.
  const cases: [string, { rows: number; stepMs: number }[], number, number, { maxRows: number; gain: number; batched: boolean }][] = [
    // digits-like: fixed overhead dominates, 8 rows cost 1.6x the time of 2.
    ['overhead-bound, 2x budget', [{ rows: 2, stepMs: 3 }, { rows: 4, stepMs: 3.6 }, { rows: 8, stepMs: 4.8 }, { rows: 16, stepMs: 7.2 }], 6, 1.2, { maxRows: 8, gain: 2.5, batched: true }],
    // video-like: time grows with rows, 4 rows do 1.1x the work of 2 per ms.
    ['compute-bound', [{ rows: 2, stepMs: 36 }, { rows: 4, stepMs: 65.5 }, { rows: 8, stepMs: 140 }], 72, 1.2, { maxRows: 4, gain: 72 / 65.5, batched: false }],
    ['compute-bound, any gain accepted', [{ rows: 2, stepMs: 36 }, { rows: 4, stepMs: 65.5 }], 72, 1, { maxRows: 4, gain: 72 / 65.5, batched: true }],
    // A budget below even two jobs' step: nothing to share.
    ['budget fits one job only', [{ rows: 1, stepMs: 10 }, { rows: 2, stepMs: 12 }], 11, 1, { maxRows: 1, gain: 1, batched: false }],
    ['unsorted input', [{ rows: 4, stepMs: 4 }, { rows: 2, stepMs: 3 }], 100, 1.2, { maxRows: 4, gain: 1.5, batched: true }],
  ];
  it.each(cases)('%s', (_name, measured, budgetMs, minGain, want) => {
    const a = batchAdmission(measured, budgetMs, minGain);
    expect(a.maxRows).toBe(want.maxRows);
    expect(a.gain).toBeCloseTo(want.gain, 9);
    expect(a.batched).toBe(want.batched);
    expect(a.measured.map((m) => m.rows)).toEqual([...measured].map((m) => m.rows).sort((x, y) => x - y));
  });
});

describe('continuous batching on stage processes (digits, sequential)', () => {
  let engine: Engine;
  const alone: Partial<Record<keyof typeof jobs, Float32Array>> = {};
  beforeAll(async () => {
    engine = await Engine.open({ model: digits, parallel: { mode: 'sequential' } });
    for (const k of Object.keys(jobs) as (keyof typeof jobs)[]) alone[k] = (await engine.generate(jobs[k])).latents;
  }, 60_000);
  afterAll(async () => {
    await engine?.close();
  });

  it('the shipped model takes a per-sample timestep', () => {
    expect(timestepBatching(engine.denoiser)).toBe('per-sample');
  });

  it('a job joining a running batch at step 7 gets the same bytes as alone, and so do the others', async () => {
    const batches = new EngineBatches(engine, { maxRows: 16 });
    const occupancy: number[] = [];
    let joined: Promise<[Awaited<ReturnType<EngineBatches['join']>>, Awaited<ReturnType<EngineBatches['join']>>]> | undefined;
    const stepsOfB: number[] = [];
    const a = await batches.join({
      ...jobs.a,
      onStep: (p) => {
        occupancy.push(batches.occupancy.members);
        if (p.step === 7) {
          joined = Promise.all([batches.join({ ...jobs.b, onStep: (q) => stepsOfB.push(q.step) }), batches.join(jobs.c)]);
        }
      },
    });
    const [b, c] = await joined!;
    expect(same(a.latents, alone.a!)).toBe(true);
    expect(same(b.latents, alone.b!)).toBe(true);
    expect(same(c.latents, alone.c!)).toBe(true);
    // A ran alone for 7 steps, then with B and C (C's 9 steps end first).
    expect(occupancy.slice(0, 7)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(Math.max(...occupancy)).toBe(3);
    expect(stepsOfB).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(b.evaluations).toBe(15);
    expect(batches.idle).toBe(true);
  }, 60_000);

  it("dispatches the next step before the work a member's report queued (a progress write) runs", async () => {
    // The host's step report starts a Redis write; whatever it queues must run while the stages
    // compute the next step, not between the steps, or every job of the batch waits for it
    // (measured: ~8 ms per 50-step job, issue #12's lone-job latency). The real stage runner,
    // observed: `runStep` dispatches before it returns its promise.
    const real = engine.runner;
    const events: string[] = [];
    const observed: StageRunner = {
      devices: real.devices,
      components: real.components,
      ...(real.maxBatch !== undefined && { maxBatch: real.maxBatch }),
      begin: (b) => real.begin(b),
      runStep: (step, latent, t, rows) => {
        events.push(`dispatch ${step.step}`);
        return real.runStep(step, latent, t, rows);
      },
      end: () => real.end?.(),
      eps: (d) => real.eps(d),
      stageStatus: () => real.stageStatus(),
      checkHealth: (ms) => real.checkHealth(ms),
      recover: () => real.recover(),
      close: () => real.close(),
    };
    const batch = new ContinuousBatch(observed, { sampleDims: engine.denoiser.sampleDims, cfg: true, maxRows: 4, perRowTimesteps: true });
    const r = await batch.join({
      scheduler: engine.sampling.create('ddim', 6),
      conditioning: jobs.a.conditioning,
      seed: 11,
      guidance: 2,
      onStep: (p) => queueMicrotask(() => events.push(`report ${p.step}`)),
    });
    expect(r.stepsRun).toBe(6);
    // Step k (counted from 0) reports as step k + 1; its queued work runs after step k + 1 was dispatched.
    expect(events).toEqual(['dispatch 0', 'dispatch 1', 'report 1', 'dispatch 2', 'report 2', 'dispatch 3', 'report 3', 'dispatch 4', 'report 4', 'dispatch 5', 'report 5', 'report 6']);
  }, 60_000);

  it('admits by rows: a job that does not fit waits for the next boundary with room, higher priority first', async () => {
    // 4 rows: A (2 rows) starts at once on the idle batch; D (priority 1) and then C (priority 5)
    // arrive while it runs, and only one of them fits beside A: C, the higher priority, goes first.
    const batches = new EngineBatches(engine, { maxRows: 4 });
    const d: GenerateRequest = { conditioning: classConditioning(digits, [2]), seed: 55, steps: 12, guidance: 2 };
    const dAlone = (await engine.generate(d)).latents;
    const order: string[] = [];
    const started = (name: string) => (p: { step: number }) => {
      if (p.step === 1) order.push(name);
    };
    let later: Promise<[Awaited<ReturnType<EngineBatches['join']>>, Awaited<ReturnType<EngineBatches['join']>>]> | undefined;
    const a = await batches.join({
      ...jobs.a,
      onStep: (p) => {
        started('a')(p);
        if (p.step === 1) later = Promise.all([batches.join({ ...d, priority: 1, onStep: started('d') }), batches.join({ ...jobs.c, priority: 5, onStep: started('c') })]);
      },
    });
    const results = [a, ...(await later!)] as const;
    expect(order).toEqual(['a', 'c', 'd']);
    expect(same(results[0].latents, alone.a!)).toBe(true);
    expect(same(results[1].latents, dAlone)).toBe(true);
    expect(same(results[2].latents, alone.c!)).toBe(true);
    // A job too big for the batch is refused at once, naming the count.
    await expect(batches.join({ ...jobs.b, conditioning: classConditioning(digits, [1, 2, 3]) })).rejects.toThrow(/6 rows; the batch holds 4/);
  }, 60_000);

  it('a cancelled member leaves at the next boundary; the others finish with their own bytes', async () => {
    const batches = new EngineBatches(engine, { maxRows: 16 });
    const ac = new AbortController();
    const results = await Promise.allSettled([
      batches.join(jobs.a),
      batches.join({ ...jobs.b, signal: ac.signal, onStep: (p) => p.step === 4 && ac.abort() }),
    ]);
    expect(results[0].status).toBe('fulfilled');
    expect(same((results[0] as PromiseFulfilledResult<{ latents: Float32Array }>).value.latents, alone.a!)).toBe(true);
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(SamplingAbortedError);
    expect(((results[1] as PromiseRejectedResult).reason as SamplingAbortedError).step).toBe(4);
  }, 60_000);

  it('a stage killed mid-batch is replaced and every member resumes at its own step with the same bytes', async () => {
    const restarts: number[] = [];
    const batches = new EngineBatches(engine, { maxRows: 16, restartBackoffMs: 10, onRestart: (i) => restarts.push(...i.devices) });
    const pid = engine.runner.stageStatus()[0]!.pid;
    let killed = false;
    const [a, b] = await Promise.all([
      batches.join(jobs.a),
      batches.join({
        ...jobs.b,
        onStep: (p) => {
          if (p.step === 5 && !killed) {
            killed = true;
            process.kill(pid, 'SIGKILL');
          }
        },
      }),
    ]);
    expect(killed).toBe(true);
    expect(restarts).toEqual([0]);
    expect(a.restarts).toBe(1);
    expect(b.restarts).toBe(1);
    expect(engine.runner.stageStatus()[0]!.pid).not.toBe(pid);
    expect(same(a.latents, alone.a!)).toBe(true);
    expect(same(b.latents, alone.b!)).toBe(true);
  }, 60_000);

  it('counts reserved rows and shape: jobs placed but not joined yet fill the batch for others', () => {
    const batches = new EngineBatches(engine, { maxRows: 4 });
    const two = { images: 1, guidance: 2 };
    expect(batches.hasRoom(two)).toBe(true);
    const first = batches.reserve(two);
    const second = batches.reserve(two);
    // 4 rows promised: a third guided image has no room, and an unguided job (another shape) none either.
    expect(batches.hasRoom(two)).toBe(false);
    second.release();
    expect(batches.hasRoom(two)).toBe(true);
    expect(batches.hasRoom({ ...two, guidance: 1 })).toBe(false);
    first.release();
    first.release(); // twice is once
    expect(batches.hasRoom({ ...two, guidance: 1 })).toBe(true);
  });

  it('measures step time per batch size and admits the largest within a budget', async () => {
    const measured = await measureStepMs(engine, [2, 8], jobs.a.conditioning, 3);
    expect(measured.map((m) => m.rows)).toEqual([2, 8]);
    for (const m of measured) expect(m.stepMs).toBeGreaterThan(0);
    expect(maxRowsWithin(measured, Infinity)).toBe(8);
    expect(maxRowsWithin(measured, 0)).toBe(2);
    // The engine still generates the same bytes afterwards.
    expect(same((await engine.generate(jobs.c)).latents, alone.c!)).toBe(true);
  }, 60_000);
});

describe.each([
  ['tiny-sd15', 'per-sample'],
  ['tiny-sdxl', 'scalar'],
] as const)('continuous batching of text-to-image jobs (%s, stage process, %s timestep)', (name, timestep) => {
  const model = findGenerator(path.join(PIPELINES, name)) as DiffusersPackage;
  let engine: Engine;
  let t2i: TextToImage;
  beforeAll(async () => {
    engine = await Engine.open({ model, parallel: { mode: 'sequential' } });
    t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
  }, 60_000);
  afterAll(async () => {
    await t2i?.close();
    await engine?.close();
  });

  it('reads the timestep case from the UNet', () => {
    expect(timestepBatching(engine.denoiser)).toBe(timestep);
  });

  it('a prompt joining at step 3 gets the same latents as alone (sharing the batch only with a per-sample timestep), the first the same pixels', async () => {
    const a = { prompt: 'a red barn in a field', count: 1, seed: 5, steps: 8 } as const;
    const b = { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', count: 2, seed: 9, steps: 6, guidance: 4 } as const;
    const aloneA = await t2i.generate(a);
    const aloneB = await t2i.generate(b);
    // B is encoded up front so it joins exactly at A's step 3 (a join waits for no encoder).
    const encodedB = await t2i.encode(b);
    const batches = new EngineBatches(engine, { maxRows: 8 });
    const members: number[] = [];
    let late: ReturnType<EngineBatches['join']> | undefined;
    // The batch's key is the latent size and guidance on/off: B (guidance 4) shares A's (the model default).
    const first = await t2i.generate(
      {
        ...a,
        onStep: (p) => {
          members.push(batches.occupancy.members);
          if (p.step === 3) late = batches.join({ seed: b.seed, steps: b.steps, guidance: encodedB.guidance, conditioning: encodedB.conditioning, sampleDims: encodedB.sampleDims });
        },
      },
      (r) => batches.join(r),
    );
    expect(same(first.generation.latents, aloneA.generation.latents)).toBe(true);
    expect(same(first.pixels, aloneA.pixels)).toBe(true);
    expect(same((await late!).latents, aloneB.generation.latents)).toBe(true);
    expect(members.slice(0, 3)).toEqual([1, 1, 1]);
    // A scalar timestep admits B only once A has left (every member must be at B's step).
    expect(Math.max(...members)).toBe(timestep === 'per-sample' ? 2 : 1);
    expect(batches.idle).toBe(true);
  }, 120_000);

  it('prompts that arrive together step together, each with its own pixels', async () => {
    const reqs = [
      { prompt: 'a red barn in a field', count: 1, seed: 5, steps: 5 },
      { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', count: 2, seed: 9, steps: 5, guidance: 4 },
    ] as const;
    const alone = [await t2i.generate(reqs[0]), await t2i.generate(reqs[1])];
    // Encoded first, so both join in one turn: a scalar-timestep batch admits them together.
    const encoded = await Promise.all(reqs.map((r) => t2i.encode(r)));
    const batches = new EngineBatches(engine, { maxRows: 8 });
    const members: number[] = [];
    const results = await Promise.all(
      reqs.map((r, i) => batches.join({ seed: r.seed, steps: r.steps, guidance: encoded[i]!.guidance, conditioning: encoded[i]!.conditioning, sampleDims: encoded[i]!.sampleDims, onStep: () => members.push(batches.occupancy.members) })),
    );
    results.forEach((r, i) => expect(same(r.latents, alone[i]!.generation.latents)).toBe(true));
    expect(Math.max(...members)).toBe(2);
  }, 120_000);
});
