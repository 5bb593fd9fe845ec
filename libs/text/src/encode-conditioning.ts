import {
  assertNever,
  checkRequest,
  truncationOf,
  type ConditioningOptions,
  type ConditioningRequest,
  type TextConditioning,
  type TextPipeline,
} from './conditioning.js';
import { penultimateHiddenState, runTextEncoder, type FloatOutput } from './encoder-io.js';
import { TextError } from './errors.js';
import type { TextEncoderComponent, TextEncoderInference } from './inference.js';
import type { PromptTokenizer } from './prompt-tokenizer.js';
import { concatLastAxis, conditioningTensor, rowOf, stackRows } from './rows.js';

/** Checks that a hidden-state output is [rows, the tokenizer's length, D]. */
function checkSequence(output: FloatOutput, tokenizer: PromptTokenizer, component: TextEncoderComponent, name: string): void {
  if (output.dims[1] !== tokenizer.maxLength) {
    throw new TextError(
      'ENCODER_OUTPUT_INVALID',
      `${component} output ${name} has dims [${output.dims.join(', ')}], expected ${tokenizer.maxLength} positions (the tokenizer's length)`,
      { field: `${component}.${name}` },
    );
  }
}

/** SD 1.x/2.x: `last_hidden_state` of the one text encoder, for [prompt, negative prompt or ""]. */
async function encodeSd(
  pipeline: Extract<TextPipeline, { kind: 'sd' }>,
  inference: TextEncoderInference,
  request: ConditioningRequest,
  guided: boolean,
  options: ConditioningOptions,
): Promise<TextConditioning> {
  const cond = pipeline.tokenizer.encodePrompt(request.prompt);
  const uncond = guided ? pipeline.tokenizer.encodePrompt(request.negativePrompt ?? '') : undefined;
  const prompts = uncond === undefined ? [cond] : [cond, uncond];
  const out = await runTextEncoder(inference, 'text_encoder', prompts, { last_hidden_state: 3 }, options.signal);
  const hidden = out['last_hidden_state'] as FloatOutput;
  checkSequence(hidden, pipeline.tokenizer, 'text_encoder', 'last_hidden_state');
  const rows = request.count * prompts.length;
  const data = stackRows(rowOf(hidden, 0), uncond === undefined ? undefined : rowOf(hidden, 1), request.count);
  return {
    kind: 'sd',
    count: request.count,
    guided,
    rows,
    encoderHiddenStates: conditioningTensor([rows, ...hidden.dims.slice(1)], data, options.dtype ?? 'float32'),
    truncation: { prompt: truncationOf([cond]), negativePrompt: uncond === undefined ? null : truncationOf([uncond]) },
  };
}

/**
 * SDXL, as diffusers' StableDiffusionXLPipeline.encode_prompt: each encoder's penultimate hidden
 * state, concatenated on the last axis; text_encoder_2's `text_embeds` as pooled embeds; the
 * unconditional branch zeroed when the pipeline forces zeros and no negative prompt was given.
 */
async function encodeSdxl(
  pipeline: Extract<TextPipeline, { kind: 'sdxl' }>,
  inference: TextEncoderInference,
  request: ConditioningRequest,
  guided: boolean,
  options: ConditioningOptions,
): Promise<TextConditioning> {
  const zeroedNegative = guided && request.negativePrompt === undefined && pipeline.forceZerosForEmptyPrompt;
  const encodeNegative = guided && !zeroedNegative;
  const penultimate1 = penultimateHiddenState(inference, 'text_encoder');
  const penultimate2 = penultimateHiddenState(inference, 'text_encoder_2');

  const cond = { one: pipeline.tokenizer.encodePrompt(request.prompt), two: pipeline.tokenizer2.encodePrompt(request.prompt) };
  const negative = request.negativePrompt ?? '';
  const uncond = encodeNegative ? { one: pipeline.tokenizer.encodePrompt(negative), two: pipeline.tokenizer2.encodePrompt(negative) } : undefined;
  const prompts1 = uncond === undefined ? [cond.one] : [cond.one, uncond.one];
  const prompts2 = uncond === undefined ? [cond.two] : [cond.two, uncond.two];
  const out1 = await runTextEncoder(inference, 'text_encoder', prompts1, { [penultimate1]: 3 }, options.signal);
  const out2 = await runTextEncoder(inference, 'text_encoder_2', prompts2, { [penultimate2]: 3, text_embeds: 2 }, options.signal);
  const hidden1 = out1[penultimate1] as FloatOutput;
  const hidden2 = out2[penultimate2] as FloatOutput;
  const pooled = out2['text_embeds'] as FloatOutput;
  checkSequence(hidden1, pipeline.tokenizer, 'text_encoder', penultimate1);
  checkSequence(hidden2, pipeline.tokenizer2, 'text_encoder_2', penultimate2);
  if (hidden1.dims[1] !== hidden2.dims[1]) {
    throw new TextError('ENCODER_OUTPUT_INVALID', `text_encoder and text_encoder_2 disagree on sequence length (${hidden1.dims[1]} vs ${hidden2.dims[1]})`, {
      field: 'text_encoder_2',
    });
  }
  const hidden = concatLastAxis(hidden1, hidden2);

  const uncondOf = (output: FloatOutput): Float32Array | 'zeros' | undefined => (zeroedNegative ? 'zeros' : encodeNegative ? rowOf(output, 1) : undefined);
  const rows = request.count * (guided ? 2 : 1);
  const dtype = options.dtype ?? 'float32';
  const height = request.height ?? 0;
  const width = request.width ?? 0;
  const timeRow = Float32Array.of(height, width, 0, 0, height, width);
  return {
    kind: 'sdxl',
    count: request.count,
    guided,
    rows,
    encoderHiddenStates: conditioningTensor([rows, ...hidden.dims.slice(1)], stackRows(rowOf(hidden, 0), uncondOf(hidden), request.count), dtype),
    textEmbeds: conditioningTensor([rows, ...pooled.dims.slice(1)], stackRows(rowOf(pooled, 0), uncondOf(pooled), request.count), dtype),
    timeIds: conditioningTensor([rows, 6], stackRows(timeRow, guided ? timeRow : undefined, request.count), dtype),
    zeroedNegative,
    truncation: {
      prompt: truncationOf([cond.one, cond.two]),
      negativePrompt: uncond === undefined ? null : truncationOf([uncond.one, uncond.two]),
    },
  };
}

/**
 * Computes the UNet conditioning of one job: tokenizes, runs the text encoder(s) through
 * `inference` (one batched run per encoder: the prompt and, with guidance, the negative prompt)
 * and lays the rows out for the sampler: `count` conditional rows, then `count` unconditional
 * rows when guidance is on. Pure orchestration: no process, session or IPC of its own.
 */
export async function encodeTextConditioning(
  pipeline: TextPipeline,
  inference: TextEncoderInference,
  request: ConditioningRequest,
  options: ConditioningOptions = {},
): Promise<TextConditioning> {
  const { guided } = checkRequest(request, pipeline.kind);
  switch (pipeline.kind) {
    case 'sd':
      return encodeSd(pipeline, inference, request, guided, options);
    case 'sdxl':
      return encodeSdxl(pipeline, inference, request, guided, options);
    default:
      return assertNever(pipeline);
  }
}
