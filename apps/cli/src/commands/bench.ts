import { mkdirSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

import type { PhaseTimes } from '@asyncdiff/asyncdiff';
import { openEvaluator } from '@asyncdiff/eval';
import { findModelPackage, type ModelPackage } from '@asyncdiff/models';
import { Engine, classConditioning, denoiserOf, splitForModel } from '@asyncdiff/engine';
import { ProcessRunner, peakRss } from '@asyncdiff/stages';

import { boolFlag, intFlag, parseFlags, stringFlag } from '../args.js';
import { benchConfigs, type BenchConfig } from '../bench/configs.js';
import { measureDataParallel, type DataParallelResult } from '../bench/data-parallel.js';
import type { ConfigResult } from '../bench/result-types.js';
import { machineLine } from '../bench/machine.js';
import { renderEngineSection } from '../bench/render-engine.js';
import { replaceSection } from '../bench/sections.js';
import { median, quantile } from '../bench/stats.js';
import { measureQuality, type Quality } from '../quality/measure.js';
import { balancedClasses, generateSet, type SampleSet } from '../quality/sample-set.js';

export const benchHelp = `asyncdiff bench [flags]   (npm run bench)

Side by side in one run: sequential on one core, sequential on all cores, cfg (guidance halves
on two devices), every AsyncDiff configuration this machine's cores allow (N=2 with and without
linear staleness compensation, plus a warm-up sweep for N=2) and data-parallel throughput (one
sequential stage per core, all busy), 50 DDIM steps with classifier-free guidance. Latency is the median of repeated single-image runs, interleaved across
configurations; quality is measured over --per-class × 10 samples against the sequential output
of the same seeds. Writes a JSON file and the "engine" section of bench/RESULTS.md.

  --steps <T>            denoising steps (default 50)
  --repeats <n>          timed runs per configuration (default 9)
  --per-class <n>        quality samples per class (default 50 → 500 samples)
  --video-clips <n>      video quality clips (default 100; 0 skips the video rows)
  --warmups <w,…>        W sweep for N=2 (default 1,3,5,9)
  --oversubscribed       also run configurations with more devices than cores (marked)
  --skip-quality         latency, memory and profile only
  --results <file>       markdown file to update (default bench/RESULTS.md)
  --json <file>          raw results (default bench/out/engine.json)`;

/** `asyncdiff bench`: the AsyncDiff benchmark and quality evaluation of issue #3. */
export async function benchCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const f = parseFlags(argv, {
    steps: { type: 'string' },
    repeats: { type: 'string' },
    'per-class': { type: 'string' },
    'video-clips': { type: 'string' },
    warmups: { type: 'string' },
    oversubscribed: { type: 'boolean' },
    'skip-quality': { type: 'boolean' },
    results: { type: 'string' },
    json: { type: 'string' },
  });
  const steps = intFlag(f, 'steps', 50, 1, 1000);
  const repeats = intFlag(f, 'repeats', 9, 1, 1000);
  const perClass = intFlag(f, 'per-class', 50, 1, 1000);
  const videoClips = intFlag(f, 'video-clips', 100, 0, 10_000);
  const warmups = (stringFlag(f, 'warmups') ?? '1,3,5,9').split(',').map(Number);
  const resultsFile = stringFlag(f, 'results') ?? 'bench/RESULTS.md';
  const jsonFile = stringFlag(f, 'json') ?? 'bench/out/engine.json';
  const cores = availableParallelism();
  const started = new Date();
  const machine = machineLine();
  const log = (s: string): void => {
    process.stderr.write(`bench: ${s}\n`);
  };

  const image = findModelPackage('digits');
  const configs = benchConfigs(cores, boolFlag(f, 'oversubscribed'), warmups);
  log(`${configs.length} configurations on ${machine}`);
  const imageResults = await runModel(image, configs, { steps, repeats, samples: boolFlag(f, 'skip-quality') ? 0 : perClass, log });
  let dataParallel: { image?: DataParallelResult; video?: DataParallelResult } = {};
  if (cores >= 2) {
    log('digits: data-parallel throughput');
    dataParallel = { image: await measureDataParallel(image, cores, steps, repeats) };
  }

  let videoResults: ConfigResult[] = [];
  if (videoClips > 0 || boolFlag(f, 'skip-quality')) {
    const video = findModelPackage('moving-digits');
    const videoConfigs = configs.filter((c) => c.id === 'seq-1' || c.id === `seq-${cores}` || c.id === 'cfg' || c.id === 'N2S1W3' || c.id === 'N2S1W3-linear');
    videoResults = await runModel(video, videoConfigs, {
      steps,
      repeats: Math.max(3, Math.ceil(repeats / 2)),
      samples: boolFlag(f, 'skip-quality') ? 0 : Math.max(1, Math.round(videoClips / video.classes.length)),
      log,
    });
    if (cores >= 2) {
      log('moving-digits: data-parallel throughput');
      dataParallel = { ...dataParallel, video: await measureDataParallel(video, cores, steps, Math.max(3, Math.ceil(repeats / 2))) };
    }
  }
  const handoff = existsSync('bench/out/handoff.json') ? (JSON.parse(readFileSync('bench/out/handoff.json', 'utf8')) as unknown) : undefined;
  const report = { started: started.toISOString(), machine, steps, repeats, perClass, videoClips, image: imageResults, video: videoResults, dataParallel, handoff };
  mkdirSync(path.dirname(jsonFile), { recursive: true });
  writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  const md = renderEngineSection(report);
  replaceSection(resultsFile, 'engine', md);
  out(md);
  log(`wrote ${resultsFile} and ${jsonFile}`);
}

