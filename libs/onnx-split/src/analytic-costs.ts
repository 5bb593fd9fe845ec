/**
 * The analytic cost model: each node's cost from its inferred shapes alone, as a roofline estimate
 * max(FLOPs / compute rate, bytes moved / memory rate) + a fixed per-kernel overhead. It needs no
 * weights and no run, so a multi-GB UNet is costed in one small process, and it is deterministic:
 * every host that computes a split gets the same cut.
 */
import type { GraphAnalysis, GraphNode } from './graph-analysis.js';
import type { TensorDtype } from './onnx-types.js';
import { dtypeBytes, int64ToNumber } from './onnx-types.js';
import type { InferredTensor } from './shape-rule-context.js';

/** Machine rates the analytic model converts FLOPs and bytes with (only their ratio changes a cut). */
export interface AnalyticCostRates {
  /** Sustained compute rate, GFLOP/s. */
  readonly gflopsPerSecond: number;
  /** Sustained memory bandwidth, GB/s. */
  readonly memoryGBPerSecond: number;
  /** Fixed cost of launching one kernel, µs. */
  readonly kernelOverheadUs: number;
}

/** Per-node costs of {@link analyticNodeCosts}. */
export interface AnalyticCosts {
  /** Estimated ms per node (index into `analysis.nodes`). */
  readonly costMs: readonly number[];
  readonly totalFlops: number;
  readonly totalBytes: number;
  /** Nodes whose cost is unknown (an input or output of unknown dims); costed 0. */
  readonly unknownNodes: number;
}

/** Ops that only reinterpret a buffer (no kernel work in ORT beyond bookkeeping). */
const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Shape', 'Size', 'Constant', 'Dropout']);

/** Elementwise ops that cost several FLOPs per element (transcendentals, divisions). */
const EXPENSIVE_ELEMENTWISE: Readonly<Record<string, number>> = {
  Exp: 8, Log: 8, Erf: 10, Tanh: 10, Sigmoid: 8, Sin: 10, Cos: 10, Pow: 10, Sqrt: 4, Div: 2, Reciprocal: 2,
  Gelu: 12, FastGelu: 12, QuickGelu: 10, BiasGelu: 12, Softplus: 10, Mish: 20, HardSwish: 3, HardSigmoid: 3, Elu: 8, Selu: 8,
  Softmax: 12, LogSoftmax: 14, InstanceNormalization: 8, GroupNormalization: 8, LayerNormalization: 8,
  SkipLayerNormalization: 9, BatchNormalization: 4, MeanVarianceNormalization: 8, LpNormalization: 4,
};

/** Ops that move or select data: cost is bytes only. */
const DATA_MOVEMENT = new Set(['Transpose', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'Expand', 'Tile', 'Pad', 'Cast', 'CastLike', 'Where', 'DepthToSpace', 'SpaceToDepth', 'ScatterND', 'ScatterElements', 'ConstantOfShape', 'Range', 'Trilu']);

/**
 * Estimates every node's cost from inferred shapes. FLOPs: 2·MACs for Conv/ConvTranspose/MatMul/
 * Gemm/Einsum, a per-element weight for elementwise math, normalisations and softmax; bytes: every
 * input (weights included: a MatMul with few rows is bound by reading its weight) and output.
 */
export function analyticNodeCosts(analysis: GraphAnalysis, tensors: ReadonlyMap<string, InferredTensor>, rates: AnalyticCostRates): AnalyticCosts {
  let totalFlops = 0;
  let totalBytes = 0;
  let unknownNodes = 0;
  const flopsPerMs = rates.gflopsPerSecond * 1e6;
  const bytesPerMs = rates.memoryGBPerSecond * 1e6;
  const costMs = analysis.nodes.map((node) => {
    if (VIEW_OPS.has(node.opType)) return 0;
    const work = nodeWork(node, tensors);
    if (work === null) {
      unknownNodes++;
      return 0;
    }
    const bytes = work.inputBytes + work.outputBytes;
    // Shape arithmetic on a handful of int64s: bookkeeping, not a kernel worth balancing.
    if (bytes < 256 && work.flops < 256) return 0;
    totalFlops += work.flops;
    totalBytes += bytes;
    return Math.max(work.flops / flopsPerMs, bytes / bytesPerMs) + rates.kernelOverheadUs / 1000;
  });
  return { costMs, totalFlops, totalBytes, unknownNodes };
}

