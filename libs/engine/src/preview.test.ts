import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findModelPackage, loadDiffusersPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { LATENT_RGB_TABLES, latentToRgb } from './latent-rgb.js';
import { previewRenderer } from './preview.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');

describe('latentToRgb (the latent2rgb tables)', () => {
  it('maps each unit latent channel to its table row (plus the bias), per pixel', () => {
    // 4 channels × 1×2 pixels: pixel 0 has channel k = 1 for k = 1, pixel 1 has all four at 1.
    const z = Float32Array.of(0, 1, 1, 1, 0, 1, 0, 1);
    const sd = latentToRgb(z, 4, 1, 2, LATENT_RGB_TABLES.sd);
    // Pixel 0: row 1 = [0.325, 0.4974, 0.235]. Pixel 1: column sums.
    expect(Array.from(sd)).toEqual(
      [0.325, 0.3512 + 0.325 - 0.2829 - 0.212, 0.4974, 0.2297 + 0.4974 + 0.1762 - 0.2616, 0.235, 0.3227 + 0.235 + 0.2721 - 0.7177].map((v) => expect.closeTo(v, 6) as unknown as number),
    );
    const xl = latentToRgb(new Float32Array(8), 4, 1, 2, LATENT_RGB_TABLES.sdxl);
    expect(Array.from(xl)).toEqual([0.1084, 0.1084, -0.0175, -0.0175, -0.0011, -0.0011].map((v) => expect.closeTo(v, 6) as unknown as number));
  });

  it('rejects a latent whose channel count the table does not map', () => {
    expect(() => latentToRgb(new Float32Array(12), 3, 2, 2, LATENT_RGB_TABLES.sd)).toThrow(/3 channels/);
  });
});

describe('previewRenderer', () => {
  it('shows the first image of a pixel-space model as it is (gray 16×16)', () => {
    const digits = findModelPackage('digits');
    expect(digits.sampleDims).toEqual([1, 16, 16]);
    const x0 = Float32Array.from({ length: 2 * 256 }, (_, i) => (i < 256 ? (i % 7) / 7 - 0.5 : 9));
    const frame = previewRenderer(digits, digits.sampleDims)(x0);
    expect(frame).toMatchObject({ channels: 1, width: 16, height: 16 });
    expect(Array.from(frame.pixels)).toEqual(Array.from(x0.subarray(0, 256)));
  });

  it('shows the middle frame of a clip ([C, F, H, W])', () => {
    const video = findModelPackage('moving-digits');
    const [c, f, h, w] = video.sampleDims as [number, number, number, number];
    expect(c).toBe(1);
    const x0 = new Float32Array(c * f * h * w);
    for (let k = 0; k < f; k++) x0.fill(k, k * h * w, (k + 1) * h * w);
    const frame = previewRenderer(video, video.sampleDims)(x0);
    expect(frame).toMatchObject({ channels: 1, width: w, height: h });
    expect(new Set(frame.pixels)).toEqual(new Set([Math.floor(f / 2)]));
  });

  it('box-averages frames larger than maxSide by an integer factor', () => {
    const digits = findModelPackage('digits');
    const x0 = Float32Array.from({ length: 256 }, (_, i) => ((i >> 4) + (i & 15)) % 2); // checkerboard of 0 and 1
    const frame = previewRenderer(digits, digits.sampleDims, 5)(x0); // ⌈16/5⌉ = 4 → 4×4
    expect(frame).toMatchObject({ width: 4, height: 4 });
    expect(new Set(frame.pixels)).toEqual(new Set([0.5]));
  });

  it('projects a diffusers latent to RGB with its pipeline table at latent resolution (SD 1.x and SDXL)', () => {
    for (const [fixture, table] of [
      ['tiny-sd15', LATENT_RGB_TABLES.sd],
      ['tiny-sdxl', LATENT_RGB_TABLES.sdxl],
    ] as const) {
      const model = loadDiffusersPackage(path.join(PIPELINES, fixture));
      const dims = [model.unet.inChannels, 8, 6];
      expect(dims[0]).toBe(4);
      const x0 = Float32Array.from({ length: 4 * 48 }, (_, i) => Math.sin(i));
      const frame = previewRenderer(model, dims)(x0);
      expect(frame).toMatchObject({ channels: 3, width: 6, height: 8 });
      expect(frame.pixels).toEqual(latentToRgb(x0, 4, 8, 6, table));
    }
  });
});
