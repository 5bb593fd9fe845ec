import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadPromptTokenizer, type PromptTokenizerOptions } from './clip-tokenizer.js';
import type { TextPipeline } from './conditioning.js';
import { TextError } from './errors.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether model_index.json lists a component (`["transformers", "CLIPTokenizer"]`; absent or `[null, null]` when not). */
function classOf(index: Record<string, unknown>, name: string): unknown {
  const entry = index[name];
  return Array.isArray(entry) ? entry[1] : undefined;
}

/**
 * The tokenizer options for a component: diffusers instantiates the class model_index.json names,
 * so `CLIPTokenizer` (slow) means `basic` cleanup and `CLIPTokenizerFast` means none.
 */
function tokenizerOptions(index: Record<string, unknown>, name: string, options: PromptTokenizerOptions): PromptTokenizerOptions {
  if (options.cleanup !== undefined) return options;
  const tokenizerClass = classOf(index, name);
  if (tokenizerClass === 'CLIPTokenizer') return { ...options, cleanup: 'basic' };
  if (tokenizerClass === 'CLIPTokenizerFast') return { ...options, cleanup: 'none' };
  return options;
}

function hasComponent(index: Record<string, unknown>, name: string): boolean {
  const entry = index[name];
  return Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && typeof entry[1] === 'string';
}

/** Reads and parses `model_index.json`, naming it in every failure. */
async function readModelIndex(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TextError('PIPELINE_CONFIG_INVALID', `cannot read ${file}: ${String(error)}`, { file }, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TextError('PIPELINE_CONFIG_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { file }, { cause: error });
  }
  if (!isRecord(value)) throw new TextError('PIPELINE_CONFIG_INVALID', `${file} must hold a JSON object`, { file });
  return value;
}

/**
 * Loads the text side of a diffusers pipeline folder (the layout `optimum-cli export onnx`
 * writes): reads `model_index.json`, tells SD 1.x/2.x (`tokenizer` + `text_encoder`) from SDXL
 * (also `tokenizer_2` + `text_encoder_2`), loads the tokenizer(s) from local files (with the text
 * cleanup of the tokenizer class it names, as diffusers instantiates that class), and takes
 * `force_zeros_for_empty_prompt` (default true, as StableDiffusionXLPipeline's constructor has it).
 * Pipelines without a first text encoder (the SDXL refiner) are refused.
 */
export async function loadTextPipeline(pipelineDir: string, options: PromptTokenizerOptions = {}): Promise<TextPipeline> {
  const file = join(pipelineDir, 'model_index.json');
  const index = await readModelIndex(file);
  for (const name of ['tokenizer', 'text_encoder']) {
    if (!hasComponent(index, name)) {
      throw new TextError('PIPELINE_CONFIG_INVALID', `${file} lists no ${name}; only SD 1.x/2.x and SDXL base pipelines are supported`, { file, field: name });
    }
  }
  const tokenizer = await loadPromptTokenizer(join(pipelineDir, 'tokenizer'), tokenizerOptions(index, 'tokenizer', options));
  const second = hasComponent(index, 'text_encoder_2');
  if (second !== hasComponent(index, 'tokenizer_2')) {
    throw new TextError('PIPELINE_CONFIG_INVALID', `${file} lists only one of text_encoder_2 and tokenizer_2`, { file, field: second ? 'tokenizer_2' : 'text_encoder_2' });
  }
  if (!second) return { kind: 'sd', tokenizer };
  const force = index['force_zeros_for_empty_prompt'];
  if (force !== undefined && typeof force !== 'boolean') {
    throw new TextError('PIPELINE_CONFIG_INVALID', `${file}: force_zeros_for_empty_prompt must be a boolean`, { file, field: 'force_zeros_for_empty_prompt' });
  }
  const tokenizer2 = await loadPromptTokenizer(join(pipelineDir, 'tokenizer_2'), tokenizerOptions(index, 'tokenizer_2', options));
  if (tokenizer2.maxLength !== tokenizer.maxLength) {
    throw new TextError('PIPELINE_CONFIG_INVALID', `tokenizer and tokenizer_2 pad to different lengths (${tokenizer.maxLength} vs ${tokenizer2.maxLength})`, {
      file: join(pipelineDir, 'tokenizer_2', 'tokenizer_config.json'),
      field: 'model_max_length',
    });
  }
  return { kind: 'sdxl', tokenizer, tokenizer2, forceZerosForEmptyPrompt: force ?? true };
}
