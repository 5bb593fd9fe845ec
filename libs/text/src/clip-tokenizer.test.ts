import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPromptTokenizer, readTokenizerFolder, TextError, type PromptTokenizer } from './index.js';
import { parseMerges, CLIP_MAX_MERGES } from './tokenizer-files.js';
import { byteToChar, scratchDir, tinyTokenizerFiles, tinyTokenizerJson, tinyVocab, type ScratchDir } from './test-fixtures/tiny-clip-tokenizer.js';

const vocab = tinyVocab();
/** The id of a token string of the tiny vocabulary (a missing one fails the test loudly). */
const id = (token: string): number => {
  const value = vocab[token];
  if (value === undefined) throw new Error(`fixture vocabulary has no ${token}`);
  return value;
};
const BOS = id('<|startoftext|>');
const EOS = id('<|endoftext|>');

/** Pads an expected row the way diffusers does: bos, tokens, eos, then `pad` up to `length`. */
function row(tokens: readonly string[], pad: number, length = 77): number[] {
  const ids = [BOS, ...tokens.map(id), EOS];
  return [...ids, ...new Array<number>(length - ids.length).fill(pad)];
}

/** Symbols of a word no merge touches: one byte symbol per UTF-8 byte, the last with `</w>`. */
function unmerged(word: string): string[] {
  const table = byteToChar();
  const symbols = Array.from(new TextEncoder().encode(word), (b) => table[b] ?? '');
  return symbols.map((s, i) => (i === symbols.length - 1 ? `${s}</w>` : s));
}

let scratch: ScratchDir;
let sd15: PromptTokenizer;
let sd2: PromptTokenizer;

beforeAll(async () => {
  scratch = scratchDir();
  sd15 = await loadPromptTokenizer(scratch.folder('sd15', tinyTokenizerFiles('sd15')));
  sd2 = await loadPromptTokenizer(scratch.folder('sd2', tinyTokenizerFiles('sd2')));
});
afterAll(() => scratch.cleanup());

