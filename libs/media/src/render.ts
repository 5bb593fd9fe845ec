import { MODEL_RANGE, toGrayImage, type ValueRange } from './convert.js';
import { checkFrames, type FrameInput, type GrayImage } from './image.js';
import { checkScale, upscaleNearest } from './upscale.js';

/** How sampler output becomes display pixels. */
export interface RenderOptions {
  /** Integer nearest-neighbour upscale. @defaultValue 8 (16×16 → 128×128) */
  scale?: number;
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
}

/** Fully resolved `RenderOptions`. */
export interface ResolvedRenderOptions {
  scale: number;
  range: ValueRange;
}

/** Default output upscale: the 16×16 models become 128×128 outputs. */
export const DEFAULT_SCALE = 8;

/** Fills render defaults and checks them. */
export function resolveRenderOptions(options: RenderOptions = {}): ResolvedRenderOptions {
  return { scale: checkScale(options.scale ?? DEFAULT_SCALE), range: options.range ?? MODEL_RANGE };
}

/**
 * Turns sampler frames into output frames: quantise floats, then upscale. Encoders encode pixels
 * as given, so this (or `contactSheet`) is where an output's size is decided.
 */
export function renderFrames(frames: readonly FrameInput[], options?: RenderOptions): GrayImage[] {
  const { scale, range } = resolveRenderOptions(options);
  checkFrames(frames);
  return frames.map((frame, index) => upscaleNearest(toGrayImage(frame, range, `frames[${index}]`), scale));
}

/** `renderFrames` for a single image. */
export function renderImage(image: FrameInput, options?: RenderOptions): GrayImage {
  const { scale, range } = resolveRenderOptions(options);
  return upscaleNearest(toGrayImage(image, range, 'image'), scale);
}
