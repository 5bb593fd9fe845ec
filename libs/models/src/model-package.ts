import type { SchedulerKind } from '@asyncdiff/schedulers';

/** Kinds of model package: generators (image, video) and the evaluation classifier. */
export type ModelKind = 'image' | 'video';

/** One conditioning class a prompt can name (`label` or any alias, case-insensitive). */
export interface ConditioningClass {
  readonly id: number;
  readonly label: string;
  readonly aliases: readonly string[];
}

/** Training noise schedule of a denoiser, as the schedulers need it. */
export interface NoiseScheduleSpec {
  readonly type: 'linear' | 'scaled-linear';
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly trainSteps: number;
}

/** Sampling defaults shipped with a model, chosen from its measured evaluation. */
export interface ModelDefaults {
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: SchedulerKind;
  readonly eta: number;
  readonly clipSample: boolean;
  /** DDIM: recompute eps from the clipped x0 (how the shipped defaults were measured). */
  readonly useClippedModelOutput: boolean;
  /**
   * How long one run of a job may hold its devices (denoise, encode, upload) before it fails with
   * `TIMEOUT`, when the job does not say (`timeoutSec`). Per model, because a large model's step
   * is orders of magnitude slower than ours. Within `JOB_TIMEOUT_SEC`.
   */
  readonly timeoutSec: number;
}

/** Bounds of a job's `timeoutSec` (and of a model's default for it), and the default model.json omits. */
export const JOB_TIMEOUT_SEC = { min: 1, max: 3600, default: 600 } as const;

/**
 * A loaded, validated generator package (a folder with model.json and the denoiser ONNX).
 * Paths are absolute so the package can be handed to another process as is.
 */
export interface ModelPackage {
  /** Our own package format (model.json + ONNX), as opposed to a diffusers ONNX export. */
  readonly format: 'asyncdiff';
  readonly name: string;
  readonly kind: ModelKind;
  readonly version: number;
  readonly description: string;
  readonly dir: string;
  /** Absolute path of the full denoiser ONNX. */
  readonly denoiserPath: string;
  /** Per-sample latent dims without the batch axis: [C, H, W] or [C, F, H, W]. */
  readonly sampleDims: readonly number[];
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly valueRange: readonly [number, number];
  readonly io: { readonly sample: string; readonly timestep: string; readonly classLabels: string; readonly output: string };
  readonly classes: readonly ConditioningClass[];
  readonly nullClass: number;
  readonly noiseSchedule: NoiseScheduleSpec;
  readonly prediction: 'epsilon';
  readonly defaults: ModelDefaults;
  /** Name of the evaluation classifier package that judges this model's outputs. */
  readonly evaluator: string | undefined;
}

/** Number of float elements in one sample (no batch axis). */
export function sampleSize(model: Pick<ModelPackage, 'sampleDims'>): number {
  return model.sampleDims.reduce((a, b) => a * b, 1);
}

/** Full input dims for a batch of `batch` samples. */
export function batchDims(model: Pick<ModelPackage, 'sampleDims'>, batch: number): number[] {
  return [batch, ...model.sampleDims];
}