async function runModel(
  model: ModelPackage,
  configs: readonly BenchConfig[],
  o: { steps: number; repeats: number; samples: number; log: (s: string) => void },
): Promise<ConfigResult[]> {
  const batch = model.kind === 'video' ? 10 : 50;
  const engines = new Map<string, Engine>();
  const weightsKb = new Map<string, number[]>();
  try {
    for (const c of configs) {
      o.log(`${model.name}: opening ${c.label}`);
      const engine = await Engine.open({
        model,
        parallel: c.parallel,
        maxBatch: 2 * batch,
        ...(c.runner === 'in-process' ? { runner: 'in-process' as const, intraOpThreads: c.threads ?? 1 } : { devices: c.devices ?? [], wait: c.wait ?? 'sync' }),
      });
      engines.set(c.id, engine);
      weightsKb.set(c.id, c.parallel.stages > 1 ? (await splitForModel(await denoiserOf(model), c.parallel.stages)).split.stagePaths.map((p) => statSync(p).size / 1024) : [statSync(model.denoiserPath).size / 1024]);
      for (let i = 0; i < 2; i++) await engine.generate({ conditioning: classConditioning(model, [i % 10]), seed: 1000 + i, steps: o.steps }); // warm caches, configure stages
    }
    // Interleaved rounds: every configuration sees the same machine conditions.
    const runs = new Map<string, number[]>(configs.map((c) => [c.id, []]));
    const phases = new Map<string, PhaseTimes>();
    const before = new Map<string, { steps: number; stepUs: number; criticalSessionUs: number; handoffUs: number }>();
    for (const c of configs) {
      const r = engines.get(c.id)!.runner;
      if (r instanceof ProcessRunner) before.set(c.id, { steps: r.stats.steps, stepUs: r.stats.stepUs, criticalSessionUs: r.stats.criticalSessionUs, handoffUs: r.stats.handoffUs });
    }
    for (let rep = 0; rep < o.repeats; rep++) {
      for (const c of configs) {
        const engine = engines.get(c.id)!;
        const t0 = performance.now();
        const r = await engine.generate({ conditioning: classConditioning(model, [rep % model.classes.length]), seed: rep, steps: o.steps });
        runs.get(c.id)!.push(performance.now() - t0);
        phases.set(c.id, addPhases(phases.get(c.id), r.phases));
      }
      o.log(`${model.name}: round ${rep + 1}/${o.repeats}`);
    }
    const results: ConfigResult[] = [];
    let reference: SampleSet | undefined;
    const classIds = balancedClasses(model, o.samples);
    const evaluator = o.samples > 0 ? await openEvaluator(undefined, { intraOpThreads: availableParallelism() }) : undefined;
    try {
      for (const c of configs) {
        const engine = engines.get(c.id)!;
        const times = runs.get(c.id)!;
        let profile: ConfigResult['profile'];
        const runner = engine.runner;
        if (runner instanceof ProcessRunner) {
          const b = before.get(c.id)!;
          const stepsRun = runner.stats.steps - b.steps;
          const stepUs = (runner.stats.stepUs - b.stepUs) / stepsRun;
          const criticalSessionUs = (runner.stats.criticalSessionUs - b.criticalSessionUs) / stepsRun;
          const handoffUs = (runner.stats.handoffUs - b.handoffUs) / stepsRun;
          profile = { stepUs, criticalSessionUs, outsideShare: 1 - criticalSessionUs / stepUs, handoffUs, handoffShare: handoffUs / stepUs };
        }
        let quality: Quality | undefined;
        let qualityMs: number | undefined;
        if (evaluator && !(model.kind === 'video' && c.id.startsWith('seq-') && c.id !== 'seq-1')) {
          o.log(`${model.name}: quality of ${c.label} over ${classIds.length} samples`);
          const set = await generateSet(engine, classIds, { seedBase: 0, batch, steps: o.steps, guidance: model.defaults.guidance, scheduler: model.defaults.scheduler });
          if (c.id === 'seq-1') reference = set;
          quality = await measureQuality(evaluator, set, c.id === 'seq-1' ? undefined : reference);
          qualityMs = set.ms;
        }
        const stagePeakRssMb = runner instanceof ProcessRunner ? runner.pids.map((pid) => peakRss(pid) / 2 ** 20) : [peakRss() / 2 ** 20];
        results.push({
          config: c,
          latencyMs: { median: median(times), p10: quantile(times, 0.1), p90: quantile(times, 0.9), runs: times },
          phases: phases.get(c.id)!,
          ...(profile ? { profile } : {}),
          memory: { stagePeakRssMb, stageWeightsKb: weightsKb.get(c.id) ?? [] },
          ...(quality ? { quality, qualityMs: qualityMs ?? 0 } : {}),
        });
      }
    } finally {
      await evaluator?.close();
    }
    return results;
  } finally {
    for (const e of engines.values()) await e.close();
  }
}

function addPhases(a: PhaseTimes | undefined, b: PhaseTimes): PhaseTimes {
  if (!a) return structuredClone(b);
  for (const k of ['warmup', 'parallel', 'reuse'] as const) {
    a[k].steps += b[k].steps;
    a[k].runnerMs += b[k].runnerMs;
    a[k].samplerMs += b[k].samplerMs;
  }
  return a;
}
