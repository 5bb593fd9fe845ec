import './ort-env.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InferenceSession } from 'onnxruntime-node';
import type { Tensor } from 'onnxruntime-node';
import { SplitProfileError } from './errors.js';
import type { TensorDtype } from './onnx-types.js';
import { dtypeOfOrtTypeName } from './onnx-types.js';
import type { InputSpecs } from './random-feeds.js';
import { randomFeeds, validateInputSpecs } from './random-feeds.js';

/** ORT graph optimisation levels. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** Options of {@link profileNodes}. */
export interface ProfileNodesOptions {
  /** Input name → dtype and concrete dims to run the model on (the model's real serving shapes). */
  inputs: InputSpecs;
  /**
   * Profiled runs; the per-node cost is the median over them.
   * @defaultValue 10
   */
  runs?: number;
  /**
   * Unprofiled runs first (allocator and kernel warm-up).
   * @defaultValue 2
   */
  warmupRuns?: number;
  /**
   * ORT intra-op threads (a stage process usually gets a few cores; 1 gives the steadiest numbers).
   * @defaultValue 1
   */
  intraOpNumThreads?: number;
  /**
   * Optimisation level of the profiled session. At `disabled` every source node is its own kernel,
   * so every cost is attributed exactly; higher levels fuse nodes and the cost of fused kernels is
   * attributed heuristically (by name) and the rest spread proportionally.
   * @defaultValue 'disabled'
   */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * The graph's nodes (name and output names, `''` for an absent optional output), used to attribute
   * kernel times and name observed tensors. Without it every kernel is its own "node" and no tensor
   * is named.
   */
  nodes?: readonly ProfiledNodeRef[];
}

/** A node as {@link profileNodes} needs to know it. */
export interface ProfiledNodeRef {
  readonly name: string;
  readonly outputs: readonly string[];
}

/** Dtype and concrete dims of a tensor observed while profiling. */
export interface ObservedTensor {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
}

