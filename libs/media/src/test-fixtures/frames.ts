import type { FloatImage, GrayImage } from '../image.js';

/** A deterministic model-space frame: a moving diagonal ramp, values spanning beyond [-1, 1]. */
export function floatFrame(width: number, height: number, phase = 0): FloatImage {
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) pixels[y * width + x] = Math.sin((x + y) * 0.4 + phase) * 1.1;
  }
  return { width, height, pixels };
}

/** A deterministic 8-bit frame whose every pixel differs from its neighbours. */
export function grayFrame(width: number, height: number, seed = 0): GrayImage {
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i * 37 + seed * 101) % 256;
  return { width, height, pixels };
}
