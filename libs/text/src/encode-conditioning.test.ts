import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { float16ToFloat32 } from '@asyncdiff/tensor';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeTextConditioning,
  loadPromptTokenizer,
  TextError,
  unetConditioningFeeds,
  type ConditioningTensor,
  type PromptTokenizer,
  type TextEncoderComponent,
  type TextPipeline,
} from './index.js';
import { ortTextEncoders, type OrtTextEncoders } from './test-fixtures/ort-inference.js';
import { scratchDir, tinyTokenizerFiles, type ScratchDir } from './test-fixtures/tiny-clip-tokenizer.js';

const encoders = fileURLToPath(new URL('./test-fixtures/encoders/', import.meta.url));
const graph = (name: string): string => join(encoders, `${name}.onnx`);

let scratch: ScratchDir;
let tokenizer: PromptTokenizer; // SD 1.x: pads with <|endoftext|>
let tokenizer2: PromptTokenizer; // SD 2.x / SDXL tokenizer_2: pads with "!"
const open: OrtTextEncoders[] = [];

beforeAll(async () => {
  scratch = scratchDir();
  tokenizer = await loadPromptTokenizer(scratch.folder('tok', tinyTokenizerFiles('sd15')));
  tokenizer2 = await loadPromptTokenizer(scratch.folder('tok2', tinyTokenizerFiles('sd2')));
});
afterAll(() => scratch.cleanup());
afterEach(async () => {
  for (const encoders of open.splice(0)) await encoders.release();
});

async function sessions(paths: Partial<Record<TextEncoderComponent, string>>): Promise<OrtTextEncoders> {
  const encoders = await ortTextEncoders(paths);
  open.push(encoders);
  return encoders;
}

/** Runs a session directly on one prompt's ids (the reference the orchestration must reproduce). */
async function direct(session: ort.InferenceSession, ids: readonly number[], output: string): Promise<ort.Tensor> {
  const type = session.inputMetadata[0]?.isTensor ? session.inputMetadata[0].type : 'int32';
  const data = type === 'int64' ? BigInt64Array.from(ids, (v) => BigInt(v)) : Int32Array.from(ids);
  const result = await session.run({ input_ids: new ort.Tensor(type, data, [1, ids.length]) }, [output]);
  const tensor = result[output];
  if (tensor === undefined) throw new Error(`no ${output}`);
  return tensor;
}

/** A direct output as float32 numbers. */
function floats(tensor: ort.Tensor): Float32Array {
  return tensor.type === 'float16' ? float16ToFloat32(tensor.data as Uint16Array) : (tensor.data as Float32Array);
}

/** Row `r` of a [rows, ...] conditioning tensor, as float32 numbers. */
function rowOf(tensor: ConditioningTensor, r: number): Float32Array {
  const all = tensor.dtype === 'float16' ? float16ToFloat32(tensor.data) : tensor.data;
  const width = all.length / (tensor.dims[0] ?? 1);
  return all.subarray(r * width, (r + 1) * width);
}

/**
 * Pooled embeddings go through a reduction and a MatMul whose float sums ONNX Runtime orders
 * differently for a batch of 2 and a batch of 1: equal to a few float32 ulps, not bit for bit.
 */
function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const worst = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - (expected[i] ?? NaN))), 0);
  expect(worst).toBeLessThan(1e-5);
}

/** Channels [from, to) of every position of a [positions, width] row. */
function channels(row: Float32Array, width: number, from: number, to: number): Float32Array {
  const out: number[] = [];
  for (let p = 0; p < row.length / width; p++) out.push(...row.subarray(p * width + from, p * width + to));
  return Float32Array.from(out);
}

