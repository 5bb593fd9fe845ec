import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startApi, storageDeps, type ApiServer, type StartApiOptions } from '@asyncdiff/api';
import { startGpuHost, type GpuHost, type GpuHostOptions } from '@asyncdiff/gpu-host';
import { deletePrefix, TEST_REDIS_URL, testPrefix } from '@asyncdiff/queue/test-fixtures';
import type { LocalObjectStore, S3ObjectStore } from '@asyncdiff/storage';

/** Redis the cross-app tests use. */
export const REDIS_URL = TEST_REDIS_URL;

export const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A free TCP port on loopback (so a local store can sign absolute URLs before the API listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A temp folder removed by the returned function. */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `asyncdiff-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * A models directory as an operator lays one out, in `into`: our packages (`models/`) and
 * diffusers exports (the tiny pipelines under `test/fixtures/pipelines/`) side by side, linked.
 */
export function modelsDir(into: string, packages: readonly string[], pipelines: readonly string[]): string {
  const dir = path.join(into, 'models');
  mkdirSync(dir);
  for (const m of packages) symlinkSync(path.join(ROOT, 'models', m), path.join(dir, m));
  for (const p of pipelines) symlinkSync(path.join(ROOT, 'test/fixtures/pipelines', p), path.join(dir, p));
  return dir;
}

/** The API and a GPU host on one Redis prefix and one object store: the fleet in miniature. */
export interface Fleet {
  readonly api: ApiServer;
  readonly host: GpuHost;
  readonly prefix: string;
  post(pathname: string, body: unknown): Promise<Response>;
  get(pathname: string): Promise<Response>;
  close(): Promise<void>;
}

export async function startFleet(
  store: LocalObjectStore | S3ObjectStore,
  port: number,
  options: { host?: Partial<GpuHostOptions>; api?: Partial<StartApiOptions> } = {},
): Promise<Fleet> {
  const prefix = testPrefix('e2e');
  const api = await startApi({ port, logger: silent, rateLimitBurst: 0, ...options.api, queue: { ...options.api?.queue, connection: REDIS_URL, prefix }, ...storageDeps(store) });
  const host = await startGpuHost({ connection: REDIS_URL, prefix, storage: store, healthIntervalMs: 0, ...options.host });
  return {
    api,
    host,
    prefix,
    post: (p, body) => fetch(`${api.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    get: (p) => fetch(`${api.url}${p}`),
    async close() {
      await host.close();
      await api.close();
      await deletePrefix(prefix);
    },
  };
}

/** Job as GET /v1/jobs/:id returns it (the fields these tests read). */
export interface JobJson {
  id: string;
  status: string;
  attempts: number;
  spec: { type: string; classId: number; count: number; steps: number; output: { format: string; scale: number } };
  outputs: { key: string; contentType: string; bytes: number; sha256: string; kind: string; url: string | null }[];
  error: { code: string; message: string } | null;
}

/** Polls until every job is terminal (or throws after `timeoutMs`). */
export async function waitForJobs(fleet: Fleet, ids: readonly string[], timeoutMs: number): Promise<JobJson[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map(async (id) => (await (await fleet.get(`/v1/jobs/${id}`)).json()) as JobJson));
    if (jobs.every((j) => ['succeeded', 'failed', 'canceled'].includes(j.status))) return jobs;
    if (Date.now() > deadline) throw new Error(`jobs not done in ${timeoutMs} ms: ${jobs.filter((j) => !['succeeded', 'failed', 'canceled'].includes(j.status)).map((j) => `${j.id}:${j.status}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Decodes a GIF/MP4/WebM to 8-bit gray frames with ffmpeg (the way a user's player would). */
export function decodeVideoFrames(file: string, width: number, height: number): Uint8Array[] {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${r.stderr.toString()}`);
  const out = r.stdout;
  const size = width * height;
  return Array.from({ length: out.length / size }, (_, i) => new Uint8Array(out.buffer, out.byteOffset + i * size, size));
}

/** Undoes the nearest-neighbour upscale: one pixel per `scale`×`scale` cell, mapped to [-1, 1]. */
export function downsampleToModel(pixels: Uint8Array, width: number, scale: number): Float32Array {
  const w = width / scale;
  const out = new Float32Array(w * w);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) out[y * w + x] = ((pixels[(y * scale + scale / 2) * width + x * scale + scale / 2] as number) / 255) * 2 - 1;
  return out;
}
