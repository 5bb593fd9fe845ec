import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TextError } from './errors.js';
import { resolveSpecialTokens, type SpecialTokens } from './special-tokens.js';

/**
 * The files of a `tokenizer/` folder, read and checked. Two kinds, as HF writes them:
 * `tokenizer.json` (a complete fast-tokenizer definition), or the slow CLIP tokenizer's
 * `vocab.json` + `merges.txt` (what `optimum-cli export onnx` saves for diffusers pipelines).
 */
export type TokenizerSource =
  | {
      readonly kind: 'tokenizer-json';
      readonly dir: string;
      readonly definition: Record<string, unknown>;
      readonly config: Record<string, unknown>;
      readonly special: SpecialTokens;
      readonly modelMaxLength: number | undefined;
    }
  | {
      readonly kind: 'bpe-files';
      readonly dir: string;
      readonly vocab: Readonly<Record<string, number>>;
      readonly merges: readonly (readonly [string, string])[];
      readonly config: Record<string, unknown>;
      readonly special: SpecialTokens;
      readonly modelMaxLength: number | undefined;
    };

/**
 * How many merges the slow CLIPTokenizer keeps (`49152 - 256 - 2`): it reads
 * `merges.txt` lines [1, 48895) and drops the rest. HF's fast tokenizer built from these files
 * inherits that cut, so we apply it too (the real CLIP file has exactly this many).
 */
export const CLIP_MAX_MERGES = 49152 - 256 - 2;

/** transformers' VERY_LARGE_INTEGER: what `model_max_length` holds when a config never set it. */
const UNSET_MODEL_MAX_LENGTH = 1e20;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errnoCode(error: unknown): string | undefined {
  return isRecord(error) && typeof error['code'] === 'string' ? error['code'] : undefined;
}

/** Reads a text file; `undefined` when absent and optional. */
async function readText(file: string, required: boolean): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      if (!required) return undefined;
      throw new TextError('TOKENIZER_FILE_MISSING', `tokenizer file ${file} does not exist`, { file }, { cause: error });
    }
    throw new TextError('TOKENIZER_FILE_INVALID', `tokenizer file ${file} cannot be read: ${String(error)}`, { file }, { cause: error });
  }
}

/** Parses a JSON object; anything else (bad JSON, an array) names the file. */
function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TextError('TOKENIZER_FILE_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { file }, { cause: error });
  }
  if (!isRecord(value)) throw new TextError('TOKENIZER_FILE_INVALID', `${file} must hold a JSON object`, { file });
  return value;
}

async function readJsonObject(file: string, required: true): Promise<Record<string, unknown>>;
async function readJsonObject(file: string, required: false): Promise<Record<string, unknown> | undefined>;
async function readJsonObject(file: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  const text = await readText(file, required);
  return text === undefined ? undefined : parseJsonObject(text, file);
}

/** `model_max_length`, or undefined when the config leaves it unset (absent or VERY_LARGE_INTEGER). */
function readModelMaxLength(config: Record<string, unknown>, file: string): number | undefined {
  const value = config['model_max_length'];
  if (value === undefined || value === null || (typeof value === 'number' && value >= UNSET_MODEL_MAX_LENGTH)) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2) {
    throw new TextError('TOKENIZER_FILE_INVALID', `${file}: model_max_length must be an integer ≥ 2, got ${JSON.stringify(value)}`, {
      file,
      field: 'model_max_length',
    });
  }
  return value;
}

/** Checks `vocab.json`: token → non-negative integer id. */
function checkVocab(vocab: Record<string, unknown>, file: string): Readonly<Record<string, number>> {
  let count = 0;
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TextError('TOKENIZER_FILE_INVALID', `${file}: the id of ${JSON.stringify(token)} must be a non-negative integer`, {
        file,
        field: token,
      });
    }
    count++;
  }
  if (count === 0) throw new TextError('TOKENIZER_FILE_INVALID', `${file} holds no tokens`, { file });
  return vocab as Record<string, number>;
}

/**
 * Parses `merges.txt` the way the slow CLIPTokenizer does: the first line (`#version: …`) is
 * skipped, each further line is two space-separated symbols, at most {@link CLIP_MAX_MERGES}
 * are kept. Blank lines are ignored.
 */
export function parseMerges(text: string, file: string): [string, string][] {
  const lines = text.trim().split('\n').slice(1, CLIP_MAX_MERGES + 1);
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const parts = trimmed.split(/\s+/);
    if (parts.length !== 2) {
      throw new TextError('TOKENIZER_FILE_INVALID', `${file}: line ${i + 2} must hold two symbols separated by a space`, {
        file,
        field: `line ${i + 2}`,
      });
    }
    merges.push([parts[0] ?? '', parts[1] ?? '']);
  });
  return merges;
}

/**
 * Reads a `tokenizer/` folder from local files only. `tokenizer_config.json` is required;
 * `special_tokens_map.json` is optional and wins over it key by key; then `tokenizer.json` if
 * present, else `vocab.json` + `merges.txt` (both required). Every failure is a
 * {@link TextError} whose `file` names the file to fix.
 */
export async function readTokenizerFolder(dir: string): Promise<TokenizerSource> {
  const configFile = join(dir, 'tokenizer_config.json');
  const mapFile = join(dir, 'special_tokens_map.json');
  const config = await readJsonObject(configFile, true);
  const map = await readJsonObject(mapFile, false);
  const special = resolveSpecialTokens({ config, configFile, map, mapFile });
  const modelMaxLength = readModelMaxLength(config, configFile);

  const definitionFile = join(dir, 'tokenizer.json');
  const definition = await readJsonObject(definitionFile, false);
  if (definition !== undefined) return { kind: 'tokenizer-json', dir, definition, config, special, modelMaxLength };

  const vocabFile = join(dir, 'vocab.json');
  const mergesFile = join(dir, 'merges.txt');
  const vocab = checkVocab(await readJsonObject(vocabFile, true), vocabFile);
  const merges = parseMerges((await readText(mergesFile, true)) ?? '', mergesFile);
  return { kind: 'bpe-files', dir, vocab, merges, config, special, modelMaxLength };
}
