import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

import { buildSchedule, sample, type StageRunner } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { ProcessRunner, cpuDeviceGroups } from '@asyncdiff/stages';
import { describe, expect, it } from 'vitest';

import { classConditioning, denoiserOf } from './denoiser.js';
import { schedulerOptions } from './scheduler-options.js';
import { splitForModel } from './split-pipeline.js';

const model = findModelPackage('digits');
const TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU seconds (user + system) used so far, from a /proc stat file (a process's or one thread's). */
function cpuSecondsOf(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** CPU seconds per thread of a process, keyed by "tid name", to say which thread was awake. */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(`${tid} ${name}`, cpuSecondsOf(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Threads that used CPU between two `threadSeconds` readings, busiest first. */
function busyThreads(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([t, s]) => [t, s - (before.get(t) ?? 0)] as const)
    .filter(([, s]) => s > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([t, s]) => `${t}=${s.toFixed(3)}`)
    .join(', ');
}

/** One stage's CPU over one quiet window. */
interface IdleWindow {
  readonly used: number;
  readonly threads: string;
}

/** Each stage's CPU seconds over `ms` of wall time, with the threads that used it. */
async function idleWindow(pids: readonly number[], ms: number): Promise<IdleWindow[]> {
  const before = pids.map((pid) => ({ total: cpuSecondsOf(`/proc/${pid}/stat`), threads: threadSeconds(pid) }));
  await new Promise((r) => setTimeout(r, ms));
  return pids.map((pid, i) => ({ used: cpuSecondsOf(`/proc/${pid}/stat`) - before[i]!.total, threads: busyThreads(before[i]!.threads, threadSeconds(pid)) }));
}

async function generate(runner: StageRunner, classes: number[]): Promise<Float32Array> {
  const steps = 12;
  const schedule = buildSchedule({ steps, stages: 2, stride: 1, warmup: 3, timeShift: false });
  const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', steps));
  return (await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, classes), seed: 4, guidance: 1.5 })).latents;
}

describe('idle stage processes', () => {
  it('sleep on their doorbell between generations (≈ no CPU), and wake for the next one with the same result', async () => {
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, wait: 'sync' });
    try {
      const first = await generate(runner, [3]);
      await new Promise((r) => setTimeout(r, 1500)); // past the short waits that keep a busy stage responsive, and its clean-up
      const pids = runner.stageStatus().map((s) => s.pid);
      expect(pids).toHaveLength(2);
      // onnxruntime 1.30's telemetry (on unless ORT_DISABLE_TELEMETRY) starts a short-lived thread
      // every ~2 s to resolve mobile.events.data.microsoft.com and upload: a stage must not.
      for (const pid of pids) expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('ORT_DISABLE_TELEMETRY=1');
      // Waking every 20 ms to poll IPC cost 1.0–1.9% of a core per idle stage here (0.05–0.1 CPU-s
      // in 5 s); asleep on its doorbell a stage wakes once a second and used 0.3–0.4%. The clock
      // ticks in 10 ms, so the bound sits between the two with room for a noisy machine.
      // A polling stage is over the bound in every window; one-off work that is not the wait
      // (a garbage collection, a compiler thread finishing) can fill one window on a loaded CI
      // machine (CI once saw 0.090 / 0.090 in a full run, never alone), so each stage gets up
      // to three 5 s windows and its quietest one is judged.
      const windows: IdleWindow[][] = [];
      const quietest = (stage: number) => Math.min(...windows.map((w) => w[stage]!.used));
      while (windows.length < 3) {
        windows.push(await idleWindow(pids, 5000));
        console.log(`idle stages, window ${windows.length}: ${windows.at(-1)!.map((w) => `${w.used.toFixed(3)} CPU-s over 5 s (${w.threads || 'no thread'})`).join(' / ')}`);
        if (pids.every((_, stage) => quietest(stage) < 0.035)) break;
      }
      for (let stage = 0; stage < pids.length; stage++) expect(quietest(stage)).toBeLessThan(0.035);
      // The first request after idle arrives through the async wait; the bytes do not change.
      expect(await generate(runner, [3])).toEqual(first);
      // A new batch reconfigures the stages while they sleep: the idle wait is abandoned for the
      // new control block, and the first image is the lone job's again (to float tolerance: a
      // larger batch may take other kernels).
      await new Promise((r) => setTimeout(r, 500));
      const pair = await generate(runner, [3, 8]);
      expect(pair.length).toBe(2 * first.length);
      let diff = 0;
      for (let i = 0; i < first.length; i++) diff = Math.max(diff, Math.abs(pair[i]! - first[i]!));
      expect(diff).toBeLessThanOrEqual(1e-5);
    } finally {
      await runner.close();
    }
  }, 60_000);
});
