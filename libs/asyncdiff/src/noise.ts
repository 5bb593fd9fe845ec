import type { Scheduler } from '@asyncdiff/schedulers';
import { gaussianNoise } from '@asyncdiff/tensor';

/**
 * The seeded starting latent of `images` images of `n` elements: image i from the noise of
 * seed + i, scaled by the scheduler's initial sigma. One source for the lone sampler and the
 * continuous batch, so a job's bytes never depend on which of them ran it.
 */
export function initialLatent(scheduler: Scheduler, seed: number, images: number, n: number): Float32Array {
  const x = new Float32Array(images * n);
  for (let i = 0; i < images; i++) x.set(gaussianNoise(seed + i, n, 0), i * n);
  const sigma = scheduler.initNoiseSigma;
  if (sigma !== 1) for (let j = 0; j < x.length; j++) x[j] = (x[j] as number) * sigma;
  return x;
}

/** The fresh noise a stochastic scheduler adds after step `s` (image i: seed + i, stream s + 1). */
export function stepNoise(seed: number, images: number, n: number, s: number): Float32Array {
  const noise = new Float32Array(images * n);
  for (let i = 0; i < images; i++) noise.set(gaussianNoise(seed + i, n, s + 1), i * n);
  return noise;
}