describe('SD 1.x/2.x conditioning', () => {
  it('stacks count conditional rows, then count unconditional rows, from one batched encoder run', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    const pipeline: TextPipeline = { kind: 'sd', tokenizer };
    const c = await encodeTextConditioning(pipeline, inference, { prompt: 'a photo of a cat', negativePrompt: 'dog', count: 3, guidanceScale: 7.5 });
    expect(c).toMatchObject({ kind: 'sd', count: 3, guided: true, rows: 6 });
    expect(c.encoderHiddenStates.dtype).toBe('float32');
    expect(c.encoderHiddenStates.dims).toEqual([6, 77, 4]);
    expect(inference.calls).toEqual([{ component: 'text_encoder', feeds: { input_ids: [2, 77] } }]);

    const session = inference.session('text_encoder');
    const cond = floats(await direct(session, tokenizer.encodePrompt('a photo of a cat').ids, 'last_hidden_state'));
    const uncond = floats(await direct(session, tokenizer.encodePrompt('dog').ids, 'last_hidden_state'));
    for (let r = 0; r < 3; r++) expect(rowOf(c.encoderHiddenStates, r)).toEqual(cond);
    for (let r = 3; r < 6; r++) expect(rowOf(c.encoderHiddenStates, r)).toEqual(uncond);
    expect(cond).not.toEqual(uncond);
    expect(Object.keys(unetConditioningFeeds(c))).toEqual(['encoder_hidden_states']);
  });

  it('encodes "" for the unconditional rows when no negative prompt is given', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    const c = await encodeTextConditioning({ kind: 'sd', tokenizer: tokenizer2 }, inference, { prompt: 'cat', count: 1, guidanceScale: 5 });
    const empty = floats(await direct(inference.session('text_encoder'), tokenizer2.encodePrompt('').ids, 'last_hidden_state'));
    expect(rowOf(c.encoderHiddenStates, 1)).toEqual(empty);
    expect(c.truncation.negativePrompt).toEqual({ truncated: false, droppedTokens: 0, droppedText: '' });
  });

  it('returns only the conditional rows at guidance scale 1', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    const c = await encodeTextConditioning({ kind: 'sd', tokenizer }, inference, { prompt: 'cat', negativePrompt: 'dog', count: 2, guidanceScale: 1 });
    expect(c).toMatchObject({ guided: false, rows: 2 });
    expect(c.encoderHiddenStates.dims).toEqual([2, 77, 4]);
    expect(inference.calls[0]?.feeds).toEqual({ input_ids: [1, 77] });
    expect(c.truncation.negativePrompt).toBeNull();
  });

  it('feeds int64 ids to a graph that declares int64 (same values as the int32 export)', async () => {
    const int32 = await sessions({ text_encoder: graph('sd-int32') });
    const int64 = await sessions({ text_encoder: graph('sd-int64') });
    const request = { prompt: 'hello world', count: 1, guidanceScale: 3 };
    const a = await encodeTextConditioning({ kind: 'sd', tokenizer }, int32, request);
    const b = await encodeTextConditioning({ kind: 'sd', tokenizer }, int64, request);
    expect(b.encoderHiddenStates.data).toEqual(a.encoderHiddenStates.data);
  });

  it('widens a float16 encoder to float32, or hands its bits through unchanged for a float16 UNet', async () => {
    const inference = await sessions({ text_encoder: graph('sd-fp16') });
    const request = { prompt: 'a photo of a cat', count: 2, guidanceScale: 7 };
    const wide = await encodeTextConditioning({ kind: 'sd', tokenizer }, inference, request);
    const half = await encodeTextConditioning({ kind: 'sd', tokenizer }, inference, request, { dtype: 'float16' });
    const reference = await direct(inference.session('text_encoder'), tokenizer.encodePrompt('a photo of a cat').ids, 'last_hidden_state');
    expect(reference.type).toBe('float16');
    expect(wide.encoderHiddenStates.dtype).toBe('float32');
    expect(rowOf(wide.encoderHiddenStates, 1)).toEqual(float16ToFloat32(reference.data as Uint16Array));
    expect(half.encoderHiddenStates.dtype).toBe('float16');
    expect(half.encoderHiddenStates.data.subarray(0, reference.size)).toEqual(reference.data);
  });

  it('reports a truncated prompt', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    const prompt = `${Array(74).fill('cat').join(' ')} a photo of a dog`;
    const c = await encodeTextConditioning({ kind: 'sd', tokenizer }, inference, { prompt, count: 1, guidanceScale: 7 });
    expect(c.truncation.prompt).toEqual({ truncated: true, droppedTokens: 4, droppedText: 'photo of a dog' });
  });
});

