import { MediaDecodeError } from './errors.js';

/** What `inspectGif` reads from a GIF without decoding its pixels. */
export interface GifInfo {
  width: number;
  height: number;
  frames: number;
  /** Per-frame delay from its graphic control extension (0 when absent). */
  delaysMs: number[];
  /** NETSCAPE loop count: 0 = forever, n = n extra plays, null = no loop extension (plays once). */
  loopCount: number | null;
}

/**
 * Walks a GIF's block structure to count frames and read size, delays and looping, so tests
 * and end-to-end checks can validate animations without a full decoder. Throws
 * `MediaDecodeError` on anything malformed or truncated.
 */
export function inspectGif(bytes: Uint8Array): GifInfo {
  const reader = new ByteReader(bytes);
  const signature = String.fromCharCode(...reader.take(6));
  if (signature !== 'GIF87a' && signature !== 'GIF89a') throw new MediaDecodeError('gif', 'missing GIF87a/GIF89a signature');
  const width = reader.u16();
  const height = reader.u16();
  const packed = reader.u8();
  reader.take(2); // background colour index, pixel aspect ratio
  if (packed & 0x80) reader.take(3 * (1 << ((packed & 0x07) + 1)));
  let frames = 0;
  const delaysMs: number[] = [];
  let pendingDelayMs = 0;
  let loopCount: number | null = null;
  for (;;) {
    const introducer = reader.u8();
    if (introducer === 0x3b) break; // trailer
    if (introducer === 0x21) {
      const label = reader.u8();
      const blocks = reader.subBlocks();
      const first = blocks[0];
      if (label === 0xf9 && first !== undefined && first.length >= 4) {
        pendingDelayMs = ((first[1] as number) | ((first[2] as number) << 8)) * 10;
      } else if (label === 0xff && first !== undefined && Buffer.from(first).toString('latin1') === 'NETSCAPE2.0') {
        const data = blocks[1];
        if (data !== undefined && data.length >= 3 && data[0] === 1) loopCount = (data[1] as number) | ((data[2] as number) << 8);
      }
    } else if (introducer === 0x2c) {
      reader.take(8); // left, top, width, height of the frame
      const framePacked = reader.u8();
      if (framePacked & 0x80) reader.take(3 * (1 << ((framePacked & 0x07) + 1)));
      reader.u8(); // LZW minimum code size
      reader.subBlocks();
      frames += 1;
      delaysMs.push(pendingDelayMs);
      pendingDelayMs = 0;
    } else {
      throw new MediaDecodeError('gif', `unexpected block 0x${introducer.toString(16)} at byte ${reader.offset - 1}`);
    }
  }
  return { width, height, frames, delaysMs, loopCount };
}

class ByteReader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  take(count: number): Uint8Array {
    if (this.offset + count > this.bytes.length) throw new MediaDecodeError('gif', `truncated at byte ${this.offset}`);
    const out = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  u8(): number {
    return this.take(1)[0] as number;
  }

  u16(): number {
    const b = this.take(2);
    return (b[0] as number) | ((b[1] as number) << 8);
  }

  /** Reads length-prefixed sub-blocks up to the zero terminator. */
  subBlocks(): Uint8Array[] {
    const blocks: Uint8Array[] = [];
    for (let size = this.u8(); size !== 0; size = this.u8()) blocks.push(this.take(size));
    return blocks;
  }
}
