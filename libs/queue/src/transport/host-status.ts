import { PARALLEL_MODES, type ParallelMode } from '@asyncdiff/asyncdiff';
import { z } from 'zod';

import type { RedisClient } from './redis.js';

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
  /** How the job uses its devices: sequential, async (AsyncDiff), cfg (guidance halves on two devices) or hybrid. */
  readonly mode: ParallelMode;
  readonly stages: number;
  /** Device labels the job holds, e.g. `cuda:0`, `cpu[1]`. */
  readonly devices: readonly string[];
  /** When this run started (epoch ms). */
  readonly startedAt: number;
  /** Where the last steps' time went (newest last; at most `RECENT_STEPS_KEPT`). Absent from older hosts. */
  readonly recentSteps?: readonly StepTiming[];
  /** Runs inside its device's continuous batch (absent: alone). */
  readonly batched?: boolean;
}

/**
 * One denoising step as the coordinator measured it: the whole step, the hand-off on its critical
 * path (doorbell latencies; tensors never move), and each stage's time inside `session.run`
 * (index = the engine's device; 0 for a stage that did not run that step). Milliseconds.
 */
export interface StepTiming {
  readonly step: number;
  readonly stepMs: number;
  readonly handoffMs: number;
  readonly stageMs: readonly number[];
}

/** Steps of a running job its heartbeat carries (the dashboard's per-stage timeline). */
export const RECENT_STEPS_KEPT = 40;

/**
 * Upper bounds (seconds) of the step-time histogram buckets: the GPU host's
 * `asyncdiff_step_seconds` histogram and the heartbeat's `stepTimes` use the same ones, so the
 * dashboard and Prometheus agree. 1 ms … 30 s (a tiny model's step to a full-size UNet's on CPU).
 */
export const STEP_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Step times of one model and parallel mode on one host since it started: `counts[i]` steps took
 * at most `STEP_SECONDS_BUCKETS[i]` and more than the bound before (not cumulative), the last
 * entry counts the steps above every bound.
 */
export interface StepTimeHistogram {
  readonly model: string;
  readonly mode: HostJobStatus['mode'];
  readonly counts: readonly number[];
  readonly sumSec: number;
  readonly count: number;
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
  /** Continuous batches running now, one per device at most (absent from older hosts). */
  readonly batches?: readonly HostBatchStatus[];
}

/**
 * A device's continuous batch: how full it is now (model rows: 2 per image with guidance; 0 when
 * the device runs none) and over the last minute. Every device that ran a batch is listed.
 */
export interface HostBatchStatus {
  readonly device: string;
  readonly model: string;
  readonly members: number;
  readonly rows: number;
  /** The admission limit measured for this device and model. */
  readonly maxRows: number;
  /** Jobs placed in the batch that wait for room. */
  readonly queued: number;
  /** Most rows a step ran in each of the last 60 seconds, oldest first (0: no step that second). */
  readonly recentRows: readonly number[];
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
  /** Step-time histograms by model and mode since the host started. Absent from older hosts. */
  readonly stepTimes?: readonly StepTimeHistogram[];
}

const jobSchema = z.object({
  jobId: z.string(),
  kind: z.enum(['image', 'video']),
  model: z.string(),
  step: z.number(),
  steps: z.number(),
  stepsPerSec: z.number(),
  mode: z.enum(PARALLEL_MODES),
  stages: z.number(),
  devices: z.array(z.string()),
  startedAt: z.number(),
  recentSteps: z.array(z.object({ step: z.number(), stepMs: z.number(), handoffMs: z.number(), stageMs: z.array(z.number()) })).optional(),
  batched: z.boolean().optional(),
});

const batchSchema = z.object({
  device: z.string(),
  model: z.string(),
  members: z.number().int(),
  rows: z.number().int(),
  maxRows: z.number().int(),
  queued: z.number().int(),
  recentRows: z.array(z.number()),
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
      batches: z.array(batchSchema).optional(),
    }),
  ),
  stepTimes: z
    .array(z.object({ model: z.string(), mode: z.enum(['sequential', 'async', 'cfg', 'hybrid']), counts: z.array(z.number()), sumSec: z.number(), count: z.number() }))
    .optional(),
});

/** The Redis keys of the heartbeat contract for `prefix`. */
export function hostStatusKeys(prefix: string): { readonly hosts: string; host(hostId: string): string } {
  return { hosts: `${prefix}:hosts`, host: (hostId) => `${prefix}:host:${hostId}` };
}

/** Writes (or refreshes) a host's heartbeat; it expires after `ttlMs` unless refreshed. */
export async function publishHostStatus(redis: RedisClient, prefix: string, status: HostStatus, ttlMs: number): Promise<void> {
  const keys = hostStatusKeys(prefix);
  await redis.multi().set(keys.host(status.hostId), JSON.stringify(status), 'PX', Math.max(1, Math.round(ttlMs))).sadd(keys.hosts, status.hostId).exec();
}

/** Removes a host's heartbeat at once (clean shutdown), so dashboards do not wait for the TTL. */
export async function removeHostStatus(redis: RedisClient, prefix: string, hostId: string): Promise<void> {
  const keys = hostStatusKeys(prefix);
  await redis.multi().del(keys.host(hostId)).srem(keys.hosts, hostId).exec();
}

/**
 * Every live host's status, sorted by host id. Ids whose heartbeat expired are dropped from the
 * set on the way; unparsable documents are skipped.
 */
export async function listHostStatuses(redis: RedisClient, prefix: string): Promise<HostStatus[]> {
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
