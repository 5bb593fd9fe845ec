/**
 * The tiny Stable Diffusion pipelines under test/fixtures/pipelines (written by tools/sd-fixtures)
 * stand in for real `optimum-cli export onnx` output in every test that loads a diffusers-layout
 * package. This suite is what makes them trustworthy stand-ins: onnxruntime-node loads every graph;
 * the input/output names, dtypes and dims are optimum's; the UNet keeps its weights in
 * `model.onnx_data` as optimum's re-save leaves them; and the graphs reproduce the torch reference
 * in each `golden.json`, so pipeline tests may compare against those goldens.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readOnnxModel } from '@asyncdiff/onnx-split';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('./fixtures/pipelines/', import.meta.url));

type FloatType = 'float32' | 'float16';
type Dim = number | string;

interface Summary {
  shape: number[];
  sum: number;
  sumSq: number;
  values?: number[];
  first?: number[];
  at?: { indices: number[]; values: number[] };
}

interface Golden {
  kind: string;
  onnx_dtype: FloatType;
  tokenizers: Record<string, { pad_token: string; input_ids: number[][] }>;
  text: Record<string, Summary>[];
  sample: {
    timesteps: number[];
    height: number;
    width: number;
    add_time_ids: number[] | null;
    noise: { file: string; shape: number[] };
    first_unet_call: { timestep: number; input_scale: number; input: Summary; out_sample: Summary };
    final_latents: Summary;
    image: Summary;
  };
}

interface Encoder {
  folder: string;
  tokenizer: string;
  withProjection: boolean;
  hiddenStates: boolean;
}

interface Fixture {
  name: string;
  pipeline: 'StableDiffusionPipeline' | 'StableDiffusionXLPipeline';
  float: FloatType;
  timestep: { type: 'int64'; dims: Dim[] } | { type: FloatType; dims: Dim[] };
  encoders: Encoder[];
  crossAttentionDim: number;
  scalingFactor: number;
  /** |actual - golden| ≤ atol + rtol·|golden| per value; sums within atol·√n·rms. */
  tol: { atol: number; rtol: number };
}

const SD_ENCODER: Encoder = { folder: 'text_encoder', tokenizer: 'tokenizer', withProjection: false, hiddenStates: false };
const FP32_TOL = { atol: 2e-5, rtol: 2e-5 }; // observed: ≤ 2e-6 (float32 graphs vs the float64 reference)

const FIXTURES: Fixture[] = [
  {
    name: 'tiny-sd15',
    pipeline: 'StableDiffusionPipeline',
    float: 'float32',
    timestep: { type: 'int64', dims: ['steps'] },
    encoders: [SD_ENCODER],
    crossAttentionDim: 32,
    scalingFactor: 0.18215,
    tol: FP32_TOL,
  },
  {
    name: 'tiny-sd15-fp16',
    pipeline: 'StableDiffusionPipeline',
    float: 'float16',
    timestep: { type: 'int64', dims: ['steps'] },
    encoders: [SD_ENCODER],
    crossAttentionDim: 32,
    scalingFactor: 0.18215,
    tol: { atol: 1e-2, rtol: 1e-2 }, // observed: ≤ 2e-3 (float16 graphs vs the float64 reference)
  },
  {
    name: 'tiny-sd21v',
    pipeline: 'StableDiffusionPipeline',
    float: 'float32',
    timestep: { type: 'float32', dims: [] },
    encoders: [SD_ENCODER],
    crossAttentionDim: 32,
    scalingFactor: 0.18215,
    tol: FP32_TOL,
  },
  {
    name: 'tiny-sdxl',
    pipeline: 'StableDiffusionXLPipeline',
    float: 'float32',
    timestep: { type: 'float32', dims: [] },
    encoders: [
      { folder: 'text_encoder', tokenizer: 'tokenizer', withProjection: false, hiddenStates: true },
      { folder: 'text_encoder_2', tokenizer: 'tokenizer_2', withProjection: true, hiddenStates: true },
    ],
    crossAttentionDim: 64,
    scalingFactor: 0.13025,
    tol: FP32_TOL,
  },
];

