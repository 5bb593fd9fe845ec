import * as gifenc from 'gifenc';
import { MODEL_RANGE, toGrayImage, type ValueRange } from './convert.js';
import { MediaInputError } from './errors.js';
import { checkFrames, type FrameInput } from './image.js';

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
 * Encodes frames as an animated GIF with one global 256-gray palette: lossless for 8-bit gray,
 * byte-identical for identical input (no dithering or palette search). Plays in every browser
 * and chat client, unlike WebM/MP4 previews.
 */
export function encodeGif(frames: readonly FrameInput[], options?: GifOptions): Buffer {
  const { delayMs, loop, range } = resolveGifOptions(options);
  const { width, height } = checkFrames(frames);
  if (GIFEncoder === undefined) throw new Error('gifenc exports no GIFEncoder');
  const encoder = GIFEncoder();
  frames.forEach((frame, index) => {
    const gray = toGrayImage(frame, range, `frames[${index}]`);
    encoder.writeFrame(gray.pixels, width, height, {
      delay: delayMs,
      ...(index === 0 ? { palette: GRAY_PALETTE, repeat: loop ? 0 : -1 } : {}),
    });
  });
  encoder.finish();
  const bytes = encoder.bytes();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
