import type { FloatImage } from '@asyncdiff/media';
import { encodeGif, encodePng, encodeVideo, renderFrames, renderImage } from '@asyncdiff/media';
import type { OutputKind, OutputFormat } from '@asyncdiff/queue';

import { GpuHostError } from '../errors.js';

/** One encoded file, ready to upload under `outputKey(jobId, index, ext)`. */
export interface EncodedOutput {
  readonly index: number;
  readonly ext: string;
  readonly contentType: string;
  readonly kind: OutputKind;
  readonly body: Buffer;
}

const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = { png: 'image/png', gif: 'image/gif', mp4: 'video/mp4', webm: 'video/webm' };

/** Per sample, its frames (one for images) as model-space float images; views, no copy. */
export function splitSamples(latents: Float32Array, items: number, sampleDims: readonly number[]): FloatImage[][] {
  const [channels, ...rest] = sampleDims;
  if (channels !== 1 || (rest.length !== 2 && rest.length !== 3)) {
    throw new GpuHostError('UNSUPPORTED_SAMPLE', `outputs need single-channel samples [1, H, W] or [1, F, H, W], got [${sampleDims.join(', ')}]`, false, 'model');
  }
  const [frames, height, width] = (rest.length === 3 ? rest : [1, ...rest]) as [number, number, number];
  const per = frames * height * width;
  if (latents.length !== items * per) {
    throw new GpuHostError('UNSUPPORTED_SAMPLE', `${latents.length} values do not hold ${items} samples of [${sampleDims.join(', ')}]`, false);
  }
  return Array.from({ length: items }, (_, i) =>
    Array.from({ length: frames }, (_, f) => ({ width, height, pixels: latents.subarray(i * per + f * height * width, i * per + (f + 1) * height * width) })),
  );
}

/**
 * Encodes a generation's samples as the job asked: one PNG per image, or one GIF/MP4/WebM clip
 * holding all of the model's frames; pixels upscaled by `scale` (nearest neighbour). PNG and GIF
 * are deterministic, so a retried job re-uploads identical bytes.
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
  const samples = splitSamples(input.latents, input.images, input.sampleDims);
  const contentType = CONTENT_TYPES[input.format];
  const out: EncodedOutput[] = [];
  for (const [index, frames] of samples.entries()) {
    let body: Buffer;
    let kind: OutputKind = 'video';
    if (input.format === 'png') {
      kind = 'image';
      body = encodePng(renderImage(frames[0]!, { scale: input.scale }));
    } else {
      const rendered = renderFrames(frames, { scale: input.scale });
      const fps = input.fps ?? 8;
      body =
        input.format === 'gif'
          ? encodeGif(rendered, { delayMs: Math.max(20, Math.round(100 / fps) * 10) })
          : await encodeVideo(rendered, { format: input.format, fps, ...(input.signal && { signal: input.signal }) });
    }
    out.push({ index, ext: input.format, contentType, kind, body });
  }
  return out;
}
