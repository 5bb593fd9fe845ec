import { MODEL_RANGE, toByteImage, type ValueRange } from './convert.js';
import { checkFrames, type ByteImage, type FrameInput, type GrayImage, type ImageInput, type RgbFrameInput, type RgbImage } from './image.js';
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
 * as given, so this (or `contactSheet`) is where an output's size is decided. Gray frames stay
 * gray, colour frames become interleaved RGB.
 */
export function renderFrames(frames: readonly FrameInput[], options?: RenderOptions): GrayImage[];
export function renderFrames(frames: readonly RgbFrameInput[], options?: RenderOptions): RgbImage[];
export function renderFrames(frames: readonly ImageInput[], options?: RenderOptions): ByteImage[];
export function renderFrames(frames: readonly ImageInput[], options?: RenderOptions): ByteImage[] {
  const { scale, range } = resolveRenderOptions(options);
  checkFrames(frames);
  return frames.map((frame, index) => upscaleNearest(toByteImage(frame, range, `frames[${index}]`), scale));
}

/** `renderFrames` for a single image. */
export function renderImage(image: FrameInput, options?: RenderOptions): GrayImage;
export function renderImage(image: RgbFrameInput, options?: RenderOptions): RgbImage;
export function renderImage(image: ImageInput, options?: RenderOptions): ByteImage;
export function renderImage(image: ImageInput, options?: RenderOptions): ByteImage {
  const { scale, range } = resolveRenderOptions(options);
  return upscaleNearest(toByteImage(image, range, 'image'), scale);
}
