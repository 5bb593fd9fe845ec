/**
 * Issue #11 §4 end to end, tried as a user would: the API and a GPU host on a real Redis, real
 * stage processes and the shipped tiny models, outputs fetched through the URLs the API hands out.
 * - `parallel.quality: exact` (the default): the same spec returns the same bytes alone and inside
 *   a burst, although the host ran it in different modes (cfg alone, one device under load).
 * - cfg through API + host equals sequential bytes, image and video; guidance 1 falls back.
 * - job.json records the mode used and, for stale-feature modes, the quality receipt of the
 *   shipped model (or "none measured").
 * - hybrid runs on a host whose group has 2 × 2 devices.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { receiptKey, type QualityReceipt, type QualityReceiptsFile } from '@asyncdiff/models';
import { createLocalObjectStore } from '@asyncdiff/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { freePort, startFleet, tempDir, waitForJobs, type Fleet, type JobJson } from './support/fleet.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models');

interface SidecarJson {
  parallel: {
    requested: { mode: string; quality?: string };
    used: { mode: string; stages: number; stride: number; warmup: number; timeShift: boolean };
    decidedBy: string;
    budget: string | null;
    quality: { kind: 'exact' } | { kind: 'measured'; receipt: QualityReceipt } | { kind: 'none-measured'; note: string };
    notes: string[];
  };
  host: { devices: string[] };
}

async function submit(fleet: Fleet, body: Record<string, unknown>): Promise<string> {
  const res = await fleet.post('/v1/jobs', body);
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** The media outputs' sha256 (as recorded by the host and re-hashed here from the download) and the job.json. */
async function fetchJob(job: JobJson): Promise<{ sha: string[]; sidecar: SidecarJson }> {
  expect(job.status, `${job.id}: ${JSON.stringify(job.error)}`).toBe('succeeded');
  const sha: string[] = [];
  let sidecar: SidecarJson | undefined;
  for (const o of job.outputs) {
    const bytes = Buffer.from(await (await fetch(o.url!)).arrayBuffer());
    if (o.kind === 'sidecar') sidecar = JSON.parse(bytes.toString('utf8')) as SidecarJson;
    else {
      const got = createHash('sha256').update(bytes).digest('hex');
      expect(got).toBe(o.sha256);
      sha.push(got);
    }
  }
  expect(sidecar).toBeDefined();
  return { sha, sidecar: sidecar! };
}

