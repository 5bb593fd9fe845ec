import type { ConditioningTensors, FeedTensor, GuidanceConditioning } from '@asyncdiff/asyncdiff';
import { InvalidOptionError } from '@asyncdiff/asyncdiff';
import { imageSizeProblem, type DiffusersPackage } from '@asyncdiff/models';
import { InProcessModelHost, ProcessModelHost, type DeviceSpec, type ModelHost } from '@asyncdiff/stages';
import { float16ToFloat32, float32ToFloat16 } from '@asyncdiff/tensor';
import {
  encodeTextConditioning,
  loadTextPipeline,
  unetConditioningFeeds,
  type PromptTruncation,
  type TextEncoderComponent,
  type TextEncoderInference,
  type TextPipeline,
} from '@asyncdiff/text';

import type { Engine, GenerateRequest, GenerateResult } from './engine.js';

/**
 * One text-to-image generation: the prompt side, and the engine's sampling settings as for any
 * generation (seed, steps, guidance, scheduler, AsyncDiff knobs, abort, progress, resume).
 */
export interface TextToImageRequest extends Omit<GenerateRequest, 'conditioning' | 'sampleDims'> {
  readonly prompt: string;
  /** What the unconditional branch encodes (absent: "" for SD, zeros for SDXL as diffusers does). */
  readonly negativePrompt?: string;
  readonly count: number;
  /** Output size in pixels. @defaultValue the package's (UNet sample_size × VAE scale) */
  readonly width?: number;
  readonly height?: number;
}

/** What a text-to-image generation made and how. */
export interface TextToImageResult {
  readonly generation: GenerateResult;
  /** `count` images, each planar RGB [3, height, width] in [-1, 1] (the VAE's output space). */
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  /** What tokenization cut off the prompts (the job record says so). */
  readonly truncation: { readonly prompt: PromptTruncation; readonly negativePrompt: PromptTruncation | null };
  readonly encodeMs: number;
  readonly decodeMs: number;
}

/** A prompt encoded for the denoising loop (see `TextToImage.encode`). */
export interface EncodedPrompt {
  readonly conditioning: GuidanceConditioning;
  /** Latent dims without the batch axis: [UNet in-channels, height / VAE scale, width / VAE scale]. */
  readonly sampleDims: readonly number[];
  readonly guidance: number;
  readonly truncation: TextToImageResult['truncation'];
  readonly encodeMs: number;
}

/** The latent dims a package denoises for an image of `width` × `height` pixels. */
export function latentDims(model: DiffusersPackage, width: number, height: number): readonly number[] {
  const scale = model.vae.scaleFactor;
  return [model.unet.inChannels, height / scale, width / scale];
}

/** Where the text encoders and the VAE decoder run. */
export type ModelHostMode = { readonly kind: 'in-process'; readonly threads?: number } | { readonly kind: 'process'; readonly device: DeviceSpec };

/** The model-host keys of a package's whole models. */
const VAE = 'vae_decoder';

/** Starts a model host holding a package's text encoder(s) and VAE decoder. */
export async function openModelHost(model: DiffusersPackage, mode: ModelHostMode): Promise<ModelHost> {
  const models: Record<string, string> = { [VAE]: model.vae.path };
  model.textEncoders.forEach((te, i) => (models[i === 0 ? 'text_encoder' : 'text_encoder_2'] = te.path));
  return mode.kind === 'process' ? ProcessModelHost.spawn(models, mode.device) : InProcessModelHost.create(models, mode.threads ?? 1);
}

/**
 * A diffusers text-to-image pipeline around an engine: the prompt is tokenised with the
 * package's own files and encoded once per job (on the model host), the denoising loop is the
 * engine's (sequential or AsyncDiff stages on the UNet, conditioning fresh in every stage at
 * every step), and the VAE decodes the latents divided by the package's `scaling_factor`.
 */
export class TextToImage {
  private constructor(
    readonly model: DiffusersPackage,
    readonly engine: Engine,
    private readonly host: ModelHost,
    private readonly text: TextPipeline,
  ) {}

