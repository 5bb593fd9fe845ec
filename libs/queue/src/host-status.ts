import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * The heartbeat contract between GPU hosts (writers) and the ops dashboard / API (readers).
 *
 * Redis layout, under the queue prefix (same hash tag as everything else):
 * - `<p>:host:<hostId>` string  the host's `HostStatus` JSON, TTL `ttlMs` (≈ 3 heartbeats), so a
 *                               host that dies without saying goodbye disappears on its own
 * - `<p>:hosts`         set     ids of hosts that published; readers drop ids whose key expired
 *
 * A host publishes every `heartbeatIntervalMs` (a few seconds) and removes itself on a clean
 * shutdown. Readers treat `lastHeartbeatAt` older than 3 intervals as dead even if the key lingers.
 */

/** What a replica group is doing: `idle` (no job), `busy` (≥ 1 job), `draining` (shutting down). */
export type HostGroupState = 'idle' | 'busy' | 'draining';

/** One job running on a group. `mode`/`stages` are the parallel configuration actually used. */
export interface HostJobStatus {
  readonly jobId: string;
  readonly kind: 'image' | 'video';
  readonly model: string;
  /** Denoising steps done and in all. */
  readonly step: number;
  readonly steps: number;
  /** Steps per second over this run so far (0 before the first step). */
  readonly stepsPerSec: number;
  readonly mode: 'async' | 'sequential';
  readonly stages: number;
  /** Device labels the job holds, e.g. `cuda:0`, `cpu[1]`. */
  readonly devices: readonly string[];
  /** When this run started (epoch ms). */
  readonly startedAt: number;
}

/** One stage process of a cached engine. `restarts`: replacements of this device's stage so far. */
export interface HostStageStatus {
  readonly device: string;
  readonly pid: number;
  /** The stage lifecycle state (`starting|ready|busy|draining|stopped|crashed`). */
  readonly state: string;
  readonly restarts: number;
  /** Which engine the process belongs to: model and parallel configuration. */
  readonly engine: string;
}

/** One replica group: its devices, what it runs and its stage processes. */
export interface HostGroupStatus {
  readonly id: string;
  readonly devices: readonly string[];
  readonly state: HostGroupState;
  readonly jobs: readonly HostJobStatus[];
  readonly stages: readonly HostStageStatus[];
}

/** One discovered device. */
export interface HostDeviceStatus {
  readonly label: string;
  readonly kind: 'cpu' | 'cuda';
  /** GPU name from nvidia-smi; absent for CPU core groups. */
  readonly name?: string;
  readonly memoryMiB?: number;
}

/** A GPU host's heartbeat document. Times are epoch milliseconds. */
export interface HostStatus {
  readonly hostId: string;
  readonly hostname: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly lastHeartbeatAt: number;
  readonly heartbeatIntervalMs: number;
  readonly devices: readonly HostDeviceStatus[];
  readonly groups: readonly HostGroupStatus[];
}

const jobSchema = z.object({
  jobId: z.string(),
  kind: z.enum(['image', 'video']),
  model: z.string(),
  step: z.number(),
  steps: z.number(),
  stepsPerSec: z.number(),
  mode: z.enum(['async', 'sequential']),
  stages: z.number(),
  devices: z.array(z.string()),
  startedAt: z.number(),
});

/** zod schema of `HostStatus`, for readers that parse heartbeats at their boundary. */
export const hostStatusSchema = z.object({
  hostId: z.string().min(1),
  hostname: z.string(),
  pid: z.number().int(),
  startedAt: z.number(),
  lastHeartbeatAt: z.number(),
  heartbeatIntervalMs: z.number().positive(),
  devices: z.array(
    z.object({ label: z.string(), kind: z.enum(['cpu', 'cuda']), name: z.string().optional(), memoryMiB: z.number().optional() }),
  ),
  groups: z.array(
    z.object({
      id: z.string(),
      devices: z.array(z.string()),
      state: z.enum(['idle', 'busy', 'draining']),
      jobs: z.array(jobSchema),
      stages: z.array(z.object({ device: z.string(), pid: z.number(), state: z.string(), restarts: z.number(), engine: z.string() })),
    }),
  ),
});

/** The Redis keys of the heartbeat contract for `prefix`. */
export function hostStatusKeys(prefix: string): { readonly hosts: string; host(hostId: string): string } {
  return { hosts: `${prefix}:hosts`, host: (hostId) => `${prefix}:host:${hostId}` };
}

/** Writes (or refreshes) a host's heartbeat; it expires after `ttlMs` unless refreshed. */
export async function publishHostStatus(redis: Redis, prefix: string, status: HostStatus, ttlMs: number): Promise<void> {
  const keys = hostStatusKeys(prefix);
  await redis.multi().set(keys.host(status.hostId), JSON.stringify(status), 'PX', Math.max(1, Math.round(ttlMs))).sadd(keys.hosts, status.hostId).exec();
}

/** Removes a host's heartbeat at once (clean shutdown), so dashboards do not wait for the TTL. */
export async function removeHostStatus(redis: Redis, prefix: string, hostId: string): Promise<void> {
  const keys = hostStatusKeys(prefix);
  await redis.multi().del(keys.host(hostId)).srem(keys.hosts, hostId).exec();
}

/**
 * Every live host's status, sorted by host id. Ids whose heartbeat expired are dropped from the
 * set on the way; unparsable documents are skipped.
 */
export async function listHostStatuses(redis: Redis, prefix: string): Promise<HostStatus[]> {
  const keys = hostStatusKeys(prefix);
  const ids = (await redis.smembers(keys.hosts)).sort();
  if (ids.length === 0) return [];
  const docs = await redis.mget(...ids.map((id) => keys.host(id)));
  const out: HostStatus[] = [];
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const text = docs[i];
    if (text === null || text === undefined) {
      gone.push(id);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    const parsed = hostStatusSchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data as HostStatus);
  });
  if (gone.length) await redis.srem(keys.hosts, ...gone);
  return out;
}
