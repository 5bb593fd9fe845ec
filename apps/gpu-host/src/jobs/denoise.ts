import type { SamplerCheckpoint, StepProgress } from '@asyncdiff/asyncdiff';
import { SamplingAbortedError } from '@asyncdiff/asyncdiff';
import { Engine, TextToImage, classConditioning, latentDims, openModelHost, previewRenderer, type GenerateRequest, type GenerateResult, type ResolvedParallel, type TextToImageResult } from '@asyncdiff/engine';
import type { GeneratorPackage } from '@asyncdiff/models';
import { RECENT_STEPS_KEPT, type JobHandlerContext, type JobSpec } from '@asyncdiff/queue';

import type { DeviceLease } from '../device-allocator.js';
import type { HostLogger } from '../telemetry/logger.js';
import { stepRecorder } from '../telemetry/step-recorder.js';
import type { SlotGrant } from './batch-slots.js';
import type { GroupRuntime, RunningJob } from './group-runtime.js';
import { previewPublisher, type PreviewPublisher } from './preview-publisher.js';

/**
 * The cache key of an engine: model, the cut (N, stride) and the devices its stages occupy.
 * Warm-up and time shift are per generation, so they share the same stage processes.
 */
export function engineKey(model: GeneratorPackage, p: ResolvedParallel, devices: readonly number[]): string {
  const cfg = p.mode === 'sequential' ? 'seq' : p.mode === 'cfg' ? 'cfg' : `${p.mode}-N${p.stages}S${p.stride}`;
  return `${model.name}@${model.version}/${cfg}/d${devices.join(',')}`;
}

/**
 * Per group and engine key, the log of the job holding that engine now: an engine outlives the
 * job that opened it, so its restart callback must not name that first job.
 */
const holders = new WeakMap<GroupRuntime, Map<string, HostLogger>>();

/** What one denoising run produced: the sampler's result and the pixels to encode. */
export interface DenoiseOutcome {
  readonly result: GenerateResult;
  /** What to encode: class models' samples as they are, text models' VAE-decoded RGB. */
  readonly pixels: { readonly data: Float32Array; readonly sampleDims: readonly number[] };
  /** Text-to-image jobs: what tokenization cut off, and the text encoder / VAE times. */
  readonly text: Pick<TextToImageResult, 'truncation' | 'encodeMs' | 'decodeMs' | 'width' | 'height'> | undefined;
  readonly engineOpenMs: number;
  readonly denoiseMs: number;
  /** Live previews of this run (absent when the job asked for none). */
  readonly previews: PreviewPublisher['counts'] | undefined;
}

/**
 * Runs the sampling loop of one job on leased devices: takes (or lazily opens) the cached engine,
 * resumes from `resume` when given, reports every step, and keeps `lastCheckpoint()` current so
 * the caller can store it when the run is cut short. An engine that failed (anything but an
 * abort between steps) is evicted, so the next job starts from fresh stage processes.
 */
export async function denoise(args: {
  readonly group: GroupRuntime;
  readonly ctx: JobHandlerContext;
  readonly model: GeneratorPackage;
  readonly spec: JobSpec;
  readonly parallel: ResolvedParallel;
  readonly lease: DeviceLease;
  readonly running: RunningJob;
  readonly resume: SamplerCheckpoint | undefined;
  /** The job's log (host, group, job id bound). */
  readonly log: HostLogger;
  /** Called after every step with the state to resume from before the next one. */
  readonly onCheckpoint: (checkpoint: SamplerCheckpoint) => void;
  /** Run inside this device's continuous batch instead of alone (the seat holds the device and engine). */
  readonly batch?: Extract<SlotGrant, { kind: 'batch' }> | undefined;
}): Promise<DenoiseOutcome> {
  const { group, model, parallel, lease } = args;
  if (args.batch) {
    const seat = args.batch;
    return run(args, { engine: seat.slot.engine, text: seat.slot.text }, 0, (req) => seat.join({ ...req, priority: args.spec.priority }), async () => undefined);
  }
  const key = engineKey(model, parallel, lease.devices);
  const opened = performance.now();
  let openedHere = false;
  const { entry, release } = await takeEngine(group, model, parallel, lease.devices, key, () => (openedHere = true));
  const engineOpenMs = openedHere ? performance.now() - opened : 0;
  const held = holders.get(group) ?? new Map<string, HostLogger>();
  holders.set(group, held);
  held.set(key, args.log);
  return run(args, entry, engineOpenMs, (req) => entry.engine.generate(req), async (broken) => {
    held.delete(key);
    await release(broken);
  });
}

/**
 * Takes (or opens) the cached engine for `key` on `devices`: stage processes, and for text
 * models the text encoders and VAE in a model host. `onOpen` is called when it had to be opened.
 */
