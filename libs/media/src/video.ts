import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MODEL_RANGE, toByteImage, type ValueRange } from './convert.js';
import { EncoderUnavailableError, MediaInputError } from './errors.js';
import { ffmpegEncoders, resolveFfmpegOptions, type FfmpegOptions } from './ffmpeg.js';
import { checkFrames, type ImageInput } from './image.js';
import { runTool } from './tool-process.js';

/** Container of an encoded video. */
export type VideoFormat = 'mp4' | 'webm';

/** Options of `encodeVideo`. */
export interface VideoOptions extends FfmpegOptions {
  format: VideoFormat;
  /** Frames per second (1…120). @defaultValue 8 */
  fps?: number;
  /** Constant-quality level of the encoder (x264/VP9 CRF; lower is better). @defaultValue 18 for mp4, 24 for webm */
  crf?: number;
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
  /** Stops ffmpeg (SIGKILL) and rejects with `MediaAbortedError`. */
  signal?: AbortSignal;
}

/** Fully resolved `VideoOptions` (the encoder is chosen later, from what ffmpeg offers). */
export interface ResolvedVideoOptions {
  format: VideoFormat;
  fps: number;
  crf: number;
  range: ValueRange;
  ffmpegPath: string;
  ffprobePath: string;
  timeoutMs: number;
}

/** Encoders tried per format, best first. */
export const VIDEO_ENCODERS: Readonly<Record<VideoFormat, readonly string[]>> = {
  mp4: ['libx264'],
  webm: ['libvpx-vp9', 'libvpx'],
};

/** Fills video defaults and checks them. */
export function resolveVideoOptions(options: VideoOptions): ResolvedVideoOptions {
  if (options?.format !== 'mp4' && options?.format !== 'webm') {
    throw new MediaInputError('format', `${JSON.stringify(options?.format)} must be "mp4" or "webm"`);
  }
  const fps = options.fps ?? 8;
  if (!Number.isInteger(fps) || fps < 1 || fps > 120) throw new MediaInputError('fps', `${String(fps)} must be an integer in 1…120`);
  const crf = options.crf ?? (options.format === 'mp4' ? 18 : 24);
  if (!Number.isInteger(crf) || crf < 0 || crf > (options.format === 'mp4' ? 51 : 63)) {
    throw new MediaInputError('crf', `${String(crf)} is out of range for ${options.format}`);
  }
  return { format: options.format, fps, crf, range: options.range ?? MODEL_RANGE, ...resolveFfmpegOptions(options) };
}

/** RGB → BT.709 limited-range YUV, tagged, so every player shows the colours that went in. */
const COLOR_ARGS: readonly string[] = [
  ...['-vf', 'scale=out_color_matrix=bt709:out_range=tv'],
  ...['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'],
];

/** Encoder arguments per encoder: single-threaded and bit-exact so a build gives repeatable bytes. */
function encoderArgs(encoder: string, crf: number): string[] {
  switch (encoder) {
    case 'libx264':
      return ['-c:v', 'libx264', '-preset', 'medium', '-crf', String(crf), '-threads', '1', '-movflags', '+faststart'];
    case 'libvpx-vp9':
      return ['-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', String(crf), '-deadline', 'good', '-cpu-used', '2', '-row-mt', '0', '-threads', '1'];
    default:
      return ['-c:v', 'libvpx', '-b:v', '1M', '-crf', String(Math.max(4, Math.min(crf, 63))), '-deadline', 'good', '-cpu-used', '2', '-threads', '1'];
  }
}

/**
 * Encodes frames as an MP4 (H.264, yuv420p, moov atom first so browsers start playing at once)
 * or a WebM (VP9, else VP8) with ffmpeg: raw frames (`gray` or `rgb24`) go in on stdin, no
 * shell involved. Colour is converted with the BT.709 matrix to limited range and tagged so
 * (players otherwise guess BT.601 for small frames and BT.709 for large ones). Width and height
 * must be even (4:2:0 chroma); render with an even `scale`. Output is as
 * reproducible as ffmpeg allows: one thread, bit-exact muxing, no metadata or random UIDs.
 * Rejects with `FfmpegMissingError`, `EncoderUnavailableError`, `FfmpegFailedError` or
 * `MediaAbortedError`.
 */
export async function encodeVideo(frames: readonly ImageInput[], options: VideoOptions): Promise<Buffer> {
  const config = resolveVideoOptions(options);
  const { width, height, channels } = checkFrames(frames);
  if (width % 2 !== 0) throw new MediaInputError('frames[0].width', `${width} must be even for ${config.format} (yuv420p)`);
  if (height % 2 !== 0) throw new MediaInputError('frames[0].height', `${height} must be even for ${config.format} (yuv420p)`);
  const frameBytes = width * height * channels;
  const raw = new Uint8Array(frameBytes * frames.length);
  frames.forEach((frame, index) => raw.set(toByteImage(frame, config.range, `frames[${index}]`).pixels, index * frameBytes));

  const available = await ffmpegEncoders(config.ffmpegPath);
  const candidates = VIDEO_ENCODERS[config.format];
  const encoder = candidates.find((name) => available.has(name));
  if (encoder === undefined) throw new EncoderUnavailableError(config.format, candidates);

  const dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-video-'));
  const output = path.join(dir, `out.${config.format}`);
  try {
    await runTool({
      tool: 'ffmpeg',
      path: config.ffmpegPath,
      timeoutMs: config.timeoutMs,
      stdin: raw,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      args: [
        ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'],
        ...['-f', 'rawvideo', '-pix_fmt', channels === 1 ? 'gray' : 'rgb24', '-video_size', `${width}x${height}`, '-framerate', String(config.fps), '-i', 'pipe:0'],
        ...['-an', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1'],
        ...(channels === 1 ? [] : COLOR_ARGS),
        ...encoderArgs(encoder, config.crf),
        ...['-pix_fmt', 'yuv420p', '-r', String(config.fps)],
        ...['-fflags', '+bitexact', '-flags:v', '+bitexact'],
        ...['-f', config.format, output],
      ],
    });
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