  /** Binds an engine opened on a diffusers package to a model host holding its text encoders and VAE. */
  static async open(engine: Engine, host: ModelHost): Promise<TextToImage> {
    const model = engine.model;
    if (model.format !== 'diffusers') throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'model', `${model.name} is not a text-to-image package`);
    return new TextToImage(model, engine, host, await loadTextPipeline(model.dir));
  }

  /**
   * Encodes the prompt(s) and runs the denoising loop through `denoise` — the engine's own
   * `generate` unless given (a continuous batch's `join`: the loop then shares its model calls
   * with other jobs, and the bytes stay this job's) — then VAE-decodes.
   */
  async generate(req: TextToImageRequest, denoise: (r: GenerateRequest) => Promise<GenerateResult> = (r) => this.engine.generate(r)): Promise<TextToImageResult> {
    const { prompt: _prompt, negativePrompt: _negative, count, width = this.model.defaults.width, height = this.model.defaults.height, ...sampling } = req;
    const encoded = await this.encode(req);
    const generation = await denoise({ ...sampling, conditioning: encoded.conditioning, sampleDims: encoded.sampleDims, guidance: encoded.guidance });
    const t1 = performance.now();
    const pixels = await this.decode(generation.latents, count, generation.sampleDims, width, height);
    return { generation, pixels, width, height, truncation: encoded.truncation, encodeMs: encoded.encodeMs, decodeMs: performance.now() - t1 };
  }

  /**
   * The denoising loop's inputs for a request: the text encoders' conditioning (both guidance
   * sides as the sampler wants them), the latent dims of the requested size, and the guidance.
   */
  async encode(req: Pick<TextToImageRequest, 'prompt' | 'negativePrompt' | 'count' | 'width' | 'height' | 'guidance' | 'signal'>): Promise<EncodedPrompt> {
    const m = this.model;
    const { prompt, negativePrompt, count, width = m.defaults.width, height = m.defaults.height } = req;
    const bad = imageSizeProblem(m, width, height);
    if (bad) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', bad.field, bad.message);
    const guidance = req.guidance ?? this.engine.sampling.defaults.guidance;
    const t0 = performance.now();
    const encoded = await encodeTextConditioning(
      this.text,
      this.inference(),
      { prompt, ...(negativePrompt !== undefined && { negativePrompt }), count, guidanceScale: guidance, width, height },
      { dtype: this.engine.pipeline.conditioning.find((c) => c.name === 'encoder_hidden_states')?.dtype === 'float16' ? 'float16' : 'float32', ...(req.signal && { signal: req.signal }) },
    );
    return {
      conditioning: splitRows(unetConditioningFeeds(encoded), count, encoded.guided),
      sampleDims: latentDims(m, width, height),
      guidance,
      truncation: encoded.truncation,
      encodeMs: performance.now() - t0,
    };
  }

  /** VAE-decodes `count` latents one image at a time (bounded memory at large sizes). */
  private async decode(latents: Float32Array, count: number, dims: readonly number[], width: number, height: number): Promise<Float32Array> {
    const per = dims.reduce((a, b) => a * b, 1);
    const input = this.host.metadata[VAE]?.inputs[0];
    const output = this.host.metadata[VAE]?.outputs[0];
    if (!input || !output) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'model', `${this.model.name}: vae_decoder has no input or output`);
    const out = new Float32Array(count * 3 * width * height);
    const inv = 1 / this.model.vae.scalingFactor;
    for (let i = 0; i < count; i++) {
      const z = new Float32Array(per);
      const src = latents.subarray(i * per, (i + 1) * per);
      for (let j = 0; j < per; j++) z[j] = (src[j] as number) * inv;
      const feed: FeedTensor = input.dtype === 'float16' ? { dtype: 'float16', dims: [1, ...dims], data: float32ToFloat16(z) } : { dtype: 'float32', dims: [1, ...dims], data: z };
      const r = (await this.host.run(VAE, { [input.name]: feed }, [output.name]))[output.name];
      if (!r || r.data.length !== 3 * width * height) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'model', `${this.model.name}: vae_decoder returned [${r?.dims.join(', ') ?? ''}], expected [1, 3, ${height}, ${width}]`);
      out.set(r.dtype === 'float16' ? float16ToFloat32(r.data) : (r.data as Float32Array), i * 3 * width * height);
    }
    return out;
  }

  /** The text lib's view of the model host. */
  private inference(): TextEncoderInference {
    const host = this.host;
    return {
      signature: (component: TextEncoderComponent) => {
        const md = host.metadata[component];
        if (!md) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'model', `${this.model.name} has no ${component}`);
        return { inputs: md.inputs.map((v) => ({ name: v.name, dtype: v.dtype })), outputs: md.outputs.map((v) => ({ name: v.name, dtype: v.dtype })) };
      },
      run: (component, feeds, outputNames) => host.run(component, feeds, outputNames),
    };
  }

  close(): Promise<void> {
    return this.host.close();
  }
}

/** The text lib's [cond rows; uncond rows] tensors as the sampler's two sides (views). */
function splitRows(feeds: Readonly<Record<string, FeedTensor>>, count: number, guided: boolean): GuidanceConditioning {
  const cond: Record<string, FeedTensor> = {};
  const uncond: Record<string, FeedTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const part = (from: number): FeedTensor => ({ dtype: t.dtype, dims: [count, ...t.dims.slice(1)], data: t.data.subarray(from * row, (from + count) * row) }) as FeedTensor;
    cond[name] = part(0);
    if (guided) uncond[name] = part(count);
  }
  return { images: count, cond, ...(guided && { uncond: uncond as ConditioningTensors }) };
}
