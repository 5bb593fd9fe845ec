import { readFileSync } from 'node:fs';
import type { SchedulerKind } from '../index.js';

/** One case of tools/ref/schedulers_ref.py's diffusers.json: a scheduler built from a package config. */
export interface ConfigCase {
  name: string;
  kind: SchedulerKind;
  /** The scheduler_config.json contents (a real package's, with the case's overrides). */
  config: Record<string, unknown>;
  steps: number;
  runtime: { eta?: number; useClippedModelOutput?: boolean };
  timesteps: number[];
  /** diffusers' own timestep values, as float32 (what the denoiser is conditioned on). */
  timestepsFloat32: number[];
  initNoiseSigma: number;
  stochastic: boolean;
  inputScales: number[];
  initialSample: number[];
  outputs: number[][];
}

/** The fixture written by tools/ref/schedulers_ref.py from tools/ref/schedulers_diffusers.py. */
export interface ConfigFixture {
  length: number;
  salts: { eps: number; noise: number };
  cases: ConfigCase[];
}

/** Loads test-fixtures/diffusers.json. */
export function loadConfigReference(): ConfigFixture {
  return JSON.parse(readFileSync(new URL('./diffusers.json', import.meta.url), 'utf8')) as ConfigFixture;
}

/** A real package's scheduler_config.json from test-fixtures/scheduler-configs, as text. */
export function packageConfigText(name: 'sd15' | 'sd21' | 'sdxl'): string {
  return readFileSync(new URL(`./scheduler-configs/${name}.json`, import.meta.url), 'utf8');
}
