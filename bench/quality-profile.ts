/**
 * Where AsyncDiff's quality cost comes from on the shipped image model (N = 2, stride 1), the
 * profile behind the missed "Fréchet distance within 10% of sequential" target of issue #3:
 *
 * 1. Is the gap systematic? Sequential and AsyncDiff on the same seeds, over several disjoint
 *    seed sets (paired: the gap per set, not across sets).
 * 2. Does the cut position matter? Contiguous cuts at several points of the node order (the
 *    balanced cut among them), each measured against the sequential output of the same seeds.
 * 3. Does running the last K steps sequentially ("cool-down", not part of the paper) close it?
 *
 * Quality only: everything runs in this process with the in-process runner, which executes the
 * same plans as the stage processes to float tolerance (runner-exactness tests), so the numbers
 * do not depend on machine load. Writes the "quality-profile" section of bench/RESULTS.md.
 *
 *   npx tsx bench/quality-profile.ts [--per-class 50] [--seed-sets 4] [--cuts 0.12,0.25,…] [--cooldown 2,5,10,20]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { buildSchedule, sample, type PipelineSpec, type Schedule } from '@asyncdiff/asyncdiff';
import { openEvaluator } from '@asyncdiff/eval';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { classConditioning, denoiserOf, schedulerOptions, splitForModel, wholeModelPipeline } from '@asyncdiff/engine';
import { InProcessRunner } from '@asyncdiff/stages';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { measureQuality, type Quality } from '../apps/cli/src/quality/measure.js';
import { balancedClasses, type SampleSet } from '../apps/cli/src/quality/sample-set.js';

const { values } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '50' },
    'seed-sets': { type: 'string', default: '4' },
    cuts: { type: 'string', default: '0.12,0.25,0.5,0.62,0.68,0.77,0.83,0.89,0.95' },
    cooldown: { type: 'string', default: '2,5,10,20' },
  },
});
const perClass = Number(values['per-class']);
const seedSets = Number(values['seed-sets']);
const cutFractions = values.cuts.split(',').map(Number);
const cooldowns = values.cooldown.split(',').map(Number);

const STEPS = 50;
const WARMUP = 3;
const BATCH = 25;
const model = findModelPackage('digits');
const evaluator = await openEvaluator();
const classIds = balancedClasses(model, perClass);
const perSample = model.sampleDims.reduce((a, b) => a * b, 1);
const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', STEPS));
const started = new Date();
const machine = machineLine();

const sequential = buildSchedule({ steps: STEPS, stages: 1, stride: 1, warmup: STEPS, timeShift: false });
const asyncdiff = buildSchedule({ steps: STEPS, stages: 2, stride: 1, warmup: WARMUP, timeShift: false });

/** The AsyncDiff schedule with its last k steps replaced by sequential (warm-up style) steps. */
function withCooldown(k: number): Schedule {
  const seq = buildSchedule({ steps: STEPS, stages: 2, stride: 1, warmup: STEPS, timeShift: false });
  return { ...asyncdiff, steps: asyncdiff.steps.map((st, i) => (i >= STEPS - k ? seq.steps[i]! : st)) };
}

async function generate(pipeline: PipelineSpec, schedule: Schedule, seedBase: number): Promise<SampleSet> {
  const runner = await InProcessRunner.create(pipeline, { devices: schedule.devices });
  try {
    const latents = new Float32Array(classIds.length * perSample);
    for (let s = 0; s < classIds.length; s += BATCH) {
      const chunk = classIds.slice(s, s + BATCH);
      const r = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, chunk), seed: seedBase + s, guidance: model.defaults.guidance });
      latents.set(r.latents, s * perSample);
    }
    return { latents, classIds, seedBase, sampleDims: model.sampleDims, ms: 0 };
  } finally {
    await runner.close();
  }
}

const denoiser = await denoiserOf(model);
const whole = wholeModelPipeline(denoiser.path, denoiser.signature, denoiser.io);
const { pipeline: balanced, split } = await splitForModel(denoiser, 2);
const nodeOrder = Object.keys(split.plan.assignment.nodes);
const balancedCut = Object.values(split.plan.assignment.nodes).indexOf(1);
const fmt = (q: Quality, ref?: Quality): string =>
  `${(q.agreement * 100).toFixed(1)}% | ${q.frechet.toFixed(2)}${ref ? ` (${((q.frechet / ref.frechet - 1) * 100).toFixed(1)}%)` : ''} | ${q.psnrDb?.toFixed(2) ?? '–'} | ${q.ssim?.toFixed(3) ?? '–'}`;
const raw: Record<string, unknown>[] = [];

