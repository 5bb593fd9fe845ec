import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { analyticNodeCosts } from './analytic-costs.js';
import { ExternalDataSource, writeModelWithOwnData } from './external-data.js';
import type { GraphAnalysis } from './graph-analysis.js';
import type { ModelIdentity } from './model-identity.js';
import { hashJson } from './model-identity.js';
import { writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import type { NodeProfile } from './profile.js';
import { profileNodes } from './profile.js';
import { inferShapes } from './shape-inference.js';
import type { CostSource, SplitPlan } from './split-plan.js';
import type { ResolvedSplitModelOptions } from './split-options.js';
import { AUTO_FLOPS_MIN_WEIGHT_BYTES } from './split-options.js';
import type { ObservedType, TensorType } from './tensor-types.js';
import { resolveTensorTypes } from './tensor-types.js';

/** Bumped when the cached profile's content changes meaning. */
const PROFILE_CACHE_VERSION = 1;

/** Per-node costs and tensor types a split is computed from. */
export interface SplitCosts {
  readonly costSource: CostSource;
  readonly types: ReadonlyMap<string, TensorType>;
  /** Cost per node (index into `analysis.nodes`), in the unit of `costSource`. */
  readonly nodeCostMs: readonly number[];
  readonly profile: NodeProfile | null;
  readonly analytic: SplitPlan['analytic'];
}

/** The concrete cost source of a call: caller-given > analytic > profiled > 1 per node. */
export function chooseCostSource(o: ResolvedSplitModelOptions, identity: ModelIdentity): CostSource {
  if (o.nodeCostsMs) return 'given';
  if (o.costModel === 'flops') return 'flops';
  if (o.costModel === 'auto' && o.inputs !== null && identity.externalDataBytes >= AUTO_FLOPS_MIN_WEIGHT_BYTES) return 'flops';
  return o.profile ? 'profile' : 'uniform';
}

/**
 * Computes the costs and tensor types of a split. `flops`: shape inference at `inputs` and the
 * analytic model (no weights read, nothing run). `profile`: one ORT profile of the whole model
 * (cached per model, shapes and settings). `given`/`uniform`: the caller's numbers or 1 per node,
 * with types from declarations (plus ORT's profile or inferred shapes where available).
 */
export async function computeCosts(
  o: ResolvedSplitModelOptions,
  model: OnnxModel,
  analysis: GraphAnalysis,
  identity: ModelIdentity,
  costSource: CostSource,
): Promise<SplitCosts> {
  if (costSource === 'flops') {
    const inference = inferShapes(model, analysis, o.inputs ?? {});
    const types = resolveTensorTypes(model, analysis, inference.tensors);
    const costs = analyticNodeCosts(analysis, inference.tensors, o.analyticRates);
    return {
      costSource,
      types,
      nodeCostMs: costs.costMs,
      profile: null,
      analytic: {
        ...o.analyticRates,
        totalGflop: round(costs.totalFlops / 1e9),
        totalMovedGB: round(costs.totalBytes / 1e9),
        unknownCostNodes: costs.unknownNodes,
        unsupportedOps: inference.unsupportedOps,
      },
    };
  }
  const profile = o.profile ? await cachedProfile(o, model, analysis, identity) : null;
  const observed = profile ? new Map<string, ObservedType>(Object.entries(profile.tensors)) : null;
  const types = resolveTensorTypes(model, analysis, observed);
  const nodeCostMs = analysis.nodes.map((n) => {
    if (costSource === 'given') return o.nodeCostsMs?.[n.name] ?? 0;
    if (costSource === 'profile') return profile?.nodeMs[n.name] ?? 0;
    return n.opType === 'Constant' ? 0 : 1;
  });
  return { costSource, types, nodeCostMs, profile, analytic: null };
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
    // ORT reports kernels by node name: profile a copy whose nodes carry the generated names. It is
    // written in the cache dir (the model's folder may be read-only) with its own copy of any
    // external data, since ORT only follows external data inside the model file's directory.
    const names = new Map(analysis.nodes.map((n) => [n.sourceIndex, n.name]));
    const renamed: OnnxModel = { ...model, graph: { ...model.graph, node: (model.graph?.node ?? []).map((node, i) => ({ ...node, name: names.get(i) ?? node.name ?? '' })) } };
    await mkdir(o.cacheDir, { recursive: true });
    tempDir = await mkdtemp(join(o.cacheDir, '.profile-'));
    profilePath = join(tempDir, 'model.onnx');
    if (identity.externalData.length === 0) {
      await writeOnnxModel(profilePath, renamed);
    } else {
      const source = new ExternalDataSource(dirname(o.modelPath));
      try {
        await writeModelWithOwnData(renamed, profilePath, source);
      } finally {
        await source.close();
      }
    }
  }
  try {
    const profile = await profileNodes(profilePath, { ...settings, inputs: o.inputs ?? {}, nodes });
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(profile));
    return profile;
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
