/**
 * Per-step denoiser time at batch 2 (one image with classifier-free guidance): onnxruntime-node
 * with 1 and 2 intra-op threads, side by side with the same network in PyTorch eager (Debian
 * torch) on the same shapes and thread counts. Rounds are interleaved so both runtimes see the
 * same machine conditions. Writes the "denoiser-step" section of bench/RESULTS.md.
 *
 *   npx tsx bench/denoiser-step.ts [--runs 200] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { findModelPackage, type ModelPackage } from '@asyncdiff/models';
import ort from 'onnxruntime-node';

import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { machineLine } from '../apps/cli/src/bench/machine.js';
import { median, quantile } from '../apps/cli/src/bench/stats.js';

// ORT is used directly here, not through our libs: no telemetry (see libs/stages/src/ort-env.ts).
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const rounds = Number(values.rounds);

async function ortTimes(model: ModelPackage, threads: number): Promise<number[]> {
  const s = await ort.InferenceSession.create(model.denoiserPath, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const n = model.sampleDims.reduce((a, b) => a * b, 1);
  const x = new Float32Array(2 * n).map((_, i) => Math.sin(i));
  const feeds = {
    [model.io.sample]: new ort.Tensor('float32', x, [2, ...model.sampleDims]),
    [model.io.timestep]: new ort.Tensor('float32', new Float32Array([500, 500]), [2]),
    [model.io.classLabels]: new ort.Tensor('int64', new BigInt64Array([3n, 10n]), [2]),
  };
  for (let i = 0; i < 10; i++) await s.run(feeds);
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    out.push(performance.now() - t0);
  }
  await s.release();
  return out;
}

function torchTimes(model: ModelPackage, threads: number): number[] {
  const line = execFileSync('/usr/bin/python3', ['bench/torch_step.py', '--model', model.name, '--threads', String(threads), '--runs', String(runs)], { encoding: 'utf8' });
  return (JSON.parse(line.trim().split('\n').pop() ?? '{}') as { ms: number[] }).ms;
}

const rows: string[] = [];
const raw: Record<string, Record<string, number[]>> = {};
const started = new Date();
const machine = machineLine();
for (const name of ['digits', 'moving-digits']) {
  const model = findModelPackage(name);
  const acc: Record<string, number[]> = { 'ort-1': [], 'torch-1': [], 'ort-2': [], 'torch-2': [] };
  for (let r = 0; r < rounds; r++) {
    for (const threads of [1, 2]) {
      acc[`ort-${threads}`]!.push(...(await ortTimes(model, threads)));
      acc[`torch-${threads}`]!.push(...torchTimes(model, threads));
    }
    process.stderr.write(`denoiser-step: ${name} round ${r + 1}/${rounds}\n`);
  }
  raw[name] = acc;
  const m = (k: string): number => median(acc[k]!);
  const cell = (k: string): string => `${m(k).toFixed(2)} (p90 ${quantile(acc[k]!, 0.9).toFixed(2)})`;
  rows.push(`| ${name} [2, ${model.sampleDims.join(', ')}] | ${cell('ort-1')} | ${cell('ort-2')} | ${(m('ort-1') / m('ort-2')).toFixed(2)}× | ${cell('torch-1')} | ${cell('torch-2')} | ${(m('torch-1') / m('ort-1')).toFixed(2)}× / ${(m('torch-2') / m('ort-2')).toFixed(2)}× |`);
}
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/denoiser-step.json', JSON.stringify({ started: started.toISOString(), machine, runs, rounds, raw }, null, 2));
const md = [
  '## Denoiser step: onnxruntime-node vs PyTorch eager (`npx tsx bench/denoiser-step.ts`)',
  '',
  `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}. One denoiser call at batch 2 (classifier-free guidance), median ms over ${rounds} interleaved rounds × ${runs} runs; PyTorch 1.13 (Debian python3-torch) eager, \`inference_mode\`, same architecture and shapes (weights freshly initialised — timing does not depend on them).`,
  '',
  '| model [input] | ORT 1 thread (ms) | ORT 2 threads (ms) | ORT 2-thread scaling | torch 1 thread (ms) | torch 2 threads (ms) | torch / ORT (1 t / 2 t) |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows,
].join('\n');
replaceSection('bench/RESULTS.md', 'denoiser-step', md);
process.stdout.write(`${md}\n`);
