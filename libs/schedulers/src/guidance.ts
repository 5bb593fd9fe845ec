import { SchedulerError } from './errors.js';

/**
 * Classifier-free guidance: ε_u + w·(ε_c - ε_u), elementwise in float64 rounded to float32
 * (w = 1 returns ε_c, w = 0 returns ε_u). Inputs may hold any number of samples.
 */
export function applyGuidance(epsCond: Float32Array, epsUncond: Float32Array, scale: number): Float32Array {
  if (epsCond.length !== epsUncond.length) {
    throw new SchedulerError('INVALID_INPUT', 'epsUncond', `epsUncond has ${epsUncond.length} elements, epsCond has ${epsCond.length}`);
  }
  if (!Number.isFinite(scale)) throw new SchedulerError('INVALID_INPUT', 'scale', `scale must be a finite number, got ${scale}`);
  const out = new Float32Array(epsCond.length);
  for (let i = 0; i < out.length; i++) {
    const u = epsUncond[i] as number;
    out[i] = u + scale * ((epsCond[i] as number) - u);
  }
  return out;
}
