import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { float16ToFloat32 } from '@asyncdiff/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTextConditioning, loadTextPipeline, type ConditioningTensor, type TextConditioning, type TextPipeline } from './index.js';
import { ortTextEncoders, type OrtTextEncoders } from './test-fixtures/ort-inference.js';

/**
 * The random-weight pipelines of test/fixtures/pipelines (optimum's ONNX layout, made by
 * tools/sd-fixtures), checked against their golden.json: token ids from HF-shaped tokenization,
 * and encoder outputs computed in float64 by the torch modules the ONNX files were exported from.
 */
const PIPELINES = fileURLToPath(new URL('../../../test/fixtures/pipelines/', import.meta.url));

/** A tensor summary as golden.json stores it (whole `values` for small tensors). */
interface Summary {
  readonly shape: readonly number[];
  readonly sum: number;
  readonly sumSq: number;
  readonly values?: readonly number[];
  readonly first?: readonly number[];
  readonly at?: { readonly indices: readonly number[]; readonly values: readonly number[] };
}

interface Golden {
  readonly kind: string;
  readonly pipeline: string;
  readonly onnx_dtype: 'float32' | 'float16';
  readonly prompts: readonly string[];
  readonly tokenizers: Readonly<Record<string, { readonly pad_token: string; readonly input_ids: readonly (readonly number[])[] }>>;
  readonly text: readonly Readonly<Record<string, Summary>>[];
  readonly sample: {
    readonly prompt: string;
    readonly negative_prompt: string | null;
    readonly guidance_scale: number;
    readonly height: number;
    readonly width: number;
    readonly add_time_ids: readonly number[] | null;
  };
}

/**
 * Tolerances: element-wise |got − want| ≤ abs + rel·|want|; the sum within `aggregate`·Σ|x| and the
 * sum of squares within `aggregate`·Σx².
 */
interface Tolerance {
  readonly abs: number;
  readonly rel: number;
  readonly aggregate: number;
}

function floats(tensor: ConditioningTensor): Float32Array {
  return tensor.dtype === 'float16' ? float16ToFloat32(tensor.data) : tensor.data;
}

/** Row `r` of a batch-first conditioning tensor. */
function row(tensor: ConditioningTensor, r: number): Float32Array {
  const all = floats(tensor);
  const width = all.length / (tensor.dims[0] ?? 1);
  return all.subarray(r * width, (r + 1) * width);
}

/** Checks one row against a golden summary; `label` says which in a failure. */
function expectSummary(label: string, actual: Float32Array, dims: readonly number[], golden: Summary, tolerance: Tolerance): void {
  expect(dims, `${label} shape`).toEqual(golden.shape);
  const near = (what: string, got: number | undefined, want: number, tol: number): void => {
    if (got === undefined || !(Math.abs(got - want) <= tol)) expect.fail(`${label} ${what}: got ${String(got)}, want ${want} ± ${tol}`);
  };
  const element = (want: number): number => tolerance.abs + tolerance.rel * Math.abs(want);
  golden.values?.forEach((want, i) => near(`[${i}]`, actual[i], want, element(want)));
  golden.first?.forEach((want, i) => near(`[${i}]`, actual[i], want, element(want)));
  golden.at?.indices.forEach((index, k) => {
    const want = golden.at?.values[k] ?? NaN;
    near(`[${index}]`, actual[index], want, element(want));
  });
  let sum = 0;
  let sumAbs = 0;
  let sumSq = 0;
  for (const v of actual) {
    sum += v;
    sumAbs += Math.abs(v);
    sumSq += v * v;
  }
  near('sum', sum, golden.sum, tolerance.aggregate * sumAbs);
  near('sumSq', sumSq, golden.sumSq, tolerance.aggregate * sumSq);
}

/** Per-prompt encoder outputs as golden.json names them: SD's last hidden state, SDXL's prompt_embeds and pooled embeds. */
function expectPromptRow(label: string, c: TextConditioning, r: number, golden: Readonly<Record<string, Summary>>, tolerance: Tolerance): void {
  const sequence = c.encoderHiddenStates.dims.slice(1);
  switch (c.kind) {
    case 'sd': {
      const want = golden['encoder_hidden_states'];
      if (want === undefined) throw new Error(`${label}: golden has no encoder_hidden_states`);
      expectSummary(`${label} encoder_hidden_states`, row(c.encoderHiddenStates, r), sequence, want, tolerance);
      return;
    }
    case 'sdxl': {
      const embeds = golden['prompt_embeds'];
      const pooled = golden['pooled_prompt_embeds'];
      if (embeds === undefined || pooled === undefined) throw new Error(`${label}: golden has no prompt_embeds/pooled_prompt_embeds`);
      expectSummary(`${label} prompt_embeds`, row(c.encoderHiddenStates, r), sequence, embeds, tolerance);
      expectSummary(`${label} pooled_prompt_embeds`, row(c.textEmbeds, r), c.textEmbeds.dims.slice(1), pooled, tolerance);
      return;
    }
  }
}

/** Opens a fixture's text encoders in-process. */
function encoderPaths(dir: string, pipeline: TextPipeline): Parameters<typeof ortTextEncoders>[0] {
  const one = join(dir, 'text_encoder', 'model.onnx');
  return pipeline.kind === 'sdxl' ? { text_encoder: one, text_encoder_2: join(dir, 'text_encoder_2', 'model.onnx') } : { text_encoder: one };
}

