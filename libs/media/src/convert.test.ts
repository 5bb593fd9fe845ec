import { describe, expect, it } from 'vitest';
import { toByteImage, toGrayImage, toRgbImage, toUint8 } from './convert.js';
import { renderFrames, renderImage } from './render.js';
import { upscaleNearest } from './upscale.js';
import type { GrayImage, RgbImage } from './image.js';
import { floatRgbFrame, grayFrame, rgbFrame } from './test-fixtures/frames.js';

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

describe('toRgbImage (planar float → interleaved RGB)', () => {
  it('quantises each plane like toUint8 and interleaves R, G, B per pixel', () => {
    // 2×1 image, planes R = [-1, 1], G = [0, 0.5], B = [-0.5, 5]
    const image = toRgbImage({ channels: 3, width: 2, height: 1, pixels: Float32Array.from([-1, 1, 0, 0.5, -0.5, 5]) });
    expect(image).toMatchObject({ channels: 3, width: 2, height: 1 });
    // (v + 1) × 127.5, rounded half up, clamped: -1→0, 0→128 (127.5), -0.5→64 (63.75), 1→255, 0.5→191 (191.25), 5→255
    expect(Array.from(image.pixels)).toEqual([0, 128, 64, 255, 191, 255]);
  });

  it('lays a 2×2 image out row-major, and honours a custom range', () => {
    const planes = Float32Array.from([0, 0.25, 0.5, 1, /* G */ 1, 1, 1, 1, /* B */ 0, 0, 0, 0.1]);
    const image = toRgbImage({ channels: 3, width: 2, height: 2, pixels: planes }, { min: 0, max: 1 });
    // 0.25 × 255 = 63.75 → 64; 0.5 → 127.5 → 128; 0.1 → 25.5 → 26
    expect(Array.from(image.pixels)).toEqual([0, 255, 0, 64, 255, 0, 128, 255, 0, 255, 255, 26]);
  });

  it('passes 8-bit RGB through untouched, and toByteImage picks the conversion by channels', () => {
    const rgb = rgbFrame(3, 2);
    expect(toRgbImage(rgb)).toBe(rgb);
    expect(toByteImage(floatRgbFrame(4, 4))).toMatchObject({ channels: 3, width: 4, height: 4 });
    expect(toByteImage(grayFrame(4, 4)).channels).toBeUndefined();
  });

  it('refuses NaN, wrong lengths and wrong channel counts naming the field', () => {
    const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });
    expect(() => toRgbImage({ channels: 3, width: 1, height: 1, pixels: Float32Array.from([0, Number.NaN, 0]) }, undefined, 'frames[2]')).toThrow(bad('frames[2].pixels'));
    expect(() => toRgbImage({ channels: 3, width: 2, height: 2, pixels: new Float32Array(4) })).toThrow(bad('image.pixels'));
    expect(() => toRgbImage({ channels: 2, width: 1, height: 1, pixels: new Uint8Array(2) } as unknown as RgbImage)).toThrow(bad('image.channels'));
    expect(() => toRgbImage(grayFrame(2, 2) as unknown as RgbImage)).toThrow(bad('image.channels'));
    expect(() => toGrayImage(rgbFrame(2, 2) as unknown as GrayImage)).toThrow(bad('image.channels'));
  });

  it('upscales colour pixels as blocks, keeping R, G, B together', () => {
    const out = upscaleNearest({ channels: 3, width: 2, height: 1, pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]) }, 2);
    expect(out).toMatchObject({ channels: 3, width: 4, height: 2 });
    expect(Array.from(out.pixels)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    expect(renderImage(floatRgbFrame(16, 16), { scale: 1 })).toEqual(toRgbImage(floatRgbFrame(16, 16)));
  });
});
