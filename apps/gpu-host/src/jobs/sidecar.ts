import type { PhaseTimes } from '@asyncdiff/asyncdiff';
import type { JobOutput, JobRecord } from '@asyncdiff/queue';

import type { ParallelDecision } from './parallel-plan.js';

/** Where and how long a run took, in ms (all measured by the coordinator). */
export interface RunTimings {
  /** Created → picked up by this run (BullMQ wait, retries' backoff included). */
  readonly queueWaitMs: number;
  /** Picked up → devices granted by the group's allocator. */
  readonly deviceWaitMs: number;
  /** Spawning and loading stage processes (0 when the engine was warm). */
  readonly engineOpenMs: number;
  readonly denoiseMs: number;
  readonly encodeMs: number;
  readonly uploadMs: number;
  /** Picked up → sidecar written. */
  readonly runMs: number;
  readonly phases: PhaseTimes;
  /** Stage processes replaced during this run. */
  readonly restarts: number;
}

/** The JSON written next to a job's outputs: enough to reproduce it and to see how it ran. */
export interface JobSidecar {
  readonly version: 1;
  readonly jobId: string;
  readonly kind: JobRecord['kind'];
  readonly model: string;
  readonly prompt: string;
  /** The class the prompt names; -1 for text-to-image models. */
  readonly classId: number;
  /** Text-to-image jobs: the negative prompt, the size, and what tokenization cut off. */
  readonly text: {
    readonly negativePrompt: string | null;
    readonly width: number;
    readonly height: number;
    readonly truncated: { readonly prompt: boolean; readonly negativePrompt: boolean };
  } | null;
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: string;
  readonly count: number;
  readonly output: { readonly format: string; readonly scale: number; readonly frames: number; readonly width: number; readonly height: number };
  readonly parallel: ParallelDecision;
  /** Whether the run shared its device's continuous batch with other jobs' rows (same bytes as alone). */
  readonly batched: boolean;
  readonly resumedFrom: { readonly step: number; readonly host: string; readonly savedAt: number } | null;
  readonly attempt: number;
  readonly timings: RunTimings;
  readonly host: { readonly hostId: string; readonly group: string; readonly devices: readonly string[] };
  readonly outputs: readonly Omit<JobOutput, 'kind'>[];
  readonly createdAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  /**
   * When these files expire and the API's output sweeper removes them (`finishedAt` + the job's
   * `outputRetentionSec`, ms; the job record says the same); null: kept until removed by hand.
   */
  readonly expiresAt: number | null;
}

/** Serialises a sidecar deterministically (stable key order from the object literal, 2-space). */
export function sidecarBytes(sidecar: JobSidecar): Buffer {
  return Buffer.from(`${JSON.stringify(sidecar, null, 2)}\n`, 'utf8');
}
