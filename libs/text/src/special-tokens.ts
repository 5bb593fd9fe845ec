import { TextError } from './errors.js';

/**
 * One special token as HF tokenizer configs describe it: either a bare string or an AddedToken
 * object (`{content, lstrip, rstrip, normalized, single_word}`, optionally `__type`/`special`).
 */
export interface SpecialTokenSpec {
  readonly content: string;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
  readonly singleWord: boolean;
}

/** The special tokens a CLIP tokenizer needs, merged from `tokenizer_config.json` and `special_tokens_map.json`. */
export interface SpecialTokens {
  readonly bos: SpecialTokenSpec;
  readonly eos: SpecialTokenSpec;
  /** Padding token: `<|endoftext|>` in SD 1.x, `!` in SD 2.x and SDXL's `tokenizer_2`. */
  readonly pad: SpecialTokenSpec;
  readonly unk: SpecialTokenSpec | undefined;
  readonly additional: readonly SpecialTokenSpec[];
}

/** The keys HF uses for the named special tokens. */
type NamedKey = 'bos_token' | 'eos_token' | 'unk_token' | 'pad_token';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalBoolean(value: unknown, fallback: boolean, file: string, field: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new TextError('TOKENIZER_FILE_INVALID', `${file}: ${field} must be a boolean`, { file, field });
  return value;
}

/**
 * Reads one token entry (a string or an AddedToken object). Special tokens default to
 * `normalized: false`, like HF's AddedToken for special tokens given as strings.
 */
export function parseSpecialToken(value: unknown, file: string, field: string): SpecialTokenSpec {
  if (typeof value === 'string' && value.length > 0) {
    return { content: value, lstrip: false, rstrip: false, normalized: false, singleWord: false };
  }
  if (isRecord(value) && typeof value['content'] === 'string' && value['content'].length > 0) {
    return {
      content: value['content'],
      lstrip: optionalBoolean(value['lstrip'], false, file, `${field}.lstrip`),
      rstrip: optionalBoolean(value['rstrip'], false, file, `${field}.rstrip`),
      normalized: optionalBoolean(value['normalized'], false, file, `${field}.normalized`),
      singleWord: optionalBoolean(value['single_word'], false, file, `${field}.single_word`),
    };
  }
  throw new TextError('TOKENIZER_FILE_INVALID', `${file}: ${field} must be a non-empty string or an object with a "content" string`, {
    file,
    field,
  });
}

/** The raw JSON objects the special tokens come from, with the paths to name in errors. */
export interface SpecialTokenSources {
  readonly config: Record<string, unknown>;
  readonly configFile: string;
  /** `special_tokens_map.json`, when the folder has one; its entries win, as in HF's loader. */
  readonly map: Record<string, unknown> | undefined;
  readonly mapFile: string;
}

/**
 * Resolves bos/eos/pad/unk and additional special tokens. `special_tokens_map.json` overrides
 * `tokenizer_config.json` key by key (HF's `from_pretrained` order). bos, eos and pad are
 * required: a CLIP prompt is `bos … eos` padded to the context length.
 */
export function resolveSpecialTokens(sources: SpecialTokenSources): SpecialTokens {
  const lookup = (key: string): { value: unknown; file: string } | undefined => {
    const fromMap = sources.map?.[key];
    if (fromMap !== undefined && fromMap !== null) return { value: fromMap, file: sources.mapFile };
    const fromConfig = sources.config[key];
    if (fromConfig !== undefined && fromConfig !== null) return { value: fromConfig, file: sources.configFile };
    return undefined;
  };
  const optional = (key: NamedKey): SpecialTokenSpec | undefined => {
    const found = lookup(key);
    return found === undefined ? undefined : parseSpecialToken(found.value, found.file, key);
  };
  const required = (key: NamedKey): SpecialTokenSpec => {
    const token = optional(key);
    if (token !== undefined) return token;
    throw new TextError('TOKENIZER_FILE_INVALID', `${sources.configFile}: ${key} is missing (and not in special_tokens_map.json)`, {
      file: sources.configFile,
      field: key,
    });
  };
  const additionalEntry = lookup('additional_special_tokens');
  let additional: SpecialTokenSpec[] = [];
  if (additionalEntry !== undefined) {
    if (!Array.isArray(additionalEntry.value)) {
      throw new TextError('TOKENIZER_FILE_INVALID', `${additionalEntry.file}: additional_special_tokens must be an array`, {
        file: additionalEntry.file,
        field: 'additional_special_tokens',
      });
    }
    additional = additionalEntry.value.map((entry, i) => parseSpecialToken(entry, additionalEntry.file, `additional_special_tokens[${i}]`));
  }
  return {
    bos: required('bos_token'),
    eos: required('eos_token'),
    unk: optional('unk_token'),
    pad: required('pad_token'),
    additional,
  };
}

/** The special tokens in HF's registration order (bos, eos, unk, pad, additional), deduplicated by content. */
export function specialTokenList(tokens: SpecialTokens): SpecialTokenSpec[] {
  const all = [tokens.bos, tokens.eos, ...(tokens.unk ? [tokens.unk] : []), tokens.pad, ...tokens.additional];
  const seen = new Set<string>();
  return all.filter((token) => (seen.has(token.content) ? false : (seen.add(token.content), true)));
}