const BATCH = 2;
const SEQ = 77;
const LATENT = 8;
const TEXT_LAYERS = 2; // num_hidden_layers of the tiny CLIP text encoders
const EXTERNAL_SIZE_THRESHOLD = 1024; // optimum's re-save: size_threshold=1024

// ------------------------------------------------------------------------------------ helpers

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** IEEE half (as a uint16) to a number. */
function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A number to IEEE half (as a uint16), rounding to nearest even. */
function toHalf(x: number): number {
  const f32 = new Float32Array([x]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  let mant = bits & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1) === 1) ? 1 : 0));
  }
  const half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? 1 : 0));
}

function floatTensor(type: FloatType, values: ArrayLike<number>, dims: number[]): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', Float32Array.from(values), dims);
  return new ort.Tensor('float16', Uint16Array.from(Array.from(values, toHalf)), dims);
}

function toNumbers(tensor: ort.Tensor): Float64Array {
  if (tensor.type === 'float16') return Float64Array.from(tensor.data as Uint16Array, fromHalf);
  if (tensor.type === 'float32') return Float64Array.from(tensor.data as Float32Array);
  throw new Error(`unexpected output type ${tensor.type}`);
}

function idsTensor(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0]!.length]);
}

function slice(values: Float64Array, index: number, count: number): Float64Array {
  return values.subarray(index * count, (index + 1) * count);
}

/** Concatenates two [rows, a] and [rows, b] matrices along the last axis. */
function concatLast(a: Float64Array, widthA: number, b: Float64Array, widthB: number): Float64Array {
  const rows = a.length / widthA;
  const out = new Float64Array(rows * (widthA + widthB));
  for (let r = 0; r < rows; r++) {
    out.set(a.subarray(r * widthA, (r + 1) * widthA), r * (widthA + widthB));
    out.set(b.subarray(r * widthB, (r + 1) * widthB), r * (widthA + widthB) + widthA);
  }
  return out;
}

function expectMatches(actual: Float64Array, golden: Summary, tol: Fixture['tol'], what: string): void {
  expect(actual.length, `${what}: element count`).toBe(golden.shape.reduce((a, b) => a * b, 1));
  const pairs: [number, number][] = [];
  if (golden.values) golden.values.forEach((v, i) => pairs.push([actual[i]!, v]));
  if (golden.first) golden.first.forEach((v, i) => pairs.push([actual[i]!, v]));
  if (golden.at) golden.at.indices.forEach((idx, k) => pairs.push([actual[idx]!, golden.at!.values[k]!]));
  expect(pairs.length, `${what}: compared values`).toBeGreaterThanOrEqual(16);
  const worst = Math.max(...pairs.map(([a, g]) => Math.abs(a - g) - (tol.atol + tol.rtol * Math.abs(g))));
  expect(worst, `${what}: values beyond tolerance`).toBeLessThanOrEqual(0);
  const n = actual.length;
  const rms = Math.sqrt(golden.sumSq / n);
  let sum = 0;
  let sumSq = 0;
  for (const v of actual) {
    sum += v;
    sumSq += v * v;
  }
  expect(Math.abs(sum - golden.sum), `${what}: sum`).toBeLessThanOrEqual(tol.atol * Math.sqrt(n) * Math.max(rms, 1) + tol.rtol * Math.abs(golden.sum));
  expect(Math.abs(Math.sqrt(sumSq / n) - rms), `${what}: rms`).toBeLessThanOrEqual(tol.atol + tol.rtol * rms);
}

const ELEM_TYPES: Record<number, string> = { 1: 'float32', 7: 'int64', 10: 'float16' };

