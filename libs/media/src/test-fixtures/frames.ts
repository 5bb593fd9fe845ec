import type { FloatImage, FloatRgbImage, GrayImage, RgbImage } from '../image.js';

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

/** A deterministic planar `[3, H, W]` model-space colour frame: a different wave per channel. */
export function floatRgbFrame(width: number, height: number, phase = 0): FloatRgbImage {
  const area = width * height;
  const pixels = new Float32Array(3 * area);
  for (let c = 0; c < 3; c += 1) {
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) pixels[c * area + y * width + x] = Math.sin(x * (0.3 + 0.2 * c) - y * (0.5 - 0.1 * c) + phase + c) * 1.1;
    }
  }
  return { channels: 3, width, height, pixels };
}

/** A deterministic 8-bit interleaved RGB frame with `colors` distinct colours (at most 256). */
export function rgbFrame(width: number, height: number, seed = 0, colors = 64): RgbImage {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    const k = (i * 7 + seed * 13) % colors;
    pixels.set([(k * 37) % 256, (k * 91 + 50) % 256, (k * 151 + 100) % 256], i * 3);
  }
  return { channels: 3, width, height, pixels };
}
