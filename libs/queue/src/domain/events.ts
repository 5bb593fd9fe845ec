import { z } from 'zod';

import type { JobErrorInfo, JobProgress } from './job-record.js';
import type { JobKind } from './job-spec.js';
import { JOB_STATUSES, type JobStatus } from './lifecycle.js';

/** A job moved to a new status (published after the record changed). */
export interface JobStateEvent {
  readonly type: 'state';
  readonly jobId: string;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly previous: JobStatus | null;
  readonly at: number;
  readonly host?: string;
  readonly error?: JobErrorInfo;
}

/** A running job finished another step. */
export interface JobProgressEvent {
  readonly type: 'progress';
  readonly jobId: string;
  readonly kind: JobKind;
  readonly progress: JobProgress;
  readonly at: number;
}

/**
 * A running job's live preview: the clean image the model predicted at `step`, as a small PNG.
 * These fields (without `type`, `kind`, `at`) are the data of the SSE `preview` event.
 */
export interface JobPreview {
  /** Steps completed when the preview was taken (a multiple of the job's `preview.every`). */
  readonly step: number;
  readonly steps: number;
  readonly mime: 'image/png';
  /** Pixel size of the PNG. */
  readonly width: number;
  readonly height: number;
  /** The PNG, base64. */
  readonly data: string;
}

/** Largest base64 preview the bus carries (a 256×256 RGB PNG stays far below it). */
export const PREVIEW_MAX_BASE64_CHARS = 512 * 1024;

/** A running job published a preview (best effort: previews may be dropped, never retried). */
export interface JobPreviewEvent extends JobPreview {
  readonly type: 'preview';
  readonly jobId: string;
  readonly kind: JobKind;
  readonly at: number;
}

/** Someone asked to cancel a running job; a `state` event follows when the worker stops. */
export interface JobCancelRequestedEvent {
  readonly type: 'cancel-requested';
  readonly jobId: string;
  readonly kind: JobKind;
  readonly at: number;
}

/** The agreed `preview` data (SSE event and webhook body): the bus event without `type`, `kind`, `at`. */
export type PreviewData = Pick<JobPreviewEvent, 'jobId' | 'step' | 'steps' | 'mime' | 'width' | 'height' | 'data'>;

/** The `preview` data clients see, from a bus event (one mapping for SSE and webhooks). */
export function previewData(event: JobPreviewEvent): PreviewData {
  const { jobId, step, steps, mime, width, height, data } = event;
  return { jobId, step, steps, mime, width, height, data };
}

/**
 * Everything published on `<prefix>:events`, one JSON message each, discriminated on `type`.
 * SSE streams and the dashboard consume it; later kinds (batches, host heartbeats) add members.
 */
export type JobEvent = JobStateEvent | JobProgressEvent | JobPreviewEvent | JobCancelRequestedEvent;

/** Messages on `<prefix>:control`, read by workers: stop the named job if you hold it. */
export type ControlMessage = { readonly type: 'cancel'; readonly jobId: string };

const kind = z.enum(['image', 'video']);
const status = z.enum(JOB_STATUSES as [JobStatus, ...JobStatus[]]);
const eventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    jobId: z.string(),
    kind,
    status,
    previous: status.nullable(),
    at: z.number(),
    host: z.string().optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  }),
  z.object({
    type: z.literal('progress'),
    jobId: z.string(),
    kind,
    progress: z.object({ step: z.number(), steps: z.number(), percent: z.number(), phase: z.string().optional() }),
    at: z.number(),
  }),
  z.object({
    type: z.literal('preview'),
    jobId: z.string(),
    kind,
    step: z.number().int().min(0),
    steps: z.number().int().min(1),
    mime: z.literal('image/png'),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    data: z.string().max(PREVIEW_MAX_BASE64_CHARS),
    at: z.number(),
  }),
  z.object({ type: z.literal('cancel-requested'), jobId: z.string(), kind, at: z.number() }),
]);
const controlSchema = z.object({ type: z.literal('cancel'), jobId: z.string() });

/** Parses one events-channel message; undefined for anything malformed or unknown. */
export function parseJobEvent(message: string): JobEvent | undefined {
  const parsed = eventSchema.safeParse(safeJson(message));
  return parsed.success ? (parsed.data as JobEvent) : undefined;
}

/** Parses one control-channel message; undefined for anything malformed or unknown. */
export function parseControlMessage(message: string): ControlMessage | undefined {
  const parsed = controlSchema.safeParse(safeJson(message));
  return parsed.success ? parsed.data : undefined;
}

/** Exhaustiveness check for `switch` over unions: unreachable when every member is handled. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
