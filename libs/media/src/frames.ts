import type { FrameInput } from './image.js';
import { MediaInputError } from './errors.js';

/**
 * Splits sampler output — `items` single-channel samples of dims [1, H, W] (image) or
 * [1, F, H, W] (video), concatenated — into per-item lists of frames (views, no copy).
 */
export function framesOf(latents: Float32Array, items: number, sampleDims: readonly number[]): FrameInput[][] {
  const [channels, ...rest] = sampleDims;
  if (channels !== 1 || (rest.length !== 2 && rest.length !== 3)) {
    throw new MediaInputError('sampleDims', `expected [1, H, W] or [1, F, H, W], got [${sampleDims.join(', ')}]`);
  }
  const [frames, height, width] = (rest.length === 3 ? rest : [1, ...rest]) as [number, number, number];
  const per = frames * height * width;
  if (latents.length !== items * per) {
    throw new MediaInputError('latents', `${latents.length} values do not hold ${items} samples of [${sampleDims.join(', ')}]`);
  }
  return Array.from({ length: items }, (_, i) =>
    Array.from({ length: frames }, (_, f) => ({ width, height, pixels: latents.subarray(i * per + f * height * width, i * per + (f + 1) * height * width) })),
  );
}
