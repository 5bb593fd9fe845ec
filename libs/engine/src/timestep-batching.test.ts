import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findModelPackage, readOnnxInputs, timestepBatchingOf } from '@asyncdiff/models';
import { readOnnxModel, writeOnnxModel } from '@asyncdiff/onnx-split';
import { afterAll, describe, expect, it } from 'vitest';

import { graphSignature } from './graph-signature.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PIPELINES = path.join(ROOT, 'test/fixtures/pipelines');

describe('readOnnxInputs (what /v1/models reads without onnxruntime)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'onnx-inputs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const files = [
    findModelPackage('digits').denoiserPath,
    findModelPackage('moving-digits').denoiserPath,
    ...readdirSync(PIPELINES).flatMap((p) => readdirSync(path.join(PIPELINES, p)).map((part) => path.join(PIPELINES, p, part, 'model.onnx'))),
  ].filter((f) => existsSync(f));

  it('finds the shipped models and every fixture pipeline\'s graphs', () => {
    expect(files.length).toBeGreaterThanOrEqual(2 + 3 * 4);
  });

  it.each(files.map((f) => [path.relative(ROOT, f), f]))('reads the same inputs as the full decoder: %s', async (_name, file) => {
    const signature = await graphSignature(file);
    expect(readOnnxInputs(file)).toEqual(signature.inputs.map((i) => ({ name: i.name, dims: [...i.dims] })));
  });

  it('tells per-sample from scalar timesteps (the shipped models and the SD exports take one per row)', async () => {
    expect(timestepBatchingOf(readOnnxInputs(findModelPackage('digits').denoiserPath).find((i) => i.name === 'timestep')?.dims)).toBe('per-sample');
    expect(timestepBatchingOf(readOnnxInputs(path.join(PIPELINES, 'tiny-sd15/unet/model.onnx')).find((i) => i.name === 'timestep')?.dims)).toBe('per-sample');
    // The same graph declared with a scalar and with a fixed [1] timestep.
    const { model } = await readOnnxModel(findModelPackage('digits').denoiserPath);
    for (const [label, dim] of [['rank0', []], ['one', [{ dimValue: 1 }]]] as const) {
      const input = model.graph!.input!.find((i) => i.name === 'timestep')!;
      input.type!.tensorType!.shape = { dim: [...dim] };
      const file = path.join(dir, `${label}.onnx`);
      await writeOnnxModel(file, model);
      const dims = readOnnxInputs(file).find((i) => i.name === 'timestep')?.dims;
      expect(dims).toEqual(label === 'rank0' ? [] : [1]);
      expect(timestepBatchingOf(dims)).toBe('scalar');
    }
  });

  it('refuses a file that is not an ONNX protobuf, naming the problem', () => {
    expect(() => readOnnxInputs(path.join(ROOT, 'package.json'))).toThrow(/ONNX|graph|varint|truncated/);
  });
});
