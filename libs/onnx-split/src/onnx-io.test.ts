import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel } from './onnx-io.js';
import { onnxDescriptor } from './proto/onnx-descriptor.js';
import { InferenceSession } from 'onnxruntime-node';
import { randomFeeds } from './random-feeds.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';

describe('ONNX protobuf IO', () => {
  it('the embedded descriptor matches the vendored onnx.proto (rerun scripts/gen-onnx-descriptor.mjs if not)', () => {
    const root = protobuf.loadSync(fileURLToPath(new URL('./proto/onnx.proto', import.meta.url)));
    expect(JSON.parse(JSON.stringify(root.toJSON()))).toEqual(onnxDescriptor);
  });

  it('decodes and re-encodes a real model without changing what ORT computes', async () => {
    const path = await copyShippedModel(SHIPPED.digits.path);
    const bytes = await readFile(path);
    const model = decodeOnnxModel(bytes);
    expect(model.graph?.node?.length).toBeGreaterThan(100);
    expect(model.opsetImport?.[0]?.version).toBeDefined();
    const again = encodeOnnxModel(model);
    expect(decodeOnnxModel(again).graph?.node?.length).toBe(model.graph?.node?.length);
    const feeds = randomFeeds(SHIPPED.digits.inputs, 2, 10);
    const run = async (data: Uint8Array): Promise<Float32Array> => {
      const session = await InferenceSession.create(data);
      try {
        return (await session.run(feeds)).eps?.data as Float32Array;
      } finally {
        await session.release();
      }
    };
    expect(await run(again)).toEqual(await run(bytes));
  });
});
