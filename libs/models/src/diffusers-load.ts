import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { SchedulerError, schedulerConfigFromDiffusers } from '@asyncdiff/schedulers';
import { z } from 'zod';

import type { DiffusersPackage, DiffusersPipeline, TextEncoderFiles } from './diffusers-package.js';
import { ModelError } from './errors.js';
import { JOB_TIMEOUT_SEC } from './model-package.js';

/** Pipeline classes whose ONNX exports we run, by model_index.json `_class_name`. */
const PIPELINE_CLASSES: Readonly<Record<string, DiffusersPipeline>> = {
  StableDiffusionPipeline: 'sd',
  OnnxStableDiffusionPipeline: 'sd',
  ORTStableDiffusionPipeline: 'sd',
  StableDiffusionXLPipeline: 'sdxl',
  ORTStableDiffusionXLPipeline: 'sdxl',
};

/** diffusers' defaults: 50 steps; guidance 7.5 for SD 1.x/2.x, 5.0 for SDXL. */
const DEFAULTS: Readonly<Record<DiffusersPipeline, { steps: number; guidance: number }>> = { sd: { steps: 50, guidance: 7.5 }, sdxl: { steps: 50, guidance: 5 } };

const modelIndexSchema = z.looseObject({
  _class_name: z.string(),
  force_zeros_for_empty_prompt: z.boolean().optional(),
});
const unetConfigSchema = z.looseObject({
  sample_size: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]),
  in_channels: z.number().int().positive(),
  cross_attention_dim: z.union([z.number().int().positive(), z.array(z.number().int().positive()).min(1)]),
  block_out_channels: z.array(z.number().int().positive()).min(1),
  addition_embed_type: z.string().nullish(),
  addition_time_embed_dim: z.number().int().positive().nullish(),
  projection_class_embeddings_input_dim: z.number().int().positive().nullish(),
});
const vaeConfigSchema = z.looseObject({
  scaling_factor: z.number().positive().optional(),
  block_out_channels: z.array(z.number().int().positive()).min(1).optional(),
});
const textConfigSchema = z.looseObject({
  hidden_size: z.number().int().positive().optional(),
  projection_dim: z.number().int().positive().optional(),
});

/** Whether `dir` looks like a diffusers ONNX package (it has a model_index.json). */
export function isDiffusersDir(dir: string): boolean {
  return existsSync(path.join(dir, 'model_index.json'));
}

/**
 * Reads a diffusers ONNX package as optimum writes it. Every problem is a `ModelError` whose
 * `field` is the package-relative file (and key) at fault, e.g. `unet/config.json: sample_size`.
 */
