/**
 * Types for the part of gifenc (a small pure-JS GIF encoder without bundled types) this lib
 * uses. Node loads its CommonJS build (everything on `default`); bundlers such as Vite pick its
 * ES build (named exports), hence both shapes.
 */
declare module 'gifenc' {
  interface WriteFrameOptions {
    palette?: number[][];
    delay?: number;
    repeat?: number;
    transparent?: boolean;
    dispose?: number;
  }
  interface Encoder {
    writeFrame(index: Uint8Array, width: number, height: number, options?: WriteFrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  /** How colours are binned: 5-6-5 or 4-4-4 bits of R, G, B (or 4-4-4-4 with alpha). */
  type PaletteFormat = 'rgb565' | 'rgb444' | 'rgba4444';
  type GIFEncoderFactory = (options?: { auto?: boolean; initialCapacity?: number }) => Encoder;
  /** Builds a palette of at most `maxColors` from RGBA bytes (read through a Uint32Array of the whole buffer). */
  type Quantize = (rgba: Uint8Array, maxColors: number, options?: { format?: PaletteFormat }) => number[][];
  /** Maps RGBA bytes (the whole buffer) to palette indices. */
  type ApplyPalette = (rgba: Uint8Array, palette: number[][], format?: PaletteFormat) => Uint8Array;
  export const GIFEncoder: GIFEncoderFactory | undefined;
  export const quantize: Quantize | undefined;
  export const applyPalette: ApplyPalette | undefined;
  const cjs: { GIFEncoder?: GIFEncoderFactory; quantize?: Quantize; applyPalette?: ApplyPalette } | undefined;
  export default cjs;
}
