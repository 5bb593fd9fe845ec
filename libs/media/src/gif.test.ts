import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ffmpegAvailable } from './ffmpeg.js';
import { toRgbImage } from './convert.js';
import { encodeGif, gifDelayMs } from './gif.js';
import { gifPalette } from './gif-palette.js';
import { inspectGif } from './gif-inspect.js';
import { renderFrames } from './render.js';
import { floatFrame, floatRgbFrame, grayFrame, rgbFrame } from './test-fixtures/frames.js';

const hasFfmpeg = await ffmpegAvailable();

describe('GIF', () => {
  it('has the frame count, size, delays and loop asked for', () => {
    const frames = renderFrames(
      Array.from({ length: 6 }, (_, i) => floatFrame(16, 16, i)),
      { scale: 4 },
    );
    const info = inspectGif(encodeGif(frames, { delayMs: 120 }));
    expect(info).toEqual({ width: 64, height: 64, frames: 6, delaysMs: Array(6).fill(120), loopCount: 0 });
    expect(inspectGif(encodeGif(frames, { loop: false })).loopCount).toBeNull();
  });

  it('is deterministic: same input, byte-identical output', () => {
    const frames = Array.from({ length: 4 }, (_, i) => floatFrame(16, 16, i));
    expect(encodeGif(frames).equals(encodeGif(frames.map((f) => ({ ...f, pixels: Float32Array.from(f.pixels) }))))).toBe(true);
  });

  it.skipIf(!hasFfmpeg)('decodes (with ffmpeg, an independent decoder) to exactly the input gray levels', async () => {
    const frames = [grayFrame(16, 8, 1), grayFrame(16, 8, 2), grayFrame(16, 8, 3)];
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-gif-'));
    try {
      const file = path.join(dir, 'a.gif');
      await writeFile(file, encodeGif(frames));
      const { stdout } = await promisify(execFile)('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
        encoding: 'buffer',
      });
      expect(new Uint8Array(stdout)).toEqual(Uint8Array.from(frames.flatMap((f) => Array.from(f.pixels))));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad input naming the field', () => {
    const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });
    expect(() => encodeGif([])).toThrow(bad('frames'));
    expect(() => encodeGif([grayFrame(4, 4), grayFrame(4, 4), grayFrame(5, 4)])).toThrow(bad('frames[2].width'));
    expect(() => encodeGif([grayFrame(4, 4), { width: 4, height: 4, pixels: new Uint8Array(3) }])).toThrow(bad('frames[1].pixels'));
    expect(() => encodeGif([grayFrame(4, 4)], { delayMs: 15 })).toThrow(bad('delayMs'));
  });

  it('inspectGif refuses junk and truncation', () => {
    const bytes = encodeGif([grayFrame(4, 4)]);
    expect(() => inspectGif(Buffer.from('GIF00a'))).toThrow(expect.objectContaining({ code: 'MEDIA_DECODE_FAILED' }));
    expect(() => inspectGif(bytes.subarray(0, bytes.length - 5))).toThrow(expect.objectContaining({ code: 'MEDIA_DECODE_FAILED' }));
  });
});

describe('GIF in colour', () => {
  const decodeRgb = async (gif: Buffer): Promise<Uint8Array> => {
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-gif-'));
    try {
      const file = path.join(dir, 'a.gif');
      await writeFile(file, gif);
      const args = ['-v', 'error', '-i', file, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'];
      const { stdout } = await promisify(execFile)('ffmpeg', args, { encoding: 'buffer', maxBuffer: 1 << 28 });
      return new Uint8Array(stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('has the frame count, size and delays asked for', () => {
    const frames = Array.from({ length: 5 }, (_, i) => floatRgbFrame(24, 16, i));
    expect(inspectGif(encodeGif(frames, { delayMs: 130 }))).toEqual({ width: 24, height: 16, frames: 5, delaysMs: Array(5).fill(130), loopCount: 0 });
  });

  it('uses exactly the frames\' colours, sorted, when there are at most 256 of them', () => {
    const frames = [rgbFrame(32, 16, 1, 100), rgbFrame(32, 16, 2, 256), rgbFrame(32, 16, 3, 7)];
    const distinct = new Set(frames.flatMap((f) => Array.from({ length: f.pixels.length / 3 }, (_, i) => f.pixels.subarray(i * 3, i * 3 + 3).join(','))));
    const palette = gifPalette(frames);
    expect(palette.exact).toBe(true);
    expect(distinct.size).toBe(256);
    expect(new Set(palette.colors.map((c) => c.join(',')))).toEqual(distinct);
    const packed = palette.colors.map(([r, g, b]) => ((r as number) << 16) | ((g as number) << 8) | (b as number));
    expect(packed).toEqual([...packed].sort((a, b) => a - b));
    expect(gifPalette([toRgbImage(floatRgbFrame(32, 16))]).exact).toBe(false);
  });

  it.skipIf(!hasFfmpeg)('decodes (with ffmpeg) to exactly the input colours when they fit the palette', async () => {
    const frames = [rgbFrame(16, 8, 1, 100), rgbFrame(16, 8, 2, 256), rgbFrame(16, 8, 3, 7)];
    expect(await decodeRgb(encodeGif(frames, { delayMs: 130 }))).toEqual(Uint8Array.from(frames.flatMap((f) => Array.from(f.pixels))));
  });

  it.skipIf(!hasFfmpeg)('quantises many colours to one ≤256-colour palette that stays close to the input', async () => {
    const frames = Array.from({ length: 4 }, (_, i) => toRgbImage(floatRgbFrame(48, 32, i * 0.4)));
    const palette = gifPalette(frames);
    expect(palette.exact).toBe(false);
    expect(palette.colors.length).toBeLessThanOrEqual(256);
    const decoded = await decodeRgb(encodeGif(frames, { delayMs: 130 }));
    const input = Uint8Array.from(frames.flatMap((f) => Array.from(f.pixels)));
    expect(decoded).toHaveLength(input.length);
    let squared = 0;
    for (let i = 0; i < input.length; i += 1) squared += ((decoded[i] as number) - (input[i] as number)) ** 2;
    const psnr = 10 * Math.log10((255 * 255) / (squared / input.length));
    // 256 colours for these smooth waves: 29.9 dB measured; swapped R/B gives 7 dB, frames one off 17 dB
    expect(psnr).toBeGreaterThan(25);
  });

  it('is deterministic for quantised colour too', () => {
    const frames = Array.from({ length: 3 }, (_, i) => floatRgbFrame(40, 30, i));
    const copy = frames.map((f) => ({ ...f, pixels: Float32Array.from(f.pixels) }));
    expect(encodeGif(frames).equals(encodeGif(copy))).toBe(true);
  });

  it('refuses mixing gray and colour frames, naming the frame', () => {
    expect(() => encodeGif([rgbFrame(4, 4), grayFrame(4, 4)])).toThrow(expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'frames[1].channels' }));
  });

  it('gifDelayMs: the nearest whole 1/100 s to the frame duration, halves up, at least 20 ms', () => {
    expect([1, 4, 8, 10, 12, 24, 30, 60, 120].map(gifDelayMs)).toEqual([1000, 250, 130, 100, 80, 40, 30, 20, 20]);
    expect(() => gifDelayMs(0)).toThrow(expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'fps' }));
  });
});
