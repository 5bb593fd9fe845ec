import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ffmpegAvailable } from './ffmpeg.js';
import { encodeGif } from './gif.js';
import { inspectGif } from './gif-inspect.js';
import { renderFrames } from './render.js';
import { floatFrame, grayFrame } from './test-fixtures/frames.js';

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