describe('CLIP tokenization from vocab.json + merges.txt', () => {
  it('applies the merges in rank order and ends words with </w>', () => {
    expect(sd15.tokenIds('hello world')).toEqual(['hello</w>', 'world</w>'].map(id));
    expect(sd15.tokenIds('a photo of a cat')).toEqual(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'].map(id));
    // "he" merges first, so "hell" never forms inside "helo": h+e → he, then no rule for "he l".
    expect(sd15.tokenIds('helo')).toEqual(['he', 'l', 'o</w>'].map(id));
  });

  it('normalizes like CLIPTokenizerFast: NFC, whitespace runs, lowercase', () => {
    const plain = sd15.tokenIds('hello world');
    expect(sd15.tokenIds('  HeLLo \t\n  WORLD  ')).toEqual(plain);
    // NFD "e + combining acute" composes to é (one code point, two UTF-8 bytes).
    expect(sd15.tokenIds('cafe\u0301')).toEqual(sd15.tokenIds('caf\u00e9'));
    expect(sd15.tokenIds('caf\u00e9')).toEqual([id('ca'), ...unmerged('f\u00e9')].map((t) => (typeof t === 'number' ? t : id(t))));
  });

  it("splits with CLIP's pattern: single digits, punctuation runs, contractions, non-Latin letters", () => {
    expect(sd15.tokenIds('2024')).toEqual(['2</w>', '0</w>', '2</w>', '4</w>'].map(id));
    expect(sd15.tokenIds('cat?!')).toEqual(['cat</w>', '?', '!</w>'].map(id));
    expect(sd15.tokenIds("dog's")).toEqual(['dog</w>', "'", 's</w>'].map(id));
    expect(sd15.tokenIds('ねこ')).toEqual(unmerged('ねこ').map(id));
  });

  it("cleans text like the slow CLIPTokenizer that diffusers loads ('basic'), or not at all ('none')", async () => {
    expect(sd15.cleanup).toBe('basic'); // tokenizer_config.json names CLIPTokenizer
    const fast = await loadPromptTokenizer(join(scratch.root, 'sd15'), { cleanup: 'none' });
    // CJK ideographs are words of their own to the slow tokenizer, one letter run to the fast one.
    expect(sd15.tokenIds('日本')).toEqual([...unmerged('日'), ...unmerged('本')].map(id));
    expect(fast.tokenIds('日本')).toEqual(unmerged('日本').map(id));
    // Format (Cf) and control (Cc) characters vanish in the slow cleanup; the fast tokenizer keeps their bytes.
    expect(sd15.tokenIds('cat\u200b\u0007dog')).toEqual(sd15.tokenIds('catdog'));
    expect(fast.tokenIds('cat\u200bdog')).toEqual([id('cat</w>'), ...unmerged('\u200b').map(id), id('dog</w>')]);
    // Both treat no-break and ideographic spaces as spaces.
    for (const tokenizer of [sd15, fast]) expect(tokenizer.tokenIds('cat\u00a0dog\u3000cat')).toEqual(['cat</w>', 'dog</w>', 'cat</w>'].map(id));
  });

  it('pads SD 1.x rows with <|endoftext|> and SD 2.x rows with "!"', () => {
    expect(sd15.padId).toBe(EOS);
    expect(sd2.padId).toBe(id('!'));
    const a = sd15.encodePrompt('a photo of a cat');
    expect(a.ids).toEqual(row(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'], EOS));
    expect(a.tokenCount).toBe(7);
    expect(sd2.encodePrompt('a photo of a cat').ids).toEqual(row(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>'], id('!')));
  });

  it('encodes "" as bos, eos and padding', () => {
    expect(sd15.encodePrompt('')).toEqual({ ids: row([], EOS), tokenCount: 2, truncated: false, droppedTokens: 0, droppedText: '' });
    expect(sd2.encodePrompt('').ids).toEqual(row([], id('!')));
    expect(sd15.encodePrompt(' \t\n ').ids).toEqual(row([], EOS));
  });

  it('treats the pad token "!" as an added token, as diffusers does for SD 2.x/SDXL', () => {
    // With "!" registered as a special token it splits out of the text as id 0, never "!</w>".
    expect(sd2.tokenIds('cat!')).toEqual([id('cat</w>'), id('!')]);
    expect(sd2.tokenIds('! !!')).toEqual([id('!'), id('!'), id('!')]);
    expect(sd15.tokenIds('cat!')).toEqual([id('cat</w>'), id('!</w>')]);
  });

  it('maps special tokens typed into a prompt to their ids', () => {
    expect(sd15.tokenIds('cat<|endoftext|>dog')).toEqual([id('cat</w>'), EOS, id('dog</w>')]);
  });

  it('truncates to 75 tokens between bos and eos and reports what it dropped', () => {
    const exact = sd15.encodePrompt(Array(75).fill('cat').join(' '));
    expect(exact.truncated).toBe(false);
    expect(exact.ids).toEqual(row(Array<string>(75).fill('cat</w>'), EOS));
    expect(exact.tokenCount).toBe(77);

    const over = sd15.encodePrompt(`${Array(75).fill('cat').join(' ')} hello big world`);
    expect(over.ids).toEqual(exact.ids);
    expect(over.truncated).toBe(true);
    expect(over.droppedTokens).toBe(1 + 3 + 1);
    expect(over.droppedText).toBe('hello big world');
  });

  it('pads and truncates to the config model_max_length', async () => {
    const short = await loadPromptTokenizer(scratch.folder('short', tinyTokenizerFiles('sd15', 6)));
    expect(short.maxLength).toBe(6);
    const encoded = short.encodePrompt('a photo of a cat');
    expect(encoded.ids).toEqual(row(['a</w>', 'photo</w>', 'of</w>', 'a</w>'], EOS, 6));
    expect(encoded.droppedTokens).toBe(1);
    const unset = await loadPromptTokenizer(scratch.folder('unset', tinyTokenizerFiles('sd15', 1e30)));
    expect(unset.maxLength).toBe(77);
    const overridden = await loadPromptTokenizer(join(scratch.root, 'sd15'), { maxLength: 10 });
    expect(overridden.encodePrompt('').ids).toHaveLength(10);
  });
});

describe('tokenizer.json', () => {
  it('gives the same ids as the vocab.json + merges.txt route', async () => {
    const files: Record<string, string> = { ...tinyTokenizerFiles('sd15'), 'tokenizer.json': JSON.stringify(tinyTokenizerJson()) };
    delete files['vocab.json'];
    delete files['merges.txt'];
    const dir = scratch.folder('fast', files);
    expect((await readTokenizerFolder(dir)).kind).toBe('tokenizer-json');
    const fast = await loadPromptTokenizer(dir);
    for (const prompt of ['hello world', '  A PHOTO of a  cat?! 2024', "dog's caf\u00e9 日本", 'cat<|endoftext|>dog', '', Array(80).fill('dog').join(' ')]) {
      expect(fast.encodePrompt(prompt)).toEqual(sd15.encodePrompt(prompt));
    }
  });
});

describe('merges.txt', () => {
  it('skips the version line and keeps at most the slow CLIPTokenizer’s 48,894 merges', () => {
    const lines = ['#version: 0.2', ...Array.from({ length: CLIP_MAX_MERGES + 10 }, (_, i) => `a${i} b${i}`)];
    const merges = parseMerges(lines.join('\n'), 'merges.txt');
    expect(merges).toHaveLength(CLIP_MAX_MERGES);
    expect(merges[0]).toEqual(['a0', 'b0']);
    expect(merges.at(-1)).toEqual([`a${CLIP_MAX_MERGES - 1}`, `b${CLIP_MAX_MERGES - 1}`]);
  });
});

describe('bad tokenizer folders', () => {
  /** Loads a copy of the sd15 folder with `change` applied, and returns the TextError it fails with. */
  async function failure(name: string, change: (files: Record<string, string>) => void): Promise<TextError> {
    const files = tinyTokenizerFiles('sd15');
    change(files);
    const dir = scratch.folder(name, files);
    const error = await loadPromptTokenizer(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TextError);
    return error as TextError;
  }

  it.each([
    ['vocab.json', 'TOKENIZER_FILE_MISSING'],
    ['merges.txt', 'TOKENIZER_FILE_MISSING'],
    ['tokenizer_config.json', 'TOKENIZER_FILE_MISSING'],
  ] as const)('a missing %s is %s, naming the file', async (file, code) => {
    const error = await failure(`missing-${file}`, (files) => delete files[file]);
    expect(error.code).toBe(code);
    expect(error.file).toMatch(new RegExp(`/missing-${file.replace('.', '\\.')}/${file.replace('.', '\\.')}$`));
    expect(error.message).toContain(file);
  });

  it.each(['vocab.json', 'tokenizer_config.json', 'special_tokens_map.json'])('bad JSON in %s names the file', async (file) => {
    const error = await failure(`badjson-${file}`, (files) => (files[file] = '{"bos_token": '));
    expect(error.code).toBe('TOKENIZER_FILE_INVALID');
    expect(error.file).toBe(join(scratch.root, `badjson-${file}`, file));
    expect(error.message).toContain(file);
  });

  it('bad JSON in tokenizer.json names it', async () => {
    const error = await failure('badjson-tokenizer.json', (files) => (files['tokenizer.json'] = '[1, 2'));
    expect(error.code).toBe('TOKENIZER_FILE_INVALID');
    expect(error.file).toMatch(/tokenizer\.json$/);
  });

  it('a vocabulary that is not token → integer names the token', async () => {
    const error = await failure('badvocab', (files) => (files['vocab.json'] = JSON.stringify({ a: 0, b: 'one' })));
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID', field: 'b' });
    expect(error.file).toMatch(/vocab\.json$/);
  });

  it('a merges line that is not two symbols names the line', async () => {
    const error = await failure('badmerges', (files) => (files['merges.txt'] = '#version: 0.2\nh e\nl l x\n'));
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID', field: 'line 3' });
    expect(error.file).toMatch(/merges\.txt$/);
  });

  it('a config without pad_token names the field', async () => {
    const error = await failure('nopad', (files) => {
      const config = JSON.parse(files['tokenizer_config.json'] ?? '{}') as Record<string, unknown>;
      delete config['pad_token'];
      files['tokenizer_config.json'] = JSON.stringify(config);
      const map = JSON.parse(files['special_tokens_map.json'] ?? '{}') as Record<string, unknown>;
      delete map['pad_token'];
      files['special_tokens_map.json'] = JSON.stringify(map);
    });
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID', field: 'pad_token' });
    expect(error.file).toMatch(/tokenizer_config\.json$/);
  });

  it('a special token missing from the vocabulary names vocab.json and the token', async () => {
    const error = await failure('padnotinvocab', (files) => {
      const map = JSON.parse(files['special_tokens_map.json'] ?? '{}') as Record<string, unknown>;
      map['pad_token'] = '<pad>';
      files['special_tokens_map.json'] = JSON.stringify(map);
    });
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID', field: '<pad>' });
    expect(error.file).toMatch(/vocab\.json$/);
  });

  it('a non-integer model_max_length names the field', async () => {
    const error = await failure('badlength', (files) => {
      const config = JSON.parse(files['tokenizer_config.json'] ?? '{}') as Record<string, unknown>;
      config['model_max_length'] = 'long';
      files['tokenizer_config.json'] = JSON.stringify(config);
    });
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID', field: 'model_max_length' });
  });

  it('a folder that does not exist is TOKENIZER_FILE_MISSING for its config', async () => {
    const error = await loadPromptTokenizer(join(scratch.root, 'nowhere')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_MISSING' });
    expect((error as TextError).file).toMatch(/nowhere\/tokenizer_config\.json$/);
  });

  it('an unreadable file (a folder in its place) is TOKENIZER_FILE_INVALID', async () => {
    const files = tinyTokenizerFiles('sd15');
    delete files['vocab.json'];
    const dir = scratch.folder('dir-in-place', files);
    scratch.folder(join('dir-in-place', 'vocab.json'), {});
    writeFileSync(join(dir, 'note'), '');
    const error = await loadPromptTokenizer(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKENIZER_FILE_INVALID' });
    expect((error as TextError).file).toMatch(/vocab\.json$/);
  });
});
