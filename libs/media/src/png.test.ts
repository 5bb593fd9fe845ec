import { describe, expect, it } from 'vitest';
import { toUint8 } from './convert.js';
import { decodePng, encodePng } from './png.js';
import { renderImage } from './render.js';
import { floatFrame, grayFrame } from './test-fixtures/frames.js';

describe('PNG', () => {
  it('round-trips model-space floats to their quantised bytes', () => {
    const frame = floatFrame(16, 16);
    const decoded = decodePng(encodePng(frame));
    expect(decoded.width).toBe(16);
    expect(decoded.height).toBe(16);
    expect(decoded.pixels).toEqual(toUint8(frame.pixels));
  });

  it('round-trips 8-bit pixels exactly, including a rendered 128×128 output', () => {
    const image = renderImage(grayFrame(16, 16, 3));
    const decoded = decodePng(encodePng(image));
    expect(decoded).toEqual({ width: 128, height: 128, pixels: image.pixels });
  });

  it('writes an 8-bit grayscale PNG', () => {
    const bytes = encodePng(grayFrame(5, 3));
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(5); // IHDR width
    expect(bytes.readUInt32BE(20)).toBe(3); // IHDR height
    expect(bytes[24]).toBe(8); // bit depth
    expect(bytes[25]).toBe(0); // colour type: grayscale
  });

  it('is deterministic: same input, byte-identical output', () => {
    const frame = floatFrame(16, 16, 0.3);
    expect(encodePng(frame).equals(encodePng({ ...frame, pixels: Float32Array.from(frame.pixels) }))).toBe(true);
  });

  it('rejects bad input naming the field, and junk bytes with MEDIA_DECODE_FAILED', () => {
    expect(() => encodePng({ width: 4, height: 4, pixels: new Uint8Array(10) })).toThrow(
      expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'image.pixels' }),
    );
    expect(() => encodePng({ width: 4, height: -1, pixels: new Uint8Array(0) })).toThrow(expect.objectContaining({ field: 'image.height' }));
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(expect.objectContaining({ code: 'MEDIA_DECODE_FAILED' }));
  });
});
