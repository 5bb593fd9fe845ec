import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { toRgbImage, toUint8 } from './convert.js';
import { ffmpegAvailable } from './ffmpeg.js';
import { decodePng, decodePngRgb, encodePng } from './png.js';
import { renderImage } from './render.js';
import { floatFrame, floatRgbFrame, grayFrame, rgbFrame } from './test-fixtures/frames.js';

const hasFfmpeg = await ffmpegAvailable();

describe('PNG', () => {
  it('round-trips model-space floats to their quantised bytes', () => {
    const frame = floatFrame(16, 16);
    const decoded = decodePng(encodePng(frame));
    expect(decoded.width).toBe(16);
    expect(decoded.height).toBe(16);
    expect(decoded.pixels).toEqual(toUint8(frame.pixels));
  });

  it('round-trips 8-bit pixels exactly, including a rendered 128×128 output', () => {
    const image = renderImage(grayFrame(16, 16, 3));
    const decoded = decodePng(encodePng(image));
    expect(decoded).toEqual({ width: 128, height: 128, pixels: image.pixels });
  });

  it('writes an 8-bit grayscale PNG', () => {
    const bytes = encodePng(grayFrame(5, 3));
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(5); // IHDR width
    expect(bytes.readUInt32BE(20)).toBe(3); // IHDR height
    expect(bytes[24]).toBe(8); // bit depth
    expect(bytes[25]).toBe(0); // colour type: grayscale
  });

  it('is deterministic: same input, byte-identical output', () => {
    const frame = floatFrame(16, 16, 0.3);
    expect(encodePng(frame).equals(encodePng({ ...frame, pixels: Float32Array.from(frame.pixels) }))).toBe(true);
  });

  it('rejects bad input naming the field, and junk bytes with MEDIA_DECODE_FAILED', () => {
    expect(() => encodePng({ width: 4, height: 4, pixels: new Uint8Array(10) })).toThrow(
      expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'image.pixels' }),
    );
    expect(() => encodePng({ width: 4, height: -1, pixels: new Uint8Array(0) })).toThrow(expect.objectContaining({ field: 'image.height' }));
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(expect.objectContaining({ code: 'MEDIA_DECODE_FAILED' }));
  });
});

describe('RGB PNG', () => {
  it('round-trips 8-bit RGB exactly, including a rendered upscale', () => {
    const image = renderImage(rgbFrame(16, 12, 2, 200), { scale: 3 });
    expect(decodePngRgb(encodePng(image))).toEqual({ channels: 3, width: 48, height: 36, pixels: image.pixels });
  });

  it('round-trips planar floats to their quantised, interleaved bytes', () => {
    const frame = floatRgbFrame(20, 10, 0.7);
    expect(decodePngRgb(encodePng(frame)).pixels).toEqual(toRgbImage(frame).pixels);
  });

  it('writes an 8-bit truecolour PNG, deterministically', () => {
    const frame = floatRgbFrame(5, 3);
    const bytes = encodePng(frame);
    expect(bytes.readUInt32BE(16)).toBe(5);
    expect(bytes.readUInt32BE(20)).toBe(3);
    expect(bytes[24]).toBe(8); // bit depth
    expect(bytes[25]).toBe(2); // colour type: RGB
    expect(bytes.equals(encodePng({ ...frame, pixels: Float32Array.from(frame.pixels) }))).toBe(true);
  });

  it('decodePng reduces colour to BT.601 luma; decodePngRgb expands gray to R = G = B', () => {
    const rgb = { channels: 3 as const, width: 2, height: 1, pixels: Uint8Array.from([255, 0, 0, 10, 10, 10]) };
    expect(Array.from(decodePng(encodePng(rgb)).pixels)).toEqual([76, 10]); // round(0.299 × 255) = 76
    const gray = grayFrame(3, 1, 5);
    expect(Array.from(decodePngRgb(encodePng(gray)).pixels)).toEqual(Array.from(gray.pixels).flatMap((v) => [v, v, v]));
  });

  it.skipIf(!hasFfmpeg)('decodes (with ffmpeg, an independent decoder) to exactly the input colours', async () => {
    const image = rgbFrame(17, 9, 4, 256);
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-png-'));
    try {
      const file = path.join(dir, 'a.png');
      await writeFile(file, encodePng(image));
      const { stdout } = await promisify(execFile)('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer' });
      expect(new Uint8Array(stdout)).toEqual(image.pixels);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad colour buffer naming the field', () => {
    expect(() => encodePng({ channels: 3, width: 2, height: 2, pixels: new Uint8Array(4) })).toThrow(
      expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'image.pixels' }),
    );
    expect(() => decodePngRgb(Buffer.from('not a png'))).toThrow(expect.objectContaining({ code: 'MEDIA_DECODE_FAILED' }));
  });
});
