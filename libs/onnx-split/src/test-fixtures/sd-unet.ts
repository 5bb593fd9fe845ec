import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { writeOnnxModel } from '../onnx-io.js';
import type { OnnxModel, TensorDtype } from '../onnx-types.js';
import type { InputSpecs } from '../random-feeds.js';
import { seededRandom } from '../random-feeds.js';
import { externalizeWeights } from './external-data.js';
import { floatTensor, GraphBuilder, toHalfBits } from './graph-builder.js';

/** Which conditioning a synthetic UNet takes. */
export type SdKind = 'sd15' | 'sdxl';

/** Options of {@link sdUnetGraph}. */
export interface SdUnetOptions {
  readonly kind: SdKind;
  /** Weights and activations (fp16 models keep the sinusoidal embeddings in fp32 and cast, as diffusers does). */
  readonly dtype?: 'float32' | 'float16';
  readonly timestepDtype?: 'float32' | 'int64';
}

const C = 8; // base channels
const GROUPS = 4;
const HEADS = 2;
const CONTEXT = 12; // encoder_hidden_states width
const SEQ = 5; // tokens
const TEXT_EMBEDS = 10; // SDXL pooled text embeddings width
const TIME_IDS = 6;

/**
 * A tiny UNet built the way `torch.onnx.export` writes diffusers' UNet2DConditionModel: dynamic
 * batch/height/width resolved at run time through `Shape → Gather → Concat → Reshape` chains,
 * the timestep broadcast to the batch with `Expand(t, Shape(sample)[0])`, GroupNorm as
 * Reshape → InstanceNormalization → Reshape, transformer blocks with self-attention, cross-attention
 * on `encoder_hidden_states` (K/V computed from the context only: conditioning) and a GEGLU MLP,
 * stride-2 downsampling, nearest ×2 upsampling and skip concatenations. SDXL adds `text_embeds`
 * and `time_ids` through an add-embedding MLP. Every weight is a real initializer.
 */
