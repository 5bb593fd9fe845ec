import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel } from './onnx-io.js';
import { onnxDescriptor } from './proto/onnx-descriptor.js';
import { InferenceSession } from 'onnxruntime-node';
import { randomFeeds } from './random-feeds.js';
import type { OnnxModel } from './onnx-types.js';
import { dtypeOfElemType } from './onnx-types.js';
import { GraphBuilder } from './test-fixtures/graph-builder.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';

describe('ONNX protobuf IO', () => {
  it('the embedded descriptor matches the vendored onnx.proto (rerun scripts/gen-onnx-descriptor.mjs if not)', () => {
    const root = protobuf.loadSync(fileURLToPath(new URL('./proto/onnx.proto', import.meta.url)));
    expect(JSON.parse(JSON.stringify(root.toJSON()))).toEqual(onnxDescriptor);
  });

  it('keeps fields of IR versions newer than 8 through decode → encode (node/graph metadata, multi-device configuration, 2-bit types)', () => {
    const g = new GraphBuilder();
    g.node('Tanh', [g.input('sample', 'float32', [2])], ['eps'], {}, 'only');
    g.output('eps', 'float32', [2]);
    const built = g.build();
    const model = {
      ...built,
      irVersion: 11,
      configuration: [{ name: 'two-gpus', numDevices: 2, device: ['cuda:0', 'cuda:1'] }],
      graph: {
        ...built.graph,
        metadataProps: [{ key: 'graph-level', value: 'kept' }],
        node: (built.graph?.node ?? []).map((n) => ({ ...n, metadataProps: [{ key: 'node-level', value: 'kept' }], deviceConfigurations: [{ configurationId: 'two-gpus', shardingSpec: [] }] })),
        initializer: [{ name: 'two_bit', dims: [4], dataType: 25, rawData: new Uint8Array([0b11100100]) }],
      },
    } as unknown as OnnxModel;
    const again = decodeOnnxModel(encodeOnnxModel(model)) as unknown as Record<string, unknown> & OnnxModel;
    expect(again.configuration).toMatchObject([{ name: 'two-gpus', numDevices: 2, device: ['cuda:0', 'cuda:1'] }]);
    expect(again.graph?.metadataProps).toMatchObject([{ key: 'graph-level', value: 'kept' }]);
    expect(again.graph?.node?.[0]?.metadataProps).toMatchObject([{ key: 'node-level', value: 'kept' }]);
    expect(again.graph?.node?.[0]?.deviceConfigurations).toMatchObject([{ configurationId: 'two-gpus' }]);
    expect(dtypeOfElemType(again.graph?.initializer?.[0]?.dataType)).toBe('uint2');
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