/** Per-node costs measured by {@link profileNodes}. */
export interface NodeProfile {
  /** Node name → median kernel time per run, in ms. */
  readonly nodeMs: Readonly<Record<string, number>>;
  /** Tensor name → dtype and dims, for every node output ORT reported. */
  readonly tensors: Readonly<Record<string, ObservedTensor>>;
  /** Median wall time of a whole profiled run, in ms. */
  readonly runMs: number;
  /** Median kernel time per run that could not be matched to a node (spread over the nodes), in ms. */
  readonly unattributedMs: number;
  readonly runs: number;
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

/**
 * Runs a model in ONNX Runtime with profiling on, on random inputs of the given shapes, and returns
 * each node's median kernel time plus the dtype/shape of every intermediate tensor. This is the
 * measured cost the balanced cut uses.
 */
export async function profileNodes(modelPath: string, options: ProfileNodesOptions): Promise<NodeProfile> {
  validateInputSpecs(options.inputs, 'profile.inputs');
  const level = options.graphOptimizationLevel ?? 'disabled';
  const threads = options.intraOpNumThreads ?? 1;
  const warmupRuns = options.warmupRuns ?? 2;
  const timed = summariseProfile(await profileEvents(modelPath, options.inputs, threads, level, warmupRuns + (options.runs ?? 10)), warmupRuns, options.nodes);
  if (level === 'disabled') return timed;
  // Optimised sessions report tensors in ORT's internal layouts (e.g. NCHWc blocks): take dtypes and
  // shapes from one unoptimised run instead.
  const shapes = summariseProfile(await profileEvents(modelPath, options.inputs, threads, 'disabled', 1), 0, options.nodes);
  return { ...timed, tensors: shapes.tensors };
}

async function profileEvents(
  modelPath: string,
  inputs: InputSpecs,
  intraOpNumThreads: number,
  level: GraphOptimizationLevel,
  runs: number,
): Promise<ProfileEvent[]> {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-split-profile-'));
  try {
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(modelPath, {
        ...sessionOptions(intraOpNumThreads, level),
        enableProfiling: true,
        profileFilePrefix: join(dir, 'ort'),
      });
    } catch (cause) {
      throw new SplitProfileError(`cannot load ${modelPath} in onnxruntime: ${String(cause)}`, { field: 'modelPath', cause });
    }
    const feeds = randomFeeds(inputs);
    try {
      for (let i = 0; i < runs; i++) await session.run(feeds);
    } catch (cause) {
      throw new SplitProfileError(`profiling run failed (check the input shapes): ${String(cause)}`, { field: 'inputs', cause });
    } finally {
      session.endProfiling();
      await session.release();
    }
    const file = (await readdir(dir)).find((f) => f.endsWith('.json'));
    if (file === undefined) throw new SplitProfileError('onnxruntime wrote no profile file', { field: 'profile' });
    return JSON.parse(await readFile(join(dir, file), 'utf8')) as ProfileEvent[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Turns ORT profile events into per-node medians (pure; exported for tests). */
export function summariseProfile(events: readonly ProfileEvent[], warmupRuns: number, nodes?: readonly ProfiledNodeRef[]): NodeProfile {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run' && e.ts !== undefined && e.dur !== undefined)
    .sort((a, b) => (a.ts as number) - (b.ts as number))
    .slice(warmupRuns);
  const byName = nodes ? new Map(nodes.map((n) => [n.name, n])) : undefined;
  const producerOf = new Map<string, string>();
  for (const n of nodes ?? []) for (const o of n.outputs) if (o !== '') producerOf.set(o, n.name);
  const attribute = (eventName: string): string | undefined => {
    if (byName === undefined || byName.has(eventName)) return eventName;
    // Fused kernels are named "<node>/<Fusion>/", NCHWc kernels "<output tensor>_nchwc".
    for (let cut = eventName.lastIndexOf('/'); cut > 0; cut = eventName.lastIndexOf('/', cut - 1)) {
      const prefix = eventName.slice(0, cut);
      if (byName.has(prefix)) return prefix;
    }
    return producerOf.get(eventName.replace(/_nchwc$/, ''));
  };

  const perRun = runs.map(() => new Map<string, number>());
  const unattributed = runs.map(() => 0);
  const tensors: Record<string, ObservedTensor> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.ts === undefined || e.dur === undefined) continue;
    const eventName = e.name.slice(0, -'_kernel_time'.length);
    const exact = byName?.get(eventName);
    if (exact) recordOutputs(exact, e.args?.output_type_shape ?? [], tensors);
    const run = runIndex(runs, e.ts);
    if (run < 0) continue;
    const node = attribute(eventName);
    if (node === undefined) {
      unattributed[run] = (unattributed[run] as number) + e.dur;
    } else {
      const map = perRun[run] as Map<string, number>;
      map.set(node, (map.get(node) ?? 0) + e.dur);
    }
  }
  const nodeMs: Record<string, number> = {};
  const names = new Set(perRun.flatMap((m) => [...m.keys()]));
  for (const name of names) nodeMs[name] = median(perRun.map((m) => m.get(name) ?? 0)) / 1000;
  const unattributedMs = median(unattributed) / 1000;
  const attributedMs = Object.values(nodeMs).reduce((a, b) => a + b, 0);
  if (unattributedMs > 0 && attributedMs > 0) {
    const scale = (attributedMs + unattributedMs) / attributedMs;
    for (const name of names) nodeMs[name] = (nodeMs[name] as number) * scale;
  }
  return { nodeMs, tensors, runMs: median(runs.map((r) => (r.dur as number) / 1000)), unattributedMs, runs: runs.length };
}

function recordOutputs(node: ProfiledNodeRef, shapes: readonly Record<string, number[]>[], into: Record<string, ObservedTensor>): void {
  // ORT lists the node's outputs in order; absent optional outputs may or may not be listed.
  const names = shapes.length === node.outputs.length ? node.outputs : node.outputs.filter((o) => o !== '');
  shapes.forEach((entry, k) => {
    const name = names[k];
    const [typeName, dims] = Object.entries(entry)[0] ?? [];
    const dtype = typeName === undefined ? undefined : dtypeOfOrtTypeName(typeName);
    if (name && dtype !== undefined && Array.isArray(dims)) into[name] = { dtype, dims };
  });
}

/**
 * Median wall time of `session.run` for each model, in ms. Sessions are loaded together and run
 * round-robin (one run of each per round), so load changes on a shared machine hit all of them alike.
 */
export async function timeSessionsMs(
  models: readonly { readonly path: string; readonly feeds: Record<string, Tensor> }[],
  options: { runs: number; warmupRuns: number; intraOpNumThreads: number },
): Promise<number[]> {
  const sessions: InferenceSession[] = [];
  try {
    for (const m of models) {
      try {
        sessions.push(await InferenceSession.create(m.path, sessionOptions(options.intraOpNumThreads, 'all')));
      } catch (cause) {
        throw new SplitProfileError(`cannot load ${m.path} in onnxruntime: ${String(cause)}`, { cause });
      }
    }
    const times = models.map((): number[] => []);
    for (let round = 0; round < options.warmupRuns + options.runs; round++) {
      for (const [k, session] of sessions.entries()) {
        const start = performance.now();
        try {
          await session.run((models[k] as { feeds: Record<string, Tensor> }).feeds);
        } catch (cause) {
          throw new SplitProfileError(`timing ${models[k]?.path} failed: ${String(cause)}`, { cause });
        }
        if (round >= options.warmupRuns) (times[k] as number[]).push(performance.now() - start);
      }
    }
    return times.map(median);
  } finally {
    for (const session of sessions) await session.release();
  }
}

/** ORT session options used for profiling and timing (sequential, fixed thread count). */
export function sessionOptions(intraOpNumThreads: number, graphOptimizationLevel: GraphOptimizationLevel): InferenceSession.SessionOptions {
  return { intraOpNumThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel };
}

function runIndex(runs: readonly ProfileEvent[], ts: number): number {
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i] as ProfileEvent;
    if (ts >= (r.ts as number) && ts <= (r.ts as number) + (r.dur as number)) return i;
  }
  return -1;
}

/** Median of a list (0 for an empty list). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
