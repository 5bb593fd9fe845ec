import './ort-env.js';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import type { Tensor } from 'onnxruntime-node';
import { SplitProfileError } from './errors.js';
import type { ExternalDataSource, OwnDataFile } from './external-data.js';
import { writeModelWithOwnData } from './external-data.js';
import type { GraphAnalysis } from './graph-analysis.js';
import { writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { sessionOptions, timeSessionsMs } from './profile.js';
import type { InputSpecs } from './random-feeds.js';
import { randomFeeds } from './random-feeds.js';
import type { StageLayout } from './stage-contents.js';
import type { ProbeResult } from './stage-probe.js';
import { probeChain } from './stage-probe.js';
import { buildStageModel } from './stage-writer.js';
import type { TensorType } from './tensor-types.js';

/** A probe child gets this long to load, warm up and time one stage. */
const PROBE_TIMEOUT_MS = 60 * 60 * 1000;

/** What writing and timing stages needs besides the layout. */
export interface StageTimingContext {
  readonly model: OnnxModel;
  readonly analysis: GraphAnalysis;
  readonly types: ReadonlyMap<string, TensorType>;
  readonly inputs: InputSpecs;
  /** Reads the source's external data (null for a self-contained model). */
  readonly source: ExternalDataSource | null;
  readonly settings: { readonly runs: number; readonly warmupRuns: number; readonly intraOpNumThreads: number };
}

/** Writes every stage of a layout at `pathOf(k)`, each with its own external data file when the source has external data. */
export async function writeStages(c: StageTimingContext, layout: StageLayout, pathOf: (stage: number) => string): Promise<OwnDataFile[]> {
  const written: OwnDataFile[] = [];
  for (const stage of layout.stages) {
    const model = buildStageModel(c.model, c.analysis, stage, c.types, layout.stages.length);
    if (c.source === null) {
      written.push({ dataFile: null, dataBytes: 0, graphBytes: await writeOnnxModel(pathOf(stage.index), model) });
    } else {
      written.push(await writeModelWithOwnData(model, pathOf(stage.index), c.source));
    }
  }
  return written;
}

/**
 * Times every written stage alone in ORT (full optimisation), round-robin in this process, plus the
 * full model when `fullModelPath` is given. Graph inputs are random values of the profile shapes;
 * boundary inputs are what the producing stage really outputs for them (one chained pass first),
 * so shape tensors crossing a cut hold real shapes. For small models only: every stage is loaded
 * here at once. Null when some graph input has no spec.
 */
export async function timeStagesInProcess(
  c: StageTimingContext,
  layout: StageLayout,
  pathOf: (stage: number) => string,
  fullModelPath?: string,
): Promise<{ stagesMs: number[]; fullModelMs: number | null } | null> {
  const graphFeeds = randomFeeds(c.inputs, 1);
  const produced = new Map<string, Tensor>();
  const models: { path: string; feeds: Record<string, Tensor> }[] = [];
  for (const stage of layout.stages) {
    const feeds: Record<string, Tensor> = {};
    for (const input of stage.inputs) {
      const value = input.kind === 'boundary' ? produced.get(input.name) : graphFeeds[input.name];
      if (value === undefined) return null;
      feeds[input.name] = value;
    }
    const outputs = await runOnce(pathOf(stage.index), feeds, c.settings.intraOpNumThreads);
    for (const o of stage.outputs) if (o.consumers.length > 0 && outputs[o.name]) produced.set(o.name, outputs[o.name] as Tensor);
    models.push({ path: pathOf(stage.index), feeds });
  }
  if (fullModelPath !== undefined) models.push({ path: fullModelPath, feeds: graphFeeds });
  const times = await timeSessionsMs(models, c.settings);
  return { stagesMs: times.slice(0, layout.stages.length), fullModelMs: fullModelPath === undefined ? null : (times.at(-1) as number) };
}

async function runOnce(path: string, feeds: Record<string, Tensor>, intraOpNumThreads: number): Promise<Record<string, Tensor>> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(path, sessionOptions(intraOpNumThreads, 'all'));
  } catch (cause) {
    throw new SplitProfileError(`cannot load ${path} in onnxruntime: ${String(cause)}`, { field: 'measureStages', cause });
  }
  try {
    return (await session.run(feeds)) as Record<string, Tensor>;
  } catch (cause) {
    throw new SplitProfileError(`running ${path} failed: ${String(cause)}`, { field: 'measureStages', cause });
  } finally {
    await session.release();
  }
}

/**
 * Loads and times each written stage alone in a fresh child process, one stage after another,
 * boundary tensors chained from the real outputs of the producing stage's child (see
 * `probeChain`), so no process ever holds more than one stage's weights. Null when some graph
 * input has no spec.
 */
export async function probeStages(c: StageTimingContext, layout: StageLayout, pathOf: (stage: number) => string): Promise<ProbeResult[] | null> {
  if (layout.stages.some((s) => s.inputs.some((i) => i.kind !== 'boundary' && c.inputs[i.name] === undefined))) return null;
  const probes = await probeChain(
    layout.stages.map((s) => ({ path: pathOf(s.index), inputs: s.inputs, outputs: s.outputs })),
    c.inputs,
    { ...c.settings, timeoutMs: PROBE_TIMEOUT_MS },
  );
  // The plan's boundary shapes come from shape inference: the real run must agree.
  for (const stage of layout.stages) {
    for (const output of stage.outputs) {
      const expected = c.types.get(output.name)?.dims;
      const seen = probes[stage.index]?.outputs[output.name]?.dims;
      if (expected && seen && JSON.stringify(expected) !== JSON.stringify(seen)) {
        throw new SplitProfileError(`stage ${stage.index} output ${output.name} has dims [${seen.join(', ')}] when run, but [${expected.join(', ')}] were inferred`, { field: 'inputs' });
      }
    }
  }
  return probes;
}

/** `<dir>/stage-<k>.onnx`. */
export function stageFileIn(dir: string): (stage: number) => string {
  return (stage) => join(dir, `stage-${stage}.onnx`);
}
