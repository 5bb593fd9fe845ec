import type { DiffusersPipeline } from '@asyncdiff/models';

/**
 * A linear map from a 4-channel Stable Diffusion latent (as the UNet sees it: VAE latent ×
 * scaling_factor) to approximate RGB in [-1, 1]: rgb_c = bias_c + Σ_k factors[k][c]·z_k per pixel.
 * This is ComfyUI's "latent2rgb" previewer: a preview costs 12 multiply-adds per latent pixel
 * instead of a VAE decode (a full decoder per preview would cost about as much as a denoising
 * step). The colours are rough and the preview has the latent's resolution (1/8 of the image).
 */
export interface LatentRgbTable {
  /** Rows: latent channels 0…3; columns: R, G, B. */
  readonly factors: readonly (readonly [number, number, number])[];
  readonly bias: readonly [number, number, number];
}

/**
 * The published factor tables (ComfyUI `comfy/latent_formats.py`, fitted by least squares on
 * decoded images): SD 1.x and 2.x share one VAE, SDXL has its own (with a bias).
 */
export const LATENT_RGB_TABLES: Readonly<Record<DiffusersPipeline, LatentRgbTable>> = Object.freeze({
  sd: {
    factors: [
      [0.3512, 0.2297, 0.3227],
      [0.325, 0.4974, 0.235],
      [-0.2829, 0.1762, 0.2721],
      [-0.212, -0.2616, -0.7177],
    ],
    bias: [0, 0, 0],
  },
  sdxl: {
    factors: [
      [0.3651, 0.4232, 0.4341],
      [-0.2533, -0.0042, 0.1068],
      [0.1076, 0.1111, -0.0362],
      [-0.3165, -0.2492, -0.2188],
    ],
    bias: [0.1084, -0.0175, -0.0011],
  },
});

/**
 * Projects one latent, planar [C, H, W] with C = the table's rows, to planar RGB [3, H, W]
 * (a new array, values roughly in [-1, 1], not clamped).
 */
export function latentToRgb(latent: Float32Array, channels: number, height: number, width: number, table: LatentRgbTable): Float32Array {
  if (channels !== table.factors.length) throw new RangeError(`latent has ${channels} channels, the table maps ${table.factors.length}`);
  const plane = height * width;
  if (latent.length < channels * plane) throw new RangeError(`latent has ${latent.length} values, expected ${channels * plane}`);
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const b = table.bias[c] as number;
    for (let i = 0; i < plane; i++) {
      let v = b;
      for (let k = 0; k < channels; k++) v += (table.factors[k] as readonly number[])[c]! * (latent[k * plane + i] as number);
      out[c * plane + i] = v;
    }
  }
  return out;
}