export function takeEngine(group: GroupRuntime, model: GeneratorPackage, parallel: ResolvedParallel, devices: readonly number[], key: string, onOpen: () => void = () => undefined): ReturnType<GroupRuntime['engines']['take']> {
  const groupDevices = [...devices];
  return group.engines.take(key, groupDevices, async () => {
    onOpen();
    const engine = await Engine.open({
      model,
      parallel,
      devices: groupDevices.map((d) => group.devices[d]!.spec),
      wait: group.options.coordinatorWait,
      ...(group.options.splitCacheDir !== undefined && { splitCacheDir: group.options.splitCacheDir }),
      maxRestarts: group.options.maxStageRestartsPerJob,
      stageStepTimeoutMs: group.options.stageStepTimeoutMs,
      restartBackoffMs: group.options.restartBackoffMs,
      onStageRestart: (info) => {
        for (const d of info.devices) group.noteRestart(groupDevices[d] ?? -1);
        // The engine is shared by the jobs that take it in turn: the job running now is `running`.
        (holders.get(group)?.get(key) ?? group.logger).warn({ step: info.atStep, stages: info.devices, engine: key }, `replaced stage(s) ${info.devices.join(',')} of ${key}; resuming at step ${info.atStep}`);
      },
    });
    if (model.format !== 'diffusers') return { engine };
    // Text encoders and the VAE run in a model host pinned beside stage 0: they run before and
    // after the denoising loop, never during it, and never on this (BullMQ's) event loop.
    try {
      return { engine, text: await TextToImage.open(engine, await openModelHost(model, { kind: 'process', device: group.devices[groupDevices[0]!]!.spec })) };
    } catch (err) {
      await engine.close().catch(group.options.onError);
      throw err;
    }
  });
}

type DenoiseArgs = Parameters<typeof denoise>[0];

/** The sampling loop of one job on an engine taken for it (`generate`: alone or in a batch). */
async function run(
  args: DenoiseArgs,
  entry: { readonly engine: Engine; readonly text?: TextToImage | undefined },
  engineOpenMs: number,
  generate: (req: GenerateRequest) => Promise<GenerateResult>,
  done: (broken: boolean) => Promise<void>,
): Promise<DenoiseOutcome> {
  const { group, ctx, model, spec, parallel, running } = args;
  let broken = true;
  try {
    running.denoiseStartedAt = performance.now();
    const started = performance.now();
    const shares = stepRecorder(entry.engine.runner);
    const preview = previewsOf(args, entry);
    const common = {
      seed: spec.seed,
      steps: spec.steps,
      guidance: spec.guidance,
      scheduler: spec.scheduler,
      warmup: parallel.warmup,
      timeShift: parallel.timeShift,
      compensation: parallel.compensation,
      signal: ctx.signal,
      ...(args.resume && { resume: args.resume }),
      onStep: (p: StepProgress) => {
        running.step = p.step;
        running.stepsThisRun += 1;
        const timing = { step: p.step, stepMs: Math.round(p.stepMs * 1000) / 1000, ...shares() };
        running.recentSteps.push(timing);
        if (running.recentSteps.length > RECENT_STEPS_KEPT) running.recentSteps.shift();
        group.metrics.step(model.name, parallel.mode, timing);
        args.onCheckpoint(p.checkpoint);
        void ctx.reportProgress(p.step, p.steps, { phase: p.phase });
        // After the step is reported: the preview itself is made while the next step runs.
        preview?.offer(p);
      },
    };
    let outcome: DenoiseOutcome;
    if (entry.text && spec.text) {
      const t = spec.text;
      const r = await entry.text.generate({ prompt: spec.prompt, ...(t.negativePrompt !== undefined && { negativePrompt: t.negativePrompt }), count: spec.count, width: t.width, height: t.height, ...common }, generate);
      const { truncation, encodeMs, decodeMs, width, height } = r;
      outcome = { result: r.generation, pixels: { data: r.pixels, sampleDims: [3, height, width] }, text: { truncation, encodeMs, decodeMs, width, height }, engineOpenMs, denoiseMs: performance.now() - started, previews: preview?.counts };
    } else {
      if (model.format !== 'asyncdiff') throw new Error(`job ${ctx.job.id} has no text side for text model ${model.name}`);
      const result = await generate({ conditioning: classConditioning(model, new Array<number>(spec.count).fill(spec.classId)), ...common });
      outcome = { result, pixels: { data: result.latents, sampleDims: result.sampleDims }, text: undefined, engineOpenMs, denoiseMs: performance.now() - started, previews: preview?.counts };
    }
    // A preview still being published belongs before the job's `encode` progress.
    await preview?.idle();
    broken = false;
    return outcome;
  } catch (err) {
    // Stopped between steps (cancel, drain): the stages are fine and stay warm.
    if (err instanceof SamplingAbortedError) broken = false;
    throw err;
  } finally {
    await done(broken);
  }
}

/**
 * The job's preview publisher, when it asked for previews: frames from x̂0 in the layout this run
 * samples (text jobs: the latent of the requested size; class models: their sample dims).
 */
function previewsOf(args: { readonly model: GeneratorPackage; readonly spec: JobSpec; readonly ctx: JobHandlerContext; readonly group: GroupRuntime }, entry: { readonly engine: Engine }): PreviewPublisher | undefined {
  const { model, spec, ctx } = args;
  if (!spec.preview) return undefined;
  const dims = model.format === 'diffusers' && spec.text ? latentDims(model, spec.text.width, spec.text.height) : entry.engine.denoiser.sampleDims;
  return previewPublisher({ every: spec.preview.every, render: previewRenderer(model, dims), publish: (p) => ctx.reportPreview(p), onError: args.group.options.onError });
}