export function sdUnetGraph(o: SdUnetOptions): { model: OnnxModel; inputs: (batch: number, size: number) => InputSpecs } {
  const dtype = o.dtype ?? 'float32';
  const timestepDtype = o.timestepDtype ?? 'float32';
  const g = new GraphBuilder();
  const b = new Blocks(g, dtype);
  const sample = g.input('sample', dtype, ['batch', 4, 'height', 'width']);
  const timestep = g.input('timestep', timestepDtype, ['steps']);
  const context = g.input('encoder_hidden_states', dtype, ['batch', 'sequence', CONTEXT]);
  const sdxl = o.kind === 'sdxl' ? { textEmbeds: g.input('text_embeds', dtype, ['batch', TEXT_EMBEDS]), timeIds: g.input('time_ids', dtype, ['batch', TIME_IDS]) } : null;

  // Timestep embedding: t.expand(sample.shape[0]) → sinusoids (fp32) → cast → MLP.
  const batch = g.op('Unsqueeze', [g.op('Gather', [g.op('Shape', [sample], {}, 'sample_shape'), g.scalarInt64('idx0', 0)], { axis: { int: 0 } }, 'batch_gather'), g.int64('axes0', [0])], {}, 'batch_1d');
  const t = g.op('Expand', [g.op('Cast', [timestep], { to: { int: 1 } }, 't_cast'), batch], {}, 't_expand');
  let temb = b.castTo(b.sinusoids(t, C, 'time_proj'), 'time_proj');
  temb = b.linear(b.silu(b.linear(temb, C, 4 * C, 'time_embedding.linear_1')), 4 * C, 4 * C, 'time_embedding.linear_2');
  if (sdxl) {
    // add_embedding: time_ids.flatten() → sinusoids → reshape(text_embeds.shape[0], -1) → concat(text_embeds) → MLP.
    const flat = g.op('Reshape', [b.castFrom(sdxl.timeIds, 'time_ids'), g.int64('flat_shape', [-1])], {}, 'time_ids_flatten');
    const idsEmb = b.sinusoids(flat, 4, 'add_time_proj');
    const rows = g.op('Unsqueeze', [g.op('Gather', [g.op('Shape', [sdxl.textEmbeds], {}, 'text_embeds_shape'), 'idx0'], { axis: { int: 0 } }, 'text_batch'), 'axes0'], {}, 'text_batch_1d');
    const perRow = g.op('Reshape', [idsEmb, g.op('Concat', [rows, g.int64('minus1', [-1])], { axis: { int: 0 } }, 'add_shape')], {}, 'time_embeds');
    const add = g.op('Concat', [sdxl.textEmbeds, b.castTo(perRow, 'time_embeds')], { axis: { int: -1 } }, 'add_embeds');
    const aug = b.linear(b.silu(b.linear(add, TEXT_EMBEDS + TIME_IDS * 4, 4 * C, 'add_embedding.linear_1')), 4 * C, 4 * C, 'add_embedding.linear_2');
    temb = g.op('Add', [temb, aug], {}, 'emb_plus_aug');
  }
  const tembAct = b.silu(temb);

  const h0 = b.conv(sample, 4, C, 3, 1, 'conv_in');
  const s1 = b.transformer(b.resnet(h0, C, C, tembAct, 'down0.res'), C, context, 'down0.attn');
  const s2 = b.conv(s1, C, C, 3, 2, 'down0.downsample');
  const s3 = b.transformer(b.resnet(s2, C, 2 * C, tembAct, 'down1.res'), 2 * C, context, 'down1.attn');
  let h = b.resnet(s3, 2 * C, 2 * C, tembAct, 'mid.res0');
  h = b.transformer(h, 2 * C, context, 'mid.attn');
  h = b.resnet(h, 2 * C, 2 * C, tembAct, 'mid.res1');
  h = b.transformer(b.resnet(b.cat(h, s3, 'up1.cat0'), 4 * C, 2 * C, tembAct, 'up1.res0'), 2 * C, context, 'up1.attn');
  h = b.resnet(b.cat(h, s2, 'up1.cat1'), 3 * C, 2 * C, tembAct, 'up1.res1');
  h = b.upsample(h, 2 * C, 'up1.upsample');
  h = b.transformer(b.resnet(b.cat(h, s1, 'up0.cat0'), 3 * C, C, tembAct, 'up0.res0'), C, context, 'up0.attn');
  h = b.resnet(b.cat(h, h0, 'up0.cat1'), 2 * C, C, tembAct, 'up0.res1');
  h = b.conv(b.silu(b.groupNorm(h, C, 'conv_norm_out')), C, 4, 3, 1, 'conv_out');
  g.node('Identity', [h], ['out_sample'], {}, 'out');
  g.output('out_sample', dtype, ['batch', 4, 'height', 'width']);

  const model = g.build(`tiny_${o.kind}_unet`);
  const inputs = (batchSize: number, size: number): InputSpecs => ({
    sample: { dtype, dims: [batchSize, 4, size, size] },
    timestep: { dtype: timestepDtype, dims: [batchSize] },
    encoder_hidden_states: { dtype, dims: [batchSize, SEQ, CONTEXT] },
    ...(sdxl ? { text_embeds: { dtype, dims: [batchSize, TEXT_EMBEDS] }, time_ids: { dtype, dims: [batchSize, TIME_IDS] } } : {}),
  });
  return { model, inputs };
}

/** The UNet's building blocks over one GraphBuilder. */
class Blocks {
  constructor(
    private readonly g: GraphBuilder,
    private readonly dtype: 'float32' | 'float16',
  ) {}

  private w(name: string, dims: number[], scale: number): string {
    return this.g.param(name, dims, { scale, dtype: this.dtype });
  }

  private get elem(): number {
    return this.dtype === 'float16' ? 10 : 1;
  }

  /** fp32 → model dtype (a no-op cast for fp32 models, as the exporter writes it). */
  castTo(x: string, name: string): string {
    return this.g.op('Cast', [x], { to: { int: this.elem } }, `${name}.to_dtype`);
  }

  /** model dtype → fp32. */
  castFrom(x: string, name: string): string {
    return this.g.op('Cast', [x], { to: { int: 1 } }, `${name}.to_float`);
  }

