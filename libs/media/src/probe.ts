import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MediaDecodeError } from './errors.js';
import { resolveFfmpegOptions, type FfmpegOptions } from './ffmpeg.js';
import { runTool } from './tool-process.js';

/** What `probeVideo` reports about a video's first video stream. */
export interface VideoProbe {
  width: number;
  height: number;
  /** Frames actually decoded (ffprobe `-count_frames`), not the container's claim. */
  frames: number;
  /** ffmpeg codec name: `h264`, `vp9`, `vp8`… */
  codec: string;
  durationSec: number;
  pixelFormat: string;
  /** ffprobe's demuxer name list, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`. */
  formatName: string;
  fps: number;
}

/** Options of `probeVideo`. */
export interface ProbeOptions extends FfmpegOptions {
  signal?: AbortSignal;
}

interface FfprobeJson {
  streams?: Array<{
    codec_name?: string;
    width?: number;
    height?: number;
    nb_read_frames?: string;
    pix_fmt?: string;
    avg_frame_rate?: string;
    r_frame_rate?: string;
  }>;
  format?: { duration?: string; format_name?: string };
}

/**
 * Reads a video's size, decoded frame count, codec and duration with ffprobe — for tests and
 * the fleet's end-to-end checks of generated videos. Accepts a file path or the bytes.
 */
export async function probeVideo(input: string | Uint8Array, options?: ProbeOptions): Promise<VideoProbe> {
  const { ffprobePath, timeoutMs } = resolveFfmpegOptions(options);
  let dir: string | undefined;
  let file: string;
  if (typeof input === 'string') file = input;
  else {
    dir = await mkdtemp(path.join(tmpdir(), 'asyncdiff-probe-'));
    file = path.join(dir, 'input');
    await writeFile(file, input);
  }
  try {
    const { stdout } = await runTool({
      tool: 'ffprobe',
      path: ffprobePath,
      timeoutMs,
      ...(options?.signal === undefined ? {} : { signal: options.signal }),
      args: [
        ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
        ...['-show_entries', 'stream=codec_name,width,height,nb_read_frames,pix_fmt,avg_frame_rate,r_frame_rate:format=duration,format_name'],
        ...['-of', 'json', file],
      ],
    });
    return parseProbe(stdout.toString('utf8'));
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

function parseProbe(text: string): VideoProbe {
  let json: FfprobeJson;
  try {
    json = JSON.parse(text) as FfprobeJson;
  } catch (error) {
    throw new MediaDecodeError('video', 'ffprobe printed no JSON', { cause: error });
  }
  const stream = json.streams?.[0];
  if (stream === undefined || stream.width === undefined || stream.height === undefined || stream.codec_name === undefined) {
    throw new MediaDecodeError('video', 'no video stream');
  }
  return {
    width: stream.width,
    height: stream.height,
    frames: Number(stream.nb_read_frames ?? 0),
    codec: stream.codec_name,
    durationSec: Number(json.format?.duration ?? Number.NaN),
    pixelFormat: stream.pix_fmt ?? 'unknown',
    formatName: json.format?.format_name ?? 'unknown',
    fps: rational(stream.avg_frame_rate !== '0/0' ? stream.avg_frame_rate : stream.r_frame_rate),
  };
}

function rational(value: string | undefined): number {
  const [num, den] = (value ?? '0/1').split('/').map(Number);
  return num !== undefined && den !== undefined && den !== 0 ? num / den : 0;
}
