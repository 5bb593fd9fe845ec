import { join } from 'node:path';
import type { GraphAnalysis } from './graph-analysis.js';
import { writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { timeSessionMs } from './profile.js';
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
 * Writes each stage of a layout to `dir` as `stage-<k>.onnx` and times it alone in ORT (full
 * optimisation) on random inputs of the profile shapes. Returns the file paths, and the median
 * run times in ms (null when some boundary shape is unknown).
 */
export async function writeAndTimeStages(
  c: StageTimingContext,
  layout: StageLayout,
  pathOf: (stage: number) => string,
  time: boolean,
): Promise<number[] | null> {
  for (const stage of layout.stages) {
    await writeOnnxModel(pathOf(stage.index), buildStageModel(c.model, c.analysis, stage, c.types, layout.stages.length));
  }
  if (!time) return null;
  const times: number[] = [];
  for (const stage of layout.stages) {
    const specs: Record<string, InputSpec> = {};
    for (const input of stage.inputs) {
      const given = c.inputs[input.name];
      const t = c.types.get(input.name);
      if (given) specs[input.name] = given;
      else if (t?.dims) specs[input.name] = { dtype: t.dtype, dims: t.dims };
      else return null;
    }
    times.push(await timeSessionMs(pathOf(stage.index), randomFeeds(specs, stage.index + 1), c.settings));
  }
  return times;
}

/** `<dir>/stage-<k>.onnx`. */
export function stageFileIn(dir: string): (stage: number) => string {
  return (stage) => join(dir, `stage-${stage}.onnx`);
}
