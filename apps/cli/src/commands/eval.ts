import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

import { formatPerClassTable, openEvaluator } from '@asyncdiff/eval';
import { contactSheet, encodeGif, encodePng, framesOf, type FrameInput } from '@asyncdiff/media';
import { findModelPackage, receiptKey, writeQualityReceipt, type ModelPackage, type QualityReceipt } from '@asyncdiff/models';
import { SCHEDULER_KINDS, type SchedulerKind } from '@asyncdiff/schedulers';
import { Engine, isStale, resolveParallel } from '@asyncdiff/engine';

import { boolFlag, choiceFlag, intFlag, parseFlags, requiredString, stringFlag } from '../args.js';
import { CliUsageError } from '../cli-error.js';
import { parallelFlagDefs, parallelFromFlags } from '../parallel-flags.js';
import { progressBar } from '../progress-bar.js';
import { measureQuality, type Quality } from '../quality/measure.js';
import { buildReceipt } from '../quality/receipt.js';
import { balancedClasses, generateSet } from '../quality/sample-set.js';

export const evalHelp = `asyncdiff eval --model <name> [flags]

Measures generation quality with the evaluation classifier (models/digits-eval): agreement with
the requested class per class, Fréchet distance to real digits, and — with --compare-sequential —
PSNR/SSIM against the sequential output of the same seeds. Video: per-frame agreement, temporal
consistency and motion of the digit.

  --model <name>            digits | moving-digits
  --per-class <n>           samples per class (default 50)
  --guidances <g,g,…>       guidance scales to measure (default: the model's)
  --steps <T> --scheduler <name> --seed-base <int> --batch <n>
  --mode/--stages/--stride/--warmup/--time-shift/--compensate   engine configuration (default sequential)
  --compare-sequential      also generate sequentially and report PSNR/SSIM against it
  --receipt                 (async/hybrid) also measure the sequential set of the same seeds and
                            write a quality receipt — Fréchet and agreement deltas, PSNR/SSIM vs
                            sequential, samples, date, this eval's settings — into
                            models/<name>/quality-receipts.json (one per mode/N/stride/W/time
                            shift/compensation), which GPU hosts copy into job.json and the
                            \`balanced\` budget reads; one guidance scale (default the model's)
  --card                    write the results into models/<name>/MODEL_CARD.md
  --grid <file>             also write a sample grid (8 rows × one column per class) at the
                            model's default guidance (else the first): .png for images, .gif for video
  --json                    machine-readable output`;

interface EvalRow {
  readonly guidance: number;
  readonly quality: Quality;
  readonly ms: number;
}

