import * as gifenc from 'gifenc';
import type { RgbImage } from './image.js';

/** gifenc's palette functions, from whichever of its builds the runtime loaded. */
const quantize = gifenc.quantize ?? gifenc.default?.quantize;
const applyPalette = gifenc.applyPalette ?? gifenc.default?.applyPalette;

/** Most colours one GIF colour table holds. */
const GIF_COLORS = 256;
/** Pixels the palette search looks at, at most (an even sample of all frames beyond that). */
const MAX_SAMPLE_PIXELS = 1 << 20;

/** One colour table for a whole animation, and how frames map onto it. */
export interface GifPalette {
  /** `[r, g, b]` entries, at most 256. */
  readonly colors: number[][];
  /** True when every input colour is in `colors`, so the GIF reproduces the frames exactly. */
  readonly exact: boolean;
  /** A frame's pixels as indices into `colors`. */
  indices(frame: RgbImage): Uint8Array;
}

const pack = (p: Uint8Array, i: number): number => ((p[i] as number) << 16) | ((p[i + 1] as number) << 8) | (p[i + 2] as number);

/** The distinct colours of all frames, ascending, or null as soon as there are more than 256. */
function distinctColors(frames: readonly RgbImage[]): number[] | null {
  const seen = new Set<number>();
  for (const { pixels } of frames) {
    for (let i = 0; i < pixels.length; i += 3) {
      seen.add(pack(pixels, i));
      if (seen.size > GIF_COLORS) return null;
    }
  }
  return [...seen].sort((a, b) => a - b);
}

/** RGBA bytes in a buffer of their own (gifenc reads the whole underlying buffer). */
function rgbaOf(frames: readonly RgbImage[], stride: number): Uint8Array {
  const perFrame = (frames[0] as RgbImage).pixels.length / 3;
  const total = perFrame * frames.length;
  const out = new Uint8Array(Math.ceil(total / stride) * 4);
  for (let p = 0, o = 0; p < total; p += stride, o += 4) {
    const { pixels } = frames[Math.floor(p / perFrame)] as RgbImage;
    const i = (p % perFrame) * 3;
    out[o] = pixels[i] as number;
    out[o + 1] = pixels[i + 1] as number;
    out[o + 2] = pixels[i + 2] as number;
    out[o + 3] = 255;
  }
  return out;
}

/**
 * Chooses one global GIF palette for colour frames, deterministically (same frames, same
 * palette, same indices): with at most 256 distinct colours the palette is exactly those colours
 * (sorted) and the GIF is lossless; otherwise gifenc's pairwise-nearest-neighbour quantiser runs
 * over an even sample of at most 2^20 pixels of all frames (clustering 4-4-4 bit colour bins:
 * ten times faster than 5-6-5 bins and no worse, measured) and pixels map to their nearest
 * entry (looked up once per 5-6-5 bit bin), without dithering. One table for every frame keeps
 * the colours of an animation from flickering.
 */
export function gifPalette(frames: readonly RgbImage[]): GifPalette {
  if (quantize === undefined || applyPalette === undefined) throw new Error('gifenc exports no quantize/applyPalette');
  const distinct = distinctColors(frames);
  if (distinct !== null) {
    const lookup = new Map(distinct.map((color, index) => [color, index]));
    return {
      colors: distinct.map((c) => [(c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff]),
      exact: true,
      indices: ({ pixels }) => {
        const out = new Uint8Array(pixels.length / 3);
        for (let i = 0; i < out.length; i += 1) out[i] = lookup.get(pack(pixels, i * 3)) as number;
        return out;
      },
    };
  }
  const total = frames.reduce((sum, f) => sum + f.pixels.length / 3, 0);
  const colors = quantize(rgbaOf(frames, Math.max(1, Math.ceil(total / MAX_SAMPLE_PIXELS))), GIF_COLORS, { format: 'rgb444' });
  return { colors, exact: false, indices: (frame) => applyPalette(rgbaOf([frame], 1), colors, 'rgb565') };
}
