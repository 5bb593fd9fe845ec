import { PNG } from 'pngjs';
import { MODEL_RANGE, toGrayImage, type ValueRange } from './convert.js';
import { MediaDecodeError } from './errors.js';
import type { FrameInput, GrayImage } from './image.js';

/** Options of `encodePng`. */
export interface PngOptions {
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
}

/**
 * Encodes one grayscale image as an 8-bit grayscale PNG. No timestamps or text chunks and a
 * fixed zlib level and filter, so the same pixels always give the same bytes (content hashes and
 * idempotent uploads rely on it). Pixels are encoded as given; use `renderImage` to upscale.
 */
export function encodePng(image: FrameInput, options: PngOptions = {}): Buffer {
  const gray = toGrayImage(image, options.range ?? MODEL_RANGE, 'image');
  const png = new PNG({ width: gray.width, height: gray.height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(gray.pixels.buffer, gray.pixels.byteOffset, gray.pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8, deflateLevel: 9, filterType: 4 });
}

/**
 * Decodes a PNG to 8-bit gray pixels, for tests and the fleet's end-to-end checks. Colour PNGs
 * are reduced with BT.601 luma; alpha is ignored.
 */
export function decodePng(bytes: Uint8Array): GrayImage {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new MediaDecodeError('png', error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { width, height, data } = png;
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i += 1) {
    const r = data[i * 4] as number;
    const g = data[i * 4 + 1] as number;
    const b = data[i * 4 + 2] as number;
    pixels[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return { width, height, pixels };
}
