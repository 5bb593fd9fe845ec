import { encodeSamples, MediaInputError, type EncodedFile } from '@asyncdiff/media';
import type { OutputFormat } from '@asyncdiff/queue';

import { GpuHostError } from '../errors.js';

/** One encoded file, ready to upload under `outputKey(jobId, index, ext)`. */
export type EncodedOutput = EncodedFile;

/**
 * Encodes a job's samples as it asked, through the one path the CLI uses too
 * (`encodeSamples`: one PNG per image, or one GIF/MP4/WebM clip per item, gray or colour).
 * Sample dims the encoders cannot show are the model's fault, not the request's: they fail the
 * job as `UNSUPPORTED_SAMPLE` (not retryable) naming `model`.
 */
export async function encodeOutputs(input: {
  readonly latents: Float32Array;
  readonly images: number;
  readonly sampleDims: readonly number[];
  readonly format: OutputFormat;
  readonly scale: number;
  /** Frames per second of clips. @defaultValue 8 */
  readonly fps?: number;
  readonly signal?: AbortSignal;
}): Promise<EncodedOutput[]> {
  try {
    return await encodeSamples({
      data: input.latents,
      items: input.images,
      sampleDims: input.sampleDims,
      format: input.format,
      scale: input.scale,
      ...(input.fps === undefined ? {} : { fps: input.fps }),
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    });
  } catch (err) {
    if (err instanceof MediaInputError && (err.field === 'data' || err.field.startsWith('sampleDims'))) {
      throw new GpuHostError('UNSUPPORTED_SAMPLE', `the model's output cannot be encoded: ${err.message}`, false, 'model', { cause: err });
    }
    throw err;
  }
}
