import { readFile, writeFile, rename, rm } from 'node:fs/promises';
import protobuf from 'protobufjs';
import { SplitModelError } from './errors.js';
import type { OnnxModel } from './onnx-types.js';
import { onnxDescriptor } from './proto/onnx-descriptor.js';

const root = protobuf.Root.fromJSON(onnxDescriptor as protobuf.INamespace);
const modelType = root.lookupType('onnx.ModelProto');

/**
 * Decodes ONNX model bytes. Tensor payloads stay views on `bytes` (no copy); external-data
 * tensors are only references, so decoding never touches weight files.
 */
export function decodeOnnxModel(bytes: Uint8Array, source = 'model'): OnnxModel {
  let model: OnnxModel;
  try {
    model = modelType.decode(bytes) as unknown as OnnxModel;
  } catch (cause) {
    throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `${source} is not an ONNX ModelProto: ${String(cause)}`, {
      field: 'modelPath',
      cause,
    });
  }
  const graph = model.graph;
  if (graph === undefined || graph === null || (graph.output ?? []).length === 0 || (graph.node ?? []).length === 0) {
    throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `${source} has no graph with nodes and outputs`, {
      field: 'modelPath',
    });
  }
  return model;
}

/** Encodes a model (decoded messages, plain objects, or a mix of both) to ONNX bytes. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  return modelType.encode(model as unknown as protobuf.Message).finish();
}

/** Reads and decodes an ONNX file; errors name the `modelPath` option. */
export async function readOnnxModel(path: string): Promise<{ model: OnnxModel; bytes: Uint8Array }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `modelPath ${path} cannot be read: ${String(cause)}`, {
      field: 'modelPath',
      cause,
    });
  }
  return { model: decodeOnnxModel(bytes, `modelPath ${path}`), bytes };
}

/** Writes an ONNX model atomically (temp file + rename). */
export async function writeOnnxModel(path: string, model: OnnxModel): Promise<number> {
  const bytes = encodeOnnxModel(model);
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return bytes.length;
}