/** The golden checks of one fixture folder. */
function goldenSuite(name: string, tolerance: Tolerance): void {
  describe(name, () => {
    const dir = join(PIPELINES, name);
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
    let pipeline: TextPipeline;
    let inference: OrtTextEncoders;

    beforeAll(async () => {
      pipeline = await loadTextPipeline(dir);
      inference = await ortTextEncoders(encoderPaths(dir, pipeline));
    });
    afterAll(async () => {
      await inference.release();
    });

    it('tokenizes every golden prompt to the golden ids, with each tokenizer', () => {
      const tokenizers = pipeline.kind === 'sdxl' ? { tokenizer: pipeline.tokenizer, tokenizer_2: pipeline.tokenizer2 } : { tokenizer: pipeline.tokenizer };
      expect(Object.keys(tokenizers).sort()).toEqual(Object.keys(golden.tokenizers).sort());
      for (const [key, tokenizer] of Object.entries(tokenizers)) {
        golden.prompts.forEach((prompt, i) => {
          expect(tokenizer.encodePrompt(prompt).ids, `${key} prompt ${i}`).toEqual(golden.tokenizers[key]?.input_ids[i]);
        });
      }
      // The last golden prompt is longer than the context: the job record must say so.
      const long = pipeline.tokenizer.encodePrompt(golden.prompts.at(-1) ?? '');
      expect(long.truncated).toBe(true);
      expect(long.droppedTokens).toBeGreaterThan(0);
    });

    it("reproduces the golden encoder outputs for each prompt's conditional row", async () => {
      // The encoders really are the fixture's dtype (float16 ones hand out half-precision bits).
      const dtypes = inference.signature('text_encoder').outputs.map((output) => output.dtype);
      expect(new Set(dtypes)).toEqual(new Set([golden.onnx_dtype]));
      for (const [i, prompt] of golden.prompts.entries()) {
        const c = await encodeTextConditioning(pipeline, inference, { prompt, count: 1, guidanceScale: 1, height: golden.sample.height, width: golden.sample.width });
        expect(c.rows).toBe(1);
        expectPromptRow(`prompt ${i}`, c, 0, golden.text[i] ?? {}, tolerance);
      }
    });

    it('lays out the golden sample: conditional rows first, then the negative branch diffusers would use', async () => {
      const { sample } = golden;
      const count = 2;
      const c = await encodeTextConditioning(pipeline, inference, {
        prompt: sample.prompt,
        negativePrompt: sample.negative_prompt ?? undefined,
        count,
        guidanceScale: sample.guidance_scale,
        height: sample.height,
        width: sample.width,
      });
      expect(c).toMatchObject({ guided: true, rows: 2 * count });
      const promptIndex = golden.prompts.indexOf(sample.prompt);
      for (let r = 0; r < count; r++) expectPromptRow(`cond row ${r}`, c, r, golden.text[promptIndex] ?? {}, tolerance);
      if (c.kind === 'sdxl' && c.zeroedNegative) {
        for (let r = count; r < 2 * count; r++) {
          expect(row(c.encoderHiddenStates, r).every((v) => v === 0)).toBe(true);
          expect(row(c.textEmbeds, r).every((v) => v === 0)).toBe(true);
        }
      } else {
        const negativeIndex = golden.prompts.indexOf(sample.negative_prompt ?? '');
        for (let r = count; r < 2 * count; r++) expectPromptRow(`uncond row ${r}`, c, r, golden.text[negativeIndex] ?? {}, tolerance);
      }
      if (c.kind === 'sdxl') {
        expect(golden.sample.add_time_ids).not.toBeNull();
        for (let r = 0; r < 2 * count; r++) expect(Array.from(row(c.timeIds, r))).toEqual(golden.sample.add_time_ids);
      }
    });
  });
}

/** float32 graphs against the float64 reference: 1e-4 per value. */
const FLOAT32 = { abs: 1e-4, rel: 0, aggregate: 1e-5 };
goldenSuite('tiny-sd15', FLOAT32);
goldenSuite('tiny-sd21v', FLOAT32);
goldenSuite('tiny-sdxl', FLOAT32);
/**
 * float16 graphs compute every layer in half precision (relative rounding 2^-11 per operation on
 * values of order 1) against a float64 reference on the same rounded weights: observed ≤ 8.7e-4
 * per value and 1.1e-5 relative on the aggregates, so twice and ten times that.
 */
goldenSuite('tiny-sd15-fp16', { abs: 2e-3, rel: 0, aggregate: 1e-4 });

describe('slow CLIPTokenizer reference (tools/sd-fixtures, an independent implementation)', () => {
  it("gives tiny-sd15's tokenizer the reference ids for awkward prompts: CJK, control and format characters, odd spaces, specials", async () => {
    const reference = JSON.parse(readFileSync(fileURLToPath(new URL('./test-fixtures/slow-reference-tiny-sd15.json', import.meta.url)), 'utf8')) as {
      prompts: string[];
      input_ids: number[][];
    };
    const pipeline = await loadTextPipeline(join(PIPELINES, 'tiny-sd15'));
    expect(pipeline.tokenizer.cleanup).toBe('basic');
    reference.prompts.forEach((prompt, i) => expect(pipeline.tokenizer.encodePrompt(prompt).ids, JSON.stringify(prompt)).toEqual(reference.input_ids[i]));
  });
});
