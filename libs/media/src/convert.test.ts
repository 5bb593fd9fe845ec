import { describe, expect, it } from 'vitest';
import { toGrayImage, toUint8 } from './convert.js';
import { renderFrames, renderImage } from './render.js';
import { upscaleNearest } from './upscale.js';
import { grayFrame } from './test-fixtures/frames.js';

describe('toUint8', () => {
  it('maps [-1, 1] onto 0…255, rounding half up and clamping', () => {
    expect(Array.from(toUint8(Float32Array.from([-1, 1, 0, -5, 5, -0.5, 0.5])))).toEqual([0, 255, 128, 0, 255, 64, 191]);
  });

  it('honours a custom range', () => {
    expect(Array.from(toUint8(Float32Array.from([0, 0.5, 1]), { min: 0, max: 1 }))).toEqual([0, 128, 255]);
  });

  it('refuses NaN naming the field, and an empty range', () => {
    expect(() => toGrayImage({ width: 2, height: 1, pixels: Float32Array.from([0, Number.NaN]) }, undefined, 'frames[3]')).toThrow(
      expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'frames[3].pixels' }),
    );
    expect(() => toUint8(new Float32Array(1), { min: 1, max: 1 })).toThrow(expect.objectContaining({ field: 'range' }));
  });

  it('passes 8-bit images through untouched', () => {
    const image = grayFrame(3, 2);
    expect(toGrayImage(image)).toBe(image);
  });
});

describe('upscaleNearest / render', () => {
  it('turns each pixel into a scale×scale block', () => {
    const out = upscaleNearest({ width: 2, height: 1, pixels: Uint8Array.from([10, 200]) }, 3);
    expect(out.width).toBe(6);
    expect(out.height).toBe(3);
    expect(Array.from(out.pixels)).toEqual([10, 10, 10, 200, 200, 200, 10, 10, 10, 200, 200, 200, 10, 10, 10, 200, 200, 200]);
  });

  it('renders 16×16 model output to 128×128 by default', () => {
    const [frame] = renderFrames([{ width: 16, height: 16, pixels: new Float32Array(256).fill(1) }]);
    expect(frame).toMatchObject({ width: 128, height: 128 });
    expect(frame?.pixels.every((v) => v === 255)).toBe(true);
    expect(renderImage(grayFrame(16, 16), { scale: 2 })).toMatchObject({ width: 32, height: 32 });
  });

  it('rejects bad scales and frame sizes naming the field', () => {
    expect(() => renderImage(grayFrame(4, 4), { scale: 1.5 })).toThrow(expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'scale' }));
    expect(() => renderImage({ width: 4, height: 4, pixels: new Uint8Array(15) })).toThrow(expect.objectContaining({ field: 'image.pixels' }));
    expect(() => renderImage({ width: 0, height: 4, pixels: new Uint8Array(0) })).toThrow(expect.objectContaining({ field: 'image.width' }));
    expect(() => renderFrames([])).toThrow(expect.objectContaining({ field: 'frames' }));
    expect(() => renderImage(grayFrame(2000, 1), { scale: 8 })).toThrow(expect.objectContaining({ field: 'scale' }));
  });
});
