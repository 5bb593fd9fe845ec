import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

import { Engine, TextToImage, classConditioning, openModelHost, samplingOf, type GenerateResult, type ResolvedParallel } from '@asyncdiff/engine';
import { encodeSamples, ffmpegAvailable, type EncodedFile } from '@asyncdiff/media';
import { findGenerator, imageSizeProblem, resolvePrompt, type DiffusersPackage, type GeneratorPackage } from '@asyncdiff/models';
import { SCHEDULER_KINDS, type SchedulerKind } from '@asyncdiff/schedulers';

import { boolFlag, choiceFlag, intFlag, numberFlag, parseFlags, requiredString, stringFlag, type ParsedFlags } from '../args.js';
import { CliUsageError } from '../cli-error.js';
import { parallelFlagDefs, parallelFromFlags } from '../parallel-flags.js';
import { progressBar } from '../progress-bar.js';

export const generateHelp = `asyncdiff generate --model <name|folder> --prompt <text> [flags]

  --model <name|folder>          a shipped model (digits, moving-digits), a package found in MODELS_DIR,
                                 or a folder: a diffusers ONNX export (optimum-cli export onnx) or ours
  --prompt <text>                text for Stable Diffusion packages ("a lighthouse at dusk");
                                 a class for ours: 7, seven, "digit 7"
  --negative-prompt <text>       what to steer away from (text models; default: none)
  --width <px> --height <px>     output size (text models; default: the package's, e.g. 512)
  --seed <int>                   0 … 4294967295 (default 0); image i of --count uses seed+i
  --steps <int>                  denoising steps, 1 … 1000 (default: the model's, 50)
  --guidance <number>            classifier-free guidance scale, 0 … 30 (default: the model's)
  --scheduler <name>             ${SCHEDULER_KINDS.join(' | ')} (default: the model's)
  --eta <number>                 DDIM η, 0 … 1 (default 0)
  --count <int>                  images to generate, 1 … 64 (default 1)
  --out <file>                   output file (a grid when --count > 1); .png for images,
                                 .gif/.mp4/.webm for video (default outputs/<model>-<prompt>-seed<seed>.<ext>)
  --out-dir <dir>                write --count separate files instead of a grid
  --format png|gif|mp4|webm      output format (video default: gif, plus mp4 when ffmpeg is on PATH)
  --scale <int>                  nearest-neighbour upscale, 1 … 16 (default 8 for the 16×16 models, 1 otherwise)
  --mode sequential|async|cfg|hybrid
                                 async: AsyncDiff (default when the cores allow); sequential: the whole model
                                 on one device; cfg: the guidance halves on two devices (exact); hybrid: cfg ×
                                 AsyncDiff on 2 × N devices
  --stages <N> --stride <1|2> --warmup <W> --time-shift   AsyncDiff configuration (default N=2, stride 1, W=3)
  --compensate <none|linear|quadratic>   staleness compensation of AsyncDiff's parallel steps: stale
                         boundary inputs extrapolated in the timestep (no extra network evaluation;
                         default linear, none = plain AsyncDiff)
  --json                         print a machine-readable summary with timings`;

