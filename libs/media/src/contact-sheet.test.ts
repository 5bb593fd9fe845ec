import { describe, expect, it } from 'vitest';
import { contactSheet } from './contact-sheet.js';
import { decodePng, decodePngRgb, encodePng } from './png.js';
import { floatRgbFrame, grayFrame } from './test-fixtures/frames.js';

const solid = (value: number, width = 4, height = 3) => ({ width, height, pixels: new Uint8Array(width * height).fill(value) });

describe('contactSheet', () => {
  it('lays images out row-major with gaps and a background for empty cells', () => {
    const images = [10, 20, 30, 40, 50].map((v) => solid(v));
    const sheet = contactSheet(images, { columns: 3, gapPx: 2, scale: 2, background: 255 });
    // 3 columns of 8 px + 2 gaps; 2 rows of 6 px + 1 gap
    expect(sheet.width).toBe(3 * 8 + 2 * 2);
    expect(sheet.height).toBe(2 * 6 + 2);
    const at = (x: number, y: number) => sheet.pixels[y * sheet.width + x];
    expect(at(0, 0)).toBe(10);
    expect(at(7, 5)).toBe(10);
    expect(at(8, 0)).toBe(255); // gap
    expect(at(10, 0)).toBe(20);
    expect(at(20, 0)).toBe(30);
    expect(at(0, 6)).toBe(255); // gap row
    expect(at(0, 8)).toBe(40);
    expect(at(10, 8)).toBe(50);
    expect(at(20, 8)).toBe(255); // empty cell
    expect(decodePng(encodePng(sheet))).toEqual(sheet);
  });

  it('defaults to a near-square grid of 8× images', () => {
    const sheet = contactSheet(
      Array.from({ length: 10 }, () => solid(0, 16, 16)),
      { gapPx: 0 },
    );
    expect(sheet).toMatchObject({ width: 4 * 128, height: 3 * 128 });
    expect(contactSheet([solid(1, 16, 16)], { columns: 8 })).toMatchObject({ width: 128, height: 128 });
  });

  it('accepts model-space floats', () => {
    const sheet = contactSheet([{ width: 1, height: 1, pixels: Float32Array.from([1]) }], { scale: 1 });
    expect(Array.from(sheet.pixels)).toEqual([255]);
  });

  it('rejects bad input naming the field', () => {
    const bad = (field: string) => expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field });
    expect(() => contactSheet([])).toThrow(bad('images'));
    expect(() => contactSheet([solid(0), solid(0, 5, 3)])).toThrow(bad('images[1].width'));
    expect(() => contactSheet([solid(0)], { columns: 0 })).toThrow(bad('columns'));
    expect(() => contactSheet([solid(0)], { gapPx: -1 })).toThrow(bad('gapPx'));
    expect(() => contactSheet([solid(0)], { background: 256 })).toThrow(bad('background'));
  });
});

describe('contactSheet in colour', () => {
  const solidRgb = (rgb: [number, number, number], width = 4, height = 3) => {
    const pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i += 1) pixels.set(rgb, i * 3);
    return { channels: 3 as const, width, height, pixels };
  };

  it('lays colour images out like gray ones, background gray in every channel', () => {
    const colours: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [200, 100, 50]];
    const sheet = contactSheet(colours.map((c) => solidRgb(c)), { columns: 3, gapPx: 2, scale: 2, background: 7 });
    expect(sheet).toMatchObject({ channels: 3, width: 3 * 8 + 2 * 2, height: 2 * 6 + 2 });
    expect(sheet.pixels).toHaveLength(sheet.width * sheet.height * 3);
    const at = (x: number, y: number) => Array.from(sheet.pixels.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3));
    expect(at(0, 0)).toEqual([255, 0, 0]);
    expect(at(7, 5)).toEqual([255, 0, 0]);
    expect(at(8, 0)).toEqual([7, 7, 7]); // gap
    expect(at(10, 0)).toEqual([0, 255, 0]);
    expect(at(27, 5)).toEqual([0, 0, 255]);
    expect(at(0, 6)).toEqual([7, 7, 7]); // gap row
    expect(at(0, 8)).toEqual([10, 20, 30]);
    expect(at(17, 13)).toEqual([200, 100, 50]);
    expect(at(20, 8)).toEqual([7, 7, 7]); // empty cell
    expect(decodePngRgb(encodePng(sheet))).toEqual(sheet);
  });

  it('takes planar model-space floats (image decoder output) at scale 1', () => {
    const sheet = contactSheet([floatRgbFrame(6, 4), floatRgbFrame(6, 4, 1)], { scale: 1, gapPx: 0 });
    expect(sheet).toMatchObject({ channels: 3, width: 12, height: 4 });
  });

  it('refuses a batch mixing gray and colour images, naming the image', () => {
    expect(() => contactSheet([solidRgb([1, 2, 3], 4, 4), grayFrame(4, 4)])).toThrow(expect.objectContaining({ code: 'MEDIA_INVALID_INPUT', field: 'images[1].channels' }));
  });
});
