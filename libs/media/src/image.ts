import { MediaInputError } from './errors.js';

/** An 8-bit grayscale image, row-major, top row first, one byte per pixel. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
  /** Absent or 1: one value per pixel (so plain `{width, height, pixels}` objects stay gray images). */
  channels?: 1;
}

/** A grayscale image in model space (floats, by default in [-1, 1]), as a sampler returns it. */
export interface FloatImage {
  width: number;
  height: number;
  pixels: Float32Array;
  /** Absent or 1: one value per pixel. */
  channels?: 1;
}

/**
 * An 8-bit colour image, row-major, top row first, interleaved R, G, B bytes per pixel: the
 * layout PNG (colour type 2), GIF palettes and ffmpeg's `rgb24` take, so encoders pass it on.
 */
export interface RgbImage {
  channels: 3;
  width: number;
  height: number;
  /** `width × height × 3` bytes: R, G, B of pixel 0, then of pixel 1… */
  pixels: Uint8Array;
}

/**
 * A colour image in model space, planar `[3, H, W]` (every R value, then every G, then every B),
 * which is how image decoders (a VAE's output, one batch item) hand it over: a view on their
 * output, no transpose needed before it gets here.
 */
export interface FloatRgbImage {
  channels: 3;
  width: number;
  height: number;
  /** `3 × height × width` floats, planar. */
  pixels: Float32Array;
}

/** What gray encoders accept: 8-bit pixels as given, or model-space floats to be quantised. */
export type FrameInput = GrayImage | FloatImage;
/** Colour input: 8-bit interleaved RGB as given, or planar model-space floats to be quantised. */
export type RgbFrameInput = RgbImage | FloatRgbImage;
/** Any image the encoders accept, gray or colour, bytes or floats. */
export type ImageInput = FrameInput | RgbFrameInput;
/** Display pixels, gray or colour: what rendering produces and encoders write out unchanged. */
export type ByteImage = GrayImage | RgbImage;
/** Values per pixel: 1 (gray) or 3 (RGB). */
export type Channels = 1 | 3;

/** Largest side accepted, to refuse absurd allocations early. */
export const MAX_SIDE_PX = 8192;
/** Most frames one animation may have. */
export const MAX_FRAMES = 10_000;

/** Values per pixel of an image, checking the `channels` field (absent means 1). */
export function channelsOf(image: ImageInput, field = 'image'): Channels {
  const channels: unknown = image.channels;
  if (channels === undefined || channels === 1) return 1;
  if (channels === 3) return 3;
  throw new MediaInputError(`${field}.channels`, `${String(channels)} must be 1 (gray) or 3 (RGB)`);
}

/** Checks one image's geometry, channel count and buffer, naming `field` in the error. */
export function checkImage(image: ImageInput, field: string): void {
  if (typeof image !== 'object' || image === null) throw new MediaInputError(field, 'must be an image object');
  for (const side of ['width', 'height'] as const) {
    const value = image[side];
    if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE_PX) {
      throw new MediaInputError(`${field}.${side}`, `${String(value)} must be an integer in 1…${MAX_SIDE_PX}`);
    }
  }
  const channels = channelsOf(image, field);
  if (!(image.pixels instanceof Uint8Array) && !(image.pixels instanceof Float32Array)) {
    throw new MediaInputError(`${field}.pixels`, 'must be a Uint8Array or a Float32Array');
  }
  const expected = image.width * image.height * channels;
  if (image.pixels.length !== expected) {
    const shape = channels === 1 ? `${image.width}×${image.height}` : `${image.width}×${image.height}×3`;
    throw new MediaInputError(`${field}.pixels`, `has ${image.pixels.length} values, expected ${expected} (${shape})`);
  }
}

/**
 * Checks a frame sequence: 1…MAX_FRAMES frames, all valid, all the size and channel count of
 * the first (one file is all gray or all colour).
 */
export function checkFrames(frames: readonly ImageInput[], field = 'frames'): { width: number; height: number; channels: Channels } {
  if (!Array.isArray(frames)) throw new MediaInputError(field, 'must be an array of frames');
  if (frames.length === 0) throw new MediaInputError(field, 'must contain at least one frame');
  if (frames.length > MAX_FRAMES) throw new MediaInputError(field, `has ${frames.length} frames, at most ${MAX_FRAMES} allowed`);
  frames.forEach((frame, index) => checkImage(frame, `${field}[${index}]`));
  const first = frames[0] as ImageInput;
  const channels = channelsOf(first);
  frames.forEach((frame, index) => {
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new MediaInputError(
        `${field}[${index}].${frame.width !== first.width ? 'width' : 'height'}`,
        `frame is ${frame.width}×${frame.height}, but ${field}[0] is ${first.width}×${first.height}`,
      );
    }
    if (channelsOf(frame) !== channels) {
      throw new MediaInputError(`${field}[${index}].channels`, `frame has ${channelsOf(frame)} channels, but ${field}[0] has ${channels}`);
    }
  });
  return { width: first.width, height: first.height, channels };
}

/** Wraps display pixels in the image type their channel count calls for. */
export function byteImage(channels: Channels, width: number, height: number, pixels: Uint8Array): ByteImage {
  return channels === 1 ? { width, height, pixels } : { channels: 3, width, height, pixels };
}
