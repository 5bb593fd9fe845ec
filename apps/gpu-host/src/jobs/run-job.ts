import { setTimeout as sleep } from 'node:timers/promises';

import type { SamplerCheckpoint } from '@asyncdiff/asyncdiff';
import { ModelError, sampleSize } from '@asyncdiff/models';
import { isRetryable, JobCanceledError, LeaseLostError, WorkerShutdownError, type JobHandler, type JobHandlerContext, type JobHandlerResult, type JobSpec } from '@asyncdiff/queue';

import { denoise, type DenoiseOutcome } from './denoise.js';
import { encodeOutputs } from './encode-outputs.js';
import type { GroupRuntime, RunningJob } from './group-runtime.js';
import { decideParallel, planParallel, type ParallelDecision } from './parallel-plan.js';
import { uploadOutputs, uploadSidecar } from './publish-outputs.js';
import type { JobSidecar } from './sidecar.js';

/**
 * The coordinator's job handler for one replica group: model → parallel plan → devices →
 * denoise (resuming from a stored checkpoint if an earlier run left one) → encode → upload →
 * sidecar. Devices are released before encoding so the next job starts while this one uploads.
 * When the run is cut short, the checkpoint is stored (drain, retryable failure) or dropped
 * (cancel, permanent failure); a successful run deletes it.
 */
export function createJobHandler(group: GroupRuntime): JobHandler {
  return (ctx) => runJob(group, ctx);
}

async function runJob(group: GroupRuntime, ctx: JobHandlerContext): Promise<JobHandlerResult> {
  const pickedAt = Date.now();
  const leave = group.arrive();
  try {
    return await runArrived(group, ctx, pickedAt, leave);
  } finally {
    leave();
  }
}