describe('auto mode and quality budgets through the API and a GPU host (2 CPU devices, one group)', () => {
  let fleet: Fleet;
  const outputs = tempDir('auto-quality');

  beforeAll(async () => {
    const port = await freePort();
    const store = createLocalObjectStore({ rootDir: outputs.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
    fleet = await startFleet(store, port, { host: { devices: 'cpu', cores: 2, backlogPollMs: 20 } });
  }, 60_000);
  afterAll(async () => {
    await fleet?.close();
    outputs.remove();
  });

  const spec = { type: 'image', model: 'digits', prompt: '7', seed: 4242, steps: 20 };

  it('exact (default): a lone job and the same spec inside a burst of 10 have the same sha256, whatever mode load chose', async () => {
    const [lone] = await waitForJobs(fleet, [await submit(fleet, spec)], 60_000);
    const alone = await fetchJob(lone!);
    expect(alone.sidecar.parallel).toMatchObject({ decidedBy: 'auto', budget: 'exact', used: { mode: 'cfg' }, quality: { kind: 'exact' } });
    expect(alone.sidecar.host.devices).toHaveLength(2);

    // Ten at once: three copies of the spec among other seeds; all are waiting while the first runs.
    const bodies = Array.from({ length: 10 }, (_, i) => (i % 4 === 1 ? spec : { ...spec, seed: 100 + i }));
    const ids = await Promise.all(bodies.map((b) => submit(fleet, b)));
    const done = await waitForJobs(fleet, ids, 120_000);
    const runs = await Promise.all(done.map(fetchJob));
    const copies = runs.filter((_, i) => bodies[i] === spec);
    expect(copies).toHaveLength(3);
    // Load changed the mode (data-parallel: one device per job) — and not the bytes.
    expect(runs.filter((r) => r.sidecar.parallel.used.mode === 'sequential').length).toBeGreaterThanOrEqual(3);
    for (const c of copies) {
      expect(['cfg', 'sequential']).toContain(c.sidecar.parallel.used.mode);
      expect(c.sha).toEqual(alone.sha);
    }
    expect(copies.some((c) => c.sidecar.parallel.used.mode === 'sequential')).toBe(true);
    // Different seeds still give different images (the comparison can fail).
    expect(new Set(runs.map((r) => r.sha[0])).size).toBe(8);
  }, 240_000);

  it('cfg through API + host equals sequential bytes (image, video); guidance 1 falls back to sequential', async () => {
    const video = { type: 'video', model: 'moving-digits', prompt: '3', seed: 9, steps: 12, output: { format: 'gif' } };
    const unguided = { ...spec, seed: 77, guidance: 1 };
    const pairs = [spec, video, unguided].flatMap((s) => [
      { ...s, parallel: { mode: 'cfg' } },
      { ...s, parallel: { mode: 'sequential' } },
    ]);
    const ids: string[] = [];
    // Forced modes ask for exactly their devices whatever the load: cfg waits for both.
    for (const body of pairs) ids.push(await submit(fleet, body));
    const runs = await Promise.all((await waitForJobs(fleet, ids, 120_000)).map(fetchJob));
    for (let i = 0; i < runs.length; i += 2) {
      const [cfg, seq] = [runs[i]!, runs[i + 1]!];
      expect(cfg.sha).toEqual(seq.sha);
      expect(seq.sidecar.parallel.used.mode).toBe('sequential');
    }
    expect(runs[0]!.sidecar.parallel).toMatchObject({ decidedBy: 'request', used: { mode: 'cfg' }, quality: { kind: 'exact' } });
    expect(runs[2]!.sidecar.parallel.used.mode).toBe('cfg');
    expect(runs[2]!.sidecar.host.devices).toHaveLength(2);
    // One image, guidance 1: one row, nothing for a second device; said, not failed.
    expect(runs[4]!.sidecar.parallel.used.mode).toBe('sequential');
    expect(runs[4]!.sidecar.parallel.notes.join(' ')).toMatch(/cfg needs two rows/);
  }, 240_000);

  it('job.json records the stale mode used and the shipped quality receipt for it, or "none measured"', async () => {
    const file = JSON.parse(readFileSync(path.join(MODELS, 'digits', 'quality-receipts.json'), 'utf8')) as QualityReceiptsFile;
    const shipped = file.receipts.find((r) => receiptKey(r.config) === 'async/N2/S1/W3/no-time-shift/linear');
    expect(shipped, 'models/digits/quality-receipts.json holds the default configuration (asyncdiff eval --receipt)').toBeDefined();
    const measured = await submit(fleet, { ...spec, seed: 5, parallel: { mode: 'async', stages: 2, warmup: 3 } });
    const unmeasured = await submit(fleet, { ...spec, seed: 6, parallel: { mode: 'async', stages: 2, warmup: 2, quality: 'fastest' } });
    const [m, u] = await Promise.all((await waitForJobs(fleet, [measured, unmeasured], 60_000)).map(fetchJob));
    expect(m!.sidecar.parallel).toMatchObject({ used: { mode: 'async', stages: 2, warmup: 3 }, quality: { kind: 'measured', receipt: shipped } });
    expect(u!.sidecar.parallel).toMatchObject({ used: { mode: 'async', warmup: 2 }, budget: 'fastest', quality: { kind: 'none-measured' } });
    if (u!.sidecar.parallel.quality.kind === 'none-measured') expect(u!.sidecar.parallel.quality.note).toMatch(/^none measured/);
  }, 120_000);

  it('rejects a forced stale mode under the exact budget and unknown modes, naming the field', async () => {
    for (const [parallel, field] of [
      [{ mode: 'async', quality: 'exact' }, 'parallel.quality'],
      [{ mode: 'pipeline' }, 'parallel.mode'],
      [{ quality: 'best' }, 'parallel.quality'],
    ] as const) {
      const res = await fleet.post('/v1/jobs', { ...spec, parallel });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(JSON.stringify(await res.json())).toContain(field);
    }
  });
});

describe('hybrid on a group of 2 × 2 devices (4 CPU devices on 2 cores: oversubscribed, correctness only)', () => {
  let fleet: Fleet;
  const outputs = tempDir('auto-hybrid');
  const devices = [0, 1, 0, 1].map((c) => ({ kind: 'cpu' as const, cpus: [c] }));

  beforeAll(async () => {
    const port = await freePort();
    const store = createLocalObjectStore({ rootDir: outputs.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
    fleet = await startFleet(store, port, { host: { devices, groupSize: 4 } });
  }, 60_000);
  afterAll(async () => {
    await fleet?.close();
    outputs.remove();
  });

  it('runs hybrid image and video jobs on all four devices; with W ≥ T they equal sequential bytes', async () => {
    const image = { type: 'image', model: 'digits', prompt: '2', seed: 31, steps: 10 };
    const video = { type: 'video', model: 'moving-digits', prompt: '5', seed: 32, steps: 10 };
    const bodies = [
      { ...image, parallel: { mode: 'hybrid', stages: 2, quality: 'fastest' } },
      { ...video, parallel: { mode: 'hybrid', stages: 2 } },
      { ...image, parallel: { mode: 'hybrid', stages: 2, warmup: 10 } },
      { ...image, parallel: { mode: 'sequential' } },
    ];
    const ids: string[] = [];
    for (const b of bodies) ids.push(await submit(fleet, b));
    const [hybrid, hybridVideo, hybridExact, seq] = await Promise.all((await waitForJobs(fleet, ids, 180_000)).map(fetchJob));
    for (const r of [hybrid!, hybridVideo!, hybridExact!]) {
      expect(r.sidecar.parallel).toMatchObject({ decidedBy: 'request', used: { mode: 'hybrid', stages: 2, stride: 1 } });
      expect(r.sidecar.host.devices).toHaveLength(4);
      expect(['measured', 'none-measured']).toContain(r.sidecar.parallel.quality.kind);
    }
    expect(hybridExact!.sha).toEqual(seq!.sha);
    expect(hybrid!.sha).not.toEqual(seq!.sha);
  }, 300_000);
});
