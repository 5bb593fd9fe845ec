import { MediaInputError } from './errors.js';
import { runTool } from './tool-process.js';

/** Where ffmpeg/ffprobe are and how long they may run. */
export interface FfmpegOptions {
  /** @defaultValue `ffmpeg` (looked up on PATH) */
  ffmpegPath?: string;
  /** @defaultValue `ffprobe` (looked up on PATH) */
  ffprobePath?: string;
  /** Per-invocation limit; the process is killed after it. @defaultValue 120000 */
  timeoutMs?: number;
}

/** Fully resolved `FfmpegOptions`. */
export interface ResolvedFfmpegOptions {
  ffmpegPath: string;
  ffprobePath: string;
  timeoutMs: number;
}

/** Fills ffmpeg defaults and checks them. */
export function resolveFfmpegOptions(options: FfmpegOptions = {}): ResolvedFfmpegOptions {
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new MediaInputError('timeoutMs', `${String(timeoutMs)} must be a positive integer`);
  for (const field of ['ffmpegPath', 'ffprobePath'] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw new MediaInputError(field, 'must be a non-empty path');
  }
  return { ffmpegPath: options.ffmpegPath ?? 'ffmpeg', ffprobePath: options.ffprobePath ?? 'ffprobe', timeoutMs };
}

const encoderCache = new Map<string, Promise<ReadonlySet<string>>>();

/**
 * The video encoders this ffmpeg build offers (`libx264`, `libvpx-vp9`…), asked once per path.
 * Rejects with `FfmpegMissingError` when ffmpeg cannot run.
 */
export function ffmpegEncoders(ffmpegPath = 'ffmpeg'): Promise<ReadonlySet<string>> {
  let cached = encoderCache.get(ffmpegPath);
  if (cached === undefined) {
    cached = runTool({ tool: 'ffmpeg', path: ffmpegPath, args: ['-hide_banner', '-encoders'], timeoutMs: 30_000 }).then(({ stdout }) => {
      const names = new Set<string>();
      for (const line of stdout.toString('utf8').split('\n')) {
        const match = /^\s*V[A-Z.]{5}\s+(\S+)/.exec(line);
        if (match?.[1] !== undefined) names.add(match[1]);
      }
      return names;
    });
    encoderCache.set(ffmpegPath, cached);
    cached.catch(() => encoderCache.delete(ffmpegPath));
  }
  return cached;
}

/**
 * Whether ffmpeg (and ffprobe) can run, so callers can offer only PNG/GIF on machines without
 * it instead of failing jobs. Never throws.
 */
export async function ffmpegAvailable(options?: FfmpegOptions): Promise<boolean> {
  const { ffmpegPath, ffprobePath } = resolveFfmpegOptions(options);
  try {
    await runTool({ tool: 'ffmpeg', path: ffmpegPath, args: ['-hide_banner', '-version'], timeoutMs: 30_000 });
    await runTool({ tool: 'ffprobe', path: ffprobePath, args: ['-hide_banner', '-version'], timeoutMs: 30_000 });
    return true;
  } catch {
    return false;
  }
}