  /** [N] fp32 → [N, dim] sin/cos embedding with frequencies from Range → Exp. */
  sinusoids(t: string, dim: number, name: string): string {
    const g = this.g;
    const half = dim / 2;
    g.node('Constant', [], [`${name}.start`], { value: { name: `${name}.start_v`, dims: [], dataType: 1, floatData: [0] } }, `${name}.start_c`);
    g.node('Constant', [], [`${name}.limit`], { value: { name: `${name}.limit_v`, dims: [], dataType: 1, floatData: [half] } }, `${name}.limit_c`);
    g.node('Constant', [], [`${name}.delta`], { value: { name: `${name}.delta_v`, dims: [], dataType: 1, floatData: [1] } }, `${name}.delta_c`);
    const range = g.op('Range', [`${name}.start`, `${name}.limit`, `${name}.delta`], {}, `${name}.range`);
    const freqs = g.op('Exp', [g.op('Mul', [range, g.param(`${name}.scale`, [1], { fill: -Math.log(10000) / half })], {}, `${name}.exponent`)], {}, `${name}.freqs`);
    const arg = g.op('Mul', [g.op('Unsqueeze', [t, g.int64(`${name}.axes1`, [1])], {}, `${name}.t_col`), g.op('Unsqueeze', [freqs, 'axes0'], {}, `${name}.f_row`)], {}, `${name}.arg`);
    return g.op('Concat', [g.op('Sin', [arg], {}, `${name}.sin`), g.op('Cos', [arg], {}, `${name}.cos`)], { axis: { int: 1 } }, `${name}.emb`);
  }

