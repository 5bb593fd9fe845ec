import { readFileSync } from 'node:fs';
import type { NoiseScheduleSpec, SchedulerOptions } from '../index.js';

/** One configuration of tools/ref/schedulers_ref.py and its per-step reference outputs. */
export interface ReferenceCase {
  name: string;
  schedule: NoiseScheduleSpec;
  options: SchedulerOptions;
  timesteps: number[];
  initNoiseSigma: number;
  stochastic: boolean;
  inputScales: number[];
  initialSample: number[];
  outputs: number[][];
}

/** The fixture written by tools/ref/schedulers_ref.py. */
export interface ReferenceFixture {
  length: number;
  salts: { eps: number; noise: number };
  alphasCumprodLinear: number[];
  cases: ReferenceCase[];
}

/** Loads test-fixtures/schedulers.json. */
export function loadReference(): ReferenceFixture {
  return JSON.parse(readFileSync(new URL('./schedulers.json', import.meta.url), 'utf8')) as ReferenceFixture;
}

/** The reference's closed-form input vector for step `i` (bit-identical to `vector()` in Python). */
export function closedForm(i: number, salt: number, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let k = 0; k < length; k++) out[k] = (((k * 7919 + i * 104729 + salt * 15485863) % 10007) - 5003) / 2000;
  return out;
}