interface Written {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** What one generation made, whichever kind of package ran it. */
interface Made {
  readonly result: GenerateResult;
  /** Pixels to encode and their per-item dims ([C,H,W] or [C,F,H,W]). */
  readonly data: Float32Array;
  readonly sampleDims: readonly number[];
  /** A short label of the prompt for file names. */
  readonly label: string;
  /** Extra summary fields (class id, truncation, size). */
  readonly details: Record<string, unknown>;
  readonly extraMs: Record<string, number>;
}

/** `asyncdiff generate`: local generation without Redis, straight to files. */
export async function generateCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const t0 = performance.now();
  const f = parseFlags(argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    'negative-prompt': { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    scheduler: { type: 'string' },
    eta: { type: 'string' },
    count: { type: 'string' },
    out: { type: 'string' },
    'out-dir': { type: 'string' },
    format: { type: 'string' },
    scale: { type: 'string' },
    json: { type: 'boolean' },
    ...parallelFlagDefs,
  });
  const modelName = requiredString(f, 'model', 'a model name (digits, moving-digits) or a package folder');
  let model: GeneratorPackage;
  try {
    model = findGenerator(modelName);
  } catch (e) {
    throw new CliUsageError('--model', (e as Error).message);
  }
  const diffusers = model.format === 'diffusers' ? model : undefined;
  const text = diffusers !== undefined;
  const prompt = requiredString(f, 'prompt', text ? 'a text prompt' : `a class of ${model.name}, e.g. 7 or seven`);
  for (const flag of ['negative-prompt', 'width', 'height'] as const) {
    if (!text && f.values[flag] !== undefined) throw new CliUsageError(`--${flag}`, `--${flag} applies only to text-to-image packages; ${model.name} is class-conditional`);
  }
  const defaults = samplingOf(model).defaults;
  const seed = intFlag(f, 'seed', 0, 0, 4_294_967_295);
  const steps = intFlag(f, 'steps', defaults.steps, 1, 1000);
  const guidance = numberFlag(f, 'guidance', defaults.guidance, 0, 30);
  const scheduler = choiceFlag<SchedulerKind>(f, 'scheduler', SCHEDULER_KINDS, defaults.scheduler);
  const etaRaw = f.values['eta'];
  if (etaRaw !== undefined && scheduler !== 'ddim') throw new CliUsageError('--eta', '--eta applies only to --scheduler ddim');
  const eta = etaRaw === undefined ? undefined : numberFlag(f, 'eta', 0, 0, 1);
  const count = intFlag(f, 'count', 1, 1, 64);
  const scale = intFlag(f, 'scale', text ? 1 : 8, 1, 16);
  const formats = await chooseFormats(model.kind, f.values['format'], stringFlag(f, 'out'));
  const outDir = stringFlag(f, 'out-dir');
  if (outDir && f.values['out'] !== undefined) throw new CliUsageError('--out-dir', '--out-dir and --out are exclusive');
  if (model.kind === 'video' && count > 1 && !outDir) throw new CliUsageError('--count', 'several videos need --out-dir (a video grid is not supported)');
  const { parallel, note } = parallelFromFlags(f);
  if (note && !boolFlag(f, 'json')) process.stderr.write(`note: ${note}\n`);
  const size = diffusers ? sizeFromFlags(f, diffusers) : undefined;

  const loadStart = performance.now();
  const engine = await Engine.open({
    model,
    parallel,
    ...(parallel.mode === 'sequential' ? { runner: 'in-process' as const, intraOpThreads: availableParallelism() } : { wait: 'sync' as const }),
  });
  const t2i = diffusers ? await TextToImage.open(engine, await openModelHost(diffusers, { kind: 'in-process', threads: availableParallelism() })) : undefined;
  const modelLoadMs = performance.now() - loadStart;
  const bar = progressBar(`${model.name} "${prompt.length > 40 ? `${prompt.slice(0, 37)}…` : prompt}"`);
  const stepMs: number[] = [];
  const common = {
    seed,
    steps,
    guidance,
    scheduler,
    ...(eta !== undefined ? { eta } : {}),
    onStep: (p: { stepMs: number; step: number; steps: number }) => {
      stepMs.push(p.stepMs);
      bar.update(p.step, p.steps);
    },
  };
  let made: Made;
  try {
    if (t2i && size) {
      const negative = stringFlag(f, 'negative-prompt');
      const r = await t2i.generate({ prompt, ...(negative !== undefined && { negativePrompt: negative }), count, ...size, ...common });
      if (r.truncation.prompt.truncated) process.stderr.write(`note: the prompt was truncated to 77 tokens; dropped: "${r.truncation.prompt.droppedText}"\n`);
      made = {
        result: r.generation,
        data: r.pixels,
        sampleDims: [3, r.height, r.width],
        label: slug(prompt),
        details: { negativePrompt: negative ?? null, width: r.width, height: r.height, truncation: r.truncation },
        extraMs: { textEncodeMs: round(r.encodeMs), vaeDecodeMs: round(r.decodeMs) },
      };
    } else {
      if (model.format !== 'asyncdiff') throw new Error('unreachable: text models run through TextToImage');
      let classId: number;
      try {
        classId = resolvePrompt(model, prompt);
      } catch (e) {
        throw new CliUsageError('--prompt', (e as Error).message);
      }
      const result = await engine.generate({ conditioning: classConditioning(model, Array.from({ length: count }, () => classId)), ...common });
      made = {
        result,
        data: result.latents,
        sampleDims: model.sampleDims,
        label: model.classes.find((c) => c.id === classId)?.label ?? String(classId),
        details: { classId },
        extraMs: {},
      };
    }
  } finally {
    bar.end();
    await t2i?.close();
    await engine.close();
  }

