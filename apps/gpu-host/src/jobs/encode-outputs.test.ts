import { decodePngRgb, inspectGif } from '@asyncdiff/media';
import { describe, expect, it } from 'vitest';

import { encodeOutputs } from './encode-outputs.js';

const floats = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.3));

describe('encodeOutputs (the GPU host on the shared media path)', () => {
  it('encodes gray clips as GIFs with the shared frame delay (130 ms at 8 fps)', async () => {
    const files = await encodeOutputs({ latents: floats(2 * 8 * 16 * 16), images: 2, sampleDims: [1, 8, 16, 16], format: 'gif', scale: 8 });
    expect(files.map((f) => [f.index, f.ext, f.contentType, f.kind])).toEqual([[0, 'gif', 'image/gif', 'video'], [1, 'gif', 'image/gif', 'video']]);
    expect(inspectGif(files[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 128, height: 128, frames: 8, delaysMs: Array(8).fill(130) });
  });

  it('encodes colour images (planar [3, H, W]) as RGB PNGs', async () => {
    const files = await encodeOutputs({ latents: floats(3 * 24 * 32), images: 1, sampleDims: [3, 24, 32], format: 'png', scale: 1 });
    expect(files).toHaveLength(1);
    expect(decodePngRgb(files[0]?.body ?? Buffer.alloc(0))).toMatchObject({ width: 32, height: 24 });
  });

  it('fails samples the encoders cannot show as UNSUPPORTED_SAMPLE (the model\'s fault, not retryable)', async () => {
    const unsupported = expect.objectContaining({ code: 'UNSUPPORTED_SAMPLE', retryable: false, field: 'model' });
    await expect(encodeOutputs({ latents: floats(2 * 16), images: 1, sampleDims: [2, 4, 4], format: 'png', scale: 1 })).rejects.toEqual(unsupported);
    await expect(encodeOutputs({ latents: floats(15), images: 1, sampleDims: [1, 4, 4], format: 'png', scale: 1 })).rejects.toEqual(unsupported);
  });

  it('passes request errors through with their field', async () => {
    await expect(encodeOutputs({ latents: floats(16), images: 1, sampleDims: [1, 4, 4], format: 'png', scale: 0 })).rejects.toMatchObject({ code: 'MEDIA_INVALID_INPUT', field: 'scale' });
  });
});
