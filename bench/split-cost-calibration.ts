/**
 * How well the analytic cost model (inferred shapes → FLOPs/bytes roofline) predicts what ONNX
 * Runtime measures, node by node and for the cuts it chooses.
 *
 *   npm run build -w @asyncdiff/onnx-split
 *   npx tsx bench/split-cost-calibration.ts --model var/models/full-sd15/unet/model.onnx \
 *     [--batch 2] [--size 64] [--seq 77] [--context 768] [--timestep-dtype int64] [--threads 1] [--runs 1] [--warmup 1] [--stages 2,3,4]
 *
 * Unlike the splitter, this bench loads the WHOLE model in one ORT session: it profiles every node
 * (optimisation disabled, so each node is its own kernel) to have ground truth. It then
 *  1. fits the analytic rates (GFLOP/s, GB/s, per-kernel µs) to the measured node times
 *     (least squares over a grid) and reports R² for the default and the fitted rates;
 *  2. for each N, evaluates under the MEASURED node costs the cut each cost model picks (profile,
 *     analytic with default rates, analytic with fitted rates): slowest stage / best achievable.
 * Writes bench/out/split-cost-calibration.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { analyseGraph, analyticNodeCosts, decodeOnnxModel, inferShapes, nodeWork, profileNodes, resolveSplitModelOptions, solveBalancedCut } from '../libs/onnx-split/src/index.js';
import type { AnalyticCostRates, GraphAnalysis, InputSpecs, TensorDtype } from '../libs/onnx-split/src/index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      batch: { type: 'string', default: '2' },
      size: { type: 'string', default: '64' },
      seq: { type: 'string', default: '77' },
      context: { type: 'string', default: '768' },
      'timestep-dtype': { type: 'string', default: 'int64' },
      threads: { type: 'string', default: '1' },
      runs: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '1' },
      stages: { type: 'string', default: '2,3,4' },
    },
  });
  if (!values.model) throw new Error('--model is required');
  const modelPath = resolve(values.model);
  const [batch, size, seq, context] = [values.batch, values.size, values.seq, values.context].map(Number) as [number, number, number, number];
  const inputs: InputSpecs = {
    sample: { dtype: 'float32', dims: [batch, 4, size, size] },
    timestep: { dtype: values['timestep-dtype'] as TensorDtype, dims: [batch] },
    encoder_hidden_states: { dtype: 'float32', dims: [batch, seq, context] },
  };
  const model = decodeOnnxModel(await readFile(modelPath));
  const analysis = analyseGraph(model);
  const inference = inferShapes(model, analysis, inputs);
  console.log(`${analysis.nodes.length} nodes (${analysis.latentNodes.length} latent); profiling the whole model once (${values.runs} run(s), ${values.threads} thread(s))…`);
  const started = Date.now();
  const profile = await profileNodes(modelPath, {
    inputs,
    runs: Number(values.runs),
    // The first run grows ORT's arena: 1 GiB attention buffers are page-faulted in, once.
    warmupRuns: Number(values.warmup),
    intraOpNumThreads: Number(values.threads),
    nodes: analysis.nodes.map((n) => ({ name: n.name, outputs: n.proto.output ?? [] })),
  });
  console.log(`profiled in ${((Date.now() - started) / 1000).toFixed(0)} s; run ${profile.runMs.toFixed(0)} ms`);
  const measured = analysis.nodes.map((n) => profile.nodeMs[n.name] ?? 0);

  const defaults = resolveSplitModelOptions({ modelPath, stages: 2, inputs }).analyticRates;
  const predict = (rates: AnalyticCostRates): readonly number[] => analyticNodeCosts(analysis, inference.tensors, rates).costMs;
  const r2 = (predicted: readonly number[]): number => {
    const mean = measured.reduce((a, b) => a + b, 0) / measured.length;
    const total = measured.reduce((a, m) => a + (m - mean) ** 2, 0);
    const residual = measured.reduce((a, m, i) => a + (m - (predicted[i] as number)) ** 2, 0);
    return 1 - residual / total;
  };
  let best = { rates: defaults as AnalyticCostRates, r2: r2(predict(defaults)) };
  for (const gflopsPerSecond of [10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 100, 150]) {
    for (const memoryGBPerSecond of [1, 2, 3, 4, 6, 8, 10, 15, 20, 30]) {
      for (const kernelOverheadUs of [0, 2, 4, 8, 16, 32]) {
        const rates = { gflopsPerSecond, memoryGBPerSecond, kernelOverheadUs };
        const fit = r2(predict(rates));
        if (fit > best.r2) best = { rates, r2: fit };
      }
    }
  }
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
  const byOp = new Map<string, { measured: number; predicted: number; count: number }>();
  const fitted = predict(best.rates);
  analysis.nodes.forEach((n, i) => {
    const e = byOp.get(n.opType) ?? { measured: 0, predicted: 0, count: 0 };
    e.measured += measured[i] as number;
    e.predicted += fitted[i] as number;
    e.count++;
    byOp.set(n.opType, e);
  });

  const cuts = [];
  for (const n of (values.stages ?? '2,3,4').split(',').map(Number)) {
    const evaluate = (costs: readonly number[]): { slowestMs: number; stageMs: number[] } => {
      const starts = contiguousCut(analysis, costs, n);
      const stageMs = stageCosts(analysis, starts, measured);
      return { slowestMs: Math.max(...stageMs), stageMs };
    };
    const ideal = evaluate(measured);
    const analyticDefault = evaluate(predict(defaults));
    const analyticFitted = evaluate(fitted);
    cuts.push({ stages: n, measuredOptimal: ideal, analyticDefault, analyticFitted, defaultOverOptimal: analyticDefault.slowestMs / ideal.slowestMs, fittedOverOptimal: analyticFitted.slowestMs / ideal.slowestMs });
  }

  const report = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    model: modelPath,
    inputs,
    threads: Number(values.threads),
    profiledRunMs: profile.runMs,
    measuredNodeSumMs: sum(measured),
    defaultRates: defaults,
    defaultR2: r2(predict(defaults)),
    defaultPredictedSumMs: sum(predict(defaults)),
    fittedRates: best.rates,
    fittedR2: best.r2,
    fittedPredictedSumMs: sum(fitted),
    byOp: Object.fromEntries([...byOp].sort((a, b) => b[1].measured - a[1].measured)),
    cuts,
  };
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/split-cost-calibration.json', `${JSON.stringify(report, null, 2)}\n`);
  // Per-node features and measurements, for fitting other cost models offline.
  const rows = analysis.nodes.map((n, i) => ({ name: n.name, op: n.opType, latent: n.latent, measuredMs: measured[i], ...(nodeWork(n, inference.tensors) ?? {}) }));
  writeFileSync('bench/out/split-cost-nodes.json', `${JSON.stringify(rows)}\n`);
  console.log(`measured Σ node ${report.measuredNodeSumMs.toFixed(0)} ms; default rates ${JSON.stringify(defaults)}: R² ${report.defaultR2.toFixed(3)}, Σ ${report.defaultPredictedSumMs.toFixed(0)} ms`);
  console.log(`fitted rates ${JSON.stringify(best.rates)}: R² ${best.r2.toFixed(3)}, Σ ${report.fittedPredictedSumMs.toFixed(0)} ms`);
  for (const [op, e] of [...byOp].sort((a, b) => b[1].measured - a[1].measured).slice(0, 10)) {
    console.log(`  ${op.padEnd(22)} ×${String(e.count).padStart(4)}  measured ${e.measured.toFixed(0).padStart(7)} ms  fitted ${e.predicted.toFixed(0).padStart(7)} ms`);
  }
  for (const c of cuts) {
    console.log(`N=${c.stages}: slowest stage under measured costs — optimal ${c.measuredOptimal.slowestMs.toFixed(0)} ms, analytic(default) ×${c.defaultOverOptimal.toFixed(3)}, analytic(fitted) ×${c.fittedOverOptimal.toFixed(3)}`);
  }
}

/** The contiguous cut (first latent position of each stage) minimising the slowest stage under `costs` (the splitter's solver, no transfer penalties). */
function contiguousCut(analysis: GraphAnalysis, costs: readonly number[], stages: number): number[] {
  const cut = solveBalancedCut({
    itemCostMs: analysis.latentNodes.map((i) => costs[i] as number),
    sharedCostMs: costs.map((c, i) => (analysis.nodes[i]?.latent ? 0 : c)),
    itemShared: analysis.latentNodes.map((i) => analysis.conditioningClosure[i] ?? []),
    cutPenalty: analysis.latentNodes.map(() => ({ nonFloat: 0, bytes: 0 })).concat([{ nonFloat: 0, bytes: 0 }]),
    stages,
    tolerance: 0,
  });
  return [...cut.starts];
}

function stageCost(analysis: GraphAnalysis, latent: readonly number[], costs: readonly number[]): number {
  const nodes = new Set<number>(latent);
  for (const i of latent) for (const c of analysis.conditioningClosure[i] ?? []) nodes.add(c);
  let total = 0;
  for (const i of nodes) total += costs[i] as number;
  return total;
}

function stageCosts(analysis: GraphAnalysis, starts: readonly number[], costs: readonly number[]): number[] {
  const ends = [...starts.slice(1), analysis.latentNodes.length];
  return starts.map((s, k) => stageCost(analysis, analysis.latentNodes.slice(s, ends[k]), costs));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
