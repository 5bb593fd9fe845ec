import { createHash } from 'node:crypto';

import type { Queue } from 'bullmq';

import { transitionJob, type LifecycleDeps } from './announce.js';
import { bullJobOptions, createBullQueue, queueNameFor, type QueueJobData } from './bull-queues.js';
import { EnqueueError, IdempotencyConflictError, InvalidArgumentError, JobNotFoundError } from './errors.js';
import { createEventBus } from './event-bus.js';
import type { JobClient, JobClientOptions, QueueStateCounts, SubmitOptions } from './job-client.js';
import { newJobId } from './job-id.js';
import { initialProgress, type JobRecord } from './job-record.js';
import { JOB_KINDS, resolveJobSpec, type JobKind } from './job-spec.js';
import { keyLayout } from './keys.js';
import { isTerminal } from './lifecycle.js';
import { createModelCatalog } from './model-catalog.js';
import { resolveQueueOptions } from './options.js';
import { toBullPriority } from './priority.js';
import { queuePositionScript } from './store-scripts.js';
import { closeRedis, createRedis } from './redis.js';
import { createRedisJobStore } from './redis-job-store.js';
import { canonicalJson } from './canonical-json.js';
import { WEBHOOK_QUEUE_NAME, webhookJobOptions, type WebhookJobData } from './webhook-queue.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused'] as const;

