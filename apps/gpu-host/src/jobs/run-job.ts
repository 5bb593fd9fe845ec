import { setTimeout as sleep } from 'node:timers/promises';

import { SamplingAbortedError, modelRows, type SamplerCheckpoint } from '@asyncdiff/asyncdiff';
import { latentDims, receiptConfigOf, type BatchShape, type ResolvedParallel } from '@asyncdiff/engine';
import { findQualityReceipt, ModelError, readQualityReceipts, sampleSize, type GeneratorPackage, type QualityReceipt } from '@asyncdiff/models';
import { isRetryable, JobCanceledError, LeaseLostError, WorkerShutdownError, type JobHandler, type JobHandlerContext, type JobHandlerResult, type JobSpec, type JobWarning } from '@asyncdiff/queue';

import type { DeviceDemand, DeviceLease } from '../device-allocator.js';
import { JobTimeoutError } from '../errors.js';
import type { RunOutcome } from '../telemetry/host-metrics.js';
import type { HostLogger } from '../telemetry/logger.js';
import { denoise, type DenoiseOutcome } from './denoise.js';
import { encodeOutputs } from './encode-outputs.js';
import type { GroupRuntime, RunningJob } from './group-runtime.js';
import { decideParallel, planParallel, type ParallelDecision } from './parallel-plan.js';
import { uploadOutputs, uploadSidecar } from './publish-outputs.js';
import { startRunDeadline } from './run-deadline.js';
import type { JobSidecar } from './sidecar.js';

/**
 * The coordinator's job handler for one replica group: model → parallel plan → devices →
 * denoise (resuming from a stored checkpoint if an earlier run left one) → encode → upload →
 * sidecar. Devices are released before encoding so the next job starts while this one uploads.
 * When the run is cut short, the checkpoint is stored (drain, retryable failure) or dropped
 * (cancel, permanent failure); a successful run deletes it. From the moment it holds devices a
 * run has `timeoutSec` (the model's default if the spec has none) before it fails with
 * `TIMEOUT`. A run that lost its lease (another run owns the job) or was canceled stops at the
 * next step or phase boundary: it encodes, uploads and saves nothing more.
 */
export function createJobHandler(group: GroupRuntime): JobHandler {
  return (ctx) => runJob(group, ctx);
}

/** What a run learned about itself as it went, for its last log line and the run-time histogram. */
interface RunFacts {
  model: string | undefined;
  mode: RunningJob['mode'] | undefined;
  step: number;
}

async function runJob(group: GroupRuntime, ctx: JobHandlerContext): Promise<JobHandlerResult> {
  const pickedAt = Date.now();
  const { job, signal } = ctx;
  const log = group.logger.child({ jobId: job.id });
  const facts: RunFacts = { model: undefined, mode: undefined, step: 0 };
  const leave = group.arrive();
  const ended = (outcome: RunOutcome) => {
    if (facts.model !== undefined) group.metrics.jobEnded(job.kind, facts.model, facts.mode ?? 'sequential', outcome, Date.now() - pickedAt);
  };
  try {
    const result = await runArrived(group, ctx, pickedAt, leave, log, facts);
    ended('succeeded');
    log.info({ step: facts.step, runMs: Date.now() - pickedAt }, 'job succeeded');
    return result;
  } catch (err) {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    const outcome: RunOutcome =
      reason instanceof WorkerShutdownError ? 'handed_back' : reason instanceof JobCanceledError ? 'canceled' : reason instanceof LeaseLostError ? 'lost' : 'failed';
    ended(outcome);
    if (outcome === 'failed') log.warn({ step: facts.step, err }, 'job run failed');
    else log.info({ step: facts.step, outcome }, `job run stopped: ${outcome}`);
    throw err;
  } finally {
    leave();
  }
}

