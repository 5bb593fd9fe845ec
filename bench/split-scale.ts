/**
 * Splitting a full-size UNet (weights in external data) into N stages, measured.
 *
 *   npm run build -w @asyncdiff/onnx-split
 *   /usr/bin/python3 tools/sd-fixtures/make_pipeline.py --kind sd15 --size full --no-golden --out var/models/full-sd15
 *   npx tsx bench/split-scale.ts --model var/models/full-sd15/unet/model.onnx [--stages 2,3] \
 *     [--batch 2] [--size 64] [--seq 77] [--context 768] [--timestep-dtype int64] \
 *     [--probe-batch 1] [--probe-size 64] [--probe-runs 1] [--probe-warmup 1] [--no-probe] [--cache-dir var/split-scale-cache] \
 *     [--weight-cap-factor 1.2]   (maxStageWeightShare = factor / N; default: no cap) \
 *     [--calibration-rounds 2]    (time stages in child processes at the split shapes and re-cut)
 *
 * For each N, a fresh worker process runs `splitModel` (analytic costs, `force`) and reports its
 * wall time and peak RSS (the splitter's own memory: graph protobuf + streamed copies), next to
 * the RSS of an idle worker that only imported the lib. Then each stage file is loaded and run on
 * its own in a fresh child process (`probeSplit`: random graph inputs at the probe shapes, real
 * boundary tensors chained from the previous stages' children), which proves it is valid alone
 * and gives its load time, run time and peak RSS.
 * Per-stage weight bytes are read from the plan and the stage data files. Writes
 * bench/out/split-scale.json and prints a table.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { probeSplit, splitModel } from '../libs/onnx-split/src/index.js';
import type { InputSpecs, SplitPlan, TensorDtype } from '../libs/onnx-split/src/index.js';

interface WorkerRequest {
  readonly type: 'split' | 'idle';
  readonly modelPath: string;
  readonly stages: number;
  readonly inputs: InputSpecs;
  readonly cacheDir: string;
  readonly maxStageWeightShare: number | null;
  /** > 0: time the stages in child processes and re-cut this many times (analytic costs calibrated by measurement). */
  readonly calibrationRounds: number;
  readonly probe: { readonly runs: number; readonly warmupRuns: number; readonly intraOpNumThreads: number };
}
type WorkerReply =
  | { readonly type: 'done'; readonly wallMs: number; readonly peakRssBytes: number; readonly planDir: string; readonly stagePaths: readonly string[]; readonly plan: SplitPlan }
  | { readonly type: 'idle'; readonly peakRssBytes: number }
  | { readonly type: 'error'; readonly message: string };

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function unetInputs(batch: number, size: number, seq: number, context: number, timestep: TensorDtype): InputSpecs {
  return {
    sample: { dtype: 'float32', dims: [batch, 4, size, size] },
    timestep: { dtype: timestep, dims: [batch] },
    encoder_hidden_states: { dtype: 'float32', dims: [batch, seq, context] },
  };
}