  linear(x: string, cin: number, cout: number, name: string): string {
    const mm = this.g.op('MatMul', [x, this.w(`${name}.weight`, [cin, cout], 1 / Math.sqrt(cin))], {}, `${name}.matmul`);
    return this.g.op('Add', [mm, this.w(`${name}.bias`, [cout], 0.05)], {}, `${name}.add`);
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  conv(x: string, cin: number, cout: number, k: number, stride: number, name: string): string {
    const pad = (k - 1) / 2;
    return this.g.op('Conv', [x, this.w(`${name}.weight`, [cout, cin, k, k], 1 / Math.sqrt(cin * k * k)), this.w(`${name}.bias`, [cout], 0.05)], { kernel_shape: { ints: [k, k] }, pads: { ints: [pad, pad, pad, pad] }, strides: { ints: [stride, stride] } }, name);
  }

  groupNorm(x: string, c: number, name: string): string {
    const g = this.g;
    const shape = g.op('Shape', [x], {}, `${name}.shape`);
    const grouped = g.op('Reshape', [x, g.int64(`${name}.groups`, [0, GROUPS, -1])], {}, `${name}.reshape_in`);
    const ones = g.param(`${name}.ones`, [GROUPS], { fill: 1, dtype: this.dtype });
    const zeros = g.param(`${name}.zeros`, [GROUPS], { fill: 0, dtype: this.dtype });
    const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: 1e-5 }, `${name}.instnorm`);
    const back = g.op('Reshape', [normed, shape], {}, `${name}.reshape_out`);
    const scaled = g.op('Mul', [back, this.w(`${name}.weight`, [c, 1, 1], 0.2)], {}, `${name}.scale`);
    return g.op('Add', [scaled, this.w(`${name}.bias`, [c, 1, 1], 0.05)], {}, `${name}.shift`);
  }

  resnet(x: string, cin: number, cout: number, tembAct: string, name: string): string {
    const g = this.g;
    let h = this.conv(this.silu(this.groupNorm(x, cin, `${name}.norm1`)), cin, cout, 3, 1, `${name}.conv1`);
    const t = g.op('Unsqueeze', [this.linear(tembAct, 4 * C, cout, `${name}.time_emb_proj`), g.int64(`${name}.axes23`, [2, 3])], {}, `${name}.temb`);
    h = g.op('Add', [h, t], {}, `${name}.add_temb`);
    h = this.conv(this.silu(this.groupNorm(h, cout, `${name}.norm2`)), cout, cout, 3, 1, `${name}.conv2`);
    const skip = cin === cout ? x : this.conv(x, cin, cout, 1, 1, `${name}.conv_shortcut`);
    return g.op('Add', [skip, h], {}, `${name}.out`);
  }

  cat(a: string, b: string, name: string): string {
    return this.g.op('Concat', [a, b], { axis: { int: 1 } }, name);
  }

  upsample(x: string, c: number, name: string): string {
    const g = this.g;
    const scales = g.tensor(floatTensor(`${name}.scales`, [4], Float32Array.from([1, 1, 2, 2])));
    const up = g.op('Resize', [x, '', scales], { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' }, `${name}.resize`);
    return this.conv(up, c, c, 3, 1, `${name}.conv`);
  }

  layerNorm(x: string, c: number, name: string): string {
    return this.g.op('LayerNormalization', [x, this.w(`${name}.weight`, [c], 0.2), this.w(`${name}.bias`, [c], 0.05)], { axis: { int: -1 }, epsilon: 1e-5 }, name);
  }

  /** [B, L, c] → [B, heads, L, c / heads], with B read from the tensor's own shape. */
  heads(x: string, c: number, name: string): string {
    const g = this.g;
    const rows = g.op('Unsqueeze', [g.op('Gather', [g.op('Shape', [x], {}, `${name}.shape`), 'idx0'], { axis: { int: 0 } }, `${name}.b`), 'axes0'], {}, `${name}.b1`);
    const shape = g.op('Concat', [rows, g.int64(`${name}.rest`, [-1, HEADS, c / HEADS])], { axis: { int: 0 } }, `${name}.shape4`);
    return g.op('Transpose', [g.op('Reshape', [x, shape], {}, `${name}.split`)], { perm: { ints: [0, 2, 1, 3] } }, `${name}.perm`);
  }

  attention(x: string, kv: string, c: number, kvDim: number, name: string): string {
    const g = this.g;
    const q = this.heads(g.op('MatMul', [x, this.w(`${name}.to_q`, [c, c], 1 / Math.sqrt(c))], {}, `${name}.q`), c, `${name}.qh`);
    const k = this.heads(g.op('MatMul', [kv, this.w(`${name}.to_k`, [kvDim, c], 1 / Math.sqrt(kvDim))], {}, `${name}.k`), c, `${name}.kh`);
    const v = this.heads(g.op('MatMul', [kv, this.w(`${name}.to_v`, [kvDim, c], 1 / Math.sqrt(kvDim))], {}, `${name}.v`), c, `${name}.vh`);
    const kt = g.op('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } }, `${name}.kt`);
    const scores = g.op('Mul', [g.op('MatMul', [q, kt], {}, `${name}.qk`), g.param(`${name}.scale`, [1], { fill: 1 / Math.sqrt(c / HEADS), dtype: this.dtype })], {}, `${name}.scaled`);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } }, `${name}.softmax`);
    const out = g.op('Transpose', [g.op('MatMul', [probs, v], {}, `${name}.pv`)], { perm: { ints: [0, 2, 1, 3] } }, `${name}.merge_perm`);
    const rows = g.op('Unsqueeze', [g.op('Gather', [g.op('Shape', [out], {}, `${name}.out_shape`), 'idx0'], { axis: { int: 0 } }, `${name}.ob`), 'axes0'], {}, `${name}.ob1`);
    const merged = g.op('Reshape', [out, g.op('Concat', [rows, g.int64(`${name}.merge_rest`, [-1, c])], { axis: { int: 0 } }, `${name}.merge_shape`)], {}, `${name}.merge`);
    return this.linear(merged, c, c, `${name}.to_out`);
  }

  transformer(x: string, c: number, context: string, name: string): string {
    const g = this.g;
    const shape = g.op('Shape', [x], {}, `${name}.shape`);
    const dim = (k: number): string =>
      g.op('Unsqueeze', [g.op('Gather', [shape, g.scalarInt64(`${name}.i${k}`, k)], { axis: { int: 0 } }, `${name}.d${k}`), 'axes0'], {}, `${name}.d${k}_1`);
    const [batch, channels, height, width] = [dim(0), dim(1), dim(2), dim(3)];
    const tokens = g.op('Mul', [height, width], {}, `${name}.hw`);
    let h = this.conv(this.groupNorm(x, c, `${name}.norm`), c, c, 1, 1, `${name}.proj_in`);
    h = g.op('Reshape', [g.op('Transpose', [h], { perm: { ints: [0, 2, 3, 1] } }, `${name}.nhwc`), g.op('Concat', [batch, tokens, channels], { axis: { int: 0 } }, `${name}.seq_shape`)], {}, `${name}.to_seq`);
    const normed = this.layerNorm(h, c, `${name}.norm1`);
    h = g.op('Add', [h, this.attention(normed, normed, c, c, `${name}.attn1`)], {}, `${name}.res1`);
    h = g.op('Add', [h, this.attention(this.layerNorm(h, c, `${name}.norm2`), context, c, CONTEXT, `${name}.attn2`)], {}, `${name}.res2`);
    const proj = this.linear(this.layerNorm(h, c, `${name}.norm3`), c, 4 * c, `${name}.ff.proj`);
    const halves = [`${name}.ff.a`, `${name}.ff.gate`];
    g.node('Split', [proj, g.int64(`${name}.ff.sizes`, [2 * c, 2 * c])], halves, { axis: { int: -1 } }, `${name}.ff.split`);
    const gate = halves[1] as string;
    const erf = g.op('Erf', [g.op('Div', [gate, g.param(`${name}.ff.sqrt2`, [1], { fill: Math.SQRT2, dtype: this.dtype })], {}, `${name}.ff.div`)], {}, `${name}.ff.erf`);
    const gelu = g.op('Mul', [g.op('Mul', [gate, g.op('Add', [erf, g.param(`${name}.ff.one`, [1], { fill: 1, dtype: this.dtype })], {}, `${name}.ff.erf1`)], {}, `${name}.ff.gx`), g.param(`${name}.ff.half`, [1], { fill: 0.5, dtype: this.dtype })], {}, `${name}.ff.gelu`);
    h = g.op('Add', [h, this.linear(g.op('Mul', [halves[0] as string, gelu], {}, `${name}.ff.geglu`), 2 * c, c, `${name}.ff.out`)], {}, `${name}.res3`);
    const back = g.op('Reshape', [h, g.op('Concat', [batch, height, width, channels], { axis: { int: 0 } }, `${name}.img_shape`)], {}, `${name}.to_img`);
    h = this.conv(g.op('Transpose', [back], { perm: { ints: [0, 3, 1, 2] } }, `${name}.nchw`), c, c, 1, 1, `${name}.proj_out`);
    return g.op('Add', [h, x], {}, `${name}.out`);
  }
}

