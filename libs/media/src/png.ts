import { PNG } from 'pngjs';
import { MODEL_RANGE, toByteImage, type ValueRange } from './convert.js';
import { MediaDecodeError } from './errors.js';
import { channelsOf, type GrayImage, type ImageInput, type RgbImage } from './image.js';

/** Options of `encodePng`. */
export interface PngOptions {
  /** Float interval mapped to 0…255 (ignored for 8-bit input). @defaultValue `{min: -1, max: 1}` */
  range?: ValueRange;
}

/** PNG colour types this lib writes: 0 = grayscale, 2 = truecolour (RGB). */
const PNG_COLOR_TYPE = { 1: 0, 3: 2 } as const;

/**
 * Encodes one image as an 8-bit PNG: grayscale (colour type 0) for gray input, RGB (colour
 * type 2) for colour input. No timestamps or text chunks and a fixed zlib level and filter, so
 * the same pixels always give the same bytes (content hashes and idempotent uploads rely on it).
 * Pixels are encoded as given; use `renderImage` to upscale.
 */
export function encodePng(image: ImageInput, options: PngOptions = {}): Buffer {
  const bytes = toByteImage(image, options.range ?? MODEL_RANGE, 'image');
  const colorType = PNG_COLOR_TYPE[channelsOf(bytes)];
  const png = new PNG({ width: bytes.width, height: bytes.height, colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(bytes.pixels.buffer, bytes.pixels.byteOffset, bytes.pixels.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8, deflateLevel: 9, filterType: 4 });
}

/** Any PNG as RGBA bytes (pngjs normalises every colour type and bit depth to that). */
function readPng(bytes: Uint8Array): PNG {
  try {
    return PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new MediaDecodeError('png', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/**
 * Decodes a PNG to 8-bit gray pixels, for tests and the fleet's end-to-end checks. Colour PNGs
 * are reduced with BT.601 luma; alpha is ignored. Use `decodePngRgb` to keep colour.
 */
export function decodePng(bytes: Uint8Array): GrayImage {
  const { width, height, data } = readPng(bytes);
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i += 1) {
    const r = data[i * 4] as number;
    const g = data[i * 4 + 1] as number;
    const b = data[i * 4 + 2] as number;
    pixels[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return { width, height, pixels };
}

/**
 * Decodes a PNG to interleaved 8-bit RGB, keeping colour (gray PNGs come back with R = G = B;
 * alpha is ignored): what checks of colour outputs and colour contact sheets of stored files need.
 */
export function decodePngRgb(bytes: Uint8Array): RgbImage {
  const { width, height, data } = readPng(bytes);
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i += 1) pixels.set(data.subarray(i * 4, i * 4 + 3), i * 3);
  return { channels: 3, width, height, pixels };
}