  const encodeStart = performance.now();
  const stem = (i?: number): string => `${model.name}-${made.label}-seed${seed + (i ?? 0)}`;
  const written: Written[] = [];
  const write = (file: string, bytes: Buffer): void => {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, bytes);
    written.push({ path: file, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  };
  const outFile = (ext: string): string => {
    const given = stringFlag(f, 'out');
    if (given) return path.extname(given) === `.${ext}` ? given : `${given.slice(0, given.length - path.extname(given).length)}.${ext}`;
    return path.join('outputs', `${stem()}.${ext}`);
  };
  // The GPU host's path to files: one per item (--out-dir or a single item), else one grid.
  const files: EncodedFile[] = [];
  for (const format of formats) {
    files.push(...(await encodeSamples({ data: made.data, items: count, sampleDims: made.sampleDims, format, scale, grid: !outDir && count > 1 })));
  }
  files.sort((a, b) => a.index - b.index); // item by item, formats in order (a stable sort)
  for (const file of files) write(outDir ? path.join(outDir, `${stem(file.index)}.${file.ext}`) : outFile(file.ext), file.body);
  const encodeMs = performance.now() - encodeStart;
  const sorted = [...stepMs].sort((a, b) => a - b);
  const { result } = made;
  const summary = {
    model: model.name,
    prompt,
    ...made.details,
    seed,
    count,
    steps: result.steps,
    guidance: result.guidance,
    scheduler: result.scheduler,
    parallel,
    outputs: written,
    restarts: result.restarts,
    timings: {
      modelLoadMs: round(modelLoadMs),
      ...made.extraMs,
      denoiseMs: round(result.totalMs),
      perStepMs: { mean: round(stepMs.reduce((a, b) => a + b, 0) / Math.max(1, stepMs.length)), p50: round(sorted[Math.floor(sorted.length / 2)] ?? 0), max: round(sorted[sorted.length - 1] ?? 0) },
      encodeMs: round(encodeMs),
      totalMs: round(performance.now() - t0),
    },
  };
  if (boolFlag(f, 'json')) out(JSON.stringify(summary, null, 2));
  else {
    for (const w of written) out(w.path);
    process.stderr.write(`${describeParallel(parallel)}: ${result.steps} steps in ${summary.timings.denoiseMs} ms (${summary.timings.perStepMs.mean} ms/step), load ${summary.timings.modelLoadMs} ms, encode ${summary.timings.encodeMs} ms\n`);
  }
}

function describeParallel(p: ResolvedParallel): string {
  switch (p.mode) {
    case 'async':
      return `AsyncDiff N=${p.stages} stride ${p.stride} W=${p.warmup}`;
    case 'hybrid':
      return `hybrid (cfg × AsyncDiff N=${p.stages} stride ${p.stride} W=${p.warmup})`;
    case 'cfg':
      return 'cfg (guidance halves on two devices)';
    case 'sequential':
      return 'sequential';
  }
}

/** --width/--height for a text model, checked against the package's size rule. */
function sizeFromFlags(f: ParsedFlags, model: DiffusersPackage): { width: number; height: number } {
  const width = intFlag(f, 'width', model.defaults.width, 1, 8192);
  const height = intFlag(f, 'height', model.defaults.height, 1, 8192);
  const bad = imageSizeProblem(model, width, height);
  if (bad) throw new CliUsageError(`--${bad.field}`, bad.message);
  return { width, height };
}

/** A file-name-safe short form of a text prompt. */
function slug(prompt: string): string {
  return (
    prompt
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/g, '') || 'prompt'
  );
}

type Format = 'png' | 'gif' | 'mp4' | 'webm';

async function chooseFormats(kind: GeneratorPackage['kind'], raw: string | boolean | undefined, out: string | undefined): Promise<Format[]> {
  const allowed: Format[] = kind === 'image' ? ['png'] : ['gif', 'mp4', 'webm'];
  const fromOut = out ? (path.extname(out).slice(1).toLowerCase() as Format) : undefined;
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !(allowed as string[]).includes(raw)) {
      throw new CliUsageError('--format', `--format for ${kind} models must be one of ${allowed.join(', ')}, got "${String(raw)}"`);
    }
    return [raw as Format];
  }
  if (fromOut) {
    if (!(allowed as string[]).includes(fromOut)) throw new CliUsageError('--out', `--out for ${kind} models must end in ${allowed.map((a) => `.${a}`).join(', ')}, got "${out}"`);
    return [fromOut];
  }
  if (kind === 'image') return ['png'];
  return (await ffmpegAvailable()) ? ['gif', 'mp4'] : ['gif'];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
