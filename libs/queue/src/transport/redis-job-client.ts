import { createHash } from 'node:crypto';

import type { Queue } from 'bullmq';

import { transitionJob, type LifecycleDeps } from './announce.js';
import { bullJobOptions, createBullQueue, queueNameFor, type QueueJobData } from './bull-queues.js';
import { EnqueueError, IdempotencyConflictError, InvalidArgumentError, JobNotFoundError, QueuedWorkLimitError, WorkTooLargeError } from '../domain/errors.js';
import { createEventBus } from './event-bus.js';
import type { JobClient, JobClientOptions, QueueStateCounts, ReconcileReport, SubmitOptions } from './job-client.js';
import { newJobId } from '../domain/job-id.js';
import { initialProgress, type JobRecord, type OwnedRecord } from '../domain/job-record.js';
import { JOB_KINDS, resolveJobSpec, type JobKind } from '../domain/job-spec.js';
import { keyLayout } from './keys.js';
import { isTerminal } from '../domain/lifecycle.js';
import { createModelCatalog } from '../domain/model-catalog.js';
import { resolveQueueOptions } from './options.js';
import { toBullPriority } from '../domain/priority.js';
import { queuePositionScript } from './store-scripts.js';
import { closeRedis, createRedis } from './redis.js';
import { createRedisJobStore } from './redis-job-store.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { createWebhookOutbox } from './webhook-outbox.js';
import { WEBHOOK_QUEUE_NAME, webhookJobOptions, type WebhookJobData } from './webhook-queue.js';
import { createWebhookTargetGuard } from '../domain/webhook-target-guard.js';
import { ANONYMOUS_OWNER } from '../domain/owner.js';
import { workUnitsOf } from '../domain/work-units.js';

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
  const deps: LifecycleDeps = { store, bus, outbox: createWebhookOutbox(redis, keys, webhookQueue, onError), onError };
  const webhookGuard = options.webhookGuard ?? createWebhookTargetGuard();
  const reconcileCursors = new Map<'queued' | 'running', string>();
  let closing: Promise<void> | undefined;

  const failRecord = (id: string, code: string, message: string) =>
    transitionJob(deps, id, 'failed', { set: { error: { code, message }, finishedAt: Date.now() } });

  /**
   * Fails an unfinished record whose BullMQ job has failed or is gone; returns the record as it
   * is afterwards. The guarded transition makes a race with a worker (or another API) harmless.
   */
  const reconcileRecord = async (record: JobRecord): Promise<JobRecord> => {
    const bullJob = await jobQueues[record.kind].getJob(record.id);
    const state = bullJob ? await bullJob.getState() : 'missing';
    if (state !== 'failed' && state !== 'missing') return record;
    const reason = bullJob?.failedReason || 'the queue no longer holds this job';
    const code = state === 'missing' ? 'JOB_LOST' : STALLED_REASONS.has(reason) ? 'STALLED' : 'QUEUE_FAILED';
    const result = await failRecord(record.id, code, reason);
    return result.ok ? result.record : ((await store.get(record.id)) ?? record);
  };

  /** Ids of quiet records of one status whose BullMQ job looks failed or missing (cheap, pipelined). */
  const suspects = async (status: 'queued' | 'running', limit: number): Promise<{ checked: number; ids: string[] }> => {
    const after = reconcileCursors.get(status);
    const ids = await redis.zrangebylex(keys.index(status), after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit);
    if (ids.length < limit) reconcileCursors.delete(status);
    else reconcileCursors.set(status, ids[ids.length - 1] as string);
    const records = await redis.pipeline(ids.map((id) => ['hmget', keys.record(id), 'status', 'updatedAt', 'kind'])).exec();
    const quietBefore = Date.now() - resolved.reconcileAfterMs;
    const quiet: Array<{ id: string; kind: JobKind }> = [];
    ids.forEach((id, i) => {
      const [err, fields] = records?.[i] ?? [];
      const [st, updatedAt, kind] = (err ? [] : (fields as Array<string | null>)) ?? [];
      if (st === status && Number(updatedAt) <= quietBefore && (kind === 'image' || kind === 'video')) quiet.push({ id, kind });
    });
    const lookups = await redis
      .pipeline(quiet.flatMap(({ id, kind }) => [['exists', jobQueues[kind].toKey(id)], ['zscore', jobQueues[kind].toKey('failed'), id]]))
      .exec();
    const out = quiet.filter((_, i) => {
      const exists = Number(lookups?.[2 * i]?.[1] ?? 1);
      const failedScore = lookups?.[2 * i + 1]?.[1];
      return exists === 0 || (failedScore !== null && failedScore !== undefined);
    });
    return { checked: quiet.length, ids: out.map((q) => q.id) };
  };

  return {
    options: resolved,
    keys,
    models,
    redis,
    webhookQueue,
    webhookGuard,

    async submit(input: unknown, submitOptions: SubmitOptions = {}) {
      const spec = resolveJobSpec(input, models);
      const { idempotencyKey, scope, batchId, owner = ANONYMOUS_OWNER, workLimits } = submitOptions;
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new InvalidArgumentError('Idempotency-Key', 'must be 1-255 printable ASCII characters');
      }
      if (spec.webhook !== undefined) await webhookGuard.vet(spec.webhook, 'webhook');
      const work = workUnitsOf(spec, models);
      const claim =
        idempotencyKey === undefined
          ? undefined
          : { keyHash: sha256(`${scope ?? ''}\n${idempotencyKey}`), requestHash: sha256(canonicalJson(input)) };
      // A replay is answered, not admitted: it asks for no new work.
      if (!claim || (await redis.exists(keys.idempotency(claim.keyHash))) === 0) {
        if (workLimits && workLimits.perOwner > 0 && work > workLimits.perOwner) throw new WorkTooLargeError(work, workLimits.perOwner);
        await submitOptions.admit?.(work);
      }
      const now = Date.now();
      const record: OwnedRecord = {
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
        owner,
        work,
        ...(submitOptions.outputRetentionSec !== undefined && submitOptions.outputRetentionSec > 0 && { outputRetentionSec: submitOptions.outputRetentionSec }),
      };
      const created = await store.create(record, claim, workLimits);
      if (!created.created) {
        if ('refused' in created) {
          const cap = created.refused === 'owner' ? (workLimits?.perOwner ?? 0) : (workLimits?.total ?? 0);
          throw new QueuedWorkLimitError(created.refused, work, created.queuedUnits, cap);
        }
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
      return reconcileRecord(record);
    },

    async reconcile(reconcileOptions = {}): Promise<ReconcileReport> {
      const limit = reconcileOptions.limit ?? 500;
      let checked = 0;
      let failed = 0;
      for (const status of ['queued', 'running'] as const) {
        const found = await suspects(status, limit);
        checked += found.checked;
        for (const id of found.ids) {
          const record = await store.get(id);
          if (!record || record.status !== status || Date.now() - record.updatedAt < resolved.reconcileAfterMs) continue;
          if ((await reconcileRecord(record)).status === 'failed') failed++;
        }
      }
      return { checked, failed };
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
    onJobEvents: (jobId, listener) => bus.onJobEvents(jobId, listener),
    onResync: (listener) => bus.onResync(listener),

    async queuedWork(owner) {
      const [mine, total] = await redis.mget(keys.queuedWork(owner), keys.queuedWorkTotal);
      return { owner: Number(mine ?? 0), total: Number(total ?? 0) };
    },
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

/** BullMQ's `failedReason` when its stalled-job checker gives up on a job (a host died with it, repeatedly). */
const STALLED_REASONS = new Set(['job stalled more than allowable limit', 'job started more than allowable limit']);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
