import { MediaInputError } from './errors.js';
import { MAX_FRAMES, MAX_SIDE_PX, type Channels, type FloatImage, type FloatRgbImage } from './image.js';

/** One frame of sampler output: gray floats, or planar `[3, H, W]` colour floats. */
export type FloatFrame = FloatImage | FloatRgbImage;

/** What a sample's dims say about its pixels. */
export interface SampleLayout {
  channels: Channels;
  /** 1 for images. */
  frames: number;
  height: number;
  width: number;
  /** Whether the dims had a frame axis (`[C, F, H, W]`), i.e. the model makes clips. */
  video: boolean;
  /** Floats per sample: `channels × frames × height × width`. */
  values: number;
}

/**
 * Reads per-sample dims `[C, H, W]` (image) or `[C, F, H, W]` (video), C = 1 (gray) or 3 (RGB),
 * as samplers and image decoders lay their output out (channel axis first, the diffusers layout).
 * Errors name the element (`sampleDims[0]` for a channel count such as 2).
 */
export function parseSampleDims(sampleDims: readonly number[], field = 'sampleDims'): SampleLayout {
  if (!Array.isArray(sampleDims) || (sampleDims.length !== 3 && sampleDims.length !== 4)) {
    const shown = Array.isArray(sampleDims) ? `[${sampleDims.join(', ')}]` : String(sampleDims);
    throw new MediaInputError(field, `expected [C, H, W] or [C, F, H, W], got ${shown}`);
  }
  const [channels, ...rest] = sampleDims as [number, ...number[]];
  if (channels !== 1 && channels !== 3) throw new MediaInputError(`${field}[0]`, `channel count ${String(channels)} must be 1 (gray) or 3 (RGB)`);
  const limits = rest.length === 3 ? [MAX_FRAMES, MAX_SIDE_PX, MAX_SIDE_PX] : [MAX_SIDE_PX, MAX_SIDE_PX];
  rest.forEach((value, i) => {
    const limit = limits[i] as number;
    if (!Number.isInteger(value) || value < 1 || value > limit) throw new MediaInputError(`${field}[${i + 1}]`, `${String(value)} must be an integer in 1…${limit}`);
  });
  const [frames, height, width] = (rest.length === 3 ? rest : [1, ...rest]) as [number, number, number];
  return { channels, frames, height, width, video: rest.length === 3, values: channels * frames * height * width };
}

/**
 * Splits sampler output — `items` samples of `sampleDims` (see `parseSampleDims`), concatenated —
 * into per-item lists of frames. Gray frames and single colour images are views (no copy); the
 * frames of a colour clip (`[3, F, H, W]`: a frame's planes are F·H·W apart) are copied into
 * planar `[3, H, W]` buffers.
 */
export function framesOf(data: Float32Array, items: number, sampleDims: readonly number[]): FloatFrame[][] {
  if (!(data instanceof Float32Array)) throw new MediaInputError('data', 'must be a Float32Array');
  if (!Number.isInteger(items) || items < 1) throw new MediaInputError('items', `${String(items)} must be a positive integer`);
  const { channels, frames, height, width, values } = parseSampleDims(sampleDims);
  if (data.length !== items * values) {
    throw new MediaInputError('data', `${data.length} values do not hold ${items} samples of [${sampleDims.join(', ')}] (${items * values} values)`);
  }
  const area = height * width;
  return Array.from({ length: items }, (_, i) => {
    const sample = data.subarray(i * values, (i + 1) * values);
    return Array.from({ length: frames }, (_, f): FloatFrame => {
      if (channels === 1) return { width, height, pixels: sample.subarray(f * area, (f + 1) * area) };
      if (frames === 1) return { channels: 3, width, height, pixels: sample };
      const pixels = new Float32Array(3 * area);
      for (let c = 0; c < 3; c += 1) pixels.set(sample.subarray((c * frames + f) * area, (c * frames + f + 1) * area), c * area);
      return { channels: 3, width, height, pixels };
    });
  });
}
