import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ffmpegAvailable, ffmpegEncoders } from './ffmpeg.js';
import { probeVideo } from './probe.js';
import { renderFrames } from './render.js';
import { encodeVideo } from './video.js';
import type { RgbImage } from './image.js';
import { floatFrame, floatRgbFrame, grayFrame } from './test-fixtures/frames.js';

const hasFfmpeg = await ffmpegAvailable();
const frames = renderFrames(Array.from({ length: 12 }, (_, i) => floatFrame(16, 16, i * 0.5)));

describe.skipIf(!hasFfmpeg)('encodeVideo with ffmpeg', () => {
  it('this ffmpeg offers the encoders the formats need', async () => {
    const encoders = await ffmpegEncoders();
    expect(encoders.has('libx264')).toBe(true);
    expect(encoders.has('libvpx-vp9') || encoders.has('libvpx')).toBe(true);
  });

  it.each([
    ['mp4', 'h264'],
    ['webm', 'vp9'],
  ] as const)('%s has every frame at the rendered size', async (format, codec) => {
    const bytes = await encodeVideo(frames, { format, fps: 8 });
    const probe = await probeVideo(bytes);
    expect(probe).toMatchObject({ width: 128, height: 128, frames: 12, codec, pixelFormat: 'yuv420p', fps: 8 });
    expect(probe.durationSec).toBeCloseTo(1.5, 1);
  });

  it('mp4 puts the moov atom before mdat (+faststart)', async () => {
    const bytes = await encodeVideo(frames, { format: 'mp4' });
    const moov = bytes.indexOf('moov');
    const mdat = bytes.indexOf('mdat');
    expect(moov).toBeGreaterThan(0);
    expect(moov).toBeLessThan(mdat);
  });

  it('is reproducible with the same ffmpeg build', async () => {
    for (const format of ['mp4', 'webm'] as const) {
      const [a, b] = await Promise.all([encodeVideo(frames, { format }), encodeVideo(frames, { format })]);
      expect(a.equals(b), format).toBe(true);
    }
  });

  it('probes a file path too, and reports junk as MEDIA_FFMPEG_FAILED', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-video-test-'));
    try {
      const file = path.join(dir, 'a.webm');
      await writeFile(file, await encodeVideo(frames.slice(0, 3), { format: 'webm', fps: 3 }));
      expect(await probeVideo(file)).toMatchObject({ frames: 3, fps: 3 });
      await expect(probeVideo(Buffer.from('definitely not a video'))).rejects.toMatchObject({ code: 'MEDIA_FFMPEG_FAILED', tool: 'ffprobe' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops ffmpeg when the signal aborts', async () => {
    const controller = new AbortController();
    const long = renderFrames(Array.from({ length: 400 }, (_, i) => floatFrame(16, 16, i)), { scale: 16 });
    const pending = encodeVideo(long, { format: 'webm', signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: 'MEDIA_ABORTED' });
  });
});

describe.skipIf(!hasFfmpeg)('encodeVideo in colour', () => {
  const run = promisify(execFile);
  const QUADRANTS = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 150, 50]] as const;
  /** 32×32: red, green / blue, ochre quadrants. */
  const quadrants = (): RgbImage => {
    const pixels = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y += 1) for (let x = 0; x < 32; x += 1) pixels.set(QUADRANTS[(y < 16 ? 0 : 2) + (x < 16 ? 0 : 1)] as readonly number[], (y * 32 + x) * 3);
    return { channels: 3, width: 32, height: 32, pixels };
  };

  it.each(['mp4', 'webm'] as const)('%s has every colour frame at its size, tagged BT.709', async (format) => {
    const frames = renderFrames(Array.from({ length: 6 }, (_, i) => floatRgbFrame(16, 12, i * 0.5)), { scale: 4 });
    const bytes = await encodeVideo(frames, { format, fps: 8 });
    expect(await probeVideo(bytes)).toMatchObject({ width: 64, height: 48, frames: 6, pixelFormat: 'yuv420p', fps: 8 });
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-video-test-'));
    try {
      const file = path.join(dir, `a.${format}`);
      await writeFile(file, bytes);
      const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=color_space,color_primaries,color_transfer,color_range', '-of', 'json', file]);
      expect((JSON.parse(stdout) as { streams: unknown[] }).streams[0]).toEqual({ color_space: 'bt709', color_primaries: 'bt709', color_transfer: 'bt709', color_range: 'tv' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each(['mp4', 'webm'] as const)('%s decodes back to the colours that went in (channel order, matrix)', async (format) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-video-test-'));
    try {
      const file = path.join(dir, `a.${format}`);
      await writeFile(file, await encodeVideo([quadrants(), quadrants()], { format, fps: 4 }));
      const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer' });
      expect(stdout.length).toBe(2 * 32 * 32 * 3);
      [[8, 8], [24, 8], [8, 24], [24, 24]].forEach(([x, y], q) => {
        const at = ((y as number) * 32 + (x as number)) * 3;
        const got = Array.from(stdout.subarray(at, at + 3));
        // lossy 4:2:0 coding moves a flat colour by a level or two; a wrong matrix or order moves it by tens
        got.forEach((v, c) => expect(Math.abs(v - (QUADRANTS[q]?.[c] as number)), `quadrant ${q} channel ${c}: ${got.join(',')}`).toBeLessThanOrEqual(4));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('encodeVideo input checks (no ffmpeg needed)', () => {
  const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });

  it('rejects zero frames, mixed sizes, odd sizes and bad options naming the field', async () => {
    await expect(encodeVideo([], { format: 'mp4' })).rejects.toEqual(bad('frames'));
    await expect(encodeVideo([grayFrame(8, 8), grayFrame(8, 6)], { format: 'mp4' })).rejects.toEqual(bad('frames[1].height'));
    await expect(encodeVideo([grayFrame(7, 8)], { format: 'mp4' })).rejects.toEqual(bad('frames[0].width'));
    await expect(encodeVideo([grayFrame(8, 8)], { format: 'avi' as 'mp4' })).rejects.toEqual(bad('format'));
    await expect(encodeVideo([grayFrame(8, 8)], { format: 'webm', fps: 0 })).rejects.toEqual(bad('fps'));
    await expect(encodeVideo([floatRgbFrame(8, 8), grayFrame(8, 8)], { format: 'mp4' })).rejects.toEqual(bad('frames[1].channels'));
    await expect(encodeVideo([floatRgbFrame(8, 7)], { format: 'mp4' })).rejects.toEqual(bad('frames[0].height'));
  });

  it('reports a missing ffmpeg as MEDIA_FFMPEG_MISSING', async () => {
    await expect(encodeVideo([grayFrame(8, 8)], { format: 'mp4', ffmpegPath: '/nonexistent/ffmpeg' })).rejects.toMatchObject({
      code: 'MEDIA_FFMPEG_MISSING',
      tool: 'ffmpeg',
    });
    await expect(probeVideo(Buffer.from('x'), { ffprobePath: '/nonexistent/ffprobe' })).rejects.toMatchObject({
      code: 'MEDIA_FFMPEG_MISSING',
      tool: 'ffprobe',
    });
    expect(await ffmpegAvailable({ ffmpegPath: '/nonexistent/ffmpeg' })).toBe(false);
  });
});