/**
 * [name, dtype, dims] of a graph's inputs or outputs as the file declares them (the dims optimum
 * names; onnxruntime's metadata may show an inferred number where the file has a name), after
 * checking that onnxruntime sees the same names in the same order.
 */
async function declared(session: ort.InferenceSession, file: string, which: 'input' | 'output'): Promise<[string, string, Dim[]][]> {
  const { model } = await readOnnxModel(file);
  const values = (which === 'input' ? model.graph?.input : model.graph?.output) ?? [];
  const out = values.map((v): [string, string, Dim[]] => [
    v.name ?? '',
    ELEM_TYPES[v.type?.tensorType?.elemType ?? 0] ?? 'unknown',
    (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue ?? 0)),
  ]);
  expect(out.map(([name]) => name)).toEqual(which === 'input' ? session.inputNames : session.outputNames);
  return out;
}

// ------------------------------------------------------------------------------------ suite

const sessions = new Map<string, Promise<ort.InferenceSession>>();
/** One session per graph file, shared by the tests of a fixture. */
function open(fixture: Fixture, component: string): Promise<ort.InferenceSession> {
  const file = path.join(ROOT, fixture.name, component, 'model.onnx');
  let session = sessions.get(file);
  if (!session) {
    session = ort.InferenceSession.create(file);
    sessions.set(file, session);
  }
  return session;
}
afterAll(async () => {
  for (const session of sessions.values()) await (await session).release();
});

describe('Stable Diffusion fixtures', () => {
  it('are the four committed pipelines', () => {
    expect(readdirSync(ROOT).sort()).toEqual(FIXTURES.map((f) => f.name).sort());
  });
});