/**
 * Random feeds for a UNet's inputs: floats uniform in [-1, 1) (float16 rounded from them), the
 * timestep in [0, 1000) like a scheduler's (integer for int64), SDXL time ids in [0, 1024).
 */
export function sdFeeds(specs: InputSpecs, seed: number): Record<string, Tensor> {
  const random = seededRandom(seed);
  const feeds: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const count = spec.dims.reduce((p, d) => p * d, 1);
    const range = name === 'timestep' ? 1000 : name === 'time_ids' ? 1024 : 0;
    const value = (): number => (range > 0 ? Math.floor(random() * range) : random() * 2 - 1);
    feeds[name] = makeTensor(spec.dtype, count, value, [...spec.dims]);
  }
  return feeds;
}

function makeTensor(dtype: TensorDtype, count: number, value: () => number, dims: number[]): Tensor {
  if (dtype === 'float16') return new Tensor('float16', Uint16Array.from({ length: count }, () => toHalfBits(value())), dims);
  if (dtype === 'int64') return new Tensor('int64', BigInt64Array.from({ length: count }, () => BigInt(Math.floor(value()))), dims);
  return new Tensor('float32', Float32Array.from({ length: count }, value), dims);
}

/**
 * Writes the UNet as optimum lays it out: `<dir>/unet/model.onnx` + `model.onnx_data`, tensors of
 * 1 KiB and more external (onnx's default threshold), small ones inline.
 */
export async function writeSdUnet(dir: string, o: SdUnetOptions): Promise<{ modelPath: string; inputs: (batch: number, size: number) => InputSpecs }> {
  const { model, inputs } = sdUnetGraph(o);
  const unetDir = join(dir, 'unet');
  await mkdir(unetDir, { recursive: true });
  const modelPath = join(unetDir, 'model.onnx');
  await writeOnnxModel(modelPath, await externalizeWeights(model, unetDir, 'model.onnx_data', 1024));
  return { modelPath, inputs };
}
