import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { searchBalancedCut } from './cut-search.js';
import { SplitCacheError, SplitError, SplitOptionsError } from './errors.js';
import { ExternalDataSource } from './external-data.js';
import type { GraphAnalysis } from './graph-analysis.js';
import { analyseGraph } from './graph-analysis.js';
import { hashJson, modelIdentity } from './model-identity.js';
import { readOnnxModel } from './onnx-io.js';
import type { StageMeasurements } from './plan-builder.js';
import { buildPlan } from './plan-builder.js';
import type { LoadedSplitPlan } from './plan-file.js';
import { loadSplitPlan, PLAN_FILE_NAME } from './plan-file.js';
import { chooseCostSource, computeCosts } from './split-costs.js';
import type { CostSource } from './split-plan.js';
import { SPLIT_PLAN_VERSION } from './split-plan.js';
import type { ResolvedSplitModelOptions, SplitModelOptions } from './split-options.js';
import { AUTO_FLOPS_MIN_WEIGHT_BYTES, resolveSplitModelOptions } from './split-options.js';
import type { StageLayout } from './stage-contents.js';
import { layoutStages, resolveAssignment } from './stage-contents.js';
import type { StageTimingContext } from './stage-timing.js';
import { probeStages, stageFileIn, timeStagesInProcess, writeStages } from './stage-timing.js';

/** Result of {@link splitModel}: the plan, where it lives, and whether it came from the cache. */
export interface SplitResult extends LoadedSplitPlan {
  /** True when an existing split was returned without profiling or writing anything. */
  readonly fromCache: boolean;
}

/**
 * Cuts a denoiser ONNX model into N stage graphs for AsyncDiff and writes them with a `plan.json`.
 * Latent-dependent nodes are split into N stages (balanced on per-node cost, or as assigned);
 * conditioning subgraphs are replicated into every stage that needs them, so conditioning is
 * always computed fresh. Each stage of a model with external data gets its own data file holding
 * only its initializers, streamed from the source's data (the splitter never holds the weights).
 * Results are cached by model content hash, N, assignment and input shapes in
 * `<cacheDir>/<key>/`; a repeat call returns the cached plan without profiling.
 */
