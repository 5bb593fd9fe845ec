import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { searchBalancedCut } from './cut-search.js';
import { SplitError, SplitOptionsError } from './errors.js';
import type { GraphAnalysis } from './graph-analysis.js';
import { analyseGraph } from './graph-analysis.js';
import type { ModelIdentity } from './model-identity.js';
import { hashJson, modelIdentity } from './model-identity.js';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { buildPlan } from './plan-builder.js';
import type { LoadedSplitPlan } from './plan-file.js';
import { loadSplitPlan, PLAN_FILE_NAME } from './plan-file.js';
import type { NodeProfile } from './profile.js';
import { profileNodes } from './profile.js';
import type { CostSource } from './split-plan.js';
import { SPLIT_PLAN_VERSION } from './split-plan.js';
import type { ResolvedSplitModelOptions, SplitModelOptions } from './split-options.js';
import { resolveSplitModelOptions } from './split-options.js';
import type { StageLayout } from './stage-contents.js';
import { layoutStages, resolveAssignment } from './stage-contents.js';
import type { StageTimingContext } from './stage-timing.js';
import { stageFileIn, writeAndTimeStages } from './stage-timing.js';
import { resolveTensorTypes } from './tensor-types.js';

/** Result of {@link splitModel}: the plan, where it lives, and whether it came from the cache. */
export interface SplitResult extends LoadedSplitPlan {
  /** True when an existing split was returned without profiling or writing anything. */
  readonly fromCache: boolean;
}

/** Bumped when the cached profile's content changes meaning. */
const PROFILE_CACHE_VERSION = 1;

/**
 * Cuts a denoiser ONNX model into N stage graphs for AsyncDiff and writes them with a `plan.json`.
 * Latent-dependent nodes are split into N stages (balanced on ORT-measured cost, or as assigned);
 * conditioning subgraphs are replicated into every stage that needs them, so conditioning is
 * always computed fresh. Results are cached by model hash, N, assignment and input shapes; a
 * repeat call returns the cached plan without profiling.
 */
