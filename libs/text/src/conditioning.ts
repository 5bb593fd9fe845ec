import { TextError } from './errors.js';
import type { EncodedPrompt, PromptTokenizer } from './prompt-tokenizer.js';
import type { ConditioningDType, ConditioningTensor } from './rows.js';

/**
 * The text side of a diffusers pipeline: its tokenizer(s) and what SDXL's pipeline config says
 * about empty negative prompts. Made by `loadTextPipeline` from a package folder.
 */
export type TextPipeline =
  | { readonly kind: 'sd'; readonly tokenizer: PromptTokenizer }
  | {
      readonly kind: 'sdxl';
      readonly tokenizer: PromptTokenizer;
      readonly tokenizer2: PromptTokenizer;
      /** `force_zeros_for_empty_prompt` of model_index.json (diffusers' default: true). */
      readonly forceZerosForEmptyPrompt: boolean;
    };

/** What to condition one job on. */
export interface ConditioningRequest {
  readonly prompt: string;
  /**
   * The unconditional branch's text. `undefined` means none was given: SD encodes `""`; SDXL uses
   * zeros when the pipeline forces zeros for empty prompts, else encodes `""` (diffusers' rule:
   * only an absent negative prompt is zeroed, an explicit `""` is encoded).
   */
  readonly negativePrompt?: string | undefined;
  /** Images in the job (rows per branch). */
  readonly count: number;
  /**
   * Classifier-free guidance scale. Any value other than 1 adds the unconditional rows, the rule
   * of `@asyncdiff/asyncdiff`'s sampler (diffusers skips them for every scale ≤ 1).
   */
  readonly guidanceScale: number;
  /** SDXL only: output height in pixels (time_ids' original and target size). */
  readonly height?: number;
  /** SDXL only: output width in pixels. */
  readonly width?: number;
}

/** Options of `encodeTextConditioning`. */
export interface ConditioningOptions {
  /**
   * Element type of the returned tensors: the UNet's input dtype. Encoders may output either;
   * values are widened to float32 for assembly and narrowed at the end.
   * @defaultValue 'float32'
   */
  dtype?: ConditioningDType;
  /** Aborts between encoder runs (and is passed to each run). */
  signal?: AbortSignal;
}

/** What tokenization cut off a prompt, for the job record. */
export interface PromptTruncation {
  readonly truncated: boolean;
  readonly droppedTokens: number;
  /** The dropped words as text ('' when nothing was dropped). */
  readonly droppedText: string;
}

interface ConditioningCommon {
  /** Images in the job. */
  readonly count: number;
  /** Whether the unconditional rows are present. */
  readonly guided: boolean;
  /**
   * Batch rows of every tensor: `count` without guidance, else `2 × count` with rows
   * 0 … count-1 conditional and count … 2·count-1 unconditional (the sampler's order; diffusers
   * puts the unconditional half first).
   */
  readonly rows: number;
  /** UNet `encoder_hidden_states`: [rows, 77, D] (SDXL: D = 768 + 1280, both encoders' penultimate states). */
  readonly encoderHiddenStates: ConditioningTensor;
  /** What was cut off the prompts (over all tokenizers used: the largest cut); null for a negative prompt that was not encoded. */
  readonly truncation: { readonly prompt: PromptTruncation; readonly negativePrompt: PromptTruncation | null };
}

/** The UNet conditioning of one job, SD 1.x/2.x or SDXL. */
export type TextConditioning =
  | (ConditioningCommon & { readonly kind: 'sd' })
  | (ConditioningCommon & {
      readonly kind: 'sdxl';
      /** UNet `text_embeds`: text_encoder_2's pooled projection, [rows, 1280]. */
      readonly textEmbeds: ConditioningTensor;
      /** UNet `time_ids`: [rows, 6], each row (original h, w, crop top, left, target h, w) = [h, w, 0, 0, h, w]. */
      readonly timeIds: ConditioningTensor;
      /** Whether the unconditional rows are zeros (force_zeros_for_empty_prompt without a negative prompt). */
      readonly zeroedNegative: boolean;
    });

/** The UNet feeds of a conditioning, under the input names of optimum's UNet export. */
export function unetConditioningFeeds(conditioning: TextConditioning): Record<string, ConditioningTensor> {
  switch (conditioning.kind) {
    case 'sd':
      return { encoder_hidden_states: conditioning.encoderHiddenStates };
    case 'sdxl':
      return { encoder_hidden_states: conditioning.encoderHiddenStates, text_embeds: conditioning.textEmbeds, time_ids: conditioning.timeIds };
    default:
      return assertNever(conditioning);
  }
}

/** Compile-time exhaustiveness for switches over the unions of this lib. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** Checks a request's fields, naming the first bad one; returns whether guidance is on. */
export function checkRequest(request: ConditioningRequest, kind: TextPipeline['kind']): { guided: boolean } {
  const bad = (field: string, detail: string): never => {
    throw new TextError('INVALID_ARGUMENT', `${field} ${detail}`, { field });
  };
  if (typeof request.prompt !== 'string') bad('prompt', 'must be a string');
  if (request.negativePrompt !== undefined && typeof request.negativePrompt !== 'string') bad('negativePrompt', 'must be a string when given');
  if (!Number.isInteger(request.count) || request.count < 1) bad('count', `must be an integer ≥ 1, got ${String(request.count)}`);
  if (!Number.isFinite(request.guidanceScale) || request.guidanceScale < 0) {
    bad('guidanceScale', `must be a finite number ≥ 0, got ${String(request.guidanceScale)}`);
  }
  if (kind === 'sdxl') {
    for (const field of ['height', 'width'] as const) {
      const value = request[field];
      if (value === undefined || !Number.isInteger(value) || value < 1) bad(field, `must be a positive integer for SDXL (time_ids), got ${String(value)}`);
    }
  }
  return { guided: request.guidanceScale !== 1 };
}

/** The largest cut among the encodings of one text (one per tokenizer). */
export function truncationOf(encodings: readonly EncodedPrompt[]): PromptTruncation {
  const worst = encodings.reduce<EncodedPrompt | undefined>((a, b) => (a === undefined || b.droppedTokens > a.droppedTokens ? b : a), undefined);
  return { truncated: worst?.truncated ?? false, droppedTokens: worst?.droppedTokens ?? 0, droppedText: worst?.droppedText ?? '' };
}