export async function splitModel(options: SplitModelOptions): Promise<SplitResult> {
  const o = resolveSplitModelOptions(options);
  const { model, bytes } = await readOnnxModel(o.modelPath);
  const identity = await modelIdentity(o.modelPath, bytes, model, join(o.cacheDir, 'data-hashes'));
  const costSource = chooseCostSource(o, identity);
  // Big models are timed stage by stage in child processes; small ones all here, with the full model.
  const inChildren = costSource === 'flops' || identity.externalDataBytes >= AUTO_FLOPS_MIN_WEIGHT_BYTES;
  const measure = o.measureStages ?? (o.profile !== null && costSource !== 'flops');
  const assignmentHash = hashJson(o.assignment ?? 'auto');
  const key = splitKey(o, identity.sha256, costSource, assignmentHash, measure);
  const planDir = join(o.cacheDir, key);
  if (!o.force) {
    const cached = await loadCached(planDir, key, identity.sha256);
    if (cached) return { ...cached, fromCache: true };
  }

  const analysis = analyseGraph(model, { latentInputs: o.latentInputs });
  checkInputs(o, analysis, costSource);
  if (analysis.latentNodes.length < o.stages) {
    throw new SplitOptionsError('SPLIT_INVALID_STAGES', `stages is ${o.stages} but the graph has only ${analysis.latentNodes.length} latent-dependent node(s)`, {
      field: 'stages',
    });
  }
  const costs = await computeCosts(o, model, analysis, identity, costSource);
  const { types, nodeCostMs } = costs;

  const workDir = await makeWorkDir(o.cacheDir, key);
  const source = identity.externalData.length > 0 ? new ExternalDataSource(dirname(o.modelPath)) : null;
  try {
    const settings = o.profile ?? { runs: 1, warmupRuns: 0, intraOpNumThreads: 1 };
    const timing: StageTimingContext = { model, analysis, types, inputs: o.inputs ?? {}, source, settings };
    const measureLayout = async (layout: StageLayout, pathOf: (k: number) => string, withFullModel: boolean): Promise<StageMeasurements | null> => {
      if (inChildren) {
        const probes = await probeStages(timing, layout, pathOf);
        return probes && { runMs: probes.map((p) => p.runMs), loadMs: probes.map((p) => p.loadMs), peakRssBytes: probes.map((p) => p.peakRssBytes), fullModelMs: null };
      }
      const timed = await timeStagesInProcess(timing, layout, pathOf, withFullModel ? o.modelPath : undefined);
      return timed && { runMs: timed.stagesMs, loadMs: null, peakRssBytes: null, fullModelMs: timed.fullModelMs };
    };

    let stageOf: ReadonlyMap<number, number>;
    let layout: StageLayout;
    let optimalSlowestMs: number | null = null;
    if (o.assignment) {
      stageOf = resolveAssignment(analysis, o.assignment, o.stages);
      layout = layoutStages(analysis, stageOf, o.stages);
    } else {
      const search = await searchBalancedCut({
        analysis,
        types,
        nodeCostMs,
        stages: o.stages,
        tolerance: o.balanceTolerance,
        firstStageDelayMs: o.firstStageDelayMs,
        calibrationRounds: measure ? o.calibrationRounds : 0,
        maxStageWeightBytes: maxStageWeightBytes(o, analysis),
        timeStages: async (candidate, round) => {
          const dir = join(workDir, `calibration-${round}`);
          await mkdir(dir);
          try {
            await writeStages(timing, candidate, stageFileIn(dir));
            return (await measureLayout(candidate, stageFileIn(dir), false))?.runMs ?? null;
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      });
      ({ stageOf, layout } = search.best);
      optimalSlowestMs = search.profileOptimalSlowestMs;
    }

    const files = await writeStages(timing, layout, stageFileIn(workDir));
    // Time the final stages (again, if calibration already did), with the full model when in-process.
    const measured = measure ? await measureLayout(layout, stageFileIn(workDir), true) : null;

    const plan = buildPlan({ o, analysis, identity, costs, stageOf, layout, key, assignmentHash, optimalSlowestMs, measured, inChildren, files });
    await writeFile(join(workDir, PLAN_FILE_NAME), `${JSON.stringify(plan, null, 2)}\n`);
    await rm(planDir, { recursive: true, force: true });
    try {
      await rename(workDir, planDir);
    } catch (error) {
      // Another process finished the same split first: use theirs.
      const theirs = await loadCached(planDir, key, identity.sha256);
      if (theirs) return { ...theirs, fromCache: false };
      throw error;
    }
    return { ...(await loadSplitPlan(planDir)), fromCache: false };
  } finally {
    await source?.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The cache key: everything that changes the split or what its plan records. */
function splitKey(o: ResolvedSplitModelOptions, modelSha256: string, costSource: CostSource, assignmentHash: string, measure: boolean): string {
  return hashJson({
    formatVersion: SPLIT_PLAN_VERSION,
    model: modelSha256,
    stages: o.stages,
    latentInputs: o.latentInputs,
    assignment: assignmentHash,
    inputs: o.inputs,
    costSource,
    nodeCosts: o.nodeCostsMs ? hashJson(o.nodeCostsMs) : null,
    analyticRates: costSource === 'flops' ? o.analyticRates : undefined,
    tolerance: o.balanceTolerance,
    ...(o.maxStageWeightShare !== null && !o.assignment && { maxStageWeightShare: o.maxStageWeightShare }),
    ...(o.firstStageDelayMs > 0 && { firstStageDelayMs: o.firstStageDelayMs }),
    profileLevel: o.profile?.graphOptimizationLevel ?? null,
    profileThreads: o.profile?.intraOpNumThreads ?? null,
    measureStages: measure,
    calibrationRounds: measure && !o.assignment ? o.calibrationRounds : 0,
  }).slice(0, 24);
}

/** The weight cap in bytes: a share of every initializer the live graph reads. */
function maxStageWeightBytes(o: ResolvedSplitModelOptions, analysis: GraphAnalysis): number | null {
  if (o.maxStageWeightShare === null) return null;
  let total = 0;
  for (const info of analysis.initializers.values()) total += info.bytes;
  return o.maxStageWeightShare * total;
}

/** A fresh scratch dir inside the cache dir (renamed into place when the split is complete). */
async function makeWorkDir(cacheDir: string, key: string): Promise<string> {
  try {
    await mkdir(cacheDir, { recursive: true });
    return await mkdtemp(join(cacheDir, `.${key}.tmp-`));
  } catch (cause) {
    throw new SplitCacheError(`cacheDir ${cacheDir} cannot be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)}); pass a writable cacheDir (e.g. when the model folder is read-only)`, {
      field: 'cacheDir',
      cause,
    });
  }
}

/** Input specs must name graph inputs; profiling and the analytic model need every used one. */
function checkInputs(o: ResolvedSplitModelOptions, analysis: GraphAnalysis, costSource: CostSource): void {
  if (o.inputs === null) return;
  for (const name of Object.keys(o.inputs)) {
    if (!analysis.graphInputs.includes(name)) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `inputs.${name}: the graph has no input "${name}" (inputs: ${analysis.graphInputs.join(', ')})`, {
        field: `inputs.${name}`,
      });
    }
  }
  if (o.profile === null && costSource !== 'flops') return;
  for (const name of [...analysis.latentInputs, ...analysis.conditioningInputs]) {
    if (o.inputs[name] === undefined) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `inputs.${name} is missing: ${costSource === 'flops' ? 'the analytic cost model' : 'profiling'} needs the shape and dtype of every graph input`, {
        field: `inputs.${name}`,
      });
    }
  }
}

/** A cached split, if its plan is valid, matches the key and model, and every stage file exists. */
async function loadCached(planDir: string, key: string, modelSha256: string): Promise<LoadedSplitPlan | null> {
  try {
    await stat(join(planDir, PLAN_FILE_NAME));
  } catch {
    return null;
  }
  try {
    const loaded = await loadSplitPlan(planDir);
    if (loaded.plan.key !== key || loaded.plan.source.modelSha256 !== modelSha256) return null;
    for (const path of loaded.stagePaths) await stat(path);
    for (const stage of loaded.plan.stages) {
      if (stage.dataFile !== null && (await stat(join(planDir, stage.dataFile))).size !== stage.dataBytes) return null;
    }
    return loaded;
  } catch (error) {
    if (error instanceof SplitError || (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
