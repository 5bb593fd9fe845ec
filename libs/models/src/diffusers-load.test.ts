import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { ModelError, findGenerator, imageSizeProblem, listGenerators, loadDiffusersPackage } from './index.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');
const scratch = mkdtempSync(path.join(tmpdir(), 'diffusers-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a committed fixture, changed by `mutate`, in a folder named `name`. */
function variant(fixture: string, name: string, mutate: (dir: string) => void): string {
  const dir = path.join(scratch, name);
  cpSync(path.join(PIPELINES, fixture), dir, { recursive: true });
  mutate(dir);
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

function errorOf(fn: () => unknown): ModelError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error('expected a ModelError');
}

describe('diffusers ONNX packages (optimum layout, read as is)', () => {
  it('reads SD 1.x: pipeline, UNet geometry, VAE scale, tokenizer, scheduler and defaults', () => {
    const m = loadDiffusersPackage(path.join(PIPELINES, 'tiny-sd15'));
    expect(m).toMatchObject({ format: 'diffusers', name: 'tiny-sd15', kind: 'image', pipeline: 'sd', className: 'StableDiffusionPipeline', forceZerosForEmptyPrompt: false });
    expect(m.unet).toMatchObject({ sampleSize: 8, inChannels: 4, crossAttentionDim: 32, latentMultiple: 2, textEmbedsDim: undefined });
    expect(m.vae).toMatchObject({ scalingFactor: 0.18215, scaleFactor: 8 });
    expect(m.textEncoders).toHaveLength(1);
    expect(m.defaults).toMatchObject({ steps: 50, guidance: 7.5, scheduler: 'pndm', width: 64, height: 64 });
    expect(m.resolution).toEqual({ min: 16, max: 128, multiple: 16 });
    expect(m.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it('reads SDXL: both text encoders and tokenizers, text_embeds width, zeroed empty negatives', () => {
    const m = loadDiffusersPackage(path.join(PIPELINES, 'tiny-sdxl'));
    expect(m).toMatchObject({ pipeline: 'sdxl', forceZerosForEmptyPrompt: true, defaults: { guidance: 5, scheduler: 'euler' } });
    expect(m.textEncoders.map((t) => path.basename(path.dirname(t.path)))).toEqual(['text_encoder', 'text_encoder_2']);
    expect(m.unet.textEmbedsDim).toBe(32);
    expect(m.vae.scalingFactor).toBe(0.13025);
  });

  it('names the missing or bad file of a broken package', () => {
    const cases: [string, (dir: string) => void, string][] = [
      ['no-index', (d) => rmSync(path.join(d, 'model_index.json')), 'model_index.json'],
      ['no-unet', (d) => rmSync(path.join(d, 'unet/model.onnx')), 'unet/model.onnx'],
      ['no-vae', (d) => rmSync(path.join(d, 'vae_decoder'), { recursive: true }), 'vae_decoder/model.onnx'],
      ['no-vocab', (d) => rmSync(path.join(d, 'tokenizer/vocab.json')), 'tokenizer/vocab.json'],
      ['no-scheduler', (d) => rmSync(path.join(d, 'scheduler/scheduler_config.json')), 'scheduler/scheduler_config.json'],
      ['bad-index-json', (d) => writeFileSync(path.join(d, 'model_index.json'), '{nope'), 'model_index.json'],
      ['flux', (d) => editJson(path.join(d, 'model_index.json'), (j) => (j['_class_name'] = 'FluxPipeline')), 'model_index.json: _class_name'],
      ['unet-config', (d) => editJson(path.join(d, 'unet/config.json'), (j) => delete j['cross_attention_dim']), 'unet/config.json: cross_attention_dim'],
      ['lms', (d) => editJson(path.join(d, 'scheduler/scheduler_config.json'), (j) => (j['_class_name'] = 'LMSDiscreteScheduler')), 'scheduler/scheduler_config.json: _class_name'],
    ];
    for (const [name, mutate, field] of cases) {
      const e = errorOf(() => loadDiffusersPackage(variant('tiny-sd15', name, mutate)));
      expect(e.field, name).toBe(field);
      expect(e.message, name).toContain(name);
    }
    const xl = errorOf(() => loadDiffusersPackage(variant('tiny-sdxl', 'xl-no-te2', (d) => rmSync(path.join(d, 'text_encoder_2'), { recursive: true }))));
    expect(xl.field).toBe('text_encoder_2/model.onnx');
  });

  it('discovers packages of both formats across folders, first folder winning a name, skipping broken ones', () => {
    const a = path.join(scratch, 'dirs-a');
    const b = path.join(scratch, 'dirs-b');
    cpSync(path.join(PIPELINES, 'tiny-sd15'), path.join(a, 'sd'), { recursive: true });
    cpSync(path.join(PIPELINES, 'tiny-sdxl'), path.join(b, 'sd'), { recursive: true });
    cpSync(path.join(PIPELINES, 'tiny-sdxl'), path.join(b, 'xl'), { recursive: true });
    cpSync(path.join(PIPELINES, 'tiny-sd21v'), path.join(b, 'Broken Export'), { recursive: true });
    rmSync(path.join(b, 'Broken Export', 'unet', 'model.onnx'));
    const invalid: string[] = [];
    const found = listGenerators([a, b], (dir, err) => invalid.push(`${path.basename(dir)}: ${err.field ?? ''}`));
    expect(found.map((m) => [m.name, m.format === 'diffusers' ? m.pipeline : m.kind])).toEqual([
      ['sd', 'sd'],
      ['xl', 'sdxl'],
    ]);
    expect(invalid).toEqual(['Broken Export: unet/model.onnx']);
    expect(findGenerator('xl', [a, b]).name).toBe('xl');
    expect(findGenerator(path.join(b, 'xl')).name).toBe('xl');
    expect(errorOf(() => findGenerator('nope', [a, b])).message).toMatch(/available: sd, xl/);
    expect(errorOf(() => findGenerator(path.join(scratch, 'missing-folder'))).code).toBe('MODEL_NOT_FOUND');
  });

  it('bounds output sizes by the package: multiples of the UNet × VAE factor within a range', () => {
    const m = loadDiffusersPackage(path.join(PIPELINES, 'tiny-sd15'));
    expect(imageSizeProblem(m, 64, 48)).toBeUndefined();
    expect(imageSizeProblem(m, 60, 64)).toMatchObject({ field: 'width' });
    expect(imageSizeProblem(m, 64, 256)).toMatchObject({ field: 'height' });
    expect(imageSizeProblem(m, 64, 8)?.message).toMatch(/multiple of 16 from 16 to 128/);
  });
});
