/** An 8-bit grayscale image (the shape `@asyncdiff/media` works with). */
export interface GrayFrame {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

/** A GIF could not be decoded; `code` is stable. */
export class GifDecodeError extends Error {
  override name = 'GifDecodeError';
  readonly code = 'GIF_DECODE_FAILED';
}

/**
 * Decodes the first frame of a GIF to gray levels (BT.601 luma of its palette), composited on a
 * black logical screen. Enough for batch contact sheets of video outputs without decoding the
 * whole animation or running ffmpeg; a deliberately small decoder (LZW, interlacing, local and
 * global colour tables; no disposal handling, which only matters from the second frame on).
 */
export function decodeGifFirstFrame(bytes: Uint8Array): GrayFrame {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new GifDecodeError('truncated GIF');
  };
  const u8 = () => {
    need(1);
    return bytes[pos++] as number;
  };
  const u16 = () => u8() | (u8() << 8);
  const table = (size: number): Uint8Array => {
    need(size * 3);
    const gray = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const r = bytes[pos + i * 3] as number;
      const g = bytes[pos + i * 3 + 1] as number;
      const b = bytes[pos + i * 3 + 2] as number;
      gray[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
    pos += size * 3;
    return gray;
  };
  const skipSubBlocks = () => {
    for (let len = u8(); len !== 0; len = u8()) {
      need(len);
      pos += len;
    }
  };

  need(13);
  const signature = String.fromCharCode(...bytes.subarray(0, 6));
  if (signature !== 'GIF87a' && signature !== 'GIF89a') throw new GifDecodeError('not a GIF');
  pos = 6;
  const width = u16();
  const height = u16();
  if (width === 0 || height === 0 || width * height > 64 * 1024 * 1024) throw new GifDecodeError(`bad GIF size ${width}×${height}`);
  const packed = u8();
  pos += 2;
  let globalTable: Uint8Array | undefined;
  if (packed & 0x80) globalTable = table(1 << ((packed & 0x07) + 1));

  for (;;) {
    const block = u8();
    if (block === 0x21) {
      u8(); // extension label
      skipSubBlocks();
      continue;
    }
    if (block === 0x3b) throw new GifDecodeError('GIF has no image');
    if (block !== 0x2c) throw new GifDecodeError(`unexpected GIF block 0x${block.toString(16)}`);
    const left = u16();
    const top = u16();
    const fw = u16();
    const fh = u16();
    const flags = u8();
    const colors = flags & 0x80 ? table(1 << ((flags & 0x07) + 1)) : globalTable;
    if (!colors) throw new GifDecodeError('GIF frame without a colour table');
    const interlaced = (flags & 0x40) !== 0;
    const minCodeSize = u8();
    if (minCodeSize < 2 || minCodeSize > 11) throw new GifDecodeError(`bad LZW code size ${minCodeSize}`);
    const data: number[] = [];
    for (let len = u8(); len !== 0; len = u8()) {
      need(len);
      for (let i = 0; i < len; i++) data.push(bytes[pos + i] as number);
      pos += len;
    }
    const indices = lzwDecode(Uint8Array.from(data), minCodeSize, fw * fh);
    const pixels = new Uint8Array(width * height);
    const rows = interlaced ? interlacedRows(fh) : Array.from({ length: fh }, (_, i) => i);
    rows.forEach((y, srcRow) => {
      for (let x = 0; x < fw; x++) {
        const X = left + x;
        const Y = top + y;
        if (X < width && Y < height) pixels[Y * width + X] = colors[indices[srcRow * fw + x] ?? 0] ?? 0;
      }
    });
    return { width, height, pixels };
  }
}

/** Output row of each stored row of an interlaced frame. */
function interlacedRows(h: number): number[] {
  const rows: number[] = [];
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ] as const) {
    for (let y = start; y < h; y += step) rows.push(y);
  }
  return rows;
}

/** GIF-flavoured LZW (variable code width up to 12 bits, LSB first). */
function lzwDecode(data: Uint8Array, minCodeSize: number, pixelCount: number): Uint8Array {
  const out = new Uint8Array(pixelCount);
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const stack = new Uint8Array(4097);
  for (let i = 0; i < clear; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
  }
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  let prev = -1;
  let bits = 0;
  let acc = 0;
  let p = 0;
  let o = 0;
  while (o < pixelCount) {
    while (bits < codeSize) {
      if (p >= data.length) return out;
      acc |= (data[p++] as number) << bits;
      bits += 8;
    }
    const code = acc & ((1 << codeSize) - 1);
    acc >>>= codeSize;
    bits -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = end + 1;
      prev = -1;
      continue;
    }
    if (code === end) break;
    let c = code;
    let sp = 0;
    if (code >= next) {
      if (prev < 0 || code > next) throw new GifDecodeError('corrupt LZW stream');
      stack[sp++] = first[prev] as number;
      c = prev;
    }
    while (c >= clear) {
      stack[sp++] = suffix[c] as number;
      c = prefix[c] as number;
    }
    stack[sp++] = c;
    const head = c;
    while (sp > 0 && o < pixelCount) out[o++] = stack[--sp] as number;
    if (prev >= 0 && next < 4096) {
      prefix[next] = prev;
      suffix[next] = head;
      first[next] = first[prev] as number;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    prev = code;
  }
  return out;
}
