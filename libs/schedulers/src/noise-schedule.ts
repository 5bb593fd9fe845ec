import type { NoiseScheduleSpec } from './scheduler.js';

/**
 * ᾱ_t = Π_{s≤t} (1 - β_s) for t = 0 … trainSteps-1, in float64 (diffusers builds it in float32;
 * the difference is ~1e-6 relative in ᾱ, ~1e-5 in σ near t = 0, and our training script uses
 * float64). `linear`: β = linspace(betaStart, betaEnd); `scaled-linear`: β =
 * linspace(√betaStart, √betaEnd)²; `squaredcos-cap-v2`: see {@link cosineBetas}.
 */
export function alphasCumprod(spec: NoiseScheduleSpec): Float64Array {
  const n = spec.trainSteps;
  const out = new Float64Array(n);
  if (spec.type === 'squaredcos-cap-v2') {
    let prod = 1;
    cosineBetas(n).forEach((b, t) => {
      prod *= 1 - b;
      out[t] = prod;
    });
    return out;
  }
  const scaled = spec.type === 'scaled-linear';
  const lo = scaled ? Math.sqrt(spec.betaStart) : spec.betaStart;
  const hi = scaled ? Math.sqrt(spec.betaEnd) : spec.betaEnd;
  const betas = linspace(lo, hi, n);
  let prod = 1;
  for (let t = 0; t < n; t++) {
    const b = betas[t] as number;
    prod *= 1 - (scaled ? b * b : b);
    out[t] = prod;
  }
  return out;
}

/**
 * diffusers' `betas_for_alpha_bar` (Nichol & Dhariwal's cosine schedule): β_i = min(1 -
 * ᾱ((i+1)/n)/ᾱ(i/n), 0.999) with ᾱ(t) = cos((t + 0.008)/1.008 · π/2)².
 */
export function cosineBetas(n: number): Float64Array {
  const alphaBar = (t: number): number => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return out;
}

/** numpy.linspace(start, stop, num) with numpy's exact arithmetic: start + i·((stop-start)/(num-1)), last = stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** σ_t = √((1 - ᾱ_t) / ᾱ_t), the variance-exploding noise level of each training timestep. */
export function trainSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
}

/** numpy.interp(x, [0, 1, …, fp.length-1], fp): piecewise-linear lookup at fractional timesteps. */
export function interpolate(x: number, fp: Float64Array): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0] as number;
  if (x >= last) return fp[last] as number;
  const j = Math.floor(x);
  const a = fp[j] as number;
  const b = fp[j + 1] as number;
  return (b - a) * (x - j) + a;
}
