import { MediaInputError } from './errors.js';

/** An 8-bit grayscale image, row-major, top row first, one byte per pixel. */
export interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** A grayscale image in model space (floats, by default in [-1, 1]), as a sampler returns it. */
export interface FloatImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

/** What encoders accept: 8-bit pixels as given, or model-space floats to be quantised. */
export type FrameInput = GrayImage | FloatImage;

/** Largest side accepted, to refuse absurd allocations early. */
export const MAX_SIDE_PX = 8192;
/** Most frames one animation may have. */
export const MAX_FRAMES = 10_000;

/** Checks one image's geometry and buffer, naming `field` in the error. */
export function checkImage(image: FrameInput, field: string): void {
  if (typeof image !== 'object' || image === null) throw new MediaInputError(field, 'must be an image object');
  for (const side of ['width', 'height'] as const) {
    const value = image[side];
    if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE_PX) {
      throw new MediaInputError(`${field}.${side}`, `${String(value)} must be an integer in 1…${MAX_SIDE_PX}`);
    }
  }
  if (!(image.pixels instanceof Uint8Array) && !(image.pixels instanceof Float32Array)) {
    throw new MediaInputError(`${field}.pixels`, 'must be a Uint8Array or a Float32Array');
  }
  const expected = image.width * image.height;
  if (image.pixels.length !== expected) {
    throw new MediaInputError(`${field}.pixels`, `has ${image.pixels.length} values, expected ${expected} (${image.width}×${image.height})`);
  }
}

/** Checks a frame sequence: 1…MAX_FRAMES frames, all valid and all the size of the first. */
export function checkFrames(frames: readonly FrameInput[], field = 'frames'): { width: number; height: number } {
  if (!Array.isArray(frames)) throw new MediaInputError(field, 'must be an array of frames');
  if (frames.length === 0) throw new MediaInputError(field, 'must contain at least one frame');
  if (frames.length > MAX_FRAMES) throw new MediaInputError(field, `has ${frames.length} frames, at most ${MAX_FRAMES} allowed`);
  frames.forEach((frame, index) => checkImage(frame, `${field}[${index}]`));
  const first = frames[0] as FrameInput;
  frames.forEach((frame, index) => {
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new MediaInputError(
        `${field}[${index}].${frame.width !== first.width ? 'width' : 'height'}`,
        `frame is ${frame.width}×${frame.height}, but ${field}[0] is ${first.width}×${first.height}`,
      );
    }
  });
  return { width: first.width, height: first.height };
}
