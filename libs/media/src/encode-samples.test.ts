import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { toUint8 } from './convert.js';
import { encodeSamples, type EncodeSamplesOptions } from './encode-samples.js';
import { ffmpegAvailable } from './ffmpeg.js';
import { inspectGif } from './gif-inspect.js';
import { decodePng, decodePngRgb } from './png.js';
import { probeVideo } from './probe.js';

const hasFfmpeg = await ffmpegAvailable();
const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });

/** Deterministic model-space floats, some beyond [-1, 1]. */
const floats = (n: number, seed = 0) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed) * 1.15);

describe('encodeSamples: images', () => {
  it('writes one PNG per gray item, upscaled, with its index, type and kind', async () => {
    const data = floats(3 * 16 * 16);
    const files = await encodeSamples({ data, items: 3, sampleDims: [1, 16, 16], format: 'png', scale: 4 });
    expect(files.map(({ index, ext, contentType, kind }) => ({ index, ext, contentType, kind }))).toEqual(
      [0, 1, 2].map((index) => ({ index, ext: 'png', contentType: 'image/png', kind: 'image' })),
    );
    const expected = toUint8(data);
    const png = decodePng(files[2]?.body ?? Buffer.alloc(0));
    expect([png.width, png.height]).toEqual([64, 64]);
    for (const [x, y] of [[0, 0], [5, 9], [15, 15]] as const) {
      expect(png.pixels[y * 4 * 64 + x * 4 + 3], `(${x}, ${y})`).toBe(expected[2 * 256 + y * 16 + x]);
    }
  });

  it('writes planar colour items [3, H, W] as RGB PNGs at scale 1, each pixel from its three planes', async () => {
    const [w, h] = [5, 3];
    const data = floats(2 * 3 * w * h, 1);
    const files = await encodeSamples({ data, items: 2, sampleDims: [3, h, w], format: 'png', scale: 1 });
    const image = decodePngRgb(files[1]?.body ?? Buffer.alloc(0));
    expect([image.width, image.height]).toEqual([w, h]);
    const bytes = toUint8(data);
    const base = 3 * w * h; // item 1
    for (let p = 0; p < w * h; p += 1) {
      for (let c = 0; c < 3; c += 1) expect(image.pixels[p * 3 + c], `pixel ${p} channel ${c}`).toBe(bytes[base + c * w * h + p]);
    }
  });

  it('is deterministic: same floats, same bytes', async () => {
    const options = (data: Float32Array): EncodeSamplesOptions => ({ data, items: 2, sampleDims: [3, 24, 32], format: 'png', scale: 1 });
    const data = floats(2 * 3 * 24 * 32, 2);
    const a = await encodeSamples(options(data));
    const b = await encodeSamples(options(Float32Array.from(data)));
    expect(a.map((file, i) => file.body.equals(b[i]?.body ?? Buffer.alloc(0)))).toEqual([true, true]);
  });

  it('stores a clip as a PNG of its first frame', async () => {
    const data = floats(3 * 4 * 6 * 8, 3);
    const [file] = await encodeSamples({ data, items: 1, sampleDims: [3, 4, 6, 8], format: 'png', scale: 1 });
    const first = decodePngRgb(file?.body ?? Buffer.alloc(0));
    const bytes = toUint8(data);
    // pixel 7 of frame 0: R at plane 0, G at plane 1 (4 frames of 48 further on), B at plane 2
    expect(Array.from(first.pixels.subarray(21, 24))).toEqual([bytes[7], bytes[4 * 48 + 7], bytes[2 * 4 * 48 + 7]]);
  });

  it('lays a batch out as one contact sheet with grid', async () => {
    const files = await encodeSamples({ data: floats(3 * 3 * 8 * 8), items: 3, sampleDims: [3, 8, 8], format: 'png', scale: 2, grid: true });
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ index: 0, ext: 'png', kind: 'image' });
    // 2 columns × 2 rows of 16 px cells, 2 px gaps
    expect(decodePngRgb(files[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 34, height: 34 });
  });
});