export function loadDiffusersPackage(dir: string, name: string = packageName(dir)): DiffusersPackage {
  const root = path.resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ModelError('MODEL_NOT_FOUND', `model folder ${dir} does not exist`, 'model');
  const hash = createHash('sha256');
  const json = <S extends z.ZodType>(rel: string, schema: S, required = true): z.infer<S> | undefined => {
    const file = path.join(root, rel);
    if (!existsSync(file)) {
      if (!required) return undefined;
      throw new ModelError('MODEL_INVALID', `${name}: ${rel} is missing (not a diffusers ONNX package?)`, rel);
    }
    const text = readFileSync(file, 'utf8');
    hash.update(rel).update(text);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      throw new ModelError('MODEL_INVALID', `${name}: ${rel} is not valid JSON`, rel, { cause });
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const key = issue?.path.join('.') ?? '';
      throw new ModelError('MODEL_INVALID', `${name}: ${rel}: ${key || '(root)'}: ${issue?.message ?? 'invalid'}`, key ? `${rel}: ${key}` : rel);
    }
    return parsed.data as z.infer<S>;
  };
  const file = (rel: string): string => {
    const p = path.join(root, rel);
    if (!existsSync(p)) throw new ModelError('MODEL_INVALID', `${name}: ${rel} is missing`, rel);
    return p;
  };

  const index = json('model_index.json', modelIndexSchema)!;
  const pipeline = PIPELINE_CLASSES[index._class_name];
  if (!pipeline) {
    throw new ModelError(
      'MODEL_INVALID',
      `${name}: model_index.json: _class_name "${index._class_name}" is not a pipeline we run; supported: ${Object.keys(PIPELINE_CLASSES).join(', ')}`,
      'model_index.json: _class_name',
    );
  }
  const unetPath = file('unet/model.onnx');
  const unetConfig = json('unet/config.json', unetConfigSchema)!;
  const vaePath = file('vae_decoder/model.onnx');
  const vaeConfig = json('vae_decoder/config.json', vaeConfigSchema, false);
  const schedulerConfig = json('scheduler/scheduler_config.json', z.looseObject({ _class_name: z.string() }))!;
  let scheduler;
  try {
    scheduler = schedulerConfigFromDiffusers(schedulerConfig).kind;
  } catch (cause) {
    if (!(cause instanceof SchedulerError)) throw cause;
    throw new ModelError('MODEL_INVALID', `${name}: ${cause.message}`, `scheduler/scheduler_config.json: ${cause.field}`, { cause });
  }

  const encoders: TextEncoderFiles[] = [];
  for (const [te, tok] of pipeline === 'sdxl' ? [['text_encoder', 'tokenizer'], ['text_encoder_2', 'tokenizer_2']] : [['text_encoder', 'tokenizer']]) {
    const p = file(`${te}/model.onnx`);
    const tokenizerDir = path.join(root, tok!);
    if (!existsSync(path.join(tokenizerDir, 'tokenizer.json'))) {
      for (const f of ['vocab.json', 'merges.txt']) file(`${tok}/${f}`);
    }
    file(`${tok}/tokenizer_config.json`);
    const cfg = json(`${te}/config.json`, textConfigSchema, false);
    encoders.push({ path: p, tokenizerDir, hiddenSize: cfg?.hidden_size, projectionDim: cfg?.projection_dim });
  }

  const sampleSize = Array.isArray(unetConfig.sample_size) ? unetConfig.sample_size[0] : unetConfig.sample_size;
  const crossAttentionDim = Array.isArray(unetConfig.cross_attention_dim) ? unetConfig.cross_attention_dim[0]! : unetConfig.cross_attention_dim;
  const latentMultiple = 2 ** (unetConfig.block_out_channels.length - 1);
  const scaleFactor = 2 ** ((vaeConfig?.block_out_channels?.length ?? 4) - 1);
  let textEmbedsDim: number | undefined;
  if (pipeline === 'sdxl') {
    const total = unetConfig.projection_class_embeddings_input_dim;
    const timeDim = unetConfig.addition_time_embed_dim;
    if (unetConfig.addition_embed_type !== 'text_time' || !total || !timeDim) {
      throw new ModelError('MODEL_INVALID', `${name}: unet/config.json: an SDXL UNet needs addition_embed_type "text_time" with addition_time_embed_dim and projection_class_embeddings_input_dim`, 'unet/config.json: addition_embed_type');
    }
    textEmbedsDim = total - 6 * timeDim;
  }
  const side = sampleSize * scaleFactor;
  const multiple = latentMultiple * scaleFactor;
  const min = Math.max(multiple, Math.floor(side / 4 / multiple) * multiple);
  return {
    format: 'diffusers',
    name,
    kind: 'image',
    pipeline,
    className: index._class_name,
    description: `${index._class_name} (ONNX), ${side}×${side} by default`,
    dir: root,
    version: hash.digest('hex').slice(0, 12),
    unet: { path: unetPath, sampleSize, inChannels: unetConfig.in_channels, crossAttentionDim, latentMultiple, textEmbedsDim },
    textEncoders: encoders,
    vae: { path: vaePath, scalingFactor: vaeConfig?.scaling_factor ?? 0.18215, scaleFactor },
    schedulerConfig,
    // StableDiffusionXLPipeline's constructor defaults it to true; SD pipelines have no such notion.
    forceZerosForEmptyPrompt: pipeline === 'sdxl' && (index.force_zeros_for_empty_prompt ?? true),
    defaults: { ...DEFAULTS[pipeline], scheduler, width: side, height: side, timeoutSec: JOB_TIMEOUT_SEC.max },
    resolution: { min, max: side * 2, multiple },
  };
}

/** The name a package folder is known by: its folder name, lower-cased, as a model name. */
export function packageName(dir: string): string {
  return path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
