import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

import { contactSheet, encodeGif, encodePng, encodeVideo, ffmpegAvailable, framesOf, renderFrames, renderImage, type FrameInput } from '@asyncdiff/media';
import { findModelPackage, resolvePrompt, type ModelPackage } from '@asyncdiff/models';
import { SCHEDULER_KINDS, type SchedulerKind } from '@asyncdiff/schedulers';
import { Engine } from '@asyncdiff/stages';

import { boolFlag, choiceFlag, intFlag, numberFlag, parseFlags, requiredString, stringFlag } from '../args.js';
import { CliUsageError } from '../cli-error.js';
import { parallelFlagDefs, parallelFromFlags } from '../parallel-flags.js';
import { progressBar } from '../progress-bar.js';

export const generateHelp = `asyncdiff generate --model <name> --prompt <text> [flags]

  --model digits|moving-digits   which shipped model (see models/)
  --prompt <text>                a class of the model: 7, seven, "digit 7"
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
  --scale <int>                  nearest-neighbour upscale of the 16×16 output, 1 … 16 (default 8)
  --mode sequential|async        AsyncDiff (default when the cores allow) or the whole model on one device
  --stages <N> --stride <1|2> --warmup <W> --time-shift   AsyncDiff configuration (default N=2, stride 1, W=3)
  --json                         print a machine-readable summary with timings`;

interface Written {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** `asyncdiff generate`: local generation without Redis, straight to files. */
export async function generateCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const t0 = performance.now();
  const f = parseFlags(argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
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
  const modelName = requiredString(f, 'model', 'digits or moving-digits');
  let model: ModelPackage;
  try {
    model = findModelPackage(modelName);
  } catch (e) {
    throw new CliUsageError('--model', (e as Error).message);
  }
  const prompt = requiredString(f, 'prompt', `a class of ${model.name}, e.g. 7 or seven`);
  let classId: number;
  try {
    classId = resolvePrompt(model, prompt);
  } catch (e) {
    throw new CliUsageError('--prompt', (e as Error).message);
  }
  const seed = intFlag(f, 'seed', 0, 0, 4_294_967_295);
  const steps = intFlag(f, 'steps', model.defaults.steps, 1, 1000);
  const guidance = numberFlag(f, 'guidance', model.defaults.guidance, 0, 30);
  const scheduler = choiceFlag<SchedulerKind>(f, 'scheduler', SCHEDULER_KINDS, model.defaults.scheduler);
  const etaRaw = f.values['eta'];
  if (etaRaw !== undefined && scheduler !== 'ddim') throw new CliUsageError('--eta', '--eta applies only to --scheduler ddim');
  const eta = etaRaw === undefined ? undefined : numberFlag(f, 'eta', 0, 0, 1);
  const count = intFlag(f, 'count', 1, 1, 64);
  const scale = intFlag(f, 'scale', 8, 1, 16);
  const formats = await chooseFormats(model, f.values['format'], stringFlag(f, 'out'));
  const outDir = stringFlag(f, 'out-dir');
  if (outDir && f.values['out'] !== undefined) throw new CliUsageError('--out-dir', '--out-dir and --out are exclusive');
  if (model.kind === 'video' && count > 1 && !outDir) throw new CliUsageError('--count', 'several videos need --out-dir (a video grid is not supported)');
  const { parallel, note } = parallelFromFlags(f);
  if (note && !boolFlag(f, 'json')) process.stderr.write(`note: ${note}\n`);

  const loadStart = performance.now();
  const engine = await Engine.open({
    model,
    parallel,
    ...(parallel.mode === 'sequential' ? { runner: 'in-process' as const, intraOpThreads: availableParallelism() } : { wait: 'sync' as const }),
  });
  const modelLoadMs = performance.now() - loadStart;
  const bar = progressBar(`${model.name} "${prompt}"`);
  const stepMs: number[] = [];
  let result;
  try {
    result = await engine.generate({
      classIds: Array.from({ length: count }, () => classId),
      seed,
      steps,
      guidance,
      scheduler,
      ...(eta !== undefined ? { eta } : {}),
      onStep: (p) => {
        stepMs.push(p.stepMs);
        bar.update(p.step, p.steps);
      },
    });
  } finally {
    bar.end();
    await engine.close();
  }

  const encodeStart = performance.now();
  const items = framesOf(result.latents, count, model.sampleDims);
  const label = model.classes.find((c) => c.id === classId)?.label ?? String(classId);
  const stem = (i?: number): string => `${model.name}-${label}-seed${seed + (i ?? 0)}`;
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
  if (model.kind === 'image') {
    if (outDir) items.forEach((frames, i) => write(path.join(outDir, `${stem(i)}.png`), encodePng(renderImage(frames[0] as FrameInput, { scale }))));
    else if (count === 1) write(outFile('png'), encodePng(renderImage(items[0]![0] as FrameInput, { scale })));
    else write(outFile('png'), encodePng(contactSheet(items.map((fr) => fr[0] as FrameInput), { scale })));
  } else {
    for (const [i, frames] of items.entries()) {
      const rendered = renderFrames(frames, { scale });
      for (const fmt of formats) {
        const file = outDir ? path.join(outDir, `${stem(i)}.${fmt}`) : outFile(fmt);
        write(file, fmt === 'gif' ? encodeGif(rendered, { delayMs: 120 }) : await encodeVideo(rendered, { format: fmt as 'mp4' | 'webm', fps: 8 }));
      }
    }
  }
  const encodeMs = performance.now() - encodeStart;
  const sorted = [...stepMs].sort((a, b) => a - b);
  const summary = {
    model: model.name,
    prompt,
    classId,
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
      denoiseMs: round(result.totalMs),
      perStepMs: { mean: round(stepMs.reduce((a, b) => a + b, 0) / Math.max(1, stepMs.length)), p50: round(sorted[Math.floor(sorted.length / 2)] ?? 0), max: round(sorted[sorted.length - 1] ?? 0) },
      encodeMs: round(encodeMs),
      totalMs: round(performance.now() - t0),
    },
  };
  if (boolFlag(f, 'json')) out(JSON.stringify(summary, null, 2));
  else {
    for (const w of written) out(w.path);
    const mode = parallel.mode === 'async' ? `AsyncDiff N=${parallel.stages} stride ${parallel.stride} W=${parallel.warmup}` : 'sequential';
    process.stderr.write(`${mode}: ${result.steps} steps in ${summary.timings.denoiseMs} ms (${summary.timings.perStepMs.mean} ms/step), load ${summary.timings.modelLoadMs} ms, encode ${summary.timings.encodeMs} ms\n`);
  }
}

type Format = 'png' | 'gif' | 'mp4' | 'webm';

async function chooseFormats(model: ModelPackage, raw: string | boolean | undefined, out: string | undefined): Promise<Format[]> {
  const allowed: Format[] = model.kind === 'image' ? ['png'] : ['gif', 'mp4', 'webm'];
  const fromOut = out ? (path.extname(out).slice(1).toLowerCase() as Format) : undefined;
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !(allowed as string[]).includes(raw)) {
      throw new CliUsageError('--format', `--format for ${model.kind} models must be one of ${allowed.join(', ')}, got "${String(raw)}"`);
    }
    return [raw as Format];
  }
  if (fromOut) {
    if (!(allowed as string[]).includes(fromOut)) throw new CliUsageError('--out', `--out for ${model.kind} models must end in ${allowed.map((a) => `.${a}`).join(', ')}, got "${out}"`);
    return [fromOut];
  }
  if (model.kind === 'image') return ['png'];
  return (await ffmpegAvailable()) ? ['gif', 'mp4'] : ['gif'];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
