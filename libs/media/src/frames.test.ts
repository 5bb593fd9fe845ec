import { describe, expect, it } from 'vitest';
import { framesOf, parseSampleDims } from './frames.js';

const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });

describe('parseSampleDims', () => {
  it('reads image and video dims, gray and colour', () => {
    expect(parseSampleDims([1, 16, 16])).toEqual({ channels: 1, frames: 1, height: 16, width: 16, video: false, values: 256 });
    expect(parseSampleDims([3, 512, 768])).toEqual({ channels: 3, frames: 1, height: 512, width: 768, video: false, values: 3 * 512 * 768 });
    expect(parseSampleDims([3, 8, 16, 24])).toEqual({ channels: 3, frames: 8, height: 16, width: 24, video: true, values: 3 * 8 * 16 * 24 });
  });

  it('names the element at fault', () => {
    expect(() => parseSampleDims([2, 16, 16])).toThrow(bad('sampleDims[0]'));
    expect(() => parseSampleDims([4, 8, 16, 16])).toThrow(bad('sampleDims[0]'));
    expect(() => parseSampleDims([16, 16])).toThrow(bad('sampleDims'));
    expect(() => parseSampleDims([1, 1, 1, 16, 16])).toThrow(bad('sampleDims'));
    expect(() => parseSampleDims([3, 0, 16])).toThrow(bad('sampleDims[1]'));
    expect(() => parseSampleDims([1, 8, 16, 1.5])).toThrow(bad('sampleDims[3]'));
    expect(() => parseSampleDims([3, 9000, 16])).toThrow(bad('sampleDims[1]'));
  });
});

describe('framesOf', () => {
  /** Value = item·1000 + channel·100 + frame·10 + pixel: every float says where it came from. */
  const tagged = (items: number, [c, f, h, w]: [number, number, number, number]) => {
    const data = new Float32Array(items * c * f * h * w);
    let i = 0;
    for (let n = 0; n < items; n += 1) for (let ch = 0; ch < c; ch += 1) for (let fr = 0; fr < f; fr += 1) for (let p = 0; p < h * w; p += 1) data[i++] = n * 1000 + ch * 100 + fr * 10 + p;
    return data;
  };

  it('splits gray images and clips into views', () => {
    const data = tagged(2, [1, 3, 1, 2]);
    const items = framesOf(data, 2, [1, 3, 1, 2]);
    expect(items.map((frames) => frames.map((f) => Array.from(f.pixels)))).toEqual([
      [[0, 1], [10, 11], [20, 21]],
      [[1000, 1001], [1010, 1011], [1020, 1021]],
    ]);
    expect(items[1]?.[2]?.pixels.buffer).toBe(data.buffer);
    expect(items[0]?.[0]?.channels).toBeUndefined();
  });

  it('keeps a colour image planar [3, H, W] (a view), and gathers each frame of a colour clip from its three planes', () => {
    const images = framesOf(tagged(2, [3, 1, 1, 2]), 2, [3, 1, 2]);
    expect(images[1]?.[0]).toMatchObject({ channels: 3, width: 2, height: 1 });
    expect(Array.from(images[1]?.[0]?.pixels ?? [])).toEqual([1000, 1001, 1100, 1101, 1200, 1201]);
    const clip = framesOf(tagged(1, [3, 2, 1, 2]), 1, [3, 2, 1, 2]);
    expect(clip[0]?.map((f) => Array.from(f.pixels))).toEqual([
      [0, 1, 100, 101, 200, 201],
      [10, 11, 110, 111, 210, 211],
    ]);
  });

  it('refuses data that does not hold the items, naming the field', () => {
    expect(() => framesOf(new Float32Array(3 * 4 * 4 * 2 - 1), 2, [3, 4, 4])).toThrow(bad('data'));
    expect(() => framesOf(new Float32Array(16), 0, [1, 4, 4])).toThrow(bad('items'));
    expect(() => framesOf([0] as unknown as Float32Array, 1, [1, 1, 1])).toThrow(bad('data'));
    expect(() => framesOf(new Float32Array(32), 1, [2, 4, 4])).toThrow(bad('sampleDims[0]'));
  });
});
