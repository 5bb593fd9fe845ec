import type { PredictionType } from './scheduler.js';

/**
 * The predicted clean sample x̂0 of a variance-preserving latent x_t = √ᾱ·x0 + √(1-ᾱ)·ε, given
 * the model's output `m` for it and ᾱ = `alphaBar` of the timestep it was evaluated at:
 * ε-prediction x̂0 = (x_t - √(1-ᾱ)·m)/√ᾱ; v-prediction x̂0 = √ᾱ·x_t - √(1-ᾱ)·m; x0-prediction
 * x̂0 = m. It is what previews show mid-generation (and what DDIM steps towards). No clipping:
 * a preview should show what the model believes, not what a sampler clamps it to.
 * Float64 arithmetic, rounded once to float32; a new array.
 */
export function predictOriginalSample(prediction: PredictionType, alphaBar: number, sample: Float32Array, output: Float32Array): Float32Array {
  const sqrtA = Math.sqrt(alphaBar);
  const sqrtB = Math.sqrt(1 - alphaBar);
  const out = new Float32Array(sample.length);
  switch (prediction) {
    case 'epsilon':
      for (let i = 0; i < out.length; i++) out[i] = ((sample[i] as number) - sqrtB * (output[i] as number)) / sqrtA;
      return out;
    case 'v-prediction':
      for (let i = 0; i < out.length; i++) out[i] = sqrtA * (sample[i] as number) - sqrtB * (output[i] as number);
      return out;
    case 'sample':
      out.set(output.subarray(0, out.length));
      return out;
  }
}

/**
 * ᾱ of a σ-space noise level: σ = √((1-ᾱ)/ᾱ), so ᾱ = 1/(σ²+1). A σ-space sample x_σ = x0 + σ·ε
 * is the variance-preserving one divided by √ᾱ (which is what σ-space schedulers' input scale is).
 */
export function alphaBarOfSigma(sigma: number): number {
  return 1 / (sigma * sigma + 1);
}
