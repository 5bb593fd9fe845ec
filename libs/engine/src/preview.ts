import type { GeneratorPackage } from '@asyncdiff/models';

import { LATENT_RGB_TABLES, latentToRgb } from './latent-rgb.js';

/** Longest side of a preview frame in pixels, unless the caller asks for another bound. */
export const PREVIEW_MAX_SIDE = 256;

/**
 * One preview picture in model value space ([-1, 1]): gray (`channels` 1) or planar RGB [3, H, W]
 * (`channels` 3). Structurally the media lib's `FloatImage` / `FloatRgbImage`, so it encodes as is.
 */
export type PreviewFrame =
  | { readonly channels: 1; readonly width: number; readonly height: number; readonly pixels: Float32Array }
  | { readonly channels: 3; readonly width: number; readonly height: number; readonly pixels: Float32Array };

/** Turns the sampler's x̂0 (every image of a generation, concatenated) into one preview frame. */
export type PreviewRenderer = (predictedOriginal: Float32Array) => PreviewFrame;

/**
 * The preview renderer of one generation: the first image of x̂0 (a clip's middle frame), as
 * pixels. Pixel-space packages (ours) show x̂0 itself; diffusers packages project the latent to RGB
 * with the latent2rgb table of their pipeline (no VAE decode), so their preview has the latent's
 * resolution (1/8 of the image's); a latent without 4 channels falls back to its first channel
 * in gray. Frames larger than `maxSide` are box-averaged down by an integer factor.
 * `sampleDims`: one sample's dims as the sampler ran it ([C, H, W] or [C, F, H, W]).
 */
export function previewRenderer(model: GeneratorPackage, sampleDims: readonly number[], maxSide = PREVIEW_MAX_SIDE): PreviewRenderer {
  if (sampleDims.length !== 3 && sampleDims.length !== 4) throw new RangeError(`sampleDims must be [C, H, W] or [C, F, H, W], got [${sampleDims.join(', ')}]`);
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new RangeError(`maxSide must be a positive integer, got ${maxSide}`);
  const [channels, ...rest] = sampleDims as [number, ...number[]];
  const [frames, height, width] = (rest.length === 3 ? rest : [1, ...rest]) as [number, number, number];
  const plane = height * width;
  const per = channels * frames * plane;
  const middle = Math.floor(frames / 2);
  const factor = Math.ceil(Math.max(height, width) / maxSide);
  const table = model.format === 'diffusers' && channels === 4 ? LATENT_RGB_TABLES[model.pipeline] : undefined;

  return (x0) => {
    if (x0.length < per) throw new RangeError(`x̂0 has ${x0.length} values, one sample has ${per}`);
    // Channel c of frame f starts at (c·F + f)·H·W ([C, F, H, W]; F = 1 for images).
    const frame = (c: number): Float32Array => x0.subarray((c * frames + middle) * plane, (c * frames + middle + 1) * plane);
    let pixels: Float32Array;
    let outChannels: 1 | 3;
    if (table) {
      const latent = new Float32Array(4 * plane);
      for (let c = 0; c < 4; c++) latent.set(frame(c), c * plane);
      pixels = latentToRgb(latent, 4, height, width, table);
      outChannels = 3;
    } else if (channels === 3) {
      pixels = new Float32Array(3 * plane);
      for (let c = 0; c < 3; c++) pixels.set(frame(c), c * plane);
      outChannels = 3;
    } else {
      pixels = frame(0).slice();
      outChannels = 1;
    }
    if (factor === 1) return { channels: outChannels, width, height, pixels };
    return boxDownsample(pixels, outChannels, height, width, factor);
  };
}

/** Planar box average by an integer `factor` (edges average the pixels they have). */
function boxDownsample(pixels: Float32Array, channels: 1 | 3, height: number, width: number, factor: number): PreviewFrame {
  const h = Math.ceil(height / factor);
  const w = Math.ceil(width / factor);
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = 0;
        let n = 0;
        for (let yy = y * factor; yy < Math.min(height, (y + 1) * factor); yy++) {
          for (let xx = x * factor; xx < Math.min(width, (x + 1) * factor); xx++) {
            sum += pixels[c * height * width + yy * width + xx] as number;
            n++;
          }
        }
        out[c * h * w + y * w + x] = sum / n;
      }
    }
  }
  return { channels, width: w, height: h, pixels: out };
}
