import type { SamplerCheckpoint } from '@asyncdiff/asyncdiff';
import { keyLayout, type JobSpec, type RedisClient } from '@asyncdiff/queue';
import { z } from 'zod';

/** What a checkpoint was taken for; a resume only uses a checkpoint of exactly this generation. */
interface CheckpointMeta {
  readonly version: 1;
  readonly model: string;
  readonly seed: number;
  readonly classId: number;
  readonly count: number;
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: string;
  readonly step: number;
  readonly schedulerState: SamplerCheckpoint['scheduler'];
  readonly savedAt: number;
  readonly host: string;
}

const metaSchema = z.object({
  version: z.literal(1),
  model: z.string(),
  seed: z.number(),
  classId: z.number(),
  count: z.number(),
  steps: z.number(),
  guidance: z.number(),
  scheduler: z.string(),
  step: z.number().int().nonnegative(),
  schedulerState: z.object({
    version: z.literal(1),
    kind: z.string(),
    steps: z.number(),
    nextStepIndex: z.number(),
    previousModelOutput: z.array(z.number()),
  }),
  savedAt: z.number(),
  host: z.string(),
});

/** A resume point read back for a job. */
export interface StoredCheckpoint {
  readonly checkpoint: SamplerCheckpoint;
  readonly savedAt: number;
  readonly host: string;
}

/**
 * Writes a checkpoint only while the job record's `runId` is the writer's (ARGV[1]; '' = no
 * fence): a run that lost its job to another run must not replace (or drop) the new owner's.
 * KEYS: checkpoint, job record. ARGV: runId, meta JSON, latent bytes, TTL s.
 */
const SAVE_FENCED = `
if ARGV[1] ~= '' and redis.call('HGET', KEYS[2], 'runId') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'latent', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`;

/** Deletes a checkpoint under the same fence. KEYS: checkpoint, job record. ARGV: runId. */
const DELETE_FENCED = `
if ARGV[1] ~= '' and redis.call('HGET', KEYS[2], 'runId') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

/**
 * Sampler checkpoints of unfinished jobs, so a job handed back on drain (or retried after a
 * failure) resumes at the step it had reached on whichever host takes it next, instead of step 0.
 *
 * Redis: `<prefix>:ckpt:<jobId>` hash {`meta`: JSON, `latent`: float32 little-endian bytes}, TTL
 * `ttlSec`. Written on drain/retryable failure (and every `checkpointIntervalMs` while running),
 * read at job start, deleted when the job ends (succeeded, canceled, failed for good). A
 * checkpoint that does not match the job's spec, or holds non-finite values, is ignored. Writes
 * given a `runId` are fenced: they happen only while that run owns the job record.
 */
export class CheckpointStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly ttlSec: number,
  ) {}

  private key(jobId: string): string {
    return `${this.prefix}:ckpt:${jobId}`;
  }

  /** Saves (replaces) the job's resume point; with `runId`, only while that run owns the job. Resolves whether it wrote. */
  async save(jobId: string, spec: JobSpec, checkpoint: SamplerCheckpoint, host: string, runId?: string): Promise<boolean> {
    const meta: CheckpointMeta = {
      version: 1,
      model: spec.model,
      seed: spec.seed,
      classId: spec.classId,
      count: spec.count,
      steps: spec.steps,
      guidance: spec.guidance,
      scheduler: spec.scheduler,
      step: checkpoint.step,
      schedulerState: checkpoint.scheduler,
      savedAt: Date.now(),
      host,
    };
    const latent = Buffer.from(checkpoint.latent.buffer, checkpoint.latent.byteOffset, checkpoint.latent.byteLength);
    const written = await this.redis.eval(SAVE_FENCED, 2, this.key(jobId), keyLayout(this.prefix).record(jobId), runId ?? '', JSON.stringify(meta), Buffer.from(latent), this.ttlSec);
    return written === 1;
  }

  /** The job's resume point if one was saved for this very spec and sample size; else undefined. */
  async load(jobId: string, spec: JobSpec, latentLength: number): Promise<StoredCheckpoint | undefined> {
    const [metaBuf, latentBuf] = await this.redis.hmgetBuffer(this.key(jobId), 'meta', 'latent');
    if (!metaBuf || !latentBuf) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(metaBuf.toString('utf8'));
    } catch {
      return undefined;
    }
    const parsed = metaSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    const m = parsed.data;
    const same =
      m.model === spec.model && m.seed === spec.seed && m.classId === spec.classId && m.count === spec.count && m.steps === spec.steps && m.guidance === spec.guidance && m.scheduler === spec.scheduler;
    if (!same || m.step > spec.steps || m.schedulerState.nextStepIndex !== m.step) return undefined;
    if (latentBuf.byteLength !== latentLength * 4) return undefined;
    const latent = new Float32Array(latentLength);
    Buffer.from(latent.buffer).set(latentBuf);
    if (!latent.every(Number.isFinite)) return undefined;
    return {
      checkpoint: { step: m.step, latent, scheduler: m.schedulerState as SamplerCheckpoint['scheduler'] },
      savedAt: m.savedAt,
      host: m.host,
    };
  }

  /** Forgets the job's resume point (it ended); with `runId`, only while that run owns the job. */
  async delete(jobId: string, runId?: string): Promise<void> {
    await this.redis.eval(DELETE_FENCED, 2, this.key(jobId), keyLayout(this.prefix).record(jobId), runId ?? '');
  }
}
