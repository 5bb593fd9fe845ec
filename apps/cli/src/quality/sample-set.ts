import type { ModelPackage } from '@asyncdiff/models';
import type { SchedulerKind } from '@asyncdiff/schedulers';
import { classConditioning, type Engine } from '@asyncdiff/engine';

/** A set of generated samples for quality measurement: sample j has class classIds[j], seed seedBase+j. */
export interface SampleSet {
  readonly latents: Float32Array;
  readonly classIds: readonly number[];
  readonly seedBase: number;
  readonly sampleDims: readonly number[];
  readonly ms: number;
}

/** `perClass` samples of every class, classes interleaved so any prefix is balanced. */
export function balancedClasses(model: Pick<ModelPackage, 'classes'>, perClass: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < perClass; i++) for (const c of model.classes) out.push(c.id);
  return out;
}

/**
 * Generates a quality set in batches of `batch` images (a batch equals single-image jobs with
 * consecutive seeds, see the sampler), so the same (classIds, seedBase) gives the same samples
 * under every engine configuration — the basis of the PSNR/SSIM comparison.
 */
export async function generateSet(
  engine: Engine,
  classIds: readonly number[],
  options: { seedBase: number; batch: number; steps: number; guidance: number; scheduler: SchedulerKind; onBatch?: (done: number, total: number) => void },
): Promise<SampleSet> {
  const model = engine.model;
  if (model.format !== 'asyncdiff') throw new TypeError(`quality sets need a class-conditional model, not ${model.name}`);
  const per = model.sampleDims.reduce((a, b) => a * b, 1);
  const latents = new Float32Array(classIds.length * per);
  const t0 = performance.now();
  for (let start = 0; start < classIds.length; start += options.batch) {
    const chunk = classIds.slice(start, start + options.batch);
    const r = await engine.generate({ conditioning: classConditioning(model, chunk), seed: options.seedBase + start, steps: options.steps, guidance: options.guidance, scheduler: options.scheduler });
    latents.set(r.latents, start * per);
    options.onBatch?.(start + chunk.length, classIds.length);
  }
  return { latents, classIds, seedBase: options.seedBase, sampleDims: model.sampleDims, ms: performance.now() - t0 };
}
