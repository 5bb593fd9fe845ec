import { MODEL_RANGE, toByteImage, type ValueRange } from './convert.js';
import { MediaInputError } from './errors.js';
import { byteImage, checkFrames, MAX_SIDE_PX, type ByteImage, type FrameInput, type GrayImage, type ImageInput, type RgbFrameInput, type RgbImage } from './image.js';
import { checkScale, upscaleNearest } from './upscale.js';
import { DEFAULT_SCALE } from './render.js';

/** Options of `contactSheet`. */
export interface ContactSheetOptions {
  /** Images per row. @defaultValue ceil(sqrt(count)) */
  columns?: number;
  /** Space between cells, in output pixels. @defaultValue 2 */
  gapPx?: number;
  /** Integer upscale of each image. @defaultValue 8 */
  scale?: number;
  /**
   * Gray level of gaps and empty cells (mid-gray separates white-on-black digits); colour sheets
   * use it for R, G and B alike. @defaultValue 128
   */
  background?: number;
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
}

/** Fully resolved `ContactSheetOptions` for `count` images. */
export interface ResolvedContactSheetOptions {
  columns: number;
  rows: number;
  gapPx: number;
  scale: number;
  background: number;
  range: ValueRange;
}

/** Fills contact-sheet defaults for `count` images and checks them. */
export function resolveContactSheetOptions(count: number, options: ContactSheetOptions = {}): ResolvedContactSheetOptions {
  const columns = options.columns ?? Math.max(1, Math.ceil(Math.sqrt(count)));
  if (!Number.isInteger(columns) || columns < 1) throw new MediaInputError('columns', `${String(columns)} must be a positive integer`);
  const gapPx = options.gapPx ?? 2;
  if (!Number.isInteger(gapPx) || gapPx < 0 || gapPx > 256) throw new MediaInputError('gapPx', `${String(gapPx)} must be an integer in 0…256`);
  const background = options.background ?? 128;
  if (!Number.isInteger(background) || background < 0 || background > 255) {
    throw new MediaInputError('background', `${String(background)} must be an integer in 0…255`);
  }
  const used = Math.min(columns, Math.max(count, 1));
  return {
    columns: used,
    rows: Math.ceil(count / used),
    gapPx,
    scale: checkScale(options.scale ?? DEFAULT_SCALE),
    background,
    range: options.range ?? MODEL_RANGE,
  };
}

/**
 * Lays a batch out as one grid image (row-major, left to right), so a batch request has a
 * single preview: the image grid for image jobs, the first-frame grid for video jobs. All images
 * must share a size and channel count; gray images give a gray sheet, colour images a colour
 * one; the result is PNG-encodable as is.
 */
export function contactSheet(images: readonly FrameInput[], options?: ContactSheetOptions): GrayImage;
export function contactSheet(images: readonly RgbFrameInput[], options?: ContactSheetOptions): RgbImage;
export function contactSheet(images: readonly ImageInput[], options?: ContactSheetOptions): ByteImage;
export function contactSheet(images: readonly ImageInput[], options?: ContactSheetOptions): ByteImage {
  const { width: cellW0, height: cellH0, channels } = checkFrames(images, 'images');
  const { columns, rows, gapPx, scale, background, range } = resolveContactSheetOptions(images.length, options);
  const cellW = cellW0 * scale;
  const cellH = cellH0 * scale;
  const width = columns * cellW + (columns - 1) * gapPx;
  const height = rows * cellH + (rows - 1) * gapPx;
  if (width > MAX_SIDE_PX || height > MAX_SIDE_PX) {
    throw new MediaInputError('images', `the sheet would be ${width}×${height}, larger than ${MAX_SIDE_PX} px`);
  }
  const rowBytes = width * channels;
  const cellRowBytes = cellW * channels;
  const pixels = new Uint8Array(rowBytes * height).fill(background);
  images.forEach((image, index) => {
    const cell = upscaleNearest(toByteImage(image, range, `images[${index}]`), scale);
    const x0 = (index % columns) * (cellW + gapPx) * channels;
    const y0 = Math.floor(index / columns) * (cellH + gapPx);
    for (let y = 0; y < cellH; y += 1) pixels.set(cell.pixels.subarray(y * cellRowBytes, (y + 1) * cellRowBytes), (y0 + y) * rowBytes + x0);
  });
  return byteImage(channels, width, height, pixels);
}
