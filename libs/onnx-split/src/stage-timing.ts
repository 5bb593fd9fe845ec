import { join } from 'node:path';
import type { GraphAnalysis } from './graph-analysis.js';
import { writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import type { Tensor } from 'onnxruntime-node';
import { timeSessionsMs } from './profile.js';
import type { InputSpec, InputSpecs } from './random-feeds.js';
import { randomFeeds } from './random-feeds.js';
import type { StageLayout } from './stage-contents.js';
import { buildStageModel } from './stage-writer.js';
import type { TensorType } from './tensor-types.js';

/** What timing stages needs besides the layout. */
export interface StageTimingContext {
  readonly model: OnnxModel;
  readonly analysis: GraphAnalysis;
  readonly types: ReadonlyMap<string, TensorType>;
  readonly inputs: InputSpecs;
  readonly settings: { readonly runs: number; readonly warmupRuns: number; readonly intraOpNumThreads: number };
}

/**
 * Writes each stage of a layout with `pathOf`, then (when `time`) times every stage alone in ORT
 * (full optimisation) on random inputs of the profile shapes, round-robin, plus the full model when
 * `fullModelPath` is given. Returns null when some boundary shape is unknown.
 */
export async function writeAndTimeStages(
  c: StageTimingContext,
  layout: StageLayout,
  pathOf: (stage: number) => string,
  time: boolean,
  fullModelPath?: string,
): Promise<{ stagesMs: number[]; fullModelMs: number | null } | null> {
  for (const stage of layout.stages) {
    await writeOnnxModel(pathOf(stage.index), buildStageModel(c.model, c.analysis, stage, c.types, layout.stages.length));
  }
  if (!time) return null;
  const models: { path: string; feeds: Record<string, Tensor> }[] = [];
  for (const stage of layout.stages) {
    const specs: Record<string, InputSpec> = {};
    for (const input of stage.inputs) {
      const given = c.inputs[input.name];
      const t = c.types.get(input.name);
      if (given) specs[input.name] = given;
      else if (t?.dims) specs[input.name] = { dtype: t.dtype, dims: t.dims };
      else return null;
    }
    models.push({ path: pathOf(stage.index), feeds: randomFeeds(specs, stage.index + 1) });
  }
  if (fullModelPath !== undefined) models.push({ path: fullModelPath, feeds: randomFeeds(c.inputs, 0) });
  const times = await timeSessionsMs(models, c.settings);
  return { stagesMs: times.slice(0, layout.stages.length), fullModelMs: fullModelPath === undefined ? null : (times.at(-1) as number) };
}

/** `<dir>/stage-<k>.onnx`. */
export function stageFileIn(dir: string): (stage: number) => string {
  return (stage) => join(dir, `stage-${stage}.onnx`);
}
