import * as gifenc from 'gifenc';
import { MODEL_RANGE, toGrayImage, toRgbImage, type ValueRange } from './convert.js';
import { MediaInputError } from './errors.js';
import { gifPalette } from './gif-palette.js';
import { checkFrames, type FrameInput, type ImageInput, type RgbFrameInput } from './image.js';

/** Options of `encodeGif`. */
export interface GifOptions {
  /** Time each frame shows. GIF counts in 1/100 s, so a multiple of 10, ≥ 20 (browsers slow faster GIFs to 100 ms). @defaultValue 100 */
  delayMs?: number;
  /** Repeat forever (true) or play once (false). @defaultValue true */
  loop?: boolean;
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
}

/** Fully resolved `GifOptions`. */
export interface ResolvedGifOptions {
  delayMs: number;
  loop: boolean;
  range: ValueRange;
}

/** Fills GIF defaults and checks them. */
export function resolveGifOptions(options: GifOptions = {}): ResolvedGifOptions {
  const delayMs = options.delayMs ?? 100;
  if (!Number.isInteger(delayMs) || delayMs < 20 || delayMs > 655_350 || delayMs % 10 !== 0) {
    throw new MediaInputError('delayMs', `${String(delayMs)} must be a multiple of 10 in 20…655350`);
  }
  if (options.loop !== undefined && typeof options.loop !== 'boolean') throw new MediaInputError('loop', 'must be a boolean');
  return { delayMs, loop: options.loop ?? true, range: options.range ?? MODEL_RANGE };
}

/** gifenc's factory, from whichever of its builds the runtime loaded. */
const GIFEncoder = gifenc.GIFEncoder ?? gifenc.default?.GIFEncoder;

/** The 256 grays: palette index = gray level, so frames need no quantisation and stay exact. */
const GRAY_PALETTE: number[][] = Array.from({ length: 256 }, (_, i) => [i, i, i]);

/**
 * Encodes frames as an animated GIF with one global palette, byte-identical for identical input
 * (no dithering, no randomness). Gray frames use the 256 grays (palette index = gray level), so
 * they need no quantisation and stay exact; colour frames get the palette `gifPalette` chooses
 * (exact up to 256 colours, quantised beyond). Plays in every browser and chat client, unlike
 * WebM/MP4 previews.
 */
export function encodeGif(frames: readonly ImageInput[], options?: GifOptions): Buffer {
  const { delayMs, loop, range } = resolveGifOptions(options);
  const { width, height, channels } = checkFrames(frames);
  if (GIFEncoder === undefined) throw new Error('gifenc exports no GIFEncoder');
  const encoder = GIFEncoder();
  const first = { palette: GRAY_PALETTE, repeat: loop ? 0 : -1 };
  if (channels === 1) {
    frames.forEach((frame, index) => {
      const gray = toGrayImage(frame as FrameInput, range, `frames[${index}]`);
      encoder.writeFrame(gray.pixels, width, height, { delay: delayMs, ...(index === 0 ? first : {}) });
    });
  } else {
    const rgb = frames.map((frame, index) => toRgbImage(frame as RgbFrameInput, range, `frames[${index}]`));
    const palette = gifPalette(rgb);
    rgb.forEach((frame, index) => {
      encoder.writeFrame(palette.indices(frame), width, height, { delay: delayMs, ...(index === 0 ? { ...first, palette: palette.colors } : {}) });
    });
  }
  encoder.finish();
  const bytes = encoder.bytes();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The one GIF frame delay for a frame rate: the GIF delay (whole 1/100 s) nearest to the
 * video's frame duration, halves rounding up so a GIF never runs faster than its MP4/WebM twin,
 * and at least 20 ms (browsers slow faster GIFs down). 8 fps → 130 ms; 10 fps → 100 ms.
 */
export function gifDelayMs(fps: number): number {
  if (!Number.isFinite(fps) || fps <= 0) throw new MediaInputError('fps', `${String(fps)} must be a positive number`);
  return Math.max(20, Math.round(100 / fps) * 10);
}