/** `asyncdiff eval`: the quality numbers of the model card and of the acceptance criteria. */
export async function evalCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const f = parseFlags(argv, {
    model: { type: 'string' },
    'per-class': { type: 'string' },
    guidances: { type: 'string' },
    steps: { type: 'string' },
    scheduler: { type: 'string' },
    'seed-base': { type: 'string' },
    batch: { type: 'string' },
    'compare-sequential': { type: 'boolean' },
    receipt: { type: 'boolean' },
    card: { type: 'boolean' },
    grid: { type: 'string' },
    json: { type: 'boolean' },
    ...parallelFlagDefs,
  });
  let model: ModelPackage;
  try {
    model = findModelPackage(requiredString(f, 'model', 'digits or moving-digits'));
  } catch (e) {
    throw new CliUsageError('--model', (e as Error).message);
  }
  const perClass = intFlag(f, 'per-class', 50, 1, 10_000);
  const steps = intFlag(f, 'steps', model.defaults.steps, 1, 1000);
  const scheduler = choiceFlag<SchedulerKind>(f, 'scheduler', SCHEDULER_KINDS, model.defaults.scheduler);
  const seedBase = intFlag(f, 'seed-base', 0, 0, 2 ** 32 - 1);
  const batch = intFlag(f, 'batch', model.kind === 'video' ? 10 : 50, 1, 16);
  const guidances = parseGuidances(stringFlag(f, 'guidances'), model.defaults.guidance);
  const parallel = f.values['mode'] === undefined ? resolveParallel({ mode: 'sequential' }) : parallelFromFlags(f).parallel;
  const wantReceipt = boolFlag(f, 'receipt');
  if (wantReceipt && !isStale(parallel.mode)) throw new CliUsageError('--receipt', `--receipt measures a stale-feature mode (--mode async or hybrid); ${parallel.mode} is exact (same output as sequential)`);
  if (wantReceipt && guidances.length !== 1) throw new CliUsageError('--receipt', '--receipt measures one guidance scale; give --guidances one value (default: the model\'s)');
  const classIds = balancedClasses(model, perClass);
  const evaluator = await openEvaluator(undefined, { intraOpThreads: availableParallelism() });
  const open = (p: typeof parallel): Promise<Engine> =>
    Engine.open({ model, parallel: p, maxBatch: 2 * batch, ...(p.mode === 'sequential' ? { runner: 'in-process' as const, intraOpThreads: availableParallelism() } : { wait: 'sync' as const }) });
  const rows: EvalRow[] = [];
  let receipt: QualityReceipt | undefined;
  try {
    const engine = await open(parallel);
    const seqEngine = (boolFlag(f, 'compare-sequential') || wantReceipt) && parallel.mode !== 'sequential' ? await open(resolveParallel({ mode: 'sequential' })) : undefined;
    try {
      for (const guidance of guidances) {
        const bar = progressBar(`${model.name} guidance ${guidance}`);
        const opts = { seedBase, batch, steps, guidance, scheduler, onBatch: (d: number, t: number) => bar.update(d, t) };
        const set = await generateSet(engine, classIds, opts);
        const ref = seqEngine ? await generateSet(seqEngine, classIds, opts) : undefined;
        bar.end();
        const quality = await measureQuality(evaluator, set, ref);
        rows.push({ guidance, quality, ms: set.ms });
        if (wantReceipt && ref) {
          const command = `asyncdiff eval ${argv.join(' ')}`;
          receipt = buildReceipt(model, parallel, quality, await measureQuality(evaluator, ref), { steps, scheduler, guidance, perClass, seedBase, batch }, command);
        }
        const gridFile = stringFlag(f, 'grid');
        const gridGuidance = guidances.includes(model.defaults.guidance) ? model.defaults.guidance : guidances[0];
        if (gridFile && guidance === gridGuidance) writeGrid(gridFile, model, set.latents, classIds.length);
      }
    } finally {
      await engine.close();
      await seqEngine?.close();
    }
  } finally {
    await evaluator.close();
  }
  const header = `${model.name}: ${perClass} per class × ${model.classes.length} classes, ${steps} ${scheduler} steps, seeds ${seedBase}…${seedBase + classIds.length - 1}, ${describe(parallel)}`;
  if (boolFlag(f, 'json')) {
    out(JSON.stringify({ model: model.name, perClass, steps, scheduler, seedBase, parallel, rows, ...(receipt && { receipt }) }, null, 2));
  } else {
    out(header);
    out(renderRows(model, rows));
    const best = rows.find((r) => r.guidance === model.defaults.guidance) ?? rows[0];
    if (best) out(`\nper class at guidance ${best.guidance}:\n${formatPerClassTable(best.quality.perClass)}`);
  }
  if (boolFlag(f, 'card')) writeCard(model, header, rows);
  if (receipt) {
    writeQualityReceipt(model.dir, model.name, receipt);
    const r = receipt;
    const msg = `receipt ${receiptKey(r.config)} → ${path.join(model.dir, 'quality-receipts.json')}: Fréchet ${r.frechet.sequential.toFixed(2)} → ${r.frechet.mode.toFixed(2)} (${(r.frechet.relative * 100).toFixed(1)}%), agreement ${(r.agreement.delta * 100).toFixed(1)} points, PSNR ${r.psnrDb.toFixed(2)} dB, SSIM ${r.ssim.toFixed(3)}, ${r.samples} samples`;
    if (boolFlag(f, 'json')) process.stderr.write(`${msg}\n`);
    else out(msg);
  }
}

/** The first 8 samples of every class as a grid (balancedClasses interleaves classes, so the
 * first 8 × classes samples are 8 rows of one sample per class). */
