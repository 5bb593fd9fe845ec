import type { DiffusersPackage } from './diffusers-package.js';

/**
 * Why `width` × `height` is not a size the package can make, naming the field, or undefined
 * when it is: each side a multiple of `resolution.multiple` (the UNet halves the latent
 * 2^(down blocks − 1) times, the VAE scales it by 8) within [min, max]. One rule for the CLI,
 * the API's validation and the engine.
 */
export function imageSizeProblem(model: Pick<DiffusersPackage, 'name' | 'resolution'>, width: number, height: number): { field: 'width' | 'height'; message: string } | undefined {
  const { min, max, multiple } = model.resolution;
  for (const [field, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < min || v > max || v % multiple !== 0) {
      return { field, message: `${field} must be a multiple of ${multiple} from ${min} to ${max} for ${model.name}, got ${v}` };
    }
  }
  return undefined;
}
