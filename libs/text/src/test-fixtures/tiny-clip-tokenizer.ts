import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * GPT-2/CLIP's byte → printable character table, written out from its definition: printable
 * Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in byte order.
 */
export function byteToChar(): string[] {
  const table: string[] = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

/** Merges of the tiny vocabulary, in rank order (each joins two symbols already in the vocabulary). */
export const TINY_MERGES: readonly (readonly [string, string])[] = [
  ['h', 'e'],
  ['l', 'l'],
  ['he', 'll'],
  ['hell', 'o</w>'],
  ['w', 'o'],
  ['r', 'l'],
  ['wo', 'rl'],
  ['worl', 'd</w>'],
  ['c', 'a'],
  ['ca', 't</w>'],
  ['p', 'h'],
  ['o', 't'],
  ['ph', 'ot'],
  ['phot', 'o</w>'],
  ['o', 'f</w>'],
  ['d', 'o'],
  ['do', 'g</w>'],
];

/** A CLIP-shaped vocabulary: 256 byte symbols, the same with `</w>`, one token per merge, then the two specials (CLIP's order). */
export function tinyVocab(): Record<string, number> {
  const bytes = byteToChar();
  const tokens = [...bytes, ...bytes.map((c) => `${c}</w>`), ...TINY_MERGES.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

/** Which padding convention a fixture folder follows. */
export type TinyFlavour = 'sd15' | 'sd2';

/** Files of a `tokenizer/` folder as optimum saves a slow CLIPTokenizer (no tokenizer.json). */
export function tinyTokenizerFiles(flavour: TinyFlavour, modelMaxLength = 77): Record<string, string> {
  const addedToken = (content: string): Record<string, unknown> => ({
    __type: 'AddedToken',
    content,
    lstrip: false,
    normalized: true,
    rstrip: false,
    single_word: false,
  });
  const pad = flavour === 'sd15' ? '<|endoftext|>' : '!';
  return {
    'vocab.json': JSON.stringify(tinyVocab()),
    'merges.txt': ['#version: 0.2', ...TINY_MERGES.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n',
    'tokenizer_config.json': JSON.stringify({
      add_prefix_space: false,
      bos_token: addedToken('<|startoftext|>'),
      do_lower_case: true,
      eos_token: addedToken('<|endoftext|>'),
      errors: 'replace',
      model_max_length: modelMaxLength,
      pad_token: pad,
      tokenizer_class: 'CLIPTokenizer',
      unk_token: addedToken('<|endoftext|>'),
    }),
    'special_tokens_map.json': JSON.stringify({
      bos_token: { content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
      eos_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
      pad_token: pad,
      unk_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
    }),
  };
}

/**
 * A tokenizer.json as HF writes one for CLIP (the shape of openai/clip-vit-large-patch14's, over
 * the tiny vocabulary: special tokens in the split regex, merges as strings; ByteLevel without its
 * own regex, which cannot change CLIP's pieces), to check the tokenizer.json path against the
 * vocab+merges one.
 */
export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab = tinyVocab();
  const special = (content: string): Record<string, unknown> => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<|startoftext|>'), special('<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['<|endoftext|>', vocab['<|endoftext|>']],
      cls: ['<|startoftext|>', vocab['<|startoftext|>']],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: TINY_MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** A scratch directory for tokenizer folders, removed by `cleanup()`. */
export interface ScratchDir {
  readonly root: string;
  /** Writes `files` into `root/name` and returns that folder. */
  folder(name: string, files: Record<string, string>): string;
  cleanup(): void;
}

/** Makes a fresh scratch directory under the OS temp dir. */
export function scratchDir(): ScratchDir {
  const root = mkdtempSync(join(tmpdir(), 'asyncdiff-text-'));
  return {
    root,
    folder(name, files) {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
      return dir;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