function writeGrid(file: string, model: ModelPackage, latents: Float32Array, count: number): void {
  const columns = model.classes.length;
  const take = Math.min(count, 8 * columns);
  const items = framesOf(latents.subarray(0, take * model.sampleDims.reduce((a, b) => a * b, 1)), take, model.sampleDims);
  const sheet = (frame: number): ReturnType<typeof contactSheet> => contactSheet(items.map((fr) => fr[frame] as FrameInput), { columns, scale: 4, gapPx: 1, background: 64 });
  if (model.kind === 'image') writeFileSync(file, encodePng(sheet(0)));
  else writeFileSync(file, encodeGif(Array.from({ length: model.frames }, (_, i) => sheet(i)), { delayMs: 120 }));
}

function describe(p: ReturnType<typeof resolveParallel>): string {
  if (p.mode === 'sequential' || p.mode === 'cfg') return p.mode === 'cfg' ? 'cfg (guidance halves on two devices)' : 'sequential';
  return `${p.mode === 'hybrid' ? 'hybrid cfg × ' : ''}AsyncDiff N=${p.stages} stride ${p.stride} W=${p.warmup}${p.timeShift ? ' time-shift' : ''}${p.compensation !== 'none' ? ` ${p.compensation} compensation` : ''}`;
}

function parseGuidances(raw: string | undefined, fallback: number): number[] {
  if (raw === undefined) return [fallback];
  const vals = raw.split(',').map((s) => Number(s.trim()));
  if (vals.length === 0 || vals.some((v) => !Number.isFinite(v) || v < 0 || v > 30)) {
    throw new CliUsageError('--guidances', `--guidances must be a comma-separated list of numbers in 0 … 30, got "${raw}"`);
  }
  return vals;
}

function renderRows(model: ModelPackage, rows: readonly EvalRow[]): string {
  const video = model.kind === 'video';
  const head = video
    ? '| guidance | per-frame agreement | Fréchet distance (frames) | temporal SSIM | motion (px) | PSNR vs seq | SSIM vs seq |\n|---:|---:|---:|---:|---:|---:|---:|'
    : '| guidance | agreement | Fréchet distance | PSNR vs seq | SSIM vs seq |\n|---:|---:|---:|---:|---:|';
  const fmt = (x: number | undefined, d = 2): string => (x === undefined ? '–' : x.toFixed(d));
  return [
    head,
    ...rows.map((r) => {
      const q = r.quality;
      return video
        ? `| ${r.guidance} | ${(q.agreement * 100).toFixed(1)}% | ${fmt(q.frechet)} | ${fmt(q.temporalSsim, 3)} | ${fmt(q.motionPx)} | ${fmt(q.psnrDb)} | ${fmt(q.ssim, 3)} |`
        : `| ${r.guidance} | ${(q.agreement * 100).toFixed(1)}% | ${fmt(q.frechet)} | ${fmt(q.psnrDb)} | ${fmt(q.ssim, 3)} |`;
    }),
  ].join('\n');
}

const BEGIN = '<!-- eval:begin (written by `asyncdiff eval --card`) -->';
const END = '<!-- eval:end -->';

function writeCard(model: ModelPackage, header: string, rows: readonly EvalRow[]): void {
  const file = path.join(model.dir, 'MODEL_CARD.md');
  const best = rows.find((r) => r.guidance === model.defaults.guidance) ?? rows[0];
  const body = [
    BEGIN,
    `Measured ${new Date().toISOString().slice(0, 10)} with the shipped TypeScript pipeline: ${header}.`,
    '',
    renderRows(model, rows),
    '',
    best ? `Per class at the shipped default guidance ${best.guidance}${model.kind === 'video' ? ' (per frame)' : ''}:\n\n${formatPerClassTable(best.quality.perClass)}` : '',
    END,
  ].join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `# ${model.name}\n\n`;
  const next = text.includes(BEGIN) ? text.replace(new RegExp(`${escape(BEGIN)}[\\s\\S]*?${escape(END)}`), body) : `${text.trimEnd()}\n\n## Evaluation\n\n${body}\n`;
  writeFileSync(file, next);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
