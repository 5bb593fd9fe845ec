import { InferenceSession } from 'onnxruntime-node';
import type { Tensor } from 'onnxruntime-node';
import type { LoadedSplitPlan } from '../plan-file.js';
import { halfToNumber } from '../tensor-values.js';

/** Runs a whole ONNX model once. */
export async function runModel(path: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    return (await session.run(feeds)) as Record<string, Tensor>;
  } finally {
    await session.release();
  }
}

/**
 * Runs the stages of a split one after the other (AsyncDiff's sequential warm-up), wiring every
 * boundary tensor straight from its producer stage, and returns the graph outputs.
 */
export async function runStageChain(split: LoadedSplitPlan, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const produced = new Map<string, Tensor>();
  const outputs: Record<string, Tensor> = {};
  for (const stage of split.plan.stages) {
    const session = await InferenceSession.create(split.stagePaths[stage.index] as string, { intraOpNumThreads: 1 });
    try {
      const stageFeeds: Record<string, Tensor> = {};
      for (const input of stage.inputs) {
        const value = input.kind === 'boundary' ? produced.get(input.name) : feeds[input.name];
        if (value === undefined) throw new Error(`stage ${stage.index}: no value for input ${input.name}`);
        stageFeeds[input.name] = value;
      }
      const result = await session.run(stageFeeds);
      for (const output of stage.outputs) {
        const value = result[output.name] as Tensor;
        produced.set(output.name, value);
        if (output.graphOutput) outputs[output.name] = value;
      }
    } finally {
      await session.release();
    }
  }
  return outputs;
}

/** Element values of a float32 or float16 tensor as numbers. */
export function floatValues(t: Tensor): Float64Array {
  if (t.type === 'float16') return Float64Array.from(t.data as Uint16Array, halfToNumber);
  return Float64Array.from(t.data as Float32Array);
}

/** Largest absolute element difference of two float tensors (float32 or float16) of equal size. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = floatValues(a);
  const y = floatValues(b);
  if (x.length !== y.length) throw new Error(`size mismatch ${x.length} vs ${y.length}`);
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs((x[i] as number) - (y[i] as number)));
  return max;
}