async function runArrived(group: GroupRuntime, ctx: JobHandlerContext, pickedAt: number, leave: () => void, log: HostLogger, facts: RunFacts): Promise<JobHandlerResult> {
  const { job, signal } = ctx;
  const spec = job.spec;
  const model = group.model(spec.model);
  if (model.kind !== job.kind) throw new ModelError('MODEL_WRONG_KIND', `model "${model.name}" makes ${model.kind} jobs, not ${job.kind}`, 'model');
  facts.model = model.name;

  const stored = await group.checkpoints.load(job.id, spec, latentLength(model, spec)).catch((err: unknown) => {
    group.options.onError(err);
    return undefined;
  });
  if (stored) void ctx.reportProgress(stored.checkpoint.step, spec.steps, { phase: 'resumed' });
  const retry = job.attempts > 1;
  // Queue wait of a first run: submission → pick-up (a retry's would include its earlier runs).
  group.metrics.jobStarted(job.kind, model.name, retry ? undefined : Math.max(0, pickedAt - job.createdAt), { resumed: stored !== undefined, retry });
  facts.step = stored?.checkpoint.step ?? 0;

  const receiptFor = receiptLookup(group, model);
  const plan = planParallel(spec.parallel, {
    hostDefault: group.options.defaultParallel,
    hostQuality: group.options.defaultQuality,
    groupDevices: group.devices.length,
    rows: modelRows(spec.count, spec.guidance),
    receiptFor,
  });
  if (plan.demand.kind === 'auto') {
    // Jobs of a burst reach the group a few ms apart: let them arrive before deciding.
    if (group.allocator.freeCount === group.devices.length && group.options.autoSettleMs > 0) await sleep(group.options.autoSettleMs);
    await group.backlog.refresh();
  }
  leave();
  const dropCheckpointOnCancel = async (err: unknown): Promise<never> => {
    if (stored && signal.reason instanceof JobCanceledError) await group.checkpoints.delete(job.id, job.runId).catch(group.options.onError);
    throw err;
  };
  // A job that would run on one device joins that device's continuous batch (or opens one);
  // the allocator may still answer an `auto` job on an idle group with several devices.
  const grant = batchable(group, spec, plan.demand)
    ? await group.batches.place(model.name, batchShape(model, spec), plan.demand, signal).catch(dropCheckpointOnCancel)
    : undefined;
  const slot = grant?.kind === 'batch' ? grant : undefined;
  const lease: DeviceLease = slot
    ? { devices: [slot.slot.device], wide: false, waitedMs: slot.waitedMs, release: () => undefined }
    : grant?.kind === 'lease'
      ? grant.lease
      : await group.allocator.acquire(plan.demand, signal).catch(dropCheckpointOnCancel);
  const deadline = startRunDeadline(signal, job.id, spec.timeoutSec ?? model.defaults.timeoutSec);
  const decision: ParallelDecision = decideParallel(spec.parallel, plan, lease.devices.length, receiptFor);
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
    recentSteps: [],
    ...(slot && { batched: true }),
  };
  facts.mode = running.mode;
  log.info(
    { step: running.step, steps: spec.steps, model: model.name, mode: running.mode, stages: running.stages, devices: running.devices, attempt: job.attempts, resumed: stored !== undefined },
    stored ? `job resumed at step ${running.step}` : 'job started',
  );
  const untrack = group.track(running);
  const saver = checkpointSaver(group, job.id, job.runId, spec, signal);
  let last: SamplerCheckpoint | undefined = stored?.checkpoint;
  let outcome: DenoiseOutcome;
  try {
    outcome = await denoise({
      group,
      ctx: { ...ctx, signal: deadline.signal },
      model,
      spec,
      parallel: decision.used,
      lease,
      running,
      resume: stored?.checkpoint,
      log,
      onCheckpoint: (c) => {
        facts.step = c.step;
        last = c;
        saver.maybe(c);
      },
      batch: slot,
    });
  } catch (err) {
    deadline.clear();
    // A member stopped between steps leaves a healthy batch; anything else broke it.
    await slot?.leave(!(err instanceof SamplingAbortedError));
    // Stopped by the clock: the sampler saw an abort, the job sees its timeout.
    const failure = deadline.timedOut ?? err;
    await settleCheckpoint(group, job.id, job.runId, spec, saver, last, signal, failure);
    throw failure;
  } finally {
    lease.release();
    await slot?.leave();
    untrack();
  }
  last = undefined;

  /** Between phases: a run that is no longer the job's (lease lost, canceled, timed out) stops here. */
  const stopIfGone = (): void => {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (reason instanceof LeaseLostError || reason instanceof JobCanceledError) throw reason;
    if (deadline.timedOut) throw deadline.timedOut;
  };
  try {
    const { result } = outcome;
    // Awaited: the progress write also checks that this run still owns the job (else it aborts `signal`).
    await ctx.reportProgress(spec.steps, spec.steps, { phase: 'encode' });
    stopIfGone();
    const t0 = performance.now();
    const files = await encodeOutputs({ latents: outcome.pixels.data, images: result.images, sampleDims: outcome.pixels.sampleDims, format: spec.output.format, scale: spec.output.scale });
    const encodeMs = performance.now() - t0;
    await ctx.reportProgress(spec.steps, spec.steps, { phase: 'upload' });
    stopIfGone();
    const meta = { 'job-id': job.id, seed: String(spec.seed), model: model.name };
    const t1 = performance.now();
    const outputs = await uploadOutputs(group.store, job.id, files, meta, stopIfGone);
    const uploadMs = performance.now() - t1;
    const finishedAt = Date.now();
    const expiresAt = job.outputRetentionSec === undefined ? null : finishedAt + job.outputRetentionSec * 1000;
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
      text: outcome.text
        ? {
            negativePrompt: spec.text?.negativePrompt ?? null,
            width: outcome.text.width,
            height: outcome.text.height,
            truncated: { prompt: outcome.text.truncation.prompt.truncated, negativePrompt: outcome.text.truncation.negativePrompt?.truncated ?? false },
          }
        : null,
      seed: spec.seed,
      steps: result.steps,
      guidance: result.guidance,
      scheduler: result.scheduler,
      count: spec.count,
      output: outputGeometry(outcome.pixels.sampleDims, spec.output),
      parallel: decision,
      batched: slot !== undefined,
      resumedFrom: stored ? { step: stored.checkpoint.step, host: stored.host, savedAt: stored.savedAt } : null,
      attempt: job.attempts,
      timings,
      host: { hostId: group.hostId, group: group.id, devices: running.devices },
      outputs: outputs.map(({ key, contentType, bytes, sha256 }) => ({ key, contentType, bytes, sha256 })),
      createdAt: job.createdAt,
      startedAt: pickedAt,
      finishedAt,
      expiresAt,
    };
    stopIfGone();
    const side = await uploadSidecar(group.store, sidecar, meta);
    await group.checkpoints.delete(job.id, job.runId).catch(group.options.onError);
    return {
      outputs: [...outputs, side],
      warnings: promptWarnings(outcome.text),
      ...(expiresAt !== null && { expiresAt }),
      timings: {
        deviceWaitMs: round(lease.waitedMs),
        engineOpenMs: round(outcome.engineOpenMs),
        denoiseMs: round(outcome.denoiseMs),
        encodeMs: round(encodeMs),
        uploadMs: round(uploadMs),
        stageRestarts: result.restarts,
        resumedFromStep: stored?.checkpoint.step ?? 0,
        stages: decision.used.stages,
        ...(outcome.previews && { previewsPublished: outcome.previews.published, previewsDropped: outcome.previews.dropped }),
      },
    };
  } catch (err) {
    // Denoising is done: a retry of an encode/upload failure should not denoise again.
    const final = outcome.result;
    if (!signal.aborted && isRetryable(err)) {
      await group.checkpoints
        .save(job.id, spec, { step: final.evaluations, latent: final.latents, scheduler: { version: 1, kind: final.scheduler, steps: final.evaluations, nextStepIndex: final.evaluations, previousModelOutput: [] } }, group.hostId, job.runId)
        .catch(group.options.onError);
    } else if (err instanceof JobTimeoutError) {
      await group.checkpoints.delete(job.id, job.runId).catch(group.options.onError);
    }
    throw err;
  } finally {
    deadline.clear();
  }
}

