import { JOB_STATUSES, type JobStatus } from '@asyncdiff/queue';
import { z } from 'zod';

import { jobViewSchema } from './schemas.js';

/**
 * The Server-Sent Events of `GET /v1/jobs/{id}/events`, by event name, with the zod schema of
 * each event's `data`. One list feeds the OpenAPI document and the tests, which validate every
 * event a real stream sends against it — so a new event (or a changed field) the document does
 * not know about fails a test instead of going undocumented.
 */
const status = z.enum(JOB_STATUSES as [JobStatus, ...JobStatus[]]);
const jobId = z.string().describe('The job this event is about.');
const at = z.iso.datetime().describe('When it happened (server time).');

/** `progress`: a running job finished another step. */
export const progressEventSchema = z.object({ jobId, progress: jobViewSchema.shape.progress, at });

/** `state`: the job moved to a new status; after a terminal one a final `job` event follows. */
export const stateEventSchema = z.object({
  jobId,
  status,
  previous: status.nullable().describe('The status it left; null for the first.'),
  at,
  error: z.object({ code: z.string(), message: z.string() }).optional().describe('Why it failed (failed only).'),
});

/** `cancel-requested`: someone asked to cancel the running job; a `state` event follows when it stops. */
export const cancelRequestedEventSchema = z.object({ jobId, at });

/**
 * `preview`: a decoded intermediate image, sent every `preview.every` steps when the job asked
 * for previews (the shape agreed between the API helpers, see HELPERS.md).
 */
export const previewEventSchema = z.object({
  jobId,
  step: z.number().int().positive().describe('The step the preview shows (1-based).'),
  steps: z.number().int().positive(),
  mime: z.literal('image/png'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  data: z.base64().describe('The PNG, base64-encoded.'),
});

/** One event kind of the job stream: its data schema, the component that names it, and when it is sent. */
export interface JobStreamEvent {
  readonly schema: z.ZodType;
  /** Name of the data schema under `components.schemas`. */
  readonly component: string;
  readonly when: string;
}

/** Every event the job stream sends, by SSE `event` name. */
export const JOB_STREAM_EVENTS = {
  job: {
    schema: jobViewSchema,
    component: 'Job',
    when: 'First, with the current state; again, with outputs and their URLs, once the job has ended (then the stream ends).',
  },
  progress: { schema: progressEventSchema, component: 'JobProgressEvent', when: 'After each step a running job finishes; at most one per GPU_HOST_PROGRESS_INTERVAL_MS when the host sets it (then the newest step of each interval, every new phase and always the last step).' },
  state: { schema: stateEventSchema, component: 'JobStateEvent', when: 'When the job changes status (queued → running → succeeded | failed | canceled, retries included).' },
  'cancel-requested': { schema: cancelRequestedEventSchema, component: 'JobCancelRequestedEvent', when: 'When a cancel reaches a running job; `state` canceled follows within a step.' },
  preview: { schema: previewEventSchema, component: 'JobPreviewEvent', when: 'Every `preview.every` steps of a job that asked for previews (`preview: {every: k}`).' },
} as const satisfies Record<string, JobStreamEvent>;

/** The SSE event names of the job stream. */
export type JobStreamEventName = keyof typeof JOB_STREAM_EVENTS;

/** How the stream behaves beyond its events (for the document). */
export const JOB_STREAM_TEXT =
  'A `text/event-stream`: each event is `id: <n>` (1, 2, … per stream), `event: <name>` and one `data:` line of JSON. ' +
  'The first event is `job` with the current state; a job that has already ended gets only that and the stream ends. ' +
  'Otherwise events follow as they happen, and after a terminal `state` a last `job` event (with outputs and URLs) closes the stream. ' +
  'Heartbeat: a comment line `: keep-alive` every 15 s by default (`sseHeartbeatMs`), which EventSource ignores. ' +
  'A reconnecting client starts over from the current state (Last-Event-ID is not used). ' +
  'A client that stops reading is cut off once the unsent bytes pass a limit; streams per key are capped (429 TOO_MANY_STREAMS).';