describe('encodeSamples: clips', () => {
  it('writes one GIF per item with every frame and the delay that follows from fps', async () => {
    const data = floats(2 * 3 * 5 * 8 * 10, 4);
    const files = await encodeSamples({ data, items: 2, sampleDims: [3, 5, 8, 10], format: 'gif', scale: 2 });
    expect(files.map((f) => [f.index, f.contentType, f.kind])).toEqual([[0, 'image/gif', 'video'], [1, 'image/gif', 'video']]);
    expect(inspectGif(files[1]?.body ?? Buffer.alloc(0))).toEqual({ width: 20, height: 16, frames: 5, delaysMs: Array(5).fill(130), loopCount: 0 });
    const at10 = await encodeSamples({ data: floats(4 * 16 * 16), items: 1, sampleDims: [1, 4, 16, 16], format: 'gif', scale: 8, fps: 10 });
    expect(inspectGif(at10[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 128, height: 128, frames: 4, delaysMs: [100, 100, 100, 100] });
  });

  it('makes a grid clip: frame f shows every item\'s frame f', async () => {
    const data = floats(4 * 6 * 16 * 16);
    const files = await encodeSamples({ data, items: 4, sampleDims: [1, 6, 16, 16], format: 'gif', scale: 2, grid: true });
    expect(files).toHaveLength(1);
    expect(inspectGif(files[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 66, height: 66, frames: 6 });
    if (!hasFfmpeg) return;
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-samples-'));
    try {
      const file = path.join(dir, 'grid.gif');
      await writeFile(file, files[0]?.body ?? Buffer.alloc(0));
      const args = ['-v', 'error', '-i', file, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'];
      const { stdout } = await promisify(execFile)('ffmpeg', args, { encoding: 'buffer' });
      const bytes = toUint8(data);
      // frame 3, item 3 (bottom right cell at x0 = y0 = 34), its pixel (5, 7) upscaled 2×
      expect(stdout[3 * 66 * 66 + (34 + 7 * 2) * 66 + 34 + 5 * 2]).toBe(bytes[3 * 6 * 256 + 3 * 256 + 7 * 16 + 5]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasFfmpeg)('writes colour MP4 and WebM clips with every frame', async () => {
    for (const format of ['mp4', 'webm'] as const) {
      const files = await encodeSamples({ data: floats(3 * 6 * 16 * 16, 5), items: 1, sampleDims: [3, 6, 16, 16], format, scale: 2, fps: 6 });
      expect(files[0]).toMatchObject({ index: 0, ext: format, contentType: `video/${format}`, kind: 'video' });
      expect(await probeVideo(files[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 32, height: 32, frames: 6, fps: 6 });
    }
  });
});

describe('encodeSamples: bad input', () => {
  const base: EncodeSamplesOptions = { data: new Float32Array(2 * 16), items: 2, sampleDims: [1, 4, 4], format: 'png', scale: 1 };

  it('names the field', async () => {
    await expect(encodeSamples({ ...base, sampleDims: [2, 4, 4] })).rejects.toEqual(bad('sampleDims[0]'));
    await expect(encodeSamples({ ...base, sampleDims: [4, 4] })).rejects.toEqual(bad('sampleDims'));
    await expect(encodeSamples({ ...base, items: 3 })).rejects.toEqual(bad('data'));
    await expect(encodeSamples({ ...base, format: 'jpg' as 'png' })).rejects.toEqual(bad('format'));
    await expect(encodeSamples({ ...base, fps: 0 })).rejects.toEqual(bad('fps'));
    await expect(encodeSamples({ ...base, scale: undefined as unknown as number })).rejects.toEqual(bad('scale'));
    await expect(encodeSamples({ ...base, grid: 'yes' as unknown as boolean })).rejects.toEqual(bad('grid'));
    const nan = new Float32Array(32);
    nan[20] = Number.NaN;
    await expect(encodeSamples({ ...base, data: nan })).rejects.toMatchObject({ field: 'data', message: expect.stringMatching(/item 1/) });
  });

  it('stops before encoding when the signal has fired', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(encodeSamples({ ...base, signal: controller.signal })).rejects.toMatchObject({ code: 'MEDIA_ABORTED' });
  });
});
