import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTextPipeline, TextError } from './index.js';
import { scratchDir, tinyTokenizerFiles, type ScratchDir } from './test-fixtures/tiny-clip-tokenizer.js';

let scratch: ScratchDir;
beforeAll(() => {
  scratch = scratchDir();
});
afterAll(() => scratch.cleanup());

const SD_INDEX = {
  _class_name: 'StableDiffusionPipeline',
  _diffusers_version: '0.30.0',
  feature_extractor: [null, null],
  requires_safety_checker: false,
  safety_checker: [null, null],
  scheduler: ['diffusers', 'PNDMScheduler'],
  text_encoder: ['transformers', 'CLIPTextModel'],
  tokenizer: ['transformers', 'CLIPTokenizer'],
  unet: ['diffusers', 'UNet2DConditionModel'],
  vae: ['diffusers', 'AutoencoderKL'],
};
const SDXL_INDEX = {
  ...SD_INDEX,
  _class_name: 'StableDiffusionXLPipeline',
  text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
  tokenizer_2: ['transformers', 'CLIPTokenizer'],
};

/** Writes a pipeline folder: model_index.json plus the given tokenizer folders. */
function pipelineFolder(name: string, index: unknown, tokenizers: Record<string, Record<string, string>>): string {
  const dir = join(scratch.root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model_index.json'), typeof index === 'string' ? index : JSON.stringify(index));
  for (const [folder, files] of Object.entries(tokenizers)) scratch.folder(join(name, folder), files);
  return dir;
}

describe('loadTextPipeline', () => {
  it('reads an SD 1.x/2.x folder as one tokenizer', async () => {
    const pipeline = await loadTextPipeline(pipelineFolder('sd', SD_INDEX, { tokenizer: tinyTokenizerFiles('sd2') }));
    expect(pipeline.kind).toBe('sd');
    expect(pipeline.tokenizer.padId).toBe(pipeline.tokenizer.encodePrompt('!').ids[1]);
  });

  it('reads an SDXL folder as two tokenizers, forcing zeros for empty prompts unless the index says otherwise', async () => {
    const tokenizers = { tokenizer: tinyTokenizerFiles('sd15'), tokenizer_2: tinyTokenizerFiles('sd2') };
    const pipeline = await loadTextPipeline(pipelineFolder('sdxl', SDXL_INDEX, tokenizers));
    if (pipeline.kind !== 'sdxl') throw new Error('expected SDXL');
    expect(pipeline.forceZerosForEmptyPrompt).toBe(true);
    expect(pipeline.tokenizer.padId).toBe(pipeline.tokenizer.eosId);
    expect(pipeline.tokenizer2.padId).not.toBe(pipeline.tokenizer2.eosId);
    const unforced = await loadTextPipeline(pipelineFolder('sdxl-unforced', { ...SDXL_INDEX, force_zeros_for_empty_prompt: false }, tokenizers));
    expect(unforced).toMatchObject({ kind: 'sdxl', forceZerosForEmptyPrompt: false });
  });

  it('refuses a pipeline without a first text encoder (the SDXL refiner), naming the field', async () => {
    const refiner = { ...SDXL_INDEX, text_encoder: [null, null], tokenizer: [null, null] };
    const error = await loadTextPipeline(pipelineFolder('refiner', refiner, {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TextError);
    expect(error).toMatchObject({ code: 'PIPELINE_CONFIG_INVALID', field: 'tokenizer' });
    expect((error as TextError).file).toMatch(/refiner\/model_index\.json$/);
  });

  it('refuses a missing or malformed model_index.json, naming it', async () => {
    const missing = await loadTextPipeline(join(scratch.root, 'absent')).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'PIPELINE_CONFIG_INVALID' });
    expect((missing as TextError).file).toMatch(/absent\/model_index\.json$/);
    const bad = await loadTextPipeline(pipelineFolder('badindex', '{"tokenizer": [', {})).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'PIPELINE_CONFIG_INVALID' });
    expect((bad as TextError).file).toMatch(/badindex\/model_index\.json$/);
  });

  it('passes tokenizer failures through with the file to fix', async () => {
    const files = tinyTokenizerFiles('sd2');
    delete files['vocab.json'];
    const error = await loadTextPipeline(pipelineFolder('sdxl-broken', SDXL_INDEX, { tokenizer: tinyTokenizerFiles('sd15'), tokenizer_2: files })).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_MISSING' });
    expect((error as TextError).file).toMatch(/sdxl-broken\/tokenizer_2\/vocab\.json$/);
  });
});
