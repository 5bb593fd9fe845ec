import { describe, expect, it } from 'vitest';
import { contactSheet } from './contact-sheet.js';
import { decodePng, encodePng } from './png.js';

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