export async function splitModel(options: SplitModelOptions): Promise<SplitResult> {
  const o = resolveSplitModelOptions(options);
  const { model, bytes } = await readOnnxModel(o.modelPath);
  const identity = await modelIdentity(o.modelPath, bytes, model);
  const costSource: CostSource = o.nodeCostsMs ? 'given' : o.profile ? 'profile' : 'uniform';
  const assignmentHash = hashJson(o.assignment ?? 'auto');
  const key = hashJson({
    formatVersion: SPLIT_PLAN_VERSION,
    model: identity.sha256,
    stages: o.stages,
    latentInputs: o.latentInputs,
    assignment: assignmentHash,
    inputs: o.inputs,
    costSource,
    nodeCosts: o.nodeCostsMs ? hashJson(o.nodeCostsMs) : null,
    tolerance: o.balanceTolerance,
    ...(o.firstStageDelayMs > 0 && { firstStageDelayMs: o.firstStageDelayMs }),
    profileLevel: o.profile?.graphOptimizationLevel ?? null,
    profileThreads: o.profile?.intraOpNumThreads ?? null,
    measureStages: o.measureStages,
    calibrationRounds: o.measureStages && !o.assignment ? o.calibrationRounds : 0,
  }).slice(0, 24);
  const planDir = join(o.cacheDir, key);
  if (!o.force) {
    const cached = await loadCached(planDir, key, identity.sha256);
    if (cached) return { ...cached, fromCache: true };
  }

  const analysis = analyseGraph(model, { latentInputs: o.latentInputs });
  checkInputs(o, analysis);
  if (analysis.latentNodes.length < o.stages) {
    throw new SplitOptionsError('SPLIT_INVALID_STAGES', `stages is ${o.stages} but the graph has only ${analysis.latentNodes.length} latent-dependent node(s)`, {
      field: 'stages',
    });
  }
  const profile = o.profile ? await cachedProfile(o, model, analysis, identity) : null;
  const types = resolveTensorTypes(model, analysis, profile);
  const nodeCostMs = analysis.nodes.map((n) => {
    if (o.nodeCostsMs) return o.nodeCostsMs[n.name] ?? 0;
    if (profile) return profile.nodeMs[n.name] ?? 0;
    return n.opType === 'Constant' ? 0 : 1;
  });

  // Stages of a model with external data must sit in the model's directory: ORT refuses external
  // data paths that leave the directory of the model file naming them. Others live in the plan dir.
  const external = identity.externalData.length > 0;
  const modelDir = dirname(o.modelPath);
  const stem = basename(o.modelPath, extname(o.modelPath));
  const stagePath = (k: number): string => (external ? join(modelDir, `${stem}.split-${key}.stage-${k}.onnx`) : join(planDir, `stage-${k}.onnx`));

  await mkdir(o.cacheDir, { recursive: true });
  const workDir = await mkdtemp(join(o.cacheDir, `.${key}.tmp-`));
  const scratchFiles: string[] = [];
  try {
    const timing: StageTimingContext = { model, analysis, types, inputs: o.inputs ?? {}, settings: o.profile ?? { runs: 1, warmupRuns: 0, intraOpNumThreads: 1 } };
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
        calibrationRounds: o.measureStages ? o.calibrationRounds : 0,
        timeStages: async (candidate, round) => {
          const path = (k: number): string => {
            const file = external ? join(modelDir, `.${stem}.split-${key}.calibration-${round}.stage-${k}.onnx`) : join(workDir, `calibration-${round}.stage-${k}.onnx`);
            scratchFiles.push(file);
            return file;
          };
          return (await writeAndTimeStages(timing, candidate, path, true))?.stagesMs ?? null;
        },
      });
      ({ stageOf, layout } = search.best);
      optimalSlowestMs = search.profileOptimalSlowestMs;
    }
    for (const file of scratchFiles.splice(0)) await rm(file, { force: true });

    const writePath = external ? stagePath : stageFileIn(workDir);
    // Time the final stages (again, if calibration already did) together with the full model.
    const timed = await writeAndTimeStages(timing, layout, writePath, o.measureStages, o.modelPath);
    const measuredMs = timed?.stagesMs ?? null;
    const fullModelMeasuredMs = timed?.fullModelMs ?? null;

    const plan = buildPlan({ o, analysis, identity, types, nodeCostMs, stageOf, layout, key, costSource, assignmentHash, optimalSlowestMs, profile, measuredMs, fullModelMeasuredMs, planDir, stagePath });
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
    for (const file of scratchFiles) await rm(file, { force: true });
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Every used graph input needs a spec when profiling; specs must name graph inputs. */
function checkInputs(o: ResolvedSplitModelOptions, analysis: GraphAnalysis): void {
  if (o.inputs === null) return;
  for (const name of Object.keys(o.inputs)) {
    if (!analysis.graphInputs.includes(name)) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `inputs.${name}: the graph has no input "${name}" (inputs: ${analysis.graphInputs.join(', ')})`, {
        field: `inputs.${name}`,
      });
    }
  }
  if (o.profile === null) return;
  for (const name of [...analysis.latentInputs, ...analysis.conditioningInputs]) {
    if (o.inputs[name] === undefined) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `inputs.${name} is missing: profiling needs the shape and dtype of every graph input`, {
        field: `inputs.${name}`,
      });
    }
  }
}

/** Profiles the model once per (model, shapes, settings); splits with other N reuse the profile. */
async function cachedProfile(o: ResolvedSplitModelOptions, model: OnnxModel, analysis: GraphAnalysis, identity: ModelIdentity): Promise<NodeProfile> {
  const settings = o.profile as NonNullable<ResolvedSplitModelOptions['profile']>;
  const profileKey = hashJson({ v: PROFILE_CACHE_VERSION, model: identity.sha256, inputs: o.inputs, settings, latentInputs: o.latentInputs }).slice(0, 24);
  const file = join(o.cacheDir, 'profiles', `${profileKey}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as NodeProfile;
  } catch {
    // Not cached yet.
  }
  const nodes = analysis.nodes.map((n) => ({ name: n.name, outputs: n.proto.output ?? [] }));
  let profilePath = o.modelPath;
  let tempDir: string | null = null;
  if (analysis.renamedNodes) {
    // ORT reports kernels by node name: profile a copy whose nodes carry the generated names. A
    // model with external data must be copied next to its data files (ORT's path rule).
    const names = new Map(analysis.nodes.map((n) => [n.sourceIndex, n.name]));
    const renamed: OnnxModel = { ...model, graph: { ...model.graph, node: (model.graph?.node ?? []).map((node, i) => ({ ...node, name: names.get(i) ?? node.name ?? '' })) } };
    if (identity.externalData.length === 0) tempDir = await mkdtemp(join(tmpdir(), 'onnx-split-'));
    profilePath = join(tempDir ?? dirname(o.modelPath), `.onnx-split-profile-${process.pid}-${Date.now()}.onnx`);
    await writeOnnxModel(profilePath, renamed);
  }
  try {
    const profile = await profileNodes(profilePath, { ...settings, inputs: o.inputs ?? {}, nodes });
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    return profile;
  } finally {
    if (profilePath !== o.modelPath) await rm(profilePath, { force: true });
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
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
    return loaded;
  } catch (error) {
    if (error instanceof SplitError || (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
