import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { EvalError } from './errors.js';

/** Which real-data reference set of the classifier package to load. */
export type ReferenceKind = 'images' | 'videoFrames';

/** One reference set named in model.json `reference`: uint8 pixels, count × shape, row-major. */
export interface ReferenceSetSpec {
  /** Absolute path of the raw uint8 file. */
  readonly path: string;
  readonly count: number;
  /** Per-item dims [channels, height, width]. */
  readonly shape: readonly [number, number, number];
}

/**
 * A validated evaluation-classifier package (`models/digits-eval/`): the ONNX file, its I/O
 * names and input geometry, class labels and the real reference sets. Paths are absolute.
 */
export interface ClassifierPackage {
  readonly name: string;
  readonly version: number;
  readonly dir: string;
  readonly modelPath: string;
  readonly inputName: string;
  readonly logitsName: string;
  readonly featuresName: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly valueRange: readonly [number, number];
  readonly featureSize: number;
  readonly classes: readonly string[];
  readonly reference: Readonly<Partial<Record<ReferenceKind, ReferenceSetSpec>>>;
}

type Json = Record<string, unknown>;

/**
 * Reads and validates `dir/model.json` of kind "classifier". Throws `EvalError`:
 * PACKAGE_NOT_FOUND (retryable: the training job may still be writing it) or PACKAGE_INVALID
 * naming the model.json field.
 */
export function loadClassifierPackage(dir: string): ClassifierPackage {
  const file = path.join(dir, 'model.json');
  if (!existsSync(file)) throw new EvalError('PACKAGE_NOT_FOUND', 'model.json', `no model.json in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new EvalError('PACKAGE_INVALID', 'model.json', `${file} is not valid JSON`, { cause });
  }
  const j = object(raw, '(root)', file);
  if (j['kind'] !== 'classifier') fail(file, 'kind', `must be "classifier", got ${JSON.stringify(j['kind'])}`);
  const input = object(j['input'], 'input', file);
  const outputs = object(j['outputs'], 'outputs', file);
  const files = object(j['files'], 'files', file);
  const range = j['input'] !== undefined ? input['valueRange'] ?? [-1, 1] : [-1, 1];
  if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number') || !((range[1] as number) > (range[0] as number))) {
    fail(file, 'input.valueRange', 'must be [min, max] with max > min');
  }
  const classes = j['classes'];
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) {
    fail(file, 'classes', 'must be a non-empty array of strings');
  }
  const modelPath = path.resolve(dir, string(files['model'], 'files.model', file));
  if (!existsSync(modelPath)) throw new EvalError('PACKAGE_NOT_FOUND', 'files.model', `${modelPath} is missing`);
  const channels = int(input['channels'], 'input.channels', file);
  const height = int(input['height'], 'input.height', file);
  const width = int(input['width'], 'input.width', file);
  const reference: Partial<Record<ReferenceKind, ReferenceSetSpec>> = {};
  const refs = j['reference'] === undefined ? {} : object(j['reference'], 'reference', file);
  for (const kind of ['images', 'videoFrames'] as const) {
    if (refs[kind] === undefined) continue;
    const r = object(refs[kind], `reference.${kind}`, file);
    if (r['dtype'] !== undefined && r['dtype'] !== 'uint8') fail(file, `reference.${kind}.dtype`, 'must be "uint8"');
    const shape = r['shape'];
    if (!Array.isArray(shape) || shape.length !== 3 || shape[0] !== channels || shape[1] !== height || shape[2] !== width) {
      fail(file, `reference.${kind}.shape`, `must be [${channels}, ${height}, ${width}] (the input geometry)`);
    }
    reference[kind] = {
      path: path.resolve(dir, string(r['file'], `reference.${kind}.file`, file)),
      count: int(r['count'], `reference.${kind}.count`, file),
      shape: [channels, height, width],
    };
  }
  return {
    name: string(j['name'], 'name', file),
    version: int(j['version'], 'version', file),
    dir: path.resolve(dir),
    modelPath,
    inputName: string(input['name'], 'input.name', file),
    logitsName: string(outputs['logits'], 'outputs.logits', file),
    featuresName: string(outputs['features'], 'outputs.features', file),
    channels,
    height,
    width,
    valueRange: [range[0] as number, range[1] as number],
    featureSize: int(j['featureSize'], 'featureSize', file),
    classes: classes as string[],
    reference,
  };
}

function fail(file: string, field: string, detail: string): never {
  throw new EvalError('PACKAGE_INVALID', field, `${file}: ${field} ${detail}`);
}

function object(v: unknown, field: string, file: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(file, field, 'must be an object');
  return v as Json;
}

function string(v: unknown, field: string, file: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(file, field, 'must be a non-empty string');
  return v;
}

function int(v: unknown, field: string, file: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(file, field, 'must be a positive integer');
  return v;
}