// 1. Paired seed sets.
const setRows: string[] = [];
let seq0: { set: SampleSet; q: Quality } | undefined;
for (let i = 0; i < seedSets; i++) {
  const seedBase = i * 1000;
  const ref = await generate(whole, sequential, seedBase);
  const set = await generate(balanced, asyncdiff, seedBase);
  const qs = await measureQuality(evaluator, ref);
  const qa = await measureQuality(evaluator, set, ref);
  if (i === 0) seq0 = { set: ref, q: qs };
  raw.push({ part: 'seed-set', seedBase, sequential: qs.frechet, asyncdiff: qa.frechet, psnrDb: qa.psnrDb });
  setRows.push(`| ${seedBase}…${seedBase + classIds.length - 1} | ${qs.frechet.toFixed(2)} | ${qa.frechet.toFixed(2)} | ${((qa.frechet / qs.frechet - 1) * 100).toFixed(1)}% | ${(qs.agreement * 100).toFixed(1)}% / ${(qa.agreement * 100).toFixed(1)}% | ${qa.psnrDb?.toFixed(2)} |`);
  process.stderr.write(`quality-profile: seed set ${i + 1}/${seedSets}\n`);
}
const ref0 = seq0!;

// 2. Cut positions (contiguous, by node order), the balanced cut included.
const cuts = [...new Set([...cutFractions.map((f) => Math.max(1, Math.min(nodeOrder.length - 1, Math.round(f * nodeOrder.length)))), balancedCut])].sort((a, b) => a - b);
const cutRows: string[] = [];
const firstCutWithSamples = new Map<string, number>();
for (const k of cuts) {
  const assignment = Object.fromEntries(nodeOrder.map((n, i) => [n, i < k ? 0 : 1]));
  const { pipeline, split: s } = k === balancedCut ? { pipeline: balanced, split } : await splitForModel(denoiser, 2, { assignment, cacheDir: 'bench/out/quality-profile-splits' });
  const set = await generate(pipeline, asyncdiff, 0);
  const q = await measureQuality(evaluator, set, ref0.set);
  const digest = createHash('sha256').update(new Uint8Array(set.latents.buffer, set.latents.byteOffset, set.latents.byteLength)).digest('hex');
  const same = firstCutWithSamples.get(digest);
  if (same === undefined) firstCutWithSamples.set(digest, k);
  const bytes = s.plan.boundaries.reduce((a, b) => a + (b.bytes ?? 0), 0);
  const slowest = s.plan.balance.measuredSlowestOverMean ?? s.plan.balance.slowestOverMean;
  raw.push({ part: 'cut', nodes: k, firstNodeOfStage1: nodeOrder[k], frechet: q.frechet, psnrDb: q.psnrDb, slowestOverMean: slowest, boundaryBytes: bytes, samplesSha256: digest });
  cutRows.push(`| ${k} / ${nodeOrder.length}${k === balancedCut ? ' (balanced)' : ''} | \`${nodeOrder[k]}\` | ${slowest.toFixed(2)} | ${s.plan.boundaries.length} (${Math.round(bytes / 1024)} KB) | ${fmt(q, ref0.q)} | ${same === undefined ? '' : `bit-identical to the ${same}-node cut`} |`);
  process.stderr.write(`quality-profile: cut ${k}\n`);
}

// 3. Cool-down.
const coolRows: string[] = [];
for (const k of [0, ...cooldowns]) {
  const q = await measureQuality(evaluator, await generate(balanced, withCooldown(k), 0), ref0.set);
  raw.push({ part: 'cooldown', steps: k, frechet: q.frechet, psnrDb: q.psnrDb });
  coolRows.push(`| ${k} | ${fmt(q, ref0.q)} |`);
  process.stderr.write(`quality-profile: cool-down ${k}\n`);
}

mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/quality-profile.json', JSON.stringify({ started: started.toISOString(), machine, perClass, raw }, null, 2));
const md = [
  '## Where the image model\'s quality cost comes from (`npx tsx bench/quality-profile.ts`)',
  '',
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. digits, N = 2, stride 1, W = ${WARMUP}, ${STEPS} DDIM steps, guidance ${model.defaults.guidance}; ${classIds.length} images per set (${perClass} per class), in-process runner (same plans and numbers as the stage processes; quality does not depend on load). Fréchet distance against 1,797 real digits; PSNR/SSIM against the sequential image of the same seed.`,
  '',
  '**Paired seed sets** — is the gap systematic?',
  '',
  '| seeds | sequential Fréchet | AsyncDiff Fréchet | gap | agreement seq / async | PSNR vs seq (dB) |',
  '|---|---:|---:|---:|---:|---:|',
  ...setRows,
  '',
  '**Cut position** (contiguous cuts by node order; seeds of the first set) — does where we cut matter?',
  '',
  '| nodes in stage 0 | first node of stage 1 | slowest/mean stage | boundary tensors | agreement | Fréchet (vs seq) | PSNR vs seq | SSIM vs seq | samples |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ...cutRows,
  '',
  '**Cool-down** (the last K steps sequential; not part of the paper) — does finishing sequentially close it?',
  '',
  '| K | agreement | Fréchet (vs seq) | PSNR vs seq | SSIM vs seq |',
  '|---:|---:|---:|---:|---:|',
  ...coolRows,
].join('\n');
replaceSection('bench/RESULTS.md', 'quality-profile', md);
process.stdout.write(`${md}\n`);
