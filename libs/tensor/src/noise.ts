import { InvalidArgumentError, InvalidSeedError } from './errors.js';
import { philox4x32 } from './philox.js';

const TWO_POW_32 = 0x1_0000_0000;
const MAX_SEED = Number.MAX_SAFE_INTEGER;
const MAX_SEED_BIG = BigInt(MAX_SEED);

/** Seeds accepted by {@link gaussianNoise}: integers in [0, 2^53-1], as number or bigint. */
export type Seed = number | bigint;

/**
 * Checks that `value` is an integer in [0, 2^53-1] and returns it as a number; throws
 * `InvalidSeedError` naming `field` otherwise. Use it to validate seeds at API edges.
 */
export function checkSeed(value: unknown, field = 'seed'): number {
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_SEED_BIG) throw new InvalidSeedError(field, value);
    return Number(value);
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidSeedError(field, value);
  return value;
}

/**
 * `count` standard-normal float32 values for (`seed`, `stream`): the same arguments give the same
 * bits on every run and machine, and a shorter draw is a prefix of a longer one.
 *
 * Algorithm (a contract: changing it changes every seeded output):
 * - Philox4x32-10 ({@link philox4x32}) with key = (seed mod 2^32, floor(seed / 2^32)) and counter
 *   = (b mod 2^32, floor(b / 2^32), stream mod 2^32, floor(stream / 2^32)) for block b = 0, 1, …
 * - Block b's words w0..w3 become uniforms u_j = (w_j + 0.5) / 2^32 in (0, 1), and Box–Muller
 *   turns (u0, u1) into values 4b and 4b+1: r = sqrt(-2 ln u0), z = r cos(2π u1), r sin(2π u1);
 *   (u2, u3) likewise into 4b+2 and 4b+3. Computed in float64 (V8's fdlibm-derived `Math.log`,
 *   `Math.cos`, `Math.sin`) and rounded once to float32. |z| ≤ 6.77.
 *
 * Streams give independent sequences under one seed, e.g. stream 0 for the initial latent and
 * stream step+1 for the noise a stochastic scheduler adds at that step; a sampler that needs one
 * stream per batch item combines both into one integer (e.g. (step + 1) * 2^16 + item).
 */
export function gaussianNoise(seed: Seed, count: number, stream = 0): Float32Array {
  const s = checkSeed(seed, 'seed');
  const st = checkSeed(stream, 'stream');
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new InvalidArgumentError('count', `must be a non-negative integer, got ${String(count)}`);
  }
  const out = new Float32Array(count);
  const k0 = s >>> 0;
  const k1 = Math.floor(s / TWO_POW_32);
  const c2 = st >>> 0;
  const c3 = Math.floor(st / TWO_POW_32);
  const words = new Uint32Array(4);
  const blocks = Math.ceil(count / 4);
  for (let b = 0; b < blocks; b++) {
    philox4x32(b >>> 0, Math.floor(b / TWO_POW_32), c2, c3, k0, k1, words);
    const base = 4 * b;
    for (let pair = 0; pair < 2; pair++) {
      const i = base + 2 * pair;
      if (i >= count) break;
      const u0 = ((words[2 * pair] as number) + 0.5) / TWO_POW_32;
      const u1 = ((words[2 * pair + 1] as number) + 0.5) / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u0));
      const theta = 2 * Math.PI * u1;
      out[i] = r * Math.cos(theta);
      if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
    }
  }
  return out;
}
