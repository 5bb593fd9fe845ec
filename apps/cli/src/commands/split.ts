import { readFileSync } from 'node:fs';

import { findModelPackage } from '@asyncdiff/models';
import { splitModel, type InputSpecs, type SplitResult, type TensorDtype } from '@asyncdiff/onnx-split';

import { boolFlag, intFlag, parseFlags, stringFlag } from '../args.js';
import { CliUsageError } from '../cli-error.js';

export const splitHelp = `asyncdiff split (--model <name> | --onnx <file> --input name:dtype:d1xd2… …) --stages N [flags]

Cuts a denoiser into N components balanced by measured per-node cost, replicating conditioning
subgraphs into every stage that needs them. Splits are cached by (model hash, N, assignment).

  --model <name>            a shipped model (inputs taken from its model.json, batch --batch)
  --onnx <file>             any denoiser ONNX; then give every graph input with --input
  --input name:dtype:dims   e.g. sample:float32:2x4x64x64 (repeatable; dtype float32|int64|int32)
  --latent <name>           the latent graph input (default: the model's, or "sample")
  --stages <N>              2 … 8
  --batch <B>               profile batch for --model (default 2: one image with guidance)
  --assignment <file.json>  explicit {"node name": stage} map (need not be contiguous)
  --cache-dir <dir>         where splits are cached (default <model dir>/splits)
  --force                   recompute even if cached
  --json                    print the plan JSON`;

/** `asyncdiff split`: partition a model and report balance, boundaries and weights per stage. */
export async function splitCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const f = parseFlags(argv, {
    model: { type: 'string' },
    onnx: { type: 'string' },
    input: { type: 'string', multiple: true },
    latent: { type: 'string' },
    stages: { type: 'string' },
    batch: { type: 'string' },
    assignment: { type: 'string' },
    'cache-dir': { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const stages = intFlag(f, 'stages', 2, 2, 8);
  const batch = intFlag(f, 'batch', 2, 1, 1024);
  let modelPath: string;
  let latent: string;
  let inputs: InputSpecs;
  const modelName = stringFlag(f, 'model');
  const onnx = stringFlag(f, 'onnx');
  if (modelName && onnx) throw new CliUsageError('--onnx', '--model and --onnx are exclusive');
  if (modelName) {
    let m;
    try {
      m = findModelPackage(modelName);
    } catch (e) {
      throw new CliUsageError('--model', (e as Error).message);
    }
    modelPath = m.denoiserPath;
    latent = stringFlag(f, 'latent') ?? m.io.sample;
    inputs = {
      [m.io.sample]: { dtype: 'float32', dims: [batch, ...m.sampleDims] },
      [m.io.timestep]: { dtype: 'float32', dims: [batch] },
      [m.io.classLabels]: { dtype: 'int64', dims: [batch] },
    };
  } else if (onnx) {
    modelPath = onnx;
    latent = stringFlag(f, 'latent') ?? 'sample';
    const raw = f.values['input'] as unknown as string[] | undefined;
    if (!raw || raw.length === 0) throw new CliUsageError('--input', '--onnx needs every graph input as --input name:dtype:dims');
    inputs = Object.fromEntries(raw.map(parseInput));
  } else {
    throw new CliUsageError('--model', 'give --model <name> or --onnx <file>');
  }
  let assignment: Record<string, number> | undefined;
  const assignmentFile = stringFlag(f, 'assignment');
  if (assignmentFile) {
    try {
      assignment = JSON.parse(readFileSync(assignmentFile, 'utf8')) as Record<string, number>;
    } catch (e) {
      throw new CliUsageError('--assignment', `cannot read ${assignmentFile}: ${(e as Error).message}`);
    }
  }
  const cacheDir = stringFlag(f, 'cache-dir');
  const result: SplitResult = await splitModel({
    modelPath,
    stages,
    latentInputs: [latent],
    inputs,
    ...(assignment ? { assignment } : {}),
    ...(cacheDir ? { cacheDir } : {}),
    force: boolFlag(f, 'force'),
  });
  if (boolFlag(f, 'json')) {
    out(JSON.stringify({ planDir: result.planDir, fromCache: result.fromCache, plan: result.plan }, null, 2));
    return;
  }
  const { plan } = result;
  out(`${result.fromCache ? 'cached' : 'new'} split: ${result.planDir}`);
  out(`stage  cost(ms)  measured(ms)  weights(KB)  inputs                                   outputs`);
  for (const s of plan.stages) {
    const ins = s.inputs.map((i) => (i.kind === 'boundary' ? `${i.name}<C${i.producer}` : `${i.name}(${i.kind})`)).join(' ');
    out(
      `${String(s.index).padStart(5)}  ${s.costMs.toFixed(3).padStart(8)}  ${(s.measuredRunMs ?? NaN).toFixed(3).padStart(12)}  ${(s.parameterBytes / 1024).toFixed(0).padStart(11)}  ${ins.slice(0, 40).padEnd(40)} ${s.outputs.length} tensors`,
    );
  }
  out(`boundaries: ${plan.boundaries.length} tensors, ${plan.boundaries.reduce((a, b) => a + (b.bytes ?? 0), 0)} bytes per step at batch ${batch}`);
  out(`balance: slowest/mean ${plan.balance.slowestOverMean.toFixed(3)} (profiled), ${plan.balance.measuredSlowestOverMean?.toFixed(3) ?? 'n/a'} (measured)`);
}

function parseInput(spec: string): [string, { dtype: TensorDtype; dims: number[] }] {
  const m = /^([^:]+):(float32|int64|int32):(\d+(?:x\d+)*)$/.exec(spec);
  if (!m) throw new CliUsageError('--input', `--input must look like name:float32:2x1x16x16, got "${spec}"`);
  return [m[1] as string, { dtype: m[2] as TensorDtype, dims: (m[3] as string).split('x').map(Number) }];
}
