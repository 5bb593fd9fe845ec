import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DiffusersPackage } from './diffusers-package.js';
import { isDiffusersDir, loadDiffusersPackage, packageName } from './diffusers-load.js';
import { ModelError } from './errors.js';
import type { ModelPackage } from './model-package.js';
import { modelJsonSchema } from './schema.js';

/**
 * Where the shipped models live: `ASYNCDIFF_MODELS_DIR`, else `models/` at the repository root
 * (found relative to this file, so it works from src under vitest and from dist at run time).
 */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['ASYNCDIFF_MODELS_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');
}

/** Reads and validates one generator package; every problem names the model.json field. */
export function loadModelPackage(dir: string): ModelPackage {
  const file = path.join(dir, 'model.json');
  if (!existsSync(file)) throw new ModelError('MODEL_NOT_FOUND', `no model.json in ${dir}`, 'model');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ModelError('MODEL_INVALID', `${file} is not valid JSON`, 'model.json', { cause });
  }
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new ModelError('MODEL_INVALID', `${file}: ${where || '(root)'}: ${issue?.message ?? 'invalid'}`, where || 'model.json');
  }
  const j = parsed.data;
  const { channels, height, width } = j.sample;
  const frames = j.sample.frames ?? 1;
  const denoiserPath = path.resolve(dir, j.files.denoiser);
  if (!existsSync(denoiserPath)) {
    throw new ModelError('MODEL_NOT_FOUND', `${j.name}: denoiser file ${denoiserPath} is missing`, 'files.denoiser');
  }
  const ids = new Set(j.conditioning.classes.map((c) => c.id));
  if (ids.has(j.conditioning.nullClass)) {
    throw new ModelError('MODEL_INVALID', `${file}: conditioning.nullClass collides with a class id`, 'conditioning.nullClass');
  }
  return {
    format: 'asyncdiff',
    name: j.name,
    kind: j.kind,
    version: j.version,
    description: j.description,
    dir: path.resolve(dir),
    denoiserPath,
    sampleDims: j.kind === 'video' ? [channels, frames, height, width] : [channels, height, width],
    frames,
    height,
    width,
    valueRange: j.valueRange,
    io: j.io,
    classes: j.conditioning.classes,
    nullClass: j.conditioning.nullClass,
    noiseSchedule: j.noiseSchedule,
    prediction: j.prediction,
    defaults: j.defaults,
    evaluator: j.evaluator,
  };
}

/** Every generator package under `modelsDir` (folders whose model.json has kind image|video). */
export function listModelPackages(modelsDir: string = defaultModelsDir()): ModelPackage[] {
  if (!existsSync(modelsDir)) return [];
  const out: ModelPackage[] = [];
  for (const name of readdirSync(modelsDir).sort()) {
    const file = path.join(modelsDir, name, 'model.json');
    if (!existsSync(file)) continue;
    const kind = (JSON.parse(readFileSync(file, 'utf8')) as { kind?: unknown }).kind;
    if (kind === 'image' || kind === 'video') out.push(loadModelPackage(path.join(modelsDir, name)));
  }
  return out;
}

/** Loads a shipped model by name; an unknown name lists the available ones. */
export function findModelPackage(name: string, modelsDir: string = defaultModelsDir()): ModelPackage {
  const all = listModelPackages(modelsDir);
  const hit = all.find((m) => m.name === name);
  if (!hit) {
    throw new ModelError('MODEL_NOT_FOUND', `unknown model "${name}"; available: ${all.map((m) => m.name).join(', ') || '(none)'}`, 'model');
  }
  return hit;
}

/** Any package a generation can run on: one of ours or a diffusers ONNX export. */
export type GeneratorPackage = ModelPackage | DiffusersPackage;

/**
 * Where model packages are discovered, first match wins: `MODELS_DIR` (a `:`-separated list),
 * else the shipped `models/` (or `ASYNCDIFF_MODELS_DIR`) followed by `var/models` at the
 * repository root — where operators drop their own exports.
 */
export function modelSearchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = env['MODELS_DIR'];
  if (list) return list.split(':').filter((d) => d.trim() !== '').map((d) => path.resolve(d.trim()));
  return [defaultModelsDir(env), path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../var/models')];
}

/** Loads the package in `dir`, whichever format it is. */
export function loadGenerator(dir: string): GeneratorPackage {
  if (isDiffusersDir(dir)) return loadDiffusersPackage(dir);
  return loadModelPackage(dir);
}

/**
 * Every generator package in `dirs` (ours: model.json with kind image|video; diffusers: a
 * model_index.json), by name; the first directory wins a name clash. A broken package is
 * reported through `onInvalid` and skipped, so one bad export does not hide the others.
 */
export function listGenerators(dirs: readonly string[] = modelSearchDirs(), onInvalid: (dir: string, err: ModelError) => void = () => undefined): GeneratorPackage[] {
  const byName = new Map<string, GeneratorPackage>();
  for (const root of dirs) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root).sort()) {
      const dir = path.join(root, entry);
      try {
        if (isDiffusersDir(dir)) {
          const name = packageName(dir);
          if (!byName.has(name)) byName.set(name, loadDiffusersPackage(dir, name));
          continue;
        }
        const file = path.join(dir, 'model.json');
        if (!existsSync(file)) continue;
        const kind = (JSON.parse(readFileSync(file, 'utf8')) as { kind?: unknown }).kind;
        if (kind !== 'image' && kind !== 'video') continue;
        const m = loadModelPackage(dir);
        if (!byName.has(m.name)) byName.set(m.name, m);
      } catch (err) {
        if (err instanceof ModelError) onInvalid(dir, err);
        else if (err instanceof SyntaxError) onInvalid(dir, new ModelError('MODEL_INVALID', `${dir}: model.json is not valid JSON`, 'model.json', { cause: err }));
        else throw err;
      }
    }
  }
  return [...byName.values()];
}

/**
 * A generator by name (discovered in `dirs`) or by folder path (`./sd15-onnx`, `/models/x`: the
 * CLI's `--model`). An unknown name lists the available ones.
 */
export function findGenerator(nameOrPath: string, dirs: readonly string[] = modelSearchDirs()): GeneratorPackage {
  if (nameOrPath.includes('/') || nameOrPath.startsWith('.')) {
    if (!existsSync(nameOrPath)) throw new ModelError('MODEL_NOT_FOUND', `model folder ${nameOrPath} does not exist`, 'model');
    if (!isDiffusersDir(nameOrPath) && !existsSync(path.join(nameOrPath, 'model.json'))) {
      throw new ModelError('MODEL_INVALID', `${nameOrPath} has neither model_index.json (a diffusers ONNX export) nor model.json (an asyncdiff package)`, 'model_index.json');
    }
    return loadGenerator(nameOrPath);
  }
  const all = listGenerators(dirs);
  const hit = all.find((m) => m.name === nameOrPath);
  if (!hit) throw new ModelError('MODEL_NOT_FOUND', `unknown model "${nameOrPath}"; available: ${all.map((m) => m.name).join(', ') || '(none)'}`, 'model');
  return hit;
}
