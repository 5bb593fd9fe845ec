import { contactSheet } from './contact-sheet.js';
import { MODEL_RANGE, type ValueRange } from './convert.js';
import { MediaAbortedError, MediaInputError } from './errors.js';
import type { FfmpegOptions } from './ffmpeg.js';
import { framesOf, parseSampleDims, type FloatFrame, type SampleLayout } from './frames.js';
import { encodeGif, gifDelayMs } from './gif.js';
import type { ByteImage } from './image.js';
import { encodePng } from './png.js';
import { renderFrames } from './render.js';
import { checkScale } from './upscale.js';
import { encodeVideo } from './video.js';

/** Every file format a generation's output can be stored as. */
export const SAMPLE_FORMATS = ['png', 'gif', 'mp4', 'webm'] as const;
/** A file format of `SAMPLE_FORMATS`; also the file extension. */
export type SampleFormat = (typeof SAMPLE_FORMATS)[number];

/** The Content-Type each format is stored and served with. */
export const SAMPLE_CONTENT_TYPES: Readonly<Record<SampleFormat, string>> = Object.freeze({
  png: 'image/png',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
});

/** Whether a file is a still (PNG) or an animation (GIF, MP4, WebM). */
export type EncodedKind = 'image' | 'video';

/** One encoded file, ready to be stored (by index: item `index` of the batch, 0 for a grid). */
export interface EncodedFile {
  index: number;
  ext: SampleFormat;
  contentType: string;
  kind: EncodedKind;
  body: Buffer;
}

/** A generation's output and how to store it: the input of `encodeSamples`. */
export interface EncodeSamplesOptions extends FfmpegOptions {
  /** `items` samples of `sampleDims`, concatenated, in model space (floats). */
  data: Float32Array;
  /** Samples in `data` (the batch size). */
  items: number;
  /** Per sample: `[C, H, W]` or `[C, F, H, W]`, C = 1 (gray) or 3 (planar RGB). */
  sampleDims: readonly number[];
  format: SampleFormat;
  /**
   * Integer nearest-neighbour upscale. No default on purpose: 8 suits the 16×16 models, 1 the
   * full-size ones (512, 1024 px), and only the caller knows which it holds.
   */
  scale: number;
  /** Frames per second of clips; a GIF's frame delay follows from it (`gifDelayMs`). @defaultValue 8 */
  fps?: number;
  /** Float interval mapped to 0…255. @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
  /**
   * One file for the whole batch instead of one per item: a contact sheet (`contactSheet`
   * defaults) for PNG, a clip of contact sheets (frame f shows every item's frame f) otherwise.
   * @defaultValue false
   */
  grid?: boolean;
  /** Constant-quality level of MP4/WebM (see `VideoOptions.crf`). @defaultValue the encoder's default */
  crf?: number;
  /** Stops between files and kills a running ffmpeg; rejects with `MediaAbortedError`. */
  signal?: AbortSignal;
}

/** Fully resolved `EncodeSamplesOptions` (without the data). */
export interface ResolvedEncodeSamplesOptions {
  format: SampleFormat;
  layout: SampleLayout;
  scale: number;
  fps: number;
  gifDelayMs: number;
  range: ValueRange;
  grid: boolean;
}

/** Fills `encodeSamples` defaults and checks everything but the data, naming the field. */
export function resolveEncodeSamplesOptions(options: EncodeSamplesOptions): ResolvedEncodeSamplesOptions {
  if (!(SAMPLE_FORMATS as readonly unknown[]).includes(options.format)) {
    throw new MediaInputError('format', `${JSON.stringify(options.format)} must be one of ${SAMPLE_FORMATS.join(', ')}`);
  }
  const fps = options.fps ?? 8;
  if (!Number.isInteger(fps) || fps < 1 || fps > 120) throw new MediaInputError('fps', `${String(fps)} must be an integer in 1…120`);
  if (options.grid !== undefined && typeof options.grid !== 'boolean') throw new MediaInputError('grid', 'must be a boolean');
  return {
    format: options.format,
    layout: parseSampleDims(options.sampleDims),
    scale: checkScale(options.scale),
    fps,
    gifDelayMs: gifDelayMs(fps),
    range: options.range ?? MODEL_RANGE,
    grid: options.grid ?? false,
  };
}

/**
 * The one path from a generation's output to stored files, shared by the CLI and the GPU host
 * so the same request gives the same bytes everywhere. Per item (or once, for `grid`): a PNG of
 * the image (a clip's first frame), or a GIF/MP4/WebM of all its frames. Gray and colour alike;
 * PNG and GIF are deterministic, so a retried job re-uploads identical bytes. Rejects with
 * `MediaInputError` naming the field, or the errors of `encodeVideo`.
 */
export async function encodeSamples(options: EncodeSamplesOptions): Promise<EncodedFile[]> {
  const { format, scale, fps, gifDelayMs: delayMs, range, grid } = resolveEncodeSamplesOptions(options);
  const items = framesOf(options.data, options.items, options.sampleDims);
  const nan = options.data.findIndex(Number.isNaN);
  if (nan >= 0) {
    const item = Math.floor(nan / (options.data.length / items.length));
    throw new MediaInputError('data', `value ${nan} (item ${item}) is NaN: the sampler diverged`);
  }
  const still = format === 'png'; // a PNG holds a clip's first frame
  const firstFrames = (frames: readonly FloatFrame[]): readonly FloatFrame[] => (still ? frames.slice(0, 1) : frames);
  // Rendered one file at a time, so a batch of large clips never sits in memory as bytes at once.
  const render = (index: number): ByteImage[] => (grid ? gridFrames(items, firstFrames, scale, range) : renderFrames(firstFrames(items[index] as FloatFrame[]), { scale, range }));
  const kind: EncodedKind = still ? 'image' : 'video';
  const out: EncodedFile[] = [];
  for (let index = 0; index < (grid ? 1 : items.length); index += 1) {
    if (options.signal?.aborted) throw new MediaAbortedError({ cause: options.signal.reason });
    const frames = render(index);
    let body: Buffer;
    switch (format) {
      case 'png':
        body = encodePng(frames[0] as ByteImage);
        break;
      case 'gif':
        body = encodeGif(frames, { delayMs });
        break;
      case 'mp4':
      case 'webm':
        body = await encodeVideo(frames, {
          format,
          fps,
          ...(options.crf === undefined ? {} : { crf: options.crf }),
          ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        break;
      default:
        return assertNever(format);
    }
    out.push({ index, ext: format, contentType: SAMPLE_CONTENT_TYPES[format], kind, body });
  }
  return out;
}

/** The grid clip: its frame f is the contact sheet of every item's frame f. */
function gridFrames(
  items: readonly FloatFrame[][],
  pick: (frames: readonly FloatFrame[]) => readonly FloatFrame[],
  scale: number,
  range: ValueRange,
): ByteImage[] {
  const picked = items.map(pick);
  return (picked[0] as readonly FloatFrame[]).map((_, f) => contactSheet(picked.map((frames) => frames[f] as FloatFrame), { scale, range }));
}

function assertNever(value: never): never {
  throw new Error(`unhandled sample format ${String(value)}`);
}
