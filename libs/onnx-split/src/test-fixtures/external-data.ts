import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnnxModel, OnnxTensor } from '../onnx-types.js';
import { DATA_LOCATION_EXTERNAL } from '../onnx-types.js';

/**
 * Moves the payload of every initializer stored as raw bytes of at least `sizeThreshold` bytes into
 * `<dir>/<location>` (64-byte aligned) and returns the model with external-data references in their
 * place, as `onnx.save(..., save_as_external_data=True, size_threshold=…)` does; smaller tensors
 * stay inline.
 */
export async function externalizeWeights(model: OnnxModel, dir: string, location: string, sizeThreshold = 0): Promise<OnnxModel> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = (model.graph?.initializer ?? []).map((t): OnnxTensor => {
    const data = t.rawData;
    if (data === undefined || data.length < Math.max(sizeThreshold, 1)) return t;
    const padding = (64 - (offset % 64)) % 64;
    chunks.push(new Uint8Array(padding), data);
    offset += padding;
    const externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(data.length) },
    ];
    offset += data.length;
    const { rawData: _raw, ...rest } = t;
    return { ...rest, dataLocation: DATA_LOCATION_EXTERNAL, externalData };
  });
  await writeFile(join(dir, location), Buffer.concat(chunks));
  return { ...model, graph: { ...model.graph, initializer } };
}
