
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { jobIdFloor } from '../domain/job-id.js';
import { recordFromHash, recordToHash, type JobRecord } from '../domain/job-record.js';
import type { CreateResult, IdempotencyClaim, JobStore, TransitionChanges, TransitionResult } from './job-store.js';
import type { KeyLayout } from './keys.js';
import { allowedFrom, isJobStatus, isTerminal, JOB_STATUSES, type JobStatus } from '../domain/lifecycle.js';
import { pairsToObject } from './lua.js';
import { ANONYMOUS_OWNER } from '../domain/owner.js';
import { createScript, progressScript, requestCancelScript, transitionScript } from './store-scripts.js';
import type { WorkLimits } from '../domain/work-units.js';
import type { RedisClient } from './redis.js';

/** Store settings: key layout and lifetimes. */
export interface RedisJobStoreConfig {
  readonly keys: KeyLayout;
  readonly recordTtlSec: number;
  readonly idempotencyTtlSec: number;
}

/** The Redis implementation of `JobStore` (one hash per job, zset indexes, Lua-guarded writes). */
export function createRedisJobStore(redis: RedisClient, config: RedisJobStoreConfig): JobStore {
  const { keys, recordTtlSec } = config;
  const statusIndexes = JOB_STATUSES.map((s) => keys.index(s));

  const get = async (id: string): Promise<JobRecord | undefined> => {
    const hash = await redis.hgetall(keys.record(id));
    return recordFromHash(hash);
  };

  return {
    async create(record, idem?: IdempotencyClaim, limits?: WorkLimits): Promise<CreateResult> {
      const fields = Object.entries(recordToHash(record)).flat();
      const pruneBelow = jobIdFloor(Date.now() - recordTtlSec * 1000);
      const { owner } = record;
      const result = (await createScript.run(
        redis,
        [
          keys.record(record.id),
          keys.idempotency(idem?.keyHash ?? 'none'),
          keys.index(),
          ...statusIndexes,
          keys.ownerIndex(owner),
          ...JOB_STATUSES.map((s) => keys.ownerIndex(owner, s)),
          keys.queuedWork(owner),
          keys.queuedWorkTotal,
        ],
        [
          record.id,
          recordTtlSec,
          idem ? 1 : 0,
          idem ? `${record.id} ${idem.requestHash}` : '',
          config.idempotencyTtlSec,
          pruneBelow,
          record.work,
          limits?.perOwner ?? 0,
          limits?.total ?? 0,
          ...fields,
        ],
      )) as [number, string];
      const code = Number(result[0]);
      if (code === 1) return { created: true, record };
      if (code < 0) return { created: false, refused: code === -1 ? 'owner' : 'total', queuedUnits: Number(result[1]) };
      const [existingId = '', requestHash = ''] = result[1].split(' ');
      return { created: false, existingId, requestHash };
    },

    get,

    async list({ status, cursor, limit, owner }) {
      const index = owner === undefined ? keys.index(status) : keys.ownerIndex(owner, status);
      const max = cursor === undefined ? '+' : `(${decodeCursor(cursor, status)}`;
      const ids = await redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, limit + 1);
      const page = ids.slice(0, limit);
      const pipeline = redis.pipeline();
      for (const id of page) pipeline.hgetall(keys.record(id));
      const hashes = (await pipeline.exec()) ?? [];
      const jobs: JobRecord[] = [];
      const expired: string[] = [];
      hashes.forEach(([err, hash], i) => {
        const record = err ? undefined : recordFromHash(hash as Record<string, string>);
        if (record) jobs.push(record);
        else if (!err) expired.push(page[i] as string);
      });
      // Records expire by TTL; their index entries are dropped lazily here.
      if (expired.length) await redis.zrem(index, ...expired);
      const last = page.at(-1);
      return { jobs, nextCursor: ids.length > limit && last !== undefined ? encodeCursor(status, last) : null };
    },

    async transition(id: string, to: JobStatus, changes: TransitionChanges = {}): Promise<TransitionResult> {
      const set = Object.entries(changes.set ?? {}).flatMap(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
      // Owner and batch never change after creation: read them first to name their keys.
      const [owner, batchId] = await redis.hmget(keys.record(id), 'owner', 'batchId');
      const ownerOf = owner ?? ANONYMOUS_OWNER;
      const result = (await transitionScript.run(
        redis,
        [
          keys.record(id),
          keys.cancelFlag(id),
          keys.terminalStats,
          ...statusIndexes,
          keys.finishedIndex,
          keys.webhookOutbox,
          ...JOB_STATUSES.map((s) => keys.ownerIndex(ownerOf, s)),
          keys.queuedWork(ownerOf),
          keys.queuedWorkTotal,
          keys.batch(batchId ?? ''),
          keys.outputExpiry,
        ],
        [
          id,
          to,
          allowedFrom(to).join(' '),
          changes.runId ?? '',
          Date.now(),
          recordTtlSec,
          isTerminal(to) ? 1 : 0,
          changes.incrementAttempts ? 1 : 0,
          (changes.remove ?? []).join(' '),
          ...set,
        ],
      )) as unknown[];
      const code = Number(result[0]);
      const previous = String(result[1] ?? '');
      if (code === 1 && isJobStatus(previous)) {
        const record = recordFromHash(pairsToObject(result, 3));
        const item = String(result[2] ?? '');
        if (record) return { ok: true, previous, record, ...(item !== '' && { webhookOutboxItem: item }) };
      }
      const reason = code === -1 ? 'missing' : code === -3 ? 'run' : 'status';
      return { ok: false, reason, ...(isJobStatus(previous) && { status: previous }) };
    },

    async writeProgress(id, runId, progress) {
      const r = Number(await progressScript.run(redis, [keys.record(id), keys.cancelFlag(id)], [runId, JSON.stringify(progress), Date.now()]));
      return r < 0 ? 'lost' : r === 1 ? 'cancel' : 'ok';
    },

    async requestCancel(id) {
      const [code, status] = (await requestCancelScript.run(redis, [keys.record(id), keys.cancelFlag(id)], [Date.now(), recordTtlSec])) as [number, string];
      return code === 1 && isJobStatus(status) ? status : undefined;
    },

    async isCancelRequested(id) {
      return (await redis.exists(keys.cancelFlag(id))) === 1;
    },

    async terminalCounts() {
      const hash = await redis.hgetall(keys.terminalStats);
      return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));
    },
  };
}