/** Creates the producer-side client (see `JobClient`). Connections open lazily on first use. */
export function createJobClient(options: JobClientOptions = {}): JobClient {
  const resolved = resolveQueueOptions(options);
  const keys = keyLayout(resolved.prefix);
  const models = options.models ?? createModelCatalog();
  const onError = options.onError ?? (() => undefined);
  const redis = createRedis(resolved.connection, 'command');
  redis.on('error', onError);
  const bullConnection = createRedis(resolved.connection, 'bullmq');
  bullConnection.on('error', onError);
  const store = createRedisJobStore(redis, { keys, recordTtlSec: resolved.recordTtlSec, idempotencyTtlSec: resolved.idempotencyTtlSec });
  const bus = createEventBus(redis, resolved.connection, keys);
  const jobQueues = Object.fromEntries(
    JOB_KINDS.map((kind) => [kind, createBullQueue<QueueJobData>(queueNameFor(kind), bullConnection, resolved, bullJobOptions(resolved))]),
  ) as Record<JobKind, Queue<QueueJobData>>;
  const webhookQueue = createBullQueue<WebhookJobData>(WEBHOOK_QUEUE_NAME, bullConnection, resolved, webhookJobOptions(resolved));
  for (const q of [...Object.values(jobQueues), webhookQueue]) q.on('error', onError);
  const deps: LifecycleDeps = { store, bus, webhooks: webhookQueue, onError };
  let closing: Promise<void> | undefined;

  const failRecord = (id: string, code: string, message: string) =>
    transitionJob(deps, id, 'failed', { set: { error: { code, message }, finishedAt: Date.now() } });

  return {
    options: resolved,
    keys,
    models,
    redis,
    webhookQueue,

    async submit(input: unknown, submitOptions: SubmitOptions = {}) {
      const spec = resolveJobSpec(input, models);
      const { idempotencyKey, scope, batchId } = submitOptions;
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new InvalidArgumentError('Idempotency-Key', 'must be 1-255 printable ASCII characters');
      }
      const now = Date.now();
      const record: JobRecord = {
        id: newJobId(now),
        kind: spec.type,
        spec,
        status: 'queued',
        progress: initialProgress(spec.steps),
        createdAt: now,
        updatedAt: now,
        timings: {},
        attempts: 0,
        outputs: [],
        ...(batchId !== undefined && { batchId }),
      };
      const claim =
        idempotencyKey === undefined
          ? undefined
          : { keyHash: sha256(`${scope ?? ''}\n${idempotencyKey}`), requestHash: sha256(canonicalJson(input)) };
      const created = await store.create(record, claim);
      if (!created.created) {
        if (claim && created.requestHash !== claim.requestHash) throw new IdempotencyConflictError(created.existingId);
        const existing = await store.get(created.existingId);
        if (!existing) throw new JobNotFoundError(created.existingId);
        return { job: existing, created: false };
      }
      try {
        await jobQueues[spec.type].add(spec.type, { jobId: record.id }, { jobId: record.id, priority: toBullPriority(spec.priority) });
      } catch (cause) {
        await failRecord(record.id, 'ENQUEUE_FAILED', 'the job could not be enqueued').catch(onError);
        throw new EnqueueError(record.id, { cause });
      }
      try {
        await bus.publish({ type: 'state', jobId: record.id, kind: record.kind, status: 'queued', previous: null, at: now });
      } catch (err) {
        onError(err);
      }
      return { job: record, created: true };
    },

    async get(id) {
      const record = await store.get(id);
      if (!record || isTerminal(record.status) || Date.now() - record.updatedAt < resolved.reconcileAfterMs) return record;
      // A quiet, unfinished record: make sure BullMQ has not given up on (or lost) the job.
      const bullJob = await jobQueues[record.kind].getJob(id);
      const state = bullJob ? await bullJob.getState() : 'missing';
      if (state !== 'failed' && state !== 'missing') return record;
      const reason = bullJob?.failedReason || 'the queue no longer holds this job';
      const result = await failRecord(id, state === 'failed' ? 'QUEUE_FAILED' : 'JOB_LOST', reason);
      return result.ok ? result.record : ((await store.get(id)) ?? record);
    },

    async queuePosition(job) {
      if (job.status !== 'queued') return null;
      const q = jobQueues[job.kind];
      const bullKeys = ['wait', 'paused', 'prioritized', 'delayed'].map((name) => q.toKey(name));
      const pos = Number(await queuePositionScript.run(redis, bullKeys, [job.id]));
      return pos > 0 ? pos : null;
    },

    async list(query) {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 100) throw new InvalidArgumentError('limit', 'must be an integer 1…100');
      return store.list(query);
    },

    async cancel(id) {
      const status = await store.requestCancel(id);
      if (status === undefined) throw new JobNotFoundError(id);
      if (status === 'queued') {
        const result = await transitionJob(deps, id, 'canceled', { set: { finishedAt: Date.now() } });
        if (result.ok) {
          // A worker may have fetched it a moment ago: then remove() fails (locked) and the worker,
          // finding the record canceled, completes it without running.
          await jobQueues[result.record.kind].remove(id).catch(onError);
          return { job: result.record, pending: false };
        }
      }
      const record = await store.get(id);
      if (!record) throw new JobNotFoundError(id);
      if (record.status !== 'running') return { job: record, pending: false };
      await bus.publishControl({ type: 'cancel', jobId: id });
      await bus.publish({ type: 'cancel-requested', jobId: id, kind: record.kind, at: Date.now() }).catch(onError);
      return { job: record, pending: true };
    },

    async queueCounts() {
      const entries = await Promise.all(
        JOB_KINDS.map(async (kind) => {
          const counts = await jobQueues[kind].getJobCounts(...STATES);
          return [kind, Object.fromEntries(STATES.map((s) => [s, counts[s] ?? 0])) as QueueStateCounts] as const;
        }),
      );
      return Object.fromEntries(entries) as Record<JobKind, QueueStateCounts>;
    },

    terminalCounts: () => store.terminalCounts(),
    onEvent: (listener) => bus.onEvent(listener),
    bullQueues: () => [...Object.values(jobQueues), webhookQueue],

    async ping() {
      await redis.ping();
    },

    close() {
      closing ??= (async () => {
        for (const step of [
          ...Object.values(jobQueues).map((q) => () => q.close()),
          () => webhookQueue.close(),
          () => bus.close(),
          () => closeRedis(bullConnection),
          () => closeRedis(redis),
        ]) {
          try {
            await step();
          } catch (err) {
            onError(err);
          }
        }
      })();
      return closing;
    },
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