/**
 * The model's quality receipts (models/<name>/quality-receipts.json), read once per job so a
 * freshly measured receipt counts without a restart. A broken file is reported and counts as
 * "none measured": it must not fail the job.
 */
function receiptLookup(group: GroupRuntime, model: GeneratorPackage): (config: ResolvedParallel) => QualityReceipt | undefined {
  let file: ReturnType<typeof readQualityReceipts> | undefined;
  try {
    file = readQualityReceipts(model.dir, model.name);
  } catch (err) {
    group.options.onError(err);
  }
  return (config) => (file ? findQualityReceipt(file, receiptConfigOf(config), String(model.version)) : undefined);
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Floats in a job's checkpoint: its images' latents (text models: 4 × h/8 × w/8 each). */
function latentLength(model: GeneratorPackage, spec: JobSpec): number {
  if (model.format === 'asyncdiff' || !spec.text) return spec.count * (model.format === 'asyncdiff' ? sampleSize(model) : 0);
  const s = model.vae.scaleFactor;
  return spec.count * model.unet.inChannels * (spec.text.height / s) * (spec.text.width / s);
}

/** What the encoded files hold: frames and pixel size after the output scale. */
function outputGeometry(dims: readonly number[], output: JobSpec['output']): JobSidecar['output'] {
  const [height, width] = dims.slice(-2) as [number, number];
  const frames = dims.length === 4 ? (dims[1] as number) : 1;
  return { format: output.format, scale: output.scale, frames, width: width * output.scale, height: height * output.scale };
}

/** What a text job's record should say about its prompts (truncated at 77 tokens). */
function promptWarnings(text: DenoiseOutcome['text']): JobWarning[] {
  if (!text) return [];
  const out: JobWarning[] = [];
  const { prompt, negativePrompt } = text.truncation;
  if (prompt.truncated) out.push({ code: 'PROMPT_TRUNCATED', field: 'prompt', message: `the prompt was cut to the text encoder's 77 tokens; ${prompt.droppedTokens} token(s) dropped: "${prompt.droppedText}"` });
  if (negativePrompt?.truncated) {
    out.push({ code: 'NEGATIVE_PROMPT_TRUNCATED', field: 'negativePrompt', message: `the negative prompt was cut to 77 tokens; ${negativePrompt.droppedTokens} token(s) dropped: "${negativePrompt.droppedText}"` });
  }
  return out;
}

/**
 * Saves a running job's checkpoint every `checkpointIntervalMs`, one write at a time, and none
 * once the run is stopped (a run that lost its lease must not overwrite the new owner's).
 */
function checkpointSaver(group: GroupRuntime, jobId: string, runId: string | undefined, spec: JobSpec, signal: AbortSignal): { maybe(c: SamplerCheckpoint): void; idle(): Promise<void> } {
  const every = group.options.checkpointIntervalMs;
  let lastSavedAt = performance.now();
  let inflight: Promise<void> | undefined;
  return {
    maybe(c) {
      if (every <= 0 || inflight || signal.aborted || performance.now() - lastSavedAt < every) return;
      lastSavedAt = performance.now();
      inflight = group.checkpoints
        .save(jobId, spec, c, group.hostId, runId)
        .then(() => undefined, group.options.onError)
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
  runId: string | undefined,
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
    if (again && last) await group.checkpoints.save(jobId, spec, last, group.hostId, runId);
    else if (!again || reason instanceof JobCanceledError) await group.checkpoints.delete(jobId, runId);
  } catch (e) {
    group.options.onError(e);
  }
}

/**
 * Whether a job runs in a device's continuous batch: batching on, a one-device demand
 * (`sequential`, or `auto`, which the allocator may still widen on an idle group) and rows that
 * fit a batch. Text jobs too: they encode and decode around the batch, on the engine's model host.
 */
function batchable(group: GroupRuntime, spec: JobSpec, demand: DeviceDemand): boolean {
  if (group.options.batching !== 'continuous') return false;
  if (demand.kind === 'exact' && demand.count !== 1) return false;
  return modelRows(spec.count, spec.guidance) <= group.options.maxBatchRows;
}

/** What placement knows of a job before it runs: its images, guidance and latent size. */
function batchShape(model: GeneratorPackage, spec: JobSpec): BatchShape {
  if (model.format !== 'diffusers' || !spec.text) return { images: spec.count, guidance: spec.guidance };
  return { images: spec.count, guidance: spec.guidance, sampleDims: latentDims(model, spec.text.width, spec.text.height) };
}