describe('SDXL conditioning', () => {
  const sdxl = (forceZerosForEmptyPrompt: boolean): TextPipeline => ({ kind: 'sdxl', tokenizer, tokenizer2, forceZerosForEmptyPrompt });

  it("concatenates both encoders' penultimate hidden states, takes text_encoder_2's text_embeds, and sets time_ids", async () => {
    const inference = await sessions({ text_encoder: graph('sdxl-1'), text_encoder_2: graph('sdxl-2') });
    const c = await encodeTextConditioning(sdxl(true), inference, { prompt: 'a photo of a cat', negativePrompt: 'dog', count: 2, guidanceScale: 5, height: 1024, width: 768 });
    if (c.kind !== 'sdxl') throw new Error('expected SDXL conditioning');
    expect(c.encoderHiddenStates.dims).toEqual([4, 77, 10]);
    expect(c.textEmbeds.dims).toEqual([4, 3]);
    expect(c.timeIds.dims).toEqual([4, 6]);
    expect(c.zeroedNegative).toBe(false);
    expect(inference.calls.map((call) => [call.component, call.feeds['input_ids']])).toEqual([
      ['text_encoder', [2, 77]],
      ['text_encoder_2', [2, 77]],
    ]);

    const one = inference.session('text_encoder');
    const two = inference.session('text_encoder_2');
    for (const [text, rows] of [['a photo of a cat', [0, 1]], ['dog', [2, 3]]] as const) {
      // hidden_states.0 … .2 exist: the penultimate is hidden_states.1, not last_hidden_state.
      const h1 = floats(await direct(one, tokenizer.encodePrompt(text).ids, 'hidden_states.1'));
      const h2 = floats(await direct(two, tokenizer2.encodePrompt(text).ids, 'hidden_states.1'));
      const pooled = floats(await direct(two, tokenizer2.encodePrompt(text).ids, 'text_embeds'));
      for (const r of rows) {
        const row = rowOf(c.encoderHiddenStates, r);
        expect(channels(row, 10, 0, 4)).toEqual(h1);
        expect(channels(row, 10, 4, 10)).toEqual(h2);
        expectClose(rowOf(c.textEmbeds, r), pooled);
        expect(Array.from(rowOf(c.timeIds, r))).toEqual([1024, 768, 0, 0, 1024, 768]);
      }
    }
    expect(Object.keys(unetConditioningFeeds(c)).sort()).toEqual(['encoder_hidden_states', 'text_embeds', 'time_ids']);
  });

  it('zeros the unconditional rows when force_zeros_for_empty_prompt is set and no negative prompt is given', async () => {
    const inference = await sessions({ text_encoder: graph('sdxl-1'), text_encoder_2: graph('sdxl-2') });
    const c = await encodeTextConditioning(sdxl(true), inference, { prompt: 'cat', count: 2, guidanceScale: 5, height: 64, width: 64 });
    if (c.kind !== 'sdxl') throw new Error('expected SDXL conditioning');
    expect(c.zeroedNegative).toBe(true);
    expect(c.rows).toBe(4);
    expect(inference.calls.map((call) => call.feeds['input_ids'])).toEqual([[1, 77], [1, 77]]);
    for (const r of [2, 3]) {
      expect(rowOf(c.encoderHiddenStates, r).every((v) => v === 0)).toBe(true);
      expect(rowOf(c.textEmbeds, r).every((v) => v === 0)).toBe(true);
      expect(Array.from(rowOf(c.timeIds, r))).toEqual([64, 64, 0, 0, 64, 64]);
    }
    expect(rowOf(c.encoderHiddenStates, 0).some((v) => v !== 0)).toBe(true);
    expect(c.truncation.negativePrompt).toBeNull();
  });

  it('encodes "" instead when the negative prompt is an explicit "" or the pipeline does not force zeros', async () => {
    const inference = await sessions({ text_encoder: graph('sdxl-1'), text_encoder_2: graph('sdxl-2') });
    const pooledEmpty = floats(await direct(inference.session('text_encoder_2'), tokenizer2.encodePrompt('').ids, 'text_embeds'));
    const explicit = await encodeTextConditioning(sdxl(true), inference, { prompt: 'cat', negativePrompt: '', count: 1, guidanceScale: 5, height: 64, width: 64 });
    const unforced = await encodeTextConditioning(sdxl(false), inference, { prompt: 'cat', count: 1, guidanceScale: 5, height: 64, width: 64 });
    for (const c of [explicit, unforced]) {
      if (c.kind !== 'sdxl') throw new Error('expected SDXL conditioning');
      expect(c.zeroedNegative).toBe(false);
      expectClose(rowOf(c.textEmbeds, 1), pooledEmpty);
    }
  });

  it('runs float16 encoders with int64 ids and returns float16 for a float16 UNet', async () => {
    const inference = await sessions({ text_encoder: graph('sdxl-1-fp16'), text_encoder_2: graph('sdxl-2-fp16') });
    const request = { prompt: 'hello world', count: 1, guidanceScale: 1, height: 512, width: 512 };
    const half = await encodeTextConditioning(sdxl(true), inference, request, { dtype: 'float16' });
    const wide = await encodeTextConditioning(sdxl(true), inference, request);
    if (half.kind !== 'sdxl' || wide.kind !== 'sdxl') throw new Error('expected SDXL conditioning');
    expect([half.encoderHiddenStates.dtype, half.textEmbeds.dtype, half.timeIds.dtype]).toEqual(['float16', 'float16', 'float16']);
    expect(rowOf(half.encoderHiddenStates, 0)).toEqual(rowOf(wide.encoderHiddenStates, 0));
    expect(Array.from(rowOf(half.timeIds, 0))).toEqual([512, 512, 0, 0, 512, 512]);
    const pooled = await direct(inference.session('text_encoder_2'), tokenizer2.encodePrompt('hello world').ids, 'text_embeds');
    expect(half.textEmbeds.data).toEqual(pooled.data);
  });

  it('refuses a first encoder exported without hidden states', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32'), text_encoder_2: graph('sdxl-2') });
    const error = await encodeTextConditioning(sdxl(true), inference, { prompt: 'cat', count: 1, guidanceScale: 5, height: 64, width: 64 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TextError);
    expect(error).toMatchObject({ code: 'ENCODER_OUTPUT_INVALID', field: 'text_encoder' });
    expect(inference.calls).toEqual([]);
  });
});

