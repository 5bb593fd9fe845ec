import type { SchedulerKind } from '@asyncdiff/schedulers';

/** Which diffusers pipeline a package in the ONNX layout is: Stable Diffusion 1.x/2.x or SDXL. */
export type DiffusersPipeline = 'sd' | 'sdxl';

/** One text encoder of a pipeline with the tokenizer folder that feeds it. */
export interface TextEncoderFiles {
  /** `text_encoder/model.onnx` or `text_encoder_2/model.onnx` (absolute). */
  readonly path: string;
  /** `tokenizer/` or `tokenizer_2/` (absolute). */
  readonly tokenizerDir: string;
  /** `hidden_size` of its config.json, when the export wrote one. */
  readonly hiddenSize: number | undefined;
  /** `projection_dim` (SDXL's second encoder: the pooled text embeds). */
  readonly projectionDim: number | undefined;
}

/**
 * A Stable Diffusion–class pipeline in the diffusers ONNX layout that `optimum-cli export onnx`
 * writes, read as it is (never converted): `model_index.json`, `text_encoder/` (+ `text_encoder_2/`
 * for SDXL), `unet/` (weights in external data), `vae_decoder/`, `tokenizer/` (+ `tokenizer_2/`),
 * `scheduler/scheduler_config.json`. Paths are absolute so the package can be handed to another
 * process as is.
 */
export interface DiffusersPackage {
  readonly format: 'diffusers';
  /** The folder's name (how the API and `MODELS_DIR` discovery refer to it). */
  readonly name: string;
  readonly kind: 'image';
  readonly pipeline: DiffusersPipeline;
  /** `_class_name` of model_index.json. */
  readonly className: string;
  readonly description: string;
  readonly dir: string;
  /** Short hash of the package's JSON files: part of cache keys (a re-export changes it). */
  readonly version: string;
  readonly unet: {
    readonly path: string;
    /** Latent side at the default resolution (`sample_size`). */
    readonly sampleSize: number;
    readonly inChannels: number;
    /** Width of the cross-attention context (`cross_attention_dim`). */
    readonly crossAttentionDim: number;
    /** Latent sides must be multiples of this (2^(down blocks − 1): the UNet halves them that often). */
    readonly latentMultiple: number;
    /** SDXL: the size of `text_embeds` (projection_class_embeddings_input_dim − 6 × addition_time_embed_dim). */
    readonly textEmbedsDim: number | undefined;
  };
  readonly textEncoders: readonly TextEncoderFiles[];
  readonly vae: {
    readonly path: string;
    /** Latents are divided by this before decoding (0.18215 SD, 0.13025 SDXL). */
    readonly scalingFactor: number;
    /** Pixels per latent cell (2^(len(block_out_channels) − 1), 8 for SD). */
    readonly scaleFactor: number;
  };
  /** scheduler/scheduler_config.json as written (the schedulers lib interprets it). */
  readonly schedulerConfig: Readonly<Record<string, unknown>>;
  /** SDXL: an empty negative prompt means zero embeddings, not the encoded "" (model_index.json). */
  readonly forceZerosForEmptyPrompt: boolean;
  readonly defaults: {
    readonly steps: number;
    readonly guidance: number;
    /** The scheduler the package was published with (scheduler_config.json `_class_name`). */
    readonly scheduler: SchedulerKind;
    readonly width: number;
    readonly height: number;
    /** Seconds a job may hold its devices: real UNets are far slower than our 16×16 models. */
    readonly timeoutSec: number;
  };
  /** Accepted output sizes: multiples of `multiple` pixels within [min, max] on each side. */
  readonly resolution: { readonly min: number; readonly max: number; readonly multiple: number };
}