/** Worker mode: one split (or nothing, for the baseline) in a fresh process, reported over IPC. */
async function worker(request: WorkerRequest): Promise<WorkerReply> {
  if (request.type === 'idle') return { type: 'idle', peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  const start = performance.now();
  const split = await splitModel({
    modelPath: request.modelPath,
    stages: request.stages,
    inputs: request.inputs,
    costModel: 'flops',
    measureStages: request.calibrationRounds > 0,
    calibrationRounds: request.calibrationRounds,
    profile: request.probe,
    cacheDir: request.cacheDir,
    force: true,
    ...(request.maxStageWeightShare !== null ? { maxStageWeightShare: request.maxStageWeightShare } : {}),
  });
  return { type: 'done', wallMs: performance.now() - start, peakRssBytes: process.resourceUsage().maxRSS * 1024, planDir: split.planDir, stagePaths: split.stagePaths, plan: split.plan };
}

async function inWorker(request: WorkerRequest): Promise<WorkerReply> {
  const child = fork(fileURLToPath(import.meta.url), ['--worker'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(request);
  const [reply] = (await once(child, 'message')) as [WorkerReply];
  child.kill();
  return reply;
}

async function main(): Promise<void> {
  if (process.argv.includes('--worker')) {
    process.once('message', (raw) => {
      worker(raw as WorkerRequest).then(
        (reply) => process.send?.(reply),
        (error: unknown) => process.send?.({ type: 'error', message: String(error) } satisfies WorkerReply),
      );
    });
    return;
  }
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      stages: { type: 'string', default: '2,3' },
      batch: { type: 'string', default: '2' },
      size: { type: 'string', default: '64' },
      seq: { type: 'string', default: '77' },
      context: { type: 'string', default: '768' },
      'timestep-dtype': { type: 'string', default: 'int64' },
      'probe-batch': { type: 'string', default: '1' },
      'probe-size': { type: 'string', default: '64' },
      'probe-runs': { type: 'string', default: '1' },
      'probe-warmup': { type: 'string', default: '1' },
      'no-probe': { type: 'boolean', default: false },
      'cache-dir': { type: 'string', default: 'var/split-scale-cache' },
      'weight-cap-factor': { type: 'string' },
      'calibration-rounds': { type: 'string', default: '0' },
    },
  });
  if (!values.model) throw new Error('--model <unet/model.onnx> is required');
  const modelPath = resolve(values.model);
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer`);
    return n;
  };
  const timestep = values['timestep-dtype'] as TensorDtype;
  const [seq, context] = [int('seq', values.seq), int('context', values.context)];
  const inputs = unetInputs(int('batch', values.batch), int('size', values.size), seq, context, timestep);
  const probeInputs = unetInputs(int('probe-batch', values['probe-batch']), int('probe-size', values['probe-size']), seq, context, timestep);
  const cacheDir = resolve(values['cache-dir'] ?? 'var/split-scale-cache');
  const sourceDataBytes = (await stat(join(modelPath, '..', 'model.onnx_data'))).size;

  const capFactor = values['weight-cap-factor'] === undefined ? null : Number(values['weight-cap-factor']);
  const calibrationRounds = Number(values['calibration-rounds']);
  const probe = { runs: int('probe-runs', values['probe-runs']), warmupRuns: Number(values['probe-warmup']), intraOpNumThreads: cpus().length };
  const idle = await inWorker({ type: 'idle', modelPath, stages: 2, inputs, cacheDir, maxStageWeightShare: null, calibrationRounds: 0, probe });
  if (idle.type !== 'idle') throw new Error(`idle worker: ${JSON.stringify(idle)}`);
  const results = [];
  for (const n of (values.stages ?? '2,3').split(',').map((s) => int('stages', s))) {
    const maxStageWeightShare = capFactor === null ? null : Math.min(1, capFactor / n);
    const reply = await inWorker({ type: 'split', modelPath, stages: n, inputs, cacheDir, maxStageWeightShare, calibrationRounds, probe });
    if (reply.type !== 'done') throw new Error(`split N=${n}: ${JSON.stringify(reply)}`);
    const { plan } = reply;
    // Each stage alone in its own process at the probe shapes, boundary tensors chained from the real outputs.
    const probes = values['no-probe']
      ? null
      : await probeSplit({ plan, planDir: reply.planDir, stagePaths: reply.stagePaths }, probeInputs, probe);
    const stages = [];
    for (const s of plan.stages) {
      const dataFileBytes = s.dataFile ? (await stat(join(reply.planDir, s.dataFile))).size : 0;
      const probe = probes?.[s.index] ?? null;
      stages.push({
        index: s.index,
        latentNodes: s.latentNodeCount,
        conditioningNodes: s.conditioningNodeCount,
        parameterBytes: s.parameterBytes,
        dataFileBytes,
        shareOfWeights: s.parameterBytes / sourceDataBytes,
        replicatedParameterBytes: s.replicatedParameterBytes,
        predictedMs: s.costMs,
        splitterMeasuredRunMs: s.measuredRunMs,
        splitterMeasuredPeakRssBytes: s.measuredPeakRssBytes,
        inputs: s.inputs.map((i) => `${i.name}:${i.kind}`),
        probe: probe && { loadMs: probe.loadMs, runMs: probe.runMs, rssAfterLoadBytes: probe.rssAfterLoadBytes, peakRssBytes: probe.peakRssBytes },
      });
    }
    results.push({ stages: n, maxStageWeightShare, calibrationRounds, splitWallMs: reply.wallMs, splitterPeakRssBytes: reply.peakRssBytes, key: plan.key, analytic: plan.analytic, boundaries: plan.boundaries.length, balance: plan.balance, stageResults: stages });
  }
  const report = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemGiB: totalmem() / GiB, loadavg: loadavg() },
    model: modelPath,
    sourceDataBytes,
    inputs,
    probeInputs: values['no-probe'] ? null : probeInputs,
    idleWorkerPeakRssBytes: idle.peakRssBytes,
    results,
  };
  mkdirSync('bench/out', { recursive: true });
  writeFileSync(`bench/out/split-scale${capFactor === null ? '' : `-cap${capFactor}`}${calibrationRounds > 0 ? `-cal${calibrationRounds}` : ''}.json`, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`source weights ${(sourceDataBytes / GiB).toFixed(2)} GiB; idle worker peak RSS ${(idle.peakRssBytes / MiB).toFixed(0)} MiB`);
  for (const r of results) {
    console.log(`N=${r.stages}${r.maxStageWeightShare === null ? '' : ` (weight cap ${r.maxStageWeightShare.toFixed(2)})`}: split ${(r.splitWallMs / 1000).toFixed(1)} s, splitter peak RSS ${(r.splitterPeakRssBytes / MiB).toFixed(0)} MiB, ${r.boundaries} boundary tensors, ${r.analytic?.totalGflop} GFLOP`);
    for (const s of r.stageResults) {
      const p = s.probe;
      console.log(
        `  stage ${s.index}: weights ${(s.parameterBytes / GiB).toFixed(3)} GiB (${(s.shareOfWeights * 100).toFixed(1)} %), data file ${(s.dataFileBytes / GiB).toFixed(3)} GiB, predicted ${s.predictedMs.toFixed(0)} ms` +
          (s.splitterMeasuredRunMs !== null ? `; measured by the splitter ${(s.splitterMeasuredRunMs / 1000).toFixed(2)} s, peak RSS ${((s.splitterMeasuredPeakRssBytes ?? 0) / GiB).toFixed(2)} GiB` : '') +
          (p ? `; alone: load ${(p.loadMs / 1000).toFixed(1)} s, run ${(p.runMs / 1000).toFixed(2)} s, RSS after load ${(p.rssAfterLoadBytes / GiB).toFixed(2)} GiB, peak ${(p.peakRssBytes / GiB).toFixed(2)} GiB` : ''),
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
