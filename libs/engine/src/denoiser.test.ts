import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ModelError, findModelPackage, loadDiffusersPackage } from '@asyncdiff/models';
import { afterAll, describe, expect, it } from 'vitest';

import { denoiserOf } from './denoiser.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');
const scratch = mkdtempSync(path.join(tmpdir(), 'denoiser-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('denoisers read from their graphs (no weights loaded)', () => {
  it('our packages: float latent and timestep, int64 class labels as conditioning', async () => {
    const d = await denoiserOf(findModelPackage('digits'));
    expect(d.signature.inputs.map((i) => [i.name, i.dtype])).toEqual([
      ['sample', 'float32'],
      ['timestep', 'float32'],
      ['class_labels', 'int64'],
    ]);
    expect(d.conditioningRowDims).toEqual({ class_labels: [] });
  });

  it.each([
    ['tiny-sd15', 'int64', 'float32', ['encoder_hidden_states']],
    ['tiny-sd21v', 'float32', 'float32', ['encoder_hidden_states']],
    ['tiny-sdxl', 'float32', 'float32', ['encoder_hidden_states', 'text_embeds', 'time_ids']],
    ['tiny-sd15-fp16', 'int64', 'float16', ['encoder_hidden_states']],
  ])('%s: timestep %s, latent %s, conditioning inputs and their rows, weights in external data', async (name, timestep, latent, conditioning) => {
    const d = await denoiserOf(loadDiffusersPackage(path.join(PIPELINES, name)));
    expect(d.io).toEqual({ sample: 'sample', timestep: 'timestep', output: 'out_sample' });
    expect(d.signature.inputs.find((i) => i.name === 'timestep')?.dtype).toBe(timestep);
    expect(d.signature.inputs.find((i) => i.name === 'sample')?.dtype).toBe(latent);
    expect(Object.keys(d.conditioningRowDims)).toEqual(conditioning);
    expect(d.signature.externalData).toEqual(['model.onnx_data']);
    expect(d.sampleDims).toEqual([4, 8, 8]);
  });

  it('names the missing external data file of a UNet', async () => {
    const dir = path.join(scratch, 'no-data');
    cpSync(path.join(PIPELINES, 'tiny-sd15'), dir, { recursive: true });
    rmSync(path.join(dir, 'unet', 'model.onnx_data'));
    const err = await denoiserOf(loadDiffusersPackage(dir)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).field).toBe('unet/model.onnx_data');
  });
});
