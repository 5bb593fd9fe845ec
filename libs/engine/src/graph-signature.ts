import type { FeedDtype } from '@asyncdiff/asyncdiff';
import { readOnnxModel } from '@asyncdiff/onnx-split';

/** One graph input or output as the ONNX file declares it (symbolic dims as their names). */
export interface GraphValue {
  readonly name: string;
  /** The element type when it is one the engine feeds, else the ONNX elem_type code as text. */
  readonly dtype: FeedDtype | `elem_type ${number}`;
  readonly dims: readonly (number | string)[];
}

/** Inputs and outputs of an ONNX graph. */
export interface GraphSignature {
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  /** External data files the graph's initializers name (relative to the graph's folder). */
  readonly externalData: readonly string[];
}

const FEED_ELEM_TYPES: Readonly<Record<number, FeedDtype>> = { 1: 'float32', 10: 'float16', 7: 'int64', 6: 'int32' };

/**
 * Reads a graph's declared inputs and outputs without loading its weights (external data is
 * never opened), so a coordinator can learn an SD UNet's dtypes — int64 or float timestep, fp16
 * latents — the way optimum's pipelines do, without holding the model.
 */
export async function graphSignature(path: string): Promise<GraphSignature> {
  const { model } = await readOnnxModel(path);
  const graph = model.graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const value = (v: NonNullable<typeof graph.input>[number]): GraphValue => {
    const t = v.type?.tensorType;
    const code = Number(t?.elemType ?? 0);
    const dims = (t?.shape?.dim ?? []).map((d) => {
      if (d.dimParam) return d.dimParam;
      // protobufjs hands int64 fields over as Long objects (or numbers): their text is exact.
      return d.dimValue === undefined || d.dimValue === null ? '?' : Number(String(d.dimValue));
    });
    return { name: v.name ?? '', dtype: FEED_ELEM_TYPES[code] ?? `elem_type ${code}`, dims };
  };
  const externalData = new Set<string>();
  for (const t of graph.initializer ?? []) {
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (location) externalData.add(location);
  }
  return {
    // Old IR versions list initializers among the inputs; they are not feeds.
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name)).map(value),
    outputs: (graph.output ?? []).map(value),
    externalData: [...externalData],
  };
}
