import { MediaInputError } from './errors.js';
import { byteImage, channelsOf, checkImage, MAX_SIDE_PX, type ByteImage, type GrayImage, type RgbImage } from './image.js';

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
 * Nearest-neighbour integer upscale: each pixel becomes a `scale`×`scale` block. The small models
 * make 16×16 images; this is how they become viewable (128×128 at the default 8) with crisp,
 * exactly reproducible pixels. Full-size models use scale 1, which returns the image itself.
 */
export function upscaleNearest(image: GrayImage, scale: number): GrayImage;
export function upscaleNearest(image: RgbImage, scale: number): RgbImage;
export function upscaleNearest(image: ByteImage, scale: number): ByteImage;
export function upscaleNearest(image: ByteImage, scale: number): ByteImage {
  checkImage(image, 'image');
  checkScale(scale);
  if (scale === 1) return image;
  const channels = channelsOf(image);
  const width = image.width * scale;
  const height = image.height * scale;
  if (width > MAX_SIDE_PX || height > MAX_SIDE_PX) {
    throw new MediaInputError('scale', `${scale}× makes ${width}×${height}, larger than ${MAX_SIDE_PX} px`);
  }
  const rowBytes = width * channels;
  const out = new Uint8Array(rowBytes * height);
  const row = new Uint8Array(rowBytes);
  for (let y = 0; y < image.height; y += 1) {
    const src = image.pixels.subarray(y * image.width * channels, (y + 1) * image.width * channels);
    if (channels === 1) {
      for (let x = 0; x < image.width; x += 1) row.fill(src[x] as number, x * scale, (x + 1) * scale);
    } else {
      for (let x = 0; x < image.width; x += 1) {
        const pixel = src.subarray(x * channels, (x + 1) * channels);
        for (let k = 0; k < scale; k += 1) row.set(pixel, (x * scale + k) * channels);
      }
    }
    for (let dy = 0; dy < scale; dy += 1) out.set(row, (y * scale + dy) * rowBytes);
  }
  return byteImage(channels, width, height, out);
}
