/**
 * Media errors. Callers branch on `code` and `retryable`, never on message text; input errors
 * name the offending field (`frames[3].pixels`) so API users can fix their request.
 */

/** Every stable error code this lib throws. */
export type MediaErrorCode =
  | 'MEDIA_INVALID_INPUT'
  | 'MEDIA_DECODE_FAILED'
  | 'MEDIA_FFMPEG_MISSING'
  | 'MEDIA_ENCODER_UNAVAILABLE'
  | 'MEDIA_FFMPEG_FAILED'
  | 'MEDIA_ABORTED';

/** Base class of every media error. */
export abstract class MediaError extends Error {
  abstract readonly code: MediaErrorCode;
  /** Whether repeating the same call may succeed. */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A frame, frame list or option is unusable; `field` names it. */
export class MediaInputError extends MediaError {
  readonly code = 'MEDIA_INVALID_INPUT' as const;
  readonly retryable = false;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field} is invalid: ${detail}`);
  }
}

/** Bytes handed to a decoder/inspector are not a valid file of that format. */
export class MediaDecodeError extends MediaError {
  readonly code = 'MEDIA_DECODE_FAILED' as const;
  readonly retryable = false;
  constructor(
    readonly format: 'png' | 'gif' | 'video',
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`not a valid ${format}: ${detail}`, options);
  }
}

/** Which external program a failure concerns. */
export type MediaTool = 'ffmpeg' | 'ffprobe';

/** ffmpeg/ffprobe cannot be executed (not installed, or the configured path is wrong). */
export class FfmpegMissingError extends MediaError {
  readonly code = 'MEDIA_FFMPEG_MISSING' as const;
  readonly retryable = false;
  constructor(
    readonly tool: MediaTool,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`${tool} is not available at ${JSON.stringify(path)}; install ffmpeg or set its path`, options);
  }
}

/** This ffmpeg build lacks the encoder a format needs (e.g. libx264 for mp4). */
export class EncoderUnavailableError extends MediaError {
  readonly code = 'MEDIA_ENCODER_UNAVAILABLE' as const;
  readonly retryable = false;
  constructor(
    readonly format: string,
    readonly encoders: readonly string[],
  ) {
    super(`ffmpeg has none of the encoders ${encoders.join(', ')} needed for ${format}`);
  }
}

/** ffmpeg/ffprobe ran but failed or timed out; `stderrTail` holds its last words. */
export class FfmpegFailedError extends MediaError {
  readonly code = 'MEDIA_FFMPEG_FAILED' as const;
  constructor(
    readonly tool: MediaTool,
    readonly exitCode: number | null,
    readonly stderrTail: string,
    /** A timeout may pass on a less loaded machine; a non-zero exit on the same input will not. */
    readonly timedOut: boolean,
  ) {
    super(timedOut ? `${tool} timed out` : `${tool} exited with ${String(exitCode)}: ${stderrTail.trim().split('\n').at(-1) ?? ''}`);
  }

  get retryable(): boolean {
    return this.timedOut;
  }
}

/** The caller's AbortSignal fired while ffmpeg/ffprobe ran. */
export class MediaAbortedError extends MediaError {
  readonly code = 'MEDIA_ABORTED' as const;
  readonly retryable = false;
  constructor(options?: { cause?: unknown }) {
    super('media operation aborted', options);
  }
}
