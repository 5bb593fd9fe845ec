import { createHash } from 'node:crypto';

import { FlowProducer, Queue, type FlowJob } from 'bullmq';

import { transitionJob, type LifecycleDeps } from './announce.js';
import { memberIds, readChildren, retryChains } from './batch-children.js';
import type { BatchClient, BatchClientOptions, FinalizationInput, RetriedChild, SubmitBatchOptions } from './batch-client.js';
import { BATCH_QUEUE_NAME, batchParentOptions, type BatchJobData } from './batch-queue.js';
import { batchBand, batchChildBullPriority, BULL_PRIORITY_SCORE_FACTOR } from '../domain/batch-priority.js';
import { batchFromHash, batchToHash, BATCH_FINAL_STATUSES, type BatchFinalStatus, type BatchRecord } from '../domain/batch-record.js';
import { commitBatchScript, createBatchScript, reopenBatchScript } from './batch-scripts.js';
import { resolveBatchRequest, type BatchRequest } from '../domain/batch-spec.js';
import { countChildren, finalStatusOf, summarizeBatch } from '../domain/batch-summary.js';
import { bullJobOptions, observeStartup, queueNameFor, type QueueJobData } from './bull-queues.js';
import { canonicalJson } from '../domain/canonical-json.js';
import {
  BatchNotFoundError,
  EnqueueError,
  IdempotencyConflictError,
  InvalidArgumentError,
  JobNotFoundError,
  NotRetryableError,
  QueuedWorkLimitError,
  WorkTooLargeError,
} from '../domain/errors.js';
import { createEventBus } from './event-bus.js';
import { batchIdFloor, isBatchId, isJobId, newBatchId, newJobId } from '../domain/job-id.js';
import { initialProgress, recordFromHash, recordToHash, type JobRecord, type OwnedRecord } from '../domain/job-record.js';
import { JOB_KINDS, type JobKind, type JobSpec } from '../domain/job-spec.js';
import { isJobStatus, JOB_STATUSES, type JobStatus } from '../domain/lifecycle.js';
import { createRedis, closeRedis } from './redis.js';
import { createRedisJobStore } from './redis-job-store.js';
import { claimRetryScript } from './store-scripts.js';
import { toBullPriority } from '../domain/priority.js';
import { createWebhookOutbox } from './webhook-outbox.js';
import { ANONYMOUS_OWNER } from '../domain/owner.js';
import { workUnitsOf } from '../domain/work-units.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const WRITE_CHUNK = 500;

