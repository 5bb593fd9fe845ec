import { MediaInputError } from './errors.js';
import { checkImage, MAX_SIDE_PX, type GrayImage } from './image.js';

/** Largest integer upscale factor. */
export const MAX_SCALE = 64;

/** Checks an integer scale factor, naming `field`. */
export function checkScale(scale: number, field = 'scale'): number {
  if (!Number.isInteger(scale) || scale < 1 || scale > MAX_SCALE) {
    throw new MediaInputError(field, `${String(scale)} must be an integer in 1…${MAX_SCALE}`);
  }
  return scale;
}

/**
 * Nearest-neighbour integer upscale: each pixel becomes a `scale`×`scale` block. The models
 * make 16×16 images; this is how they become viewable (128×128 at the default 8) with crisp,
 * exactly reproducible pixels.
 */
export function upscaleNearest(image: GrayImage, scale: number): GrayImage {
  checkImage(image, 'image');
  checkScale(scale);
  if (scale === 1) return image;
  const width = image.width * scale;
  const height = image.height * scale;
  if (width > MAX_SIDE_PX || height > MAX_SIDE_PX) {
    throw new MediaInputError('scale', `${scale}× makes ${width}×${height}, larger than ${MAX_SIDE_PX} px`);
  }
  const out = new Uint8Array(width * height);
  const row = new Uint8Array(width);
  for (let y = 0; y < image.height; y += 1) {
    for (let x = 0; x < image.width; x += 1) row.fill(image.pixels[y * image.width + x] as number, x * scale, (x + 1) * scale);
    for (let dy = 0; dy < scale; dy += 1) out.set(row, (y * scale + dy) * width);
  }
  return { width, height, pixels: out };
}