/** The work of one node: FLOPs, bytes read (weights included) and bytes written. */
export interface NodeWork {
  readonly flops: number;
  readonly inputBytes: number;
  readonly outputBytes: number;
}

/** FLOPs and bytes of one node, or null when some input/output dims are unknown. */
export function nodeWork(node: GraphNode, tensors: ReadonlyMap<string, InferredTensor>): NodeWork | null {
  const ins = (node.proto.input ?? []).map((n) => (n === '' ? undefined : tensors.get(n)));
  const outs = (node.proto.output ?? []).filter((n) => n !== '').map((n) => tensors.get(n));
  const known = (t: InferredTensor | undefined): t is InferredTensor & { dims: readonly number[] } => t !== undefined && t.dims !== null;
  if (!outs.every(known) || !ins.every((t) => t === undefined || known(t))) return null;
  const size = (t: InferredTensor | undefined): number => (t?.dims ? t.dims.reduce((p, d) => p * d, 1) : 0);
  const bytesOf = (list: readonly (InferredTensor | undefined)[]): number => list.reduce((sum, t) => sum + size(t) * elementBytes(t?.dtype), 0);
  const outElements = outs.reduce((sum, t) => sum + size(t), 0);
  const x = ins[0]?.dims ?? [];
  const w = ins[1]?.dims ?? [];
  const attr = (name: string): number | undefined => {
    const a = (node.proto.attribute ?? []).find((at) => at.name === name);
    return a === undefined ? undefined : int64ToNumber(a.i);
  };
  let flops: number;
  switch (node.opType) {
    case 'Conv': {
      const group = attr('group') ?? 1;
      const kernel = w.slice(2).reduce((p, d) => p * d, 1);
      flops = 2 * size(outs[0]) * ((x[1] ?? 0) / group) * kernel;
      break;
    }
    case 'ConvTranspose': {
      // Every input element scatters into (M / group) × kernel outputs; W is [C, M / group, k…].
      const kernel = w.slice(2).reduce((p, d) => p * d, 1);
      flops = 2 * size(ins[0]) * (w[1] ?? 0) * kernel;
      break;
    }
    case 'MatMul':
    case 'MatMulInteger':
      flops = 2 * size(outs[0]) * (x.length === 0 ? 1 : (x[x.length - 1] as number));
      break;
    case 'Gemm':
      flops = 2 * size(outs[0]) * (attr('transA') ? (x[0] ?? 1) : (x[1] ?? 1));
      break;
    case 'Einsum':
      flops = 2 * einsumIterations(node, ins);
      break;
    default:
      if (DATA_MOVEMENT.has(node.opType)) flops = 0;
      else if (node.opType.startsWith('Reduce') || node.opType.endsWith('Pool')) flops = size(ins[0]);
      else flops = outElements * (EXPENSIVE_ELEMENTWISE[node.opType] ?? 1);
  }
  return { flops, inputBytes: bytesOf(ins), outputBytes: bytesOf(outs) };
}

function elementBytes(dtype: TensorDtype | undefined): number {
  return dtype === undefined || dtype === 'string' ? 4 : dtypeBytes(dtype);
}

/** Product of the sizes of every distinct index letter of an Einsum (the loop nest it runs). */
function einsumIterations(node: GraphNode, ins: readonly (InferredTensor | undefined)[]): number {
  const equation = new TextDecoder().decode((node.proto.attribute ?? []).find((a) => a.name === 'equation')?.s ?? new Uint8Array());
  const terms = (equation.replace(/\s/g, '').split('->')[0] ?? '').split(',');
  const size = new Map<string, number>();
  terms.forEach((term, k) => [...term].forEach((letter, i) => size.set(letter, Math.max(size.get(letter) ?? 1, ins[k]?.dims?.[i] ?? 1))));
  return [...size.values()].reduce((p, d) => p * d, 1);
}
