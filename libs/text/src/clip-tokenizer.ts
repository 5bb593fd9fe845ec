import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { clipTokenizerDefinition } from './clip-definition.js';
import { TextError } from './errors.js';
import type { EncodedPrompt, PromptTokenizer } from './prompt-tokenizer.js';
import type { SpecialTokenSpec } from './special-tokens.js';
import { cleanText, type TextCleanup } from './text-cleanup.js';
import { readTokenizerFolder, type TokenizerSource } from './tokenizer-files.js';

/** CLIP's context length: what a tokenizer config that never set `model_max_length` gets. */
export const CLIP_CONTEXT_LENGTH = 77;

/** Options of {@link loadPromptTokenizer}. */
export interface PromptTokenizerOptions {
  /**
   * Context length rows are padded/truncated to (must be ≥ 2: bos and eos).
   * @defaultValue the config's `model_max_length`, else {@link CLIP_CONTEXT_LENGTH}
   */
  maxLength?: number;
  /**
   * Text cleanup before tokenization (see {@link TextCleanup}): `basic` reproduces the slow
   * CLIPTokenizer that diffusers loads, `none` the fast one.
   * @defaultValue `basic` when tokenizer_config.json names `CLIPTokenizer` (or names no class and
   * the folder has no tokenizer.json), else `none`
   */
  cleanup?: TextCleanup;
}

/** The cleanup a folder implies: its config's tokenizer class, else slow for vocab+merges folders. */
function defaultCleanup(source: TokenizerSource): TextCleanup {
  const tokenizerClass = source.config['tokenizer_class'];
  if (tokenizerClass === 'CLIPTokenizer') return 'basic';
  if (tokenizerClass === 'CLIPTokenizerFast') return 'none';
  return source.kind === 'bpe-files' ? 'basic' : 'none';
}

class ClipPromptTokenizer implements PromptTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly cleanup: TextCleanup;
  readonly #tokenizer: Tokenizer;

  constructor(tokenizer: Tokenizer, maxLength: number, cleanup: TextCleanup, ids: { bos: number; eos: number; pad: number }) {
    this.#tokenizer = tokenizer;
    this.cleanup = cleanup;
    this.maxLength = maxLength;
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.padId = ids.pad;
  }

  tokenIds(text: string): readonly number[] {
    return this.#tokenizer.encode(cleanText(text, this.cleanup), { add_special_tokens: false }).ids;
  }

  encodePrompt(text: string): EncodedPrompt {
    const content = this.tokenIds(text);
    const room = this.maxLength - 2;
    const kept = content.slice(0, room);
    const dropped = content.slice(room);
    const ids = [this.bosId, ...kept, this.eosId];
    const tokenCount = ids.length;
    while (ids.length < this.maxLength) ids.push(this.padId);
    return {
      ids,
      tokenCount,
      truncated: dropped.length > 0,
      droppedTokens: dropped.length,
      droppedText:
        dropped.length === 0 ? '' : this.#tokenizer.decode([...dropped], { skip_special_tokens: true, clean_up_tokenization_spaces: false }).trim(),
    };
  }
}

/** The file to blame when the library rejects a definition. */
function definitionFile(source: TokenizerSource): string {
  return join(source.dir, source.kind === 'tokenizer-json' ? 'tokenizer.json' : 'vocab.json');
}

/**
 * Builds a prompt tokenizer from an already-read folder (see {@link readTokenizerFolder}): a
 * `tokenizer.json` goes to `@huggingface/tokenizers` as it is; `vocab.json` + `merges.txt` first
 * become the tokenizer.json HF's CLIPTokenizerFast would build from them.
 */
export function createPromptTokenizer(source: TokenizerSource, options: PromptTokenizerOptions = {}): PromptTokenizer {
  const maxLength = options.maxLength ?? source.modelMaxLength ?? CLIP_CONTEXT_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new TextError('INVALID_ARGUMENT', `maxLength must be an integer ≥ 2, got ${String(maxLength)}`, { field: 'maxLength' });
  }
  const definition = source.kind === 'tokenizer-json' ? source.definition : clipTokenizerDefinition(source);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(definition, source.config);
  } catch (error) {
    const file = definitionFile(source);
    throw new TextError('TOKENIZER_UNSUPPORTED', `cannot build a tokenizer from ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const idOf = (token: SpecialTokenSpec, field: string): number => {
    const id = tokenizer.token_to_id(token.content);
    if (id === undefined) {
      const file = definitionFile(source);
      throw new TextError('TOKENIZER_FILE_INVALID', `${field} ${JSON.stringify(token.content)} is not in the vocabulary of ${file}`, {
        file,
        field,
      });
    }
    return id;
  };
  const { bos, eos, pad } = source.special;
  return new ClipPromptTokenizer(tokenizer, maxLength, options.cleanup ?? defaultCleanup(source), { bos: idOf(bos, 'bos_token'), eos: idOf(eos, 'eos_token'), pad: idOf(pad, 'pad_token') });
}

/**
 * Loads the tokenizer of a diffusers pipeline folder's `tokenizer/` (or `tokenizer_2/`) from
 * local files only. Fails with a {@link TextError} whose `code` and `file` say what to fix.
 */
export async function loadPromptTokenizer(dir: string, options: PromptTokenizerOptions = {}): Promise<PromptTokenizer> {
  return createPromptTokenizer(await readTokenizerFolder(dir), options);
}