describe('bad requests and encoders', () => {
  it.each([
    [{ prompt: 'cat', count: 0, guidanceScale: 5 }, 'count'],
    [{ prompt: 'cat', count: 1.5, guidanceScale: 5 }, 'count'],
    [{ prompt: 'cat', count: 1, guidanceScale: -1 }, 'guidanceScale'],
    [{ prompt: 'cat', count: 1, guidanceScale: Number.NaN }, 'guidanceScale'],
  ])('%j is INVALID_ARGUMENT naming %s', async (request, field) => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    await expect(encodeTextConditioning({ kind: 'sd', tokenizer }, inference, request)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field });
    expect(inference.calls).toEqual([]);
  });

  it('SDXL without an image size is INVALID_ARGUMENT naming height', async () => {
    const inference = await sessions({ text_encoder: graph('sdxl-1'), text_encoder_2: graph('sdxl-2') });
    const pipeline: TextPipeline = { kind: 'sdxl', tokenizer, tokenizer2, forceZerosForEmptyPrompt: true };
    await expect(encodeTextConditioning(pipeline, inference, { prompt: 'cat', count: 1, guidanceScale: 5, width: 64 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'height',
    });
  });

  it('an encoder whose ids input is not an integer type is refused before running', async () => {
    const inference = await sessions({ text_encoder: graph('bad-float-ids') });
    await expect(encodeTextConditioning({ kind: 'sd', tokenizer }, inference, { prompt: 'cat', count: 1, guidanceScale: 5 })).rejects.toMatchObject({
      code: 'ENCODER_INPUT_UNSUPPORTED',
      field: 'text_encoder.input_ids',
    });
    expect(inference.calls).toEqual([]);
  });

  it('an aborted signal stops before any encoder runs', async () => {
    const inference = await sessions({ text_encoder: graph('sd-int32') });
    const controller = new AbortController();
    controller.abort(new Error('job canceled'));
    await expect(
      encodeTextConditioning({ kind: 'sd', tokenizer }, inference, { prompt: 'cat', count: 1, guidanceScale: 5 }, { signal: controller.signal }),
    ).rejects.toThrow('job canceled');
    expect(inference.calls).toEqual([]);
  });
});
