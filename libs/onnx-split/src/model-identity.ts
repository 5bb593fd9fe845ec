import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SplitModelError } from './errors.js';
import type { OnnxGraph, OnnxModel, OnnxTensor } from './onnx-types.js';
import { DATA_LOCATION_EXTERNAL } from './onnx-types.js';

/** How a model file is identified for caching. */
export interface ModelIdentity {
  readonly sha256: string;
  readonly scheme: 'file-sha256' | 'graph-sha256+external-identity';
  /** External data locations (as written in the model), sorted. */
  readonly externalData: readonly string[];
}

/** Every tensor of a graph that may carry external data: initializers, sparse initializers, attribute tensors, subgraphs. */
export function* graphTensors(graph: OnnxGraph): Generator<OnnxTensor> {
  yield* graph.initializer ?? [];
  for (const s of graph.sparseInitializer ?? []) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.sparseTensor?.values) yield a.sparseTensor.values;
      if (a.g) yield* graphTensors(a.g);
      for (const g of a.graphs ?? []) yield* graphTensors(g);
    }
  }
}

/** External data locations a model references (relative to the model's directory). */
export function externalLocations(model: OnnxModel): string[] {
  const locations = new Set<string>();
  for (const t of graphTensors(model.graph ?? {})) {
    if (t.dataLocation !== DATA_LOCATION_EXTERNAL) continue;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (location) locations.add(location);
  }
  return [...locations].sort();
}

/**
 * Identifies a model for the split cache without reading its weights: the sha256 of the model file,
 * and for models with external data also each data file's location, size and mtime (its `stat`).
 */
export async function modelIdentity(modelPath: string, bytes: Uint8Array, model: OnnxModel): Promise<ModelIdentity> {
  const hash = createHash('sha256').update(bytes);
  const externalData = externalLocations(model);
  for (const location of externalData) {
    const path = resolve(dirname(modelPath), location);
    let info;
    try {
      info = await stat(path);
    } catch (cause) {
      throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `external data file "${location}" of modelPath ${modelPath} is missing: ${String(cause)}`, {
        field: 'modelPath',
        cause,
      });
    }
    hash.update(`\0${location}\0${info.size}\0${info.mtimeMs}`);
  }
  return {
    sha256: hash.digest('hex'),
    scheme: externalData.length > 0 ? 'graph-sha256+external-identity' : 'file-sha256',
    externalData,
  };
}

/** sha256 (hex) of a JSON-serialisable value with object keys sorted, for cache keys. */
export function hashJson(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