describe.each(FIXTURES)('$name', (fixture) => {
  const dir = path.join(ROOT, fixture.name);
  const golden = readJson<Golden>(path.join(dir, 'golden.json'));
  const xl = fixture.pipeline === 'StableDiffusionXLPipeline';

  it('has the folder layout and configs of an optimum export', () => {
    const index = readJson<Record<string, unknown>>(path.join(dir, 'model_index.json'));
    expect(index['_class_name']).toBe(fixture.pipeline);
    expect(index['unet']).toEqual(['diffusers', 'UNet2DConditionModel']);
    expect(index['vae']).toEqual(['diffusers', 'AutoencoderKL']);
    for (const enc of fixture.encoders) {
      expect(index[enc.folder]).toEqual(['transformers', enc.withProjection ? 'CLIPTextModelWithProjection' : 'CLIPTextModel']);
      expect(index[enc.tokenizer]).toEqual(['transformers', 'CLIPTokenizer']);
      for (const file of ['model.onnx', 'config.json']) expect(existsSync(path.join(dir, enc.folder, file)), `${enc.folder}/${file}`).toBe(true);
      for (const file of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
        expect(existsSync(path.join(dir, enc.tokenizer, file)), `${enc.tokenizer}/${file}`).toBe(true);
      }
    }
    for (const file of ['unet/model.onnx', 'unet/model.onnx_data', 'unet/config.json', 'vae_decoder/model.onnx', 'vae_decoder/config.json', 'vae_encoder/model.onnx', 'scheduler/scheduler_config.json']) {
      expect(existsSync(path.join(dir, file)), file).toBe(true);
    }
    const scheduler = readJson<Record<string, unknown>>(path.join(dir, 'scheduler/scheduler_config.json'));
    expect(index['scheduler']).toEqual(['diffusers', scheduler['_class_name']]);
    const vae = readJson<Record<string, unknown>>(path.join(dir, 'vae_decoder/config.json'));
    expect(vae['scaling_factor']).toBe(fixture.scalingFactor);
    expect(index['force_zeros_for_empty_prompt']).toBe(xl ? true : undefined);
  });

  it("golden token ids spell the prompts in the tokenizer's own vocabulary, truncated and padded to 77", () => {
    const prompts = readJson<{ prompts: string[] }>(path.join(dir, 'golden.json')).prompts;
    for (const enc of fixture.encoders) {
      const vocab = readJson<Record<string, number>>(path.join(dir, enc.tokenizer, 'vocab.json'));
      const config = readJson<Record<string, unknown>>(path.join(dir, enc.tokenizer, 'tokenizer_config.json'));
      const tokens = new Map(Object.entries(vocab).map(([token, id]) => [id, token]));
      const [bos, eos, pad] = [vocab['<|startoftext|>'], vocab['<|endoftext|>'], vocab[config['pad_token'] as string]];
      expect(config['model_max_length']).toBe(SEQ);
      golden.tokenizers[enc.tokenizer]!.input_ids.forEach((ids, p) => {
        expect(ids).toHaveLength(SEQ);
        const end = ids.indexOf(eos!);
        expect(ids[0], `prompt ${p} starts with bos`).toBe(bos);
        expect(ids.slice(end + 1).every((id) => id === pad), `prompt ${p} is padded with ${String(config['pad_token'])}`).toBe(true);
        const text = ids.slice(1, end).map((id) => tokens.get(id)!.replace('</w>', ' ')).join('').replace(/\s/g, '');
        const want = prompts[p]!.toLowerCase().replace(/\s/g, '');
        if (end === SEQ - 1 && text !== want) expect(want.startsWith(text), `prompt ${p} truncated to 75 tokens`).toBe(true);
        else expect(text, `prompt ${p}`).toBe(want);
      });
      expect(golden.tokenizers[enc.tokenizer]!.input_ids[2]![SEQ - 1]).toBe(eos); // the long prompt is cut
    }
  });

  it('keeps the UNet weights in unet/model.onnx_data (tensors of 1 KiB and more), the small ones inline', async () => {
    const dataFile = path.join(dir, 'unet', 'model.onnx_data');
    const dataBytes = statSync(dataFile).size;
    const { model } = await readOnnxModel(path.join(dir, 'unet', 'model.onnx'));
    const initializers = model.graph?.initializer ?? [];
    const external = initializers.filter((t) => t.dataLocation === 1); // TensorProto.DataLocation.EXTERNAL
    expect(external.length).toBeGreaterThan(20);
    let end = 0;
    let stored = 0;
    for (const t of external) {
      const entry = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      expect(entry['location'], t.name).toBe('model.onnx_data');
      const offset = Number(entry['offset'] ?? 0);
      const length = Number(entry['length']);
      expect(length, t.name).toBeGreaterThanOrEqual(EXTERNAL_SIZE_THRESHOLD);
      end = Math.max(end, offset + length);
      stored += length;
    }
    expect(end).toBe(dataBytes);
    expect(stored).toBe(dataBytes);
    for (const t of initializers.filter((i) => i.dataLocation !== 1)) {
      expect(t.rawData?.length ?? 0, `${t.name} is inline`).toBeLessThan(EXTERNAL_SIZE_THRESHOLD);
    }
  });

  it('names, types and shapes its inputs and outputs as optimum does', async () => {
    const f = fixture.float;
    const file = (component: string): string => path.join(dir, component, 'model.onnx');
    for (const enc of fixture.encoders) {
      const session = await open(fixture, enc.folder);
      expect(await declared(session, file(enc.folder), 'input')).toEqual([['input_ids', 'int64', ['batch_size', 'sequence_length']]]);
      const states: [string, string, Dim[]][] = enc.hiddenStates
        ? Array.from({ length: TEXT_LAYERS + 1 }, (_, i) => [`hidden_states.${i}`, f, ['batch_size', 'sequence_length', 32]])
        : [];
      const head: [string, string, Dim[]][] = enc.withProjection
        ? [['text_embeds', f, ['batch_size', 'sequence_length']], ['last_hidden_state', f, ['batch_size', 'sequence_length', 32]]]
        : [['last_hidden_state', f, ['batch_size', 'sequence_length', 32]], ['pooler_output', f, ['batch_size', 32]]];
      expect(await declared(session, file(enc.folder), 'output')).toEqual([...head, ...states]);
    }
    const unet = await open(fixture, 'unet');
    const inputs: [string, string, Dim[]][] = [
      ['sample', f, ['batch_size', 4, 'height', 'width']],
      ['timestep', fixture.timestep.type, fixture.timestep.dims],
      ['encoder_hidden_states', f, ['batch_size', 'sequence_length', fixture.crossAttentionDim]],
    ];
    if (xl) inputs.push(['text_embeds', f, ['batch_size', 32]], ['time_ids', f, ['batch_size', 6]]);
    expect(await declared(unet, file('unet'), 'input')).toEqual(inputs);
    expect(await declared(unet, file('unet'), 'output')).toEqual([['out_sample', f, ['batch_size', 4, 'height', 'width']]]);
    const decoder = await open(fixture, 'vae_decoder');
    expect(await declared(decoder, file('vae_decoder'), 'input')).toEqual([['latent_sample', f, ['batch_size', 4, 'latent_height', 'latent_width']]]);
    expect(await declared(decoder, file('vae_decoder'), 'output')).toEqual([['sample', f, ['batch_size', 3, 'latent_height * 8', 'latent_width * 8']]]);
    const encoder = await open(fixture, 'vae_encoder');
    expect(await declared(encoder, file('vae_encoder'), 'input')).toEqual([['sample', f, ['batch_size', 3, 'sample_height', 'sample_width']]]);
    expect(await declared(encoder, file('vae_encoder'), 'output')).toEqual([['latent_parameters', f, ['batch_size', 8, 'sample_height / 8', 'sample_width / 8']]]);
    // onnxruntime agrees on the element types
    for (const [session, names] of [[unet, inputs], [decoder, [['latent_sample', f]]]] as const) {
      for (const [name, type] of names) {
        const meta = session.inputMetadata.find((m) => m.name === name);
        expect(meta?.isTensor && meta.type, name).toBe(type);
      }
    }
  });

  /** Runs the text encoder(s) on two prompts; returns what the pipelines take from them. */
  async function encode(prompts: number[]): Promise<{ embeds: Float64Array; pooled: Float64Array | null; width: number }> {
    let embeds: Float64Array | null = null;
    let width = 0;
    let pooled: Float64Array | null = null;
    for (const enc of fixture.encoders) {
      const session = await open(fixture, enc.folder);
      const ids = prompts.map((p) => golden.tokenizers[enc.tokenizer]!.input_ids[p]!);
      const out = await session.run({ input_ids: idsTensor(ids) });
      if (!xl) return { embeds: toNumbers(out['last_hidden_state']!), pooled: toNumbers(out['pooler_output']!), width: 32 };
      const penultimate = toNumbers(out[`hidden_states.${TEXT_LAYERS - 1}`]!);
      embeds = embeds === null ? penultimate : concatLast(embeds, width, penultimate, 32);
      width += 32;
      if (enc.withProjection) pooled = toNumbers(out['text_embeds']!);
    }
    return { embeds: embeds!, pooled, width };
  }

  it('text encoders reproduce the golden embeddings (77 tokens, a prompt over 77 tokens truncated)', async () => {
    const prompts = [0, 2];
    const { embeds, pooled, width } = await encode(prompts);
    prompts.forEach((p, row) => {
      const text = golden.text[p]!;
      if (xl) {
        expectMatches(slice(embeds, row, SEQ * width), text['prompt_embeds']!, fixture.tol, `prompt ${p} prompt_embeds`);
        expectMatches(slice(pooled!, row, 32), text['pooled_prompt_embeds']!, fixture.tol, `prompt ${p} pooled`);
      } else {
        expectMatches(slice(embeds, row, SEQ * width), text['encoder_hidden_states']!, fixture.tol, `prompt ${p} hidden`);
        expectMatches(slice(pooled!, row, 32), text['pooler_output']!, fixture.tol, `prompt ${p} pooled`);
      }
    });
  });

  it('one guided UNet call (batch 2, 8x8 latent) reproduces the golden noise prediction', async () => {
    const noiseBytes = readFileSync(path.join(dir, golden.sample.noise.file));
    const view = new DataView(noiseBytes.buffer, noiseBytes.byteOffset, noiseBytes.byteLength);
    const noise = Float64Array.from({ length: noiseBytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
    expect(noise.length).toBe(4 * LATENT * LATENT);
    const call = golden.sample.first_unet_call;
    const latent = Array.from(noise, (v) => v * call.input_scale);
    const sample = [...latent, ...latent];
    expectMatches(Float64Array.from(sample), call.input, FP32_TOL, 'unet input');

    const feeds: Record<string, ort.Tensor> = {
      sample: floatTensor(fixture.float, sample, [BATCH, 4, LATENT, LATENT]),
      timestep:
        fixture.timestep.type === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from([BigInt(call.timestep)]), [1]) // optimum <= 1.23 feeds shape [1]
          : floatTensor(fixture.timestep.type, [call.timestep], []),
    };
    if (xl) {
      const { embeds, pooled, width } = await encode([0]);
      feeds['encoder_hidden_states'] = floatTensor(fixture.float, [...new Array<number>(embeds.length).fill(0), ...embeds], [BATCH, SEQ, width]);
      feeds['text_embeds'] = floatTensor(fixture.float, [...new Array<number>(32).fill(0), ...pooled!], [BATCH, 32]);
      const ids = golden.sample.add_time_ids!;
      expect(ids).toEqual([64, 64, 0, 0, 64, 64]);
      feeds['time_ids'] = floatTensor(fixture.float, [...ids, ...ids], [BATCH, 6]);
    } else {
      const { embeds, width } = await encode([1, 0]); // negative prompt "" first, as diffusers concatenates
      feeds['encoder_hidden_states'] = floatTensor(fixture.float, embeds, [BATCH, SEQ, width]);
    }
    const unet = await open(fixture, 'unet');
    const out = await unet.run(feeds);
    expect(out['out_sample']!.dims).toEqual([BATCH, 4, LATENT, LATENT]);
    expectMatches(toNumbers(out['out_sample']!), call.out_sample, fixture.tol, 'out_sample');
  });

  it('the VAE decoder turns the golden final latents into the golden 64x64 image', async () => {
    const latents = golden.sample.final_latents.values!.map((v) => v / fixture.scalingFactor);
    const decoder = await open(fixture, 'vae_decoder');
    const out = await decoder.run({ latent_sample: floatTensor(fixture.float, [...latents, ...latents], [BATCH, 4, LATENT, LATENT]) });
    const image = out['sample']!;
    expect(image.dims).toEqual([BATCH, 3, golden.sample.height, golden.sample.width]);
    const values = toNumbers(image);
    expectMatches(slice(values, 0, values.length / 2), golden.sample.image, fixture.tol, 'image 0');
    expectMatches(slice(values, 1, values.length / 2), golden.sample.image, fixture.tol, 'image 1');
  });

  it('the VAE encoder maps a 64x64 image batch to 8x8 latent parameters', async () => {
    const encoder = await open(fixture, 'vae_encoder');
    const pixels = Array.from({ length: BATCH * 3 * 64 * 64 }, (_, i) => Math.sin(i / 7));
    const out = await encoder.run({ sample: floatTensor(fixture.float, pixels, [BATCH, 3, 64, 64]) });
    expect(out['latent_parameters']!.dims).toEqual([BATCH, 8, LATENT, LATENT]);
    expect(toNumbers(out['latent_parameters']!).every(Number.isFinite)).toBe(true);
  });
});
