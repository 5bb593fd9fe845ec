import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';

import { Channel } from './index.js';
import { startChild, stopAllChildren } from './test-fixtures/child.js';

afterEach(stopAllChildren);

// Shapes only: the training job may rewrite the weights at any time.
const MODEL = fileURLToPath(new URL('../../../models/digits-eval/model.onnx', import.meta.url));
const BATCH = 2;

interface StageResult {
  name: string;
  logits: number[];
  features: number[];
}

describe('onnxruntime-node over channel views', () => {
  it('accepts a view on shm as an input tensor (zero copy)', async () => {
    const input = Channel.create({ label: `ort-in-${randomUUID().slice(0, 8)}`, tensors: [{ name: 'image', dtype: 'float32', dims: [BATCH, 1, 16, 16] }] });
    const image = input.beginWrite(0).data('image', 'float32');
    image.forEach((_, i, a) => (a[i] = Math.sin(i)));
    const session = await ort.InferenceSession.create(MODEL);
    const out = await session.run({ image: new ort.Tensor('float32', image, [BATCH, 1, 16, 16]) });
    expect(out.logits?.dims).toEqual([BATCH, 10]);
    expect(out.features?.dims).toEqual([BATCH, 128]);
    await session.release();
    input.dispose();
  });

  it('lets a stage process read its input from our channel and have ORT write its outputs into its own channel, read here', async () => {
    const input = Channel.create({ label: `ort-in-${randomUUID().slice(0, 8)}`, tensors: [{ name: 'image', dtype: 'float32', dims: [BATCH, 1, 16, 16] }] });
    input.beginWrite(0).data('image', 'float32').forEach((_, i, a) => (a[i] = Math.cos(i / 7)));
    input.publish(0);

    const stage = await startChild();
    const r = await stage.call<StageResult>('ortStage', { inputName: input.name, outputLabel: `ort-out-${randomUUID().slice(0, 8)}` });

    const output = Channel.open(r.name, {
      expect: [
        { name: 'logits', dtype: 'float32', dims: [BATCH, 10] },
        { name: 'features', dtype: 'float32', dims: [BATCH, 128] },
      ],
    });
    const slot = output.tryRead(0);
    expect(slot).toBeDefined();
    const logits = slot!.data('logits', 'float32');
    const features = slot!.data('features', 'float32');
    expect(logits.every(Number.isFinite)).toBe(true); // the NaN sentinel was overwritten in place
    // Same session in the child, fresh input copy and ORT-allocated outputs: identical values.
    expect(Array.from(logits)).toEqual(r.logits);
    expect(Array.from(features)).toEqual(r.features);
    output.dispose();
    input.dispose();
  });
});
