import { ShapeMismatchError } from './errors.js';

/*
 * IEEE 754 binary16 ("half") conversions. Half-precision model files hand their tensors to
 * JavaScript as raw bit patterns in a Uint16Array (Node 20 has no Float16Array, and ONNX Runtime
 * for Node uses Uint16Array for float16), so these work on bit patterns, not numbers.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Rounds `full >>> shift` to nearest, ties to even (full < 2^31, shift in 1…24). */
function shiftRoundEven(full: number, shift: number): number {
  const kept = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/**
 * The binary16 bit pattern nearest to `value` (rounded to float32 first, then to half with
 * round-to-nearest-even, as a hardware cast does): overflow gives ±Infinity, tiny values become
 * subnormals or ±0, NaN stays a (quiet) NaN. For writing float16 model inputs.
 */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: value = full * 2^(exponent-150) = m * 2^-24, so m = full >> (14 - halfExponent).
    const shift = 14 - halfExponent;
    if (shift > 24) return sign;
    return sign | shiftRoundEven(mantissa | 0x800000, shift);
  }
  // A carry out of the mantissa rolls into the exponent (up to Infinity), which is the right answer.
  return sign | shiftRoundEven((halfExponent << 23) | mantissa, 13);
}

/** The number a binary16 bit pattern holds (exact: every half is a float32). For reading float16 model outputs. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Widens half-precision bit patterns to float32 (exact), into `out` when given (same length) or a
 * new array. For turning a float16 encoder's output into numbers the rest of the code can use.
 */
export function float16ToFloat32(bits: Uint16Array, out?: Float32Array): Float32Array {
  const target = out ?? new Float32Array(bits.length);
  if (target.length !== bits.length) {
    throw new ShapeMismatchError('out', `has ${target.length} elements, expected ${bits.length}`);
  }
  for (let i = 0; i < bits.length; i++) target[i] = float16BitsToFloat32(bits[i] ?? 0);
  return target;
}

/**
 * Narrows float32 values to half-precision bit patterns (round to nearest even), into `out` when
 * given (same length) or a new array. For feeding a float16 model.
 */
export function float32ToFloat16(values: Float32Array, out?: Uint16Array): Uint16Array {
  const target = out ?? new Uint16Array(values.length);
  if (target.length !== values.length) {
    throw new ShapeMismatchError('out', `has ${target.length} elements, expected ${values.length}`);
  }
  for (let i = 0; i < values.length; i++) target[i] = float32ToFloat16Bits(values[i] ?? 0);
  return target;
}
