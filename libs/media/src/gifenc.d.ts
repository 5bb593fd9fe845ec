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
  type GIFEncoderFactory = (options?: { auto?: boolean; initialCapacity?: number }) => Encoder;
  export const GIFEncoder: GIFEncoderFactory | undefined;
  const cjs: { GIFEncoder?: GIFEncoderFactory } | undefined;
  export default cjs;
}
