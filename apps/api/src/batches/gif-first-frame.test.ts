import { encodeGif, inspectGif } from '@asyncdiff/media';
import { describe, expect, it } from 'vitest';

import { decodeGifFirstFrame, GifDecodeError } from './gif-first-frame.js';

describe('decodeGifFirstFrame', () => {
  it.each([
    [16, 16],
    [32, 32],
    [128, 128],
    [5, 7],
  ])('decodes the first frame of a %i×%i GIF made by @asyncdiff/media', (w, h) => {
    const frames = [0, 1, 2].map((f) => ({ width: w, height: h, pixels: Uint8Array.from({ length: w * h }, (_, i) => (i * 7 + f * 13) % 256) }));
    const gif = encodeGif(frames);
    expect(inspectGif(gif).frames).toBe(3);
    const first = decodeGifFirstFrame(gif);
    expect([first.width, first.height]).toEqual([w, h]);
    let maxError = 0;
    for (let i = 0; i < w * h; i++) maxError = Math.max(maxError, Math.abs((first.pixels[i] ?? 0) - (frames[0]?.pixels[i] ?? 0)));
    // The GIF palette quantises gray levels a little; the frame is the first, not the second.
    expect(maxError).toBeLessThan(8);
  });

  it('rejects what is not a GIF, and truncated GIFs, with a stable code', () => {
    expect(() => decodeGifFirstFrame(Buffer.from('not a gif at all'))).toThrow(GifDecodeError);
    const gif = encodeGif([{ width: 8, height: 8, pixels: new Uint8Array(64).fill(200) }]);
    try {
      decodeGifFirstFrame(gif.subarray(0, 20));
      expect.unreachable();
    } catch (err) {
      expect((err as GifDecodeError).code).toBe('GIF_DECODE_FAILED');
    }
  });
});