async function runArrived(group: GroupRuntime, ctx: JobHandlerContext, pickedAt: number, leave: () => void): Promise<JobHandlerResult> {
  const { job, signal } = ctx;
  const spec = job.spec;
  const model = group.model(spec.model);
  if (model.kind !== job.kind) throw new ModelError('MODEL_WRONG_KIND', `model "${model.name}" makes ${model.kind} jobs, not ${job.kind}`, 'model');

  const stored = await group.checkpoints.load(job.id, spec, spec.count * sampleSize(model)).catch((err: unknown) => {
    group.options.onError(err);
    return undefined;
  });
  if (stored) void ctx.reportProgress(stored.checkpoint.step, spec.steps, { phase: 'resumed' });

  const plan = planParallel(spec.parallel, group.options.defaultParallel, group.devices.length);
  if (plan.demand.kind === 'auto') {
    // Jobs of a burst reach the group a few ms apart: let them arrive before deciding.
    if (group.allocator.freeCount === group.devices.length && group.options.autoSettleMs > 0) await sleep(group.options.autoSettleMs);
    await group.backlog.refresh();
  }
  leave();
  const lease = await group.allocator.acquire(plan.demand, signal).catch(async (err: unknown) => {
    if (stored && signal.reason instanceof JobCanceledError) await group.checkpoints.delete(job.id).catch(group.options.onError);
    throw err;
  });
  const decision: ParallelDecision = decideParallel(spec.parallel, plan, lease.devices.length);
  const running: RunningJob = {
    jobId: job.id,
    kind: job.kind,
    model: model.name,
    step: stored?.checkpoint.step ?? 0,
    steps: spec.steps,
    mode: decision.used.mode,
    stages: decision.used.stages,
    devices: lease.devices.map((d) => group.devices[d]!.label),
    startedAt: pickedAt,
    stepsThisRun: 0,
    denoiseStartedAt: undefined,
  };
  const untrack = group.track(running);
  const saver = checkpointSaver(group, job.id, spec);
  let last: SamplerCheckpoint | undefined = stored?.checkpoint;
  let outcome: DenoiseOutcome;
  try {
    outcome = await denoise({
      group,
      ctx,
      model,
      spec,
      parallel: decision.used,
      lease,
      running,
      resume: stored?.checkpoint,
      onCheckpoint: (c) => {
        last = c;
        saver.maybe(c);
      },
    });
  } catch (err) {
    await settleCheckpoint(group, job.id, spec, saver, last, signal, err);
    throw err;
  } finally {
    lease.release();
    untrack();
  }
  last = undefined;

  try {
    const { result } = outcome;
    void ctx.reportProgress(spec.steps, spec.steps, { phase: 'encode' });
    const t0 = performance.now();
    const files = await encodeOutputs({ latents: result.latents, images: result.images, sampleDims: result.sampleDims, format: spec.output.format, scale: spec.output.scale });
    const encodeMs = performance.now() - t0;
    void ctx.reportProgress(spec.steps, spec.steps, { phase: 'upload' });
    const meta = { 'job-id': job.id, seed: String(spec.seed), model: model.name };
    const t1 = performance.now();
    const outputs = await uploadOutputs(group.store, job.id, files, meta);
    const uploadMs = performance.now() - t1;
    const finishedAt = Date.now();
    const timings = {
      queueWaitMs: Math.max(0, pickedAt - job.createdAt),
      deviceWaitMs: lease.waitedMs,
      engineOpenMs: outcome.engineOpenMs,
      denoiseMs: outcome.denoiseMs,
      encodeMs,
      uploadMs,
      runMs: finishedAt - pickedAt,
      phases: result.phases,
      restarts: result.restarts,
    };
    const sidecar: JobSidecar = {
      version: 1,
      jobId: job.id,
      kind: job.kind,
      model: model.name,
      prompt: spec.prompt,
      classId: spec.classId,
      seed: spec.seed,
      steps: result.steps,
      guidance: result.guidance,
      scheduler: result.scheduler,
      count: spec.count,
      output: { format: spec.output.format, scale: spec.output.scale, frames: model.frames, width: model.width * spec.output.scale, height: model.height * spec.output.scale },
      parallel: decision,
      resumedFrom: stored ? { step: stored.checkpoint.step, host: stored.host, savedAt: stored.savedAt } : null,
      attempt: job.attempts,
      timings,
      host: { hostId: group.hostId, group: group.id, devices: running.devices },
      outputs: outputs.map(({ key, contentType, bytes, sha256 }) => ({ key, contentType, bytes, sha256 })),
      createdAt: job.createdAt,
      startedAt: pickedAt,
      finishedAt,
    };
    const side = await uploadSidecar(group.store, sidecar, meta);
    await group.checkpoints.delete(job.id).catch(group.options.onError);
    return {
      outputs: [...outputs, side],
      timings: {
        deviceWaitMs: round(lease.waitedMs),
        engineOpenMs: round(outcome.engineOpenMs),
        denoiseMs: round(outcome.denoiseMs),
        encodeMs: round(encodeMs),
        uploadMs: round(uploadMs),
        stageRestarts: result.restarts,
        resumedFromStep: stored?.checkpoint.step ?? 0,
        stages: decision.used.stages,
      },
    };
  } catch (err) {
    // Denoising is done: a retry of an encode/upload failure should not denoise again.
    const final = outcome.result;
    if (!signal.aborted && isRetryable(err)) {
      await group.checkpoints
        .save(job.id, spec, { step: spec.steps, latent: final.latents, scheduler: { version: 1, kind: final.scheduler, steps: spec.steps, nextStepIndex: spec.steps, previousModelOutput: [] } }, group.hostId)
        .catch(group.options.onError);
    }
    throw err;
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Saves a running job's checkpoint every `checkpointIntervalMs`, one write at a time. */
function checkpointSaver(group: GroupRuntime, jobId: string, spec: JobSpec): { maybe(c: SamplerCheckpoint): void; idle(): Promise<void> } {
  const every = group.options.checkpointIntervalMs;
  let lastSavedAt = performance.now();
  let inflight: Promise<void> | undefined;
  return {
    maybe(c) {
      if (every <= 0 || inflight || performance.now() - lastSavedAt < every) return;
      lastSavedAt = performance.now();
      inflight = group.checkpoints
        .save(jobId, spec, c, group.hostId)
        .catch(group.options.onError)
        .finally(() => {
          inflight = undefined;
        });
    },
    idle: () => inflight ?? Promise.resolve(),
  };
}

/**
 * After a cut-short run: keep the resume point when the job will run again (drain hand-back,
 * retryable failure), drop it when it will not (cancel, permanent failure), and leave it alone
 * when another run owns the job now (lease lost).
 */
async function settleCheckpoint(
  group: GroupRuntime,
  jobId: string,
  spec: JobSpec,
  saver: { idle(): Promise<void> },
  last: SamplerCheckpoint | undefined,
  signal: AbortSignal,
  err: unknown,
): Promise<void> {
  await saver.idle();
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  try {
    if (reason instanceof LeaseLostError) return;
    const again = reason instanceof WorkerShutdownError || (!signal.aborted && isRetryable(err));
    if (again && last) await group.checkpoints.save(jobId, spec, last, group.hostId);
    else if (!again || reason instanceof JobCanceledError) await group.checkpoints.delete(jobId);
  } catch (e) {
    group.options.onError(e);
  }
}