/** Creates the batch side of the producer (see `BatchClient`) over an existing job client. */
export function createBatchClient(options: BatchClientOptions): BatchClient {
  const { jobs } = options;
  const onError = options.onError ?? (() => undefined);
  const resolved = jobs.options;
  const { keys, redis } = jobs;
  const store = createRedisJobStore(redis, { keys, recordTtlSec: resolved.recordTtlSec, idempotencyTtlSec: resolved.idempotencyTtlSec });
  const bus = createEventBus(redis, resolved.connection, keys);
  const outbox = createWebhookOutbox(redis, keys, jobs.webhookQueue, onError);
  const deps: LifecycleDeps = { store, bus, outbox, onError };
  const bullConnection = createRedis(resolved.connection, 'bullmq');
  bullConnection.on('error', onError);
  const flows = new FlowProducer({ connection: bullConnection, prefix: resolved.prefix });
  flows.on('error', onError);
  const queue = new Queue<BatchJobData>(BATCH_QUEUE_NAME, { connection: bullConnection, prefix: resolved.prefix });
  queue.on('error', onError);
  const jobQueues = Object.fromEntries(
    JOB_KINDS.map((kind) => [kind, new Queue<QueueJobData>(queueNameFor(kind), { connection: bullConnection, prefix: resolved.prefix, defaultJobOptions: bullJobOptions(resolved) })]),
  ) as Record<JobKind, Queue<QueueJobData>>;
  for (const q of Object.values(jobQueues)) q.on('error', onError);
  const settleStartup = observeStartup([flows, queue, ...Object.values(jobQueues)]);
  const ttl = resolved.recordTtlSec;
  let closing: Promise<void> | undefined;

  const get = async (id: string): Promise<BatchRecord | undefined> => {
    if (!isBatchId(id)) return undefined;
    return batchFromHash(await redis.hgetall(keys.batch(id)));
  };
  const mustGet = async (id: string): Promise<BatchRecord> => {
    const record = await get(id);
    if (!record) throw new BatchNotFoundError(id);
    return record;
  };
  const request = async (id: string): Promise<BatchRequest | undefined> => {
    const text = await redis.hget(keys.batch(id), 'request');
    if (!text) return undefined;
    try {
      return JSON.parse(text) as BatchRequest;
    } catch {
      return undefined;
    }
  };
  const summary = async (id: string, summaryOptions: { failedLimit?: number } = {}) => {
    const record = await get(id);
    if (!record) return undefined;
    const children = await readChildren(redis, keys, await memberIds(redis, keys, id), 'light');
    return summarizeBatch(record, children, summaryOptions);
  };
  const mustSummary = async (id: string) => {
    const s = await summary(id);
    if (!s) throw new BatchNotFoundError(id);
    return s;
  };

  /** Lowest fair-queuing level still waiting in the band of `priority` (0 when none waits). */
  const startLevel = async (kind: JobKind, priority: number): Promise<number> => {
    const [lo, hi] = batchBand(priority);
    const found = await redis.zrangebyscore(jobQueues[kind].toKey('prioritized'), lo * BULL_PRIORITY_SCORE_FACTOR, `(${(hi + 1) * BULL_PRIORITY_SCORE_FACTOR}`, 'WITHSCORES', 'LIMIT', 0, 1);
    const score = found[1];
    return score === undefined ? 0 : Math.floor(Number(score) / BULL_PRIORITY_SCORE_FACTOR) - lo;
  };

  /** Writes new child records (queued, indexed globally and per owner) in chunks of MULTI. */
  const writeRecords = async (records: readonly OwnedRecord[]): Promise<void> => {
    for (let i = 0; i < records.length; i += WRITE_CHUNK) {
      const multi = redis.multi();
      for (const r of records.slice(i, i + WRITE_CHUNK)) {
        multi.hset(keys.record(r.id), recordToHash(r));
        multi.expire(keys.record(r.id), ttl);
        multi.zadd(keys.index(), 0, r.id);
        multi.zadd(keys.index('queued'), 0, r.id);
        multi.zadd(keys.ownerIndex(r.owner), 0, r.id);
        multi.zadd(keys.ownerIndex(r.owner, 'queued'), 0, r.id);
      }
      await multi.exec();
    }
  };
  /** Counts new jobs' work as queued (a retry: no cap, it replaces work that was admitted once). */
  const chargeWork = async (records: readonly OwnedRecord[]): Promise<void> => {
    const multi = redis.multi();
    for (const r of records) multi.incrby(keys.queuedWork(r.owner), r.work).incrby(keys.queuedWorkTotal, r.work);
    await multi.exec();
  };
  /** Undoes `writeRecords` (and the charge) of jobs that never ran, giving their queued work back. */
  const deleteRecords = async (records: readonly OwnedRecord[]): Promise<void> => {
    for (let i = 0; i < records.length; i += WRITE_CHUNK) {
      const multi = redis.multi();
      for (const r of records.slice(i, i + WRITE_CHUNK)) {
        multi.del(keys.record(r.id));
        for (const index of [keys.index(), ...JOB_STATUSES.map((s) => keys.index(s)), keys.ownerIndex(r.owner), ...JOB_STATUSES.map((s) => keys.ownerIndex(r.owner, s))]) multi.zrem(index, r.id);
        multi.decrby(keys.queuedWork(r.owner), r.work).decrby(keys.queuedWorkTotal, r.work);
      }
      await multi.exec();
    }
  };
  const newChild = (spec: JobSpec, batchId: string, owner: string, now: number, retryOf?: string): OwnedRecord => ({
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
    batchId,
    ...(retryOf !== undefined && { retryOf }),
    owner,
    work: workUnitsOf(spec, jobs.models),
  });

  /** Adds the flow of one round: the parent (finaliser trigger) and `children` fairly prioritised. */
  const addFlow = async (batch: BatchRecord, round: number, children: readonly JobRecord[]): Promise<void> => {
    const start = children.length ? await startLevel(batch.kind, batch.priority) : 0;
    const childJobs: FlowJob[] = children.map((c, i) => ({
      name: c.kind,
      queueName: queueNameFor(c.kind),
      data: { jobId: c.id } satisfies QueueJobData,
      opts: { ...bullJobOptions(resolved), jobId: c.id, priority: batchChildBullPriority(batch.priority, start + i), ignoreDependencyOnFailure: true },
    }));
    await flows.add({
      name: 'finalize',
      queueName: BATCH_QUEUE_NAME,
      data: { batchId: batch.id, round } satisfies BatchJobData,
      opts: { ...batchParentOptions(), jobId: `${batch.id}-r${round}` },
      ...(childJobs.length && { children: childJobs }),
    });
  };

  /** Replaces children by new jobs with the same spec, in a new flow round. */
  const retryChildren = async (batch: BatchRecord, targets: ReadonlyArray<{ index: number; record: JobRecord }>): Promise<{ retried: RetriedChild[]; records: JobRecord[] }> => {
    const now = Date.now();
    const owner = batch.owner ?? targets[0]?.record.owner ?? ANONYMOUS_OWNER;
    const planned = targets.map((t) => ({ ...t, next: newChild(t.record.spec, batch.id, owner, now, t.record.id) }));
    const claims = await Promise.all(planned.map((p) => claimRetryScript.run(redis, [keys.record(p.record.id)], [p.next.id, now]) as Promise<[number, string]>));
    const won = planned.filter((_, i) => Number(claims[i]?.[0]) === 1);
    if (!won.length) return { retried: [], records: [] };
    const round = Number(await reopenBatchScript.run(redis, [keys.batch(batch.id), keys.batchMembers(batch.id), keys.batchStats], [now, ttl]));
    if (round < 0) throw new BatchNotFoundError(batch.id);
    const records = won.map((w) => w.next);
    const counted = batch.counters !== undefined;
    let swapped = false;
    try {
      await chargeWork(records);
      await writeRecords(records);
      const multi = redis.multi();
      for (const w of won) {
        multi.lset(keys.batchMembers(batch.id), w.index, w.next.id);
        // The batch's counters follow its current children: the old one leaves, a queued one joins.
        if (counted) multi.hincrby(keys.batch(batch.id), `n:${w.record.status}`, -1).hincrby(keys.batch(batch.id), 'n:queued', 1);
      }
      await multi.exec();
      swapped = true;
      await addFlow(batch, round, records);
    } catch (cause) {
      // Undo the claims and let the finaliser look again (the batch was reopened).
      const undo = redis.multi();
      for (const w of won) {
        undo.hdel(keys.record(w.record.id), 'retriedBy');
        undo.lset(keys.batchMembers(batch.id), w.index, w.record.id);
        if (swapped && counted) undo.hincrby(keys.batch(batch.id), `n:${w.record.status}`, 1).hincrby(keys.batch(batch.id), 'n:queued', -1);
      }
      await undo.exec().catch(onError);
      await deleteRecords(records).catch(onError);
      await addFlow(batch, round, []).catch(onError);
      throw new EnqueueError(records[0]?.id ?? batch.id, { cause });
    }
    return { retried: won.map((w) => ({ index: w.index, previousJobId: w.record.id, jobId: w.next.id })), records };
  };

  return {
    queue,

    async submit(input: unknown, submitOptions: SubmitBatchOptions = {}) {
      const plan = resolveBatchRequest(input, jobs.models);
      const { idempotencyKey, scope, owner = ANONYMOUS_OWNER, workLimits } = submitOptions;
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new InvalidArgumentError('Idempotency-Key', 'must be 1-255 printable ASCII characters');
      }
      if (plan.webhook !== undefined) await jobs.webhookGuard.vet(plan.webhook, 'webhook');
      const now = Date.now();
      const provisionalId = newBatchId(now);
      const children = plan.children.map((spec) => newChild(spec, provisionalId, owner, now));
      const work = children.reduce((sum, c) => sum + c.work, 0);
      const claim =
        idempotencyKey === undefined
          ? undefined
          : { keyHash: sha256(`batch\n${scope ?? ''}\n${idempotencyKey}`), requestHash: sha256(canonicalJson(input)) };
      // A replay is answered, not admitted: it asks for no new work.
      if (!claim || (await redis.exists(keys.idempotency(claim.keyHash))) === 0) {
        if (workLimits && workLimits.perOwner > 0 && work > workLimits.perOwner) throw new WorkTooLargeError(work, workLimits.perOwner);
        await submitOptions.admit?.(work);
      }
      const record: BatchRecord = {
        id: provisionalId,
        ...(plan.name !== undefined && { name: plan.name }),
        kind: plan.kind,
        model: plan.model,
        total: plan.children.length,
        priority: plan.priority,
        parallel: plan.parallel,
        ...(plan.webhook !== undefined && { webhook: plan.webhook }),
        createdAt: now,
        updatedAt: now,
        state: 'open',
        round: 1,
        owner,
        work,
        counters: { queued: children.length, running: 0, succeeded: 0, failed: 0, canceled: 0 },
      };
      const fields = Object.entries({ ...batchToHash(record), request: JSON.stringify(plan.request) }).flat();
      const created = (await createBatchScript.run(
        redis,
        [keys.batch(record.id), keys.idempotency(claim?.keyHash ?? 'none'), keys.batchIndex, keys.batchStats, keys.ownerBatchIndex(owner), keys.queuedWork(owner), keys.queuedWorkTotal],
        [
          record.id,
          ttl,
          claim ? 1 : 0,
          claim ? `${record.id} ${claim.requestHash}` : '',
          resolved.idempotencyTtlSec,
          batchIdFloor(now - ttl * 1000),
          work,
          workLimits?.perOwner ?? 0,
          workLimits?.total ?? 0,
          ...fields,
        ],
      )) as [number, string];
      const code = Number(created[0]);
      if (code < 0) {
        const scope_ = code === -1 ? 'owner' : 'total';
        throw new QueuedWorkLimitError(scope_, work, Number(created[1]), (scope_ === 'owner' ? workLimits?.perOwner : workLimits?.total) ?? 0);
      }
      if (code !== 1) {
        const [existingId = '', requestHash = ''] = created[1].split(' ');
        if (claim && requestHash !== claim.requestHash) throw new IdempotencyConflictError(existingId, 'batch');
        return { batch: await mustGet(existingId), created: false };
      }
      try {
        await writeRecords(children);
        for (let i = 0; i < children.length; i += WRITE_CHUNK) {
          await redis.rpush(keys.batchMembers(record.id), ...children.slice(i, i + WRITE_CHUNK).map((c) => c.id));
        }
        await redis.expire(keys.batchMembers(record.id), ttl);
        await addFlow(record, 1, children);
      } catch (cause) {
        await deleteRecords(children).catch(onError);
        const cleanup = redis
          .multi()
          .del(keys.batch(record.id), keys.batchMembers(record.id))
          .zrem(keys.batchIndex, record.id)
          .zrem(keys.ownerBatchIndex(owner), record.id)
          .hincrby(keys.batchStats, 'open', -1);
        if (claim) cleanup.del(keys.idempotency(claim.keyHash));
        await cleanup.exec().catch(onError);
        throw new EnqueueError(record.id, { cause });
      }
      return { batch: record, created: true };
    },

    get,
    request,
    summary,

    async children(id) {
      await mustGet(id);
      return readChildren(redis, keys, await memberIds(redis, keys, id), 'full');
    },

    async listChildren(id, query) {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 100) throw new InvalidArgumentError('limit', 'must be an integer 1…100');
      await mustGet(id);
      const after = query.cursor === undefined ? -1 : decodeChildCursor(query.cursor, query.status);
      const ids = await memberIds(redis, keys, id);
      let candidates = ids.map((jobId, index) => ({ jobId, index })).filter((c) => c.index > after);
      if (query.status !== undefined) {
        const statuses = await readChildren(redis, keys, candidates.map((c) => c.jobId), 'light');
        candidates = candidates.filter((_, i) => statuses[i]?.status === query.status);
      }
      const page = candidates.slice(0, query.limit);
      const pipeline = redis.pipeline();
      for (const c of page) pipeline.hgetall(keys.record(c.jobId));
      const hashes = (await pipeline.exec()) ?? [];
      const jobsOut: Array<{ index: number; record: JobRecord }> = [];
      page.forEach((c, i) => {
        const [err, hash] = hashes[i] ?? [null, null];
        const record = err ? undefined : recordFromHash((hash ?? {}) as Record<string, string>);
        if (record) jobsOut.push({ index: c.index, record });
      });
      const last = page.at(-1);
      return { jobs: jobsOut, nextCursor: candidates.length > query.limit && last ? encodeChildCursor(query.status, last.index) : null };
    },

    async list(query) {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 100) throw new InvalidArgumentError('limit', 'must be an integer 1…100');
      const max = query.cursor === undefined ? '+' : `(${decodeBatchCursor(query.cursor)}`;
      const index = query.owner === undefined ? keys.batchIndex : keys.ownerBatchIndex(query.owner);
      const ids = await redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, query.limit + 1);
      const page = ids.slice(0, query.limit);
      const pipeline = redis.pipeline();
      for (const id of page) pipeline.hgetall(keys.batch(id));
      const results = (await pipeline.exec()) ?? [];
      const batches: BatchRecord[] = [];
      const gone: string[] = [];
      results.forEach(([err, hash], i) => {
        const b = err ? undefined : batchFromHash(hash as Record<string, string>);
        if (b) batches.push(b);
        else if (!err) gone.push(page[i] as string);
      });
      if (gone.length) await redis.zrem(index, ...gone);
      const last = page.at(-1);
      return { batches, nextCursor: ids.length > query.limit && last !== undefined ? encodeBatchCursor(last) : null };
    },

    async cancel(id) {
      const record = await mustGet(id);
      if (record.state !== 'open') return { summary: await mustSummary(id), pending: 0 };
      await redis.hsetnx(keys.batch(id), 'cancelRequestedAt', String(Date.now()));
      const children = await readChildren(redis, keys, await memberIds(redis, keys, id), 'light');
      const open = children.filter((c) => c.status === 'queued' || c.status === 'running');
      // Queued children first (so no host picks them up meanwhile), highest index first (the
      // last to be taken), a few at a time.
      open.sort((a, b) => (a.status === b.status ? b.index - a.index : a.status === 'queued' ? -1 : 1));
      let pending = 0;
      for (let i = 0; i < open.length; i += 32) {
        const results = await Promise.all(
          open.slice(i, i + 32).map((c) =>
            jobs.cancel(c.jobId).catch((err: unknown) => {
              if (err instanceof JobNotFoundError) return { pending: false };
              throw err;
            }),
          ),
        );
        pending += results.filter((r) => r.pending).length;
      }
      return { summary: await mustSummary(id), pending };
    },

    async retryFailed(id, retryOptions = {}) {
      const include = new Set<JobStatus>(retryOptions.include ?? ['failed']);
      const batch = await mustGet(id);
      const ids = await memberIds(redis, keys, id);
      const light = await readChildren(redis, keys, ids, 'light');
      const targets: Array<{ index: number; record: JobRecord }> = [];
      for (const c of light.filter((x) => include.has(x.status))) {
        const record = await store.get(c.jobId);
        if (record && !record.retriedBy && include.has(record.status)) targets.push({ index: c.index, record });
      }
      const { retried } = targets.length ? await retryChildren(batch, targets) : { retried: [] };
      return { retried, summary: await mustSummary(id) };
    },

    async retryJob(id) {
      if (!isJobId(id)) throw new InvalidArgumentError('id', 'is not a job id');
      const record = await store.get(id);
      if (!record) throw new JobNotFoundError(id);
      if (record.retriedBy) {
        const existing = await store.get(record.retriedBy);
        if (existing) return { job: existing, created: false };
      }
      if (record.status !== 'failed' && record.status !== 'canceled') throw new NotRetryableError(id, record.status);
      const batch = record.batchId ? await get(record.batchId) : undefined;
      if (batch) {
        const index = await redis.lpos(keys.batchMembers(batch.id), id);
        if (index !== null) {
          const { records } = await retryChildren(batch, [{ index, record }]);
          const next = records[0];
          if (next) return { job: next, created: true };
          const again = await store.get(id);
          const existing = again?.retriedBy ? await store.get(again.retriedBy) : undefined;
          if (existing) return { job: existing, created: false };
          throw new NotRetryableError(id, again?.status ?? record.status);
        }
      }
      // Not (or no longer) in a batch: a plain new job with the same spec.
      const now = Date.now();
      const { batchId: _batchId, ...fresh } = newChild(record.spec, '', record.owner ?? ANONYMOUS_OWNER, now, id);
      const claim = (await claimRetryScript.run(redis, [keys.record(id)], [fresh.id, now])) as [number, string];
      if (Number(claim[0]) !== 1) {
        const existing = claim[1] ? await store.get(claim[1]) : undefined;
        if (existing) return { job: existing, created: false };
        throw new NotRetryableError(id, isJobStatus(claim[1]) ? claim[1] : record.status);
      }
      await store.create(fresh);
      try {
        await jobQueues[fresh.kind].add(fresh.kind, { jobId: fresh.id }, { jobId: fresh.id, priority: toBullPriority(fresh.spec.priority) });
      } catch (cause) {
        await transitionJob(deps, fresh.id, 'failed', { set: { error: { code: 'ENQUEUE_FAILED', message: 'the job could not be enqueued' }, finishedAt: Date.now() } }).catch(onError);
        throw new EnqueueError(fresh.id, { cause });
      }
      await bus.publish({ type: 'state', jobId: fresh.id, kind: fresh.kind, status: 'queued', previous: null, at: now }).catch(onError);
      return { job: fresh, created: true };
    },

    async prepareFinalization(id): Promise<FinalizationInput | undefined> {
      const record = await get(id);
      if (!record || record.state !== 'open') return undefined;
      const children = await readChildren(redis, keys, await memberIds(redis, keys, id), 'full');
      if (children.some((c) => c.status === 'queued' || c.status === 'running')) return undefined;
      const counts = countChildren(children);
      return {
        record,
        request: (await request(id)) ?? null,
        children,
        counts,
        status: finalStatusOf(record, counts),
        previousJobIds: await retryChains(redis, keys, children),
      };
    },

    async commitFinalization(input, outcome) {
      const now = Date.now();
      const fields: string[] = ['manifestKey', outcome.manifestKey];
      if (outcome.contactSheetKey) fields.push('contactSheetKey', outcome.contactSheetKey);
      if (outcome.error) fields.push('finalizeError', JSON.stringify(outcome.error));
      const { record } = input;
      const [committed, item] = (await commitBatchScript.run(
        redis,
        [keys.batch(record.id), keys.batchMembers(record.id), keys.batchStats, keys.webhookOutbox],
        [record.round, input.status, now, ttl, record.id, ...fields],
      )) as [number, string];
      if (Number(committed) !== 1) return false;
      if (!outcome.error) await redis.hdel(keys.batch(record.id), 'finalizeError');
      if (!outcome.contactSheetKey) await redis.hdel(keys.batch(record.id), 'contactSheetKey');
      // The delivery is already in the outbox (same script); relay it now, else the sweep will.
      if (item) await outbox.relay(item).catch(onError);
      return true;
    },

    async sweep(sweepOptions = {}) {
      const quietMs = sweepOptions.quietMs ?? 60_000;
      const ids = await redis.zrevrangebylex(keys.batchIndex, '+', '-', 'LIMIT', 0, sweepOptions.limit ?? 200);
      let queued = 0;
      for (const id of ids) {
        const record = await get(id);
        if (!record || record.state !== 'open') continue;
        const children = await readChildren(redis, keys, await memberIds(redis, keys, id), 'light');
        if (children.some((c) => c.status === 'queued' || c.status === 'running')) continue;
        const lastChange = Math.max(record.updatedAt, ...children.map((c) => c.finishedAt ?? 0));
        if (Date.now() - lastChange < quietMs) continue;
        // One sweep job per round (BullMQ ignores a duplicate id).
        await queue.add('finalize', { batchId: id, round: record.round }, { ...batchParentOptions(), jobId: `${id}-r${record.round}-sweep` });
        queued++;
      }
      return queued;
    },

    async stateCounts() {
      const hash = await redis.hgetall(keys.batchStats);
      const out = { open: 0, completed: 0, completed_with_errors: 0, canceled: 0 } as Record<'open' | BatchFinalStatus, number>;
      for (const state of ['open', ...BATCH_FINAL_STATUSES] as const) out[state] = Math.max(0, Number(hash[state] ?? 0));
      return out;
    },

    close() {
      closing ??= (async () => {
        await settleStartup();
        for (const step of [() => flows.close(), () => queue.close(), ...Object.values(jobQueues).map((q) => () => q.close()), () => bus.close(), () => closeRedis(bullConnection)]) {
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

// ---- cursors (opaque base64url, bound to their listing) ----

function encodeChildCursor(status: JobStatus | undefined, index: number): string {
  return Buffer.from(`c1|${status ?? 'all'}|${index}`, 'utf8').toString('base64url');
}

function decodeChildCursor(cursor: string, status: JobStatus | undefined): number {
  const bad = (why: string) => new InvalidArgumentError('cursor', why);
  if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('is not a cursor from a previous page');
  const [version, scope, index, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (version !== 'c1' || rest.length || !/^\d{1,6}$/.test(index ?? '') || !(scope === 'all' || isJobStatus(scope))) throw bad('is not a cursor from a previous page');
  if (scope !== (status ?? 'all')) throw bad(`belongs to a listing with status=${scope}`);
  return Number(index);
}

function encodeBatchCursor(lastId: string): string {
  return Buffer.from(`b1|${lastId}`, 'utf8').toString('base64url');
}

function decodeBatchCursor(cursor: string): string {
  const [version, id, ...rest] = Buffer.from(cursor.length <= 128 ? cursor : '', 'base64url').toString('utf8').split('|');
  if (version !== 'b1' || rest.length || !isBatchId(id)) throw new InvalidArgumentError('cursor', 'is not a cursor from a previous page');
  return id;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
