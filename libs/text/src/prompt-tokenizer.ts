/**
 * A prompt as a text encoder takes it: `bos`, the prompt's tokens, `eos`, then pad ids up to the
 * context length; plus what was cut off, so that the job record can say a prompt was truncated.
 */
export interface EncodedPrompt {
  /** Exactly `maxLength` token ids. */
  readonly ids: readonly number[];
  /** How many leading ids are real tokens (bos … eos); the rest are pad ids. */
  readonly tokenCount: number;
  /** Whether the prompt had more tokens than fit (`droppedTokens > 0`). */
  readonly truncated: boolean;
  /** How many of the prompt's tokens were cut off the end. */
  readonly droppedTokens: number;
  /** The cut-off tokens decoded back to text ('' when nothing was cut), for telling the user. */
  readonly droppedText: string;
}

import type { TextCleanup } from './text-cleanup.js';

/**
 * Turns prompt text into the fixed-length id rows a CLIP text encoder reads, exactly as
 * diffusers' pipelines call their tokenizer (`padding="max_length"`, `truncation=True`,
 * `max_length=model_max_length`).
 */
export interface PromptTokenizer {
  /** The context length every row is padded or truncated to (77 for CLIP). */
  readonly maxLength: number;
  /** Id of the start-of-text token. */
  readonly bosId: number;
  /** Id of the end-of-text token. */
  readonly eosId: number;
  /** Id rows are padded with: `<|endoftext|>` in SD 1.x, `!` (0) in SD 2.x and SDXL's second tokenizer. */
  readonly padId: number;
  /** The text cleanup applied before tokenizing (slow CLIPTokenizer's `basic`, or `none`). */
  readonly cleanup: TextCleanup;
  /** Tokenizes, truncates and pads one prompt. */
  encodePrompt(text: string): EncodedPrompt;
  /** The prompt's tokens without special tokens, truncation or padding (for diagnostics). */
  tokenIds(text: string): readonly number[];
}
