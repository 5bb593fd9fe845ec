import { join } from 'node:path';
import { TextError } from './errors.js';
import { specialTokenList, type SpecialTokenSpec } from './special-tokens.js';
import type { TokenizerSource } from './tokenizer-files.js';

/**
 * CLIP's pre-tokenizer split, as transformers' `CLIPConverter` writes it: contractions, runs of
 * letters, single digits, runs of anything else; whitespace falls between matches and is dropped
 * (`behavior: Removed`, `invert: true`).
 */
export const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** An `added_tokens` entry of a tokenizer.json. */
interface AddedTokenEntry {
  readonly id: number;
  readonly content: string;
  readonly single_word: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
  readonly special: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The entries of `added_tokens_decoder` in a tokenizer_config.json (written by transformers ≥
 * 4.34): id → AddedToken. They keep their ids, even when the vocabulary has the content elsewhere.
 */
function configAddedTokens(config: Record<string, unknown>, configFile: string): AddedTokenEntry[] {
  const decoder = config['added_tokens_decoder'];
  if (decoder === undefined || decoder === null) return [];
  if (!isRecord(decoder)) {
    throw new TextError('TOKENIZER_FILE_INVALID', `${configFile}: added_tokens_decoder must be an object`, {
      file: configFile,
      field: 'added_tokens_decoder',
    });
  }
  return Object.entries(decoder).map(([key, value]) => {
    const field = `added_tokens_decoder.${key}`;
    const id = Number(key);
    const content = isRecord(value) ? value['content'] : undefined;
    if (!/^\d+$/.test(key) || !Number.isSafeInteger(id) || !isRecord(value) || typeof content !== 'string' || content === '') {
      throw new TextError('TOKENIZER_FILE_INVALID', `${configFile}: ${field} must map an integer id to an object with a "content" string`, {
        file: configFile,
        field,
      });
    }
    const flag = (name: string, fallback: boolean): boolean => (typeof value[name] === 'boolean' ? (value[name] as boolean) : fallback);
    const special = flag('special', false);
    return {
      id,
      content,
      single_word: flag('single_word', false),
      lstrip: flag('lstrip', false),
      rstrip: flag('rstrip', false),
      normalized: flag('normalized', !special),
      special,
    };
  });
}

/**
 * The added tokens HF registers for a slow CLIP tokenizer: `added_tokens_decoder` entries, then
 * each special token (bos, eos, unk, pad, additional) at its vocabulary id. Registering pad matters:
 * SD 2.x/SDXL pad with `!`, which then splits out of prompts as id 0 (not BPE's `!</w>`), exactly
 * as diffusers tokenizes them.
 */
function addedTokens(source: Extract<TokenizerSource, { kind: 'bpe-files' }>): AddedTokenEntry[] {
  const configFile = join(source.dir, 'tokenizer_config.json');
  const entries = configAddedTokens(source.config, configFile);
  const byContent = new Map(entries.map((entry) => [entry.content, entry]));
  for (const token of specialTokenList(source.special)) {
    if (byContent.has(token.content)) continue;
    const id = Object.hasOwn(source.vocab, token.content) ? source.vocab[token.content] : undefined;
    if (id === undefined) {
      const vocabFile = join(source.dir, 'vocab.json');
      throw new TextError('TOKENIZER_FILE_INVALID', `special token ${JSON.stringify(token.content)} is not in ${vocabFile}`, {
        file: vocabFile,
        field: token.content,
      });
    }
    const entry = fromSpec(token, id);
    entries.push(entry);
    byContent.set(entry.content, entry);
  }
  return entries.sort((a, b) => a.id - b.id);
}

function fromSpec(token: SpecialTokenSpec, id: number): AddedTokenEntry {
  return {
    id,
    content: token.content,
    single_word: token.singleWord,
    lstrip: token.lstrip,
    rstrip: token.rstrip,
    normalized: token.normalized,
    special: true,
  };
}

/**
 * The tokenizer.json that HF's CLIPTokenizerFast builds from `vocab.json` + `merges.txt`
 * (transformers' `CLIPConverter`): NFC + whitespace runs → one space + lowercase; CLIP's split
 * regex, then byte-level mapping; BPE with the `</w>` end-of-word suffix and unk = the config's
 * unk token; `<|startoftext|>` … `<|endoftext|>` around each sequence (RobertaProcessing).
 */
export function clipTokenizerDefinition(source: Extract<TokenizerSource, { kind: 'bpe-files' }>): Record<string, unknown> {
  const added = addedTokens(source);
  const idOf = (token: SpecialTokenSpec): number => added.find((entry) => entry.content === token.content)?.id ?? -1;
  const { bos, eos, unk } = source.special;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos.content, idOf(eos)],
      cls: [bos.content, idOf(bos)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk?.content ?? null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: source.vocab,
      merges: source.merges,
    },
  };
}
