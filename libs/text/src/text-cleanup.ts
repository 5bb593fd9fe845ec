/**
 * How prompt text is cleaned before tokenization:
 * - `basic`: what the slow `CLIPTokenizer` does when ftfy is not installed (transformers'
 *   `BasicTokenizer(strip_accents=False, do_split_on_punc=False)`): control characters removed,
 *   CJK ideographs split into words of their own, lowercase. diffusers' pipelines load this class
 *   (`["transformers", "CLIPTokenizer"]` in model_index.json), so this is what they feed the model.
 * - `none`: nothing beyond the fast tokenizer's own normalizer (`CLIPTokenizerFast`).
 * The two agree on ordinary text; they differ on CJK ideographs (`日本` is one word to the fast
 * tokenizer, two to the slow one) and on control/format characters (kept by the fast one).
 */
export type TextCleanup = 'basic' | 'none';

const CONTROL = /\p{C}/u;
const SPACE_SEPARATOR = /\p{Zs}/u;

/** BasicTokenizer's `_is_chinese_char`: the CJK Unified Ideographs blocks (not kana or hangul). */
function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * The slow CLIPTokenizer's text cleanup without ftfy: drop NUL, U+FFFD and every character of
 * category C* except tab/newline/return; turn those and Zs spaces into spaces; put spaces around
 * CJK ideographs; NFC; split on whitespace, lowercase, join with single spaces.
 */
export function basicClean(text: string): string {
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch)) cleaned += ' ';
    else if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    else cleaned += isCjkIdeograph(cp) ? ` ${ch} ` : ch;
  }
  return cleaned
    .normalize('NFC')
    .split(/\s+/u)
    .filter((word) => word !== '')
    .map((word) => word.toLowerCase())
    .join(' ');
}

/** Applies a cleanup mode to prompt text. */
export function cleanText(text: string, cleanup: TextCleanup): string {
  return cleanup === 'basic' ? basicClean(text) : text;
}
