/**
 * Stable codes of {@link TextError}; branch on these, never on message text.
 * - `TOKENIZER_FILE_MISSING`: a file the tokenizer folder needs is absent (`file` names it).
 * - `TOKENIZER_FILE_INVALID`: a tokenizer file is unreadable, not JSON, or holds the wrong shape
 *   (`file` names it, `field` the entry when one is to blame).
 * - `TOKENIZER_UNSUPPORTED`: the files are well formed but describe a tokenizer we cannot build.
 * - `PIPELINE_CONFIG_INVALID`: `model_index.json` is missing, malformed, or not an SD 1.x/2.x/SDXL pipeline.
 * - `ENCODER_INPUT_UNSUPPORTED`: a text encoder graph's token input is missing or not int32/int64.
 * - `ENCODER_OUTPUT_INVALID`: a text encoder did not return what the pipeline needs, in the shape it needs.
 * - `INVALID_ARGUMENT`: a caller passed a value outside its range (`field` names it).
 */
export type TextErrorCode =
  | 'TOKENIZER_FILE_MISSING'
  | 'TOKENIZER_FILE_INVALID'
  | 'TOKENIZER_UNSUPPORTED'
  | 'PIPELINE_CONFIG_INVALID'
  | 'ENCODER_INPUT_UNSUPPORTED'
  | 'ENCODER_OUTPUT_INVALID'
  | 'INVALID_ARGUMENT';

/** Where a {@link TextError} points: the file and/or the field to blame. */
export interface TextErrorDetails {
  /** Path of the offending file, as it was opened. */
  readonly file?: string;
  /** The offending entry: a JSON key (`pad_token`), a line (`line 7`), an output name, an argument. */
  readonly field?: string;
}

/**
 * Raised for bad tokenizer folders, bad pipeline configs, text encoders that do not answer as the
 * diffusers layout promises, and bad arguments. Every one is deterministic (the same files fail
 * the same way), so none is retryable.
 */
export class TextError extends Error {
  override readonly name = 'TextError';
  /** Whether repeating the same call could succeed; never. */
  readonly retryable = false;
  /** Path of the offending file, when a file is to blame. */
  readonly file: string | undefined;
  /** The offending entry, when one is to blame. */
  readonly field: string | undefined;

  constructor(
    readonly code: TextErrorCode,
    message: string,
    details: TextErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.file = details.file;
    this.field = details.field;
  }
}
