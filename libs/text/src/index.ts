/**
 * @asyncdiff/text — CLIP tokenization and text conditioning for Stable Diffusion pipelines in
 * the diffusers ONNX layout (SD 1.x/2.x and SDXL). No process or IPC code: the text encoders are
 * reached through the {@link TextEncoderInference} the caller passes in.
 *
 * Row order of every conditioning tensor: rows 0 … count-1 conditional, count … 2·count-1
 * unconditional (present only with guidance), the order `@asyncdiff/asyncdiff`'s sampler reads.
 */
export type { TextErrorCode, TextErrorDetails } from './errors.js';
export { TextError } from './errors.js';
export type { EncodedPrompt, PromptTokenizer } from './prompt-tokenizer.js';
export type { PromptTokenizerOptions } from './clip-tokenizer.js';
export { CLIP_CONTEXT_LENGTH, createPromptTokenizer, loadPromptTokenizer } from './clip-tokenizer.js';
export type { TextCleanup } from './text-cleanup.js';
export type { TokenizerSource } from './tokenizer-files.js';
export { readTokenizerFolder } from './tokenizer-files.js';
export type { EncoderDType, EncoderSignature, EncoderTensor, EncoderValueInfo, TextEncoderComponent, TextEncoderInference } from './inference.js';
export type { ConditioningDType, ConditioningTensor } from './rows.js';
export type {
  ConditioningOptions,
  ConditioningRequest,
  PromptTruncation,
  TextConditioning,
  TextPipeline,
} from './conditioning.js';
export { unetConditioningFeeds } from './conditioning.js';
export { encodeTextConditioning } from './encode-conditioning.js';
export { loadTextPipeline } from './text-pipeline.js';
