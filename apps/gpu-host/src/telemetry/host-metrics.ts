import { STEP_SECONDS_BUCKETS, type JobKind, type StepTimeHistogram, type StepTiming } from '@asyncdiff/queue';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { collectProcessMetrics } from './process-metrics.js';

/** Job-level buckets in seconds: 10 ms … 1 h (queue waits and whole runs). */
const JOB_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Hand-off buckets in seconds: 10 µs … 100 ms (doorbell wake-ups). */
const HANDOFF_SECONDS_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

/** A job's parallel mode as the metrics label it. */
type Mode = StepTimeHistogram['mode'];

/** How a run ended: outputs stored, failed, handed back on drain, canceled, or taken over by another host. */
export type RunOutcome = 'succeeded' | 'failed' | 'handed_back' | 'canceled' | 'lost';

/** What the rest of the host reports to its metrics. */
export interface HostMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  render(): Promise<string>;
  /** A run picked a job up; `queueWaitMs`: submission → pick-up of a first run (undefined for a retry). */
  jobStarted(kind: JobKind, model: string, queueWaitMs: number | undefined, info: { resumed: boolean; retry: boolean }): void;
  /** A run ended: its wall time from pick-up to outputs stored (or to the end), by outcome. */
  jobEnded(kind: JobKind, model: string, mode: Mode, outcome: RunOutcome, runMs: number): void;
  /** One denoising step. */
  step(model: string, mode: Mode, timing: StepTiming): void;
  /** A stage process was replaced (crash, stuck run, failed health check). */
  stageRestarted(group: string): void;
  /** One step of a device's continuous batch: how many jobs and model rows it ran. */
  batchStep(group: string, device: string, model: string, info: { readonly members: number; readonly rows: number; readonly stepMs: number }): void;
  /** Step-time histograms by model and mode (the heartbeat's `stepTimes`). */
  stepTimes(): StepTimeHistogram[];
}

/** Live device counts of one replica group, read at scrape time. */
export interface GroupDevices {
  readonly id: string;
  readonly devices: number;
  busy(): number;
}

/**
 * The GPU host's registry (`asyncdiff_*` families, plus process and event-loop metrics): job
 * queue wait and run time, time per step, hand-off per step and `session.run` per stage as
 * histograms (aggregatable across hosts, unlike precomputed quantiles), counters for stage
 * restarts, resumed and retried runs, and gauges for devices and busy devices per group.
 */
export function createHostMetrics(groups: () => readonly GroupDevices[]): HostMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const registers = [registry];
  const queueWait = new Histogram({ name: 'asyncdiff_job_queue_wait_seconds', help: 'Time from submission until a GPU host picked the job up (first runs only).', labelNames: ['kind', 'model'] as const, buckets: JOB_SECONDS_BUCKETS, registers });
  const runTime = new Histogram({ name: 'asyncdiff_job_run_seconds', help: 'Time from pick-up until outputs were stored (or the run ended), by outcome.', labelNames: ['kind', 'model', 'mode', 'outcome'] as const, buckets: JOB_SECONDS_BUCKETS, registers });
  const stepTime = new Histogram({ name: 'asyncdiff_step_seconds', help: 'Wall time of one denoising step, by model and parallel mode.', labelNames: ['model', 'mode'] as const, buckets: [...STEP_SECONDS_BUCKETS], registers });
  const handoff = new Histogram({ name: 'asyncdiff_step_handoff_seconds', help: 'Hand-off on the critical path of one step (doorbell wake-ups; tensors stay in shared memory).', labelNames: ['model', 'mode'] as const, buckets: HANDOFF_SECONDS_BUCKETS, registers });
  const stageRun = new Histogram({ name: 'asyncdiff_stage_run_seconds', help: 'Time one stage spent inside session.run in one step, by stage (device index within the engine).', labelNames: ['model', 'mode', 'stage'] as const, buckets: [...STEP_SECONDS_BUCKETS], registers });
  const restarts = new Counter({
    name: 'asyncdiff_stage_restarts_total',
    help: 'Stage processes replaced (crashed, stuck, or failed a health check), by replica group.',
    labelNames: ['group'] as const,
    registers,
    // Every group's series from the first scrape on (groups exist only after the registry).
    collect() {
      for (const g of groups()) this.inc({ group: g.id }, 0);
    },
  });
  const resumes = new Counter({ name: 'asyncdiff_job_resumes_total', help: 'Runs that resumed a job from a stored checkpoint.', labelNames: ['kind'] as const, registers });
  const retries = new Counter({ name: 'asyncdiff_job_retries_total', help: 'Runs that were a retry of an earlier failed or lost run of the same job.', labelNames: ['kind'] as const, registers });
  for (const kind of ['image', 'video'] as const) {
    // At 0 from the start, so rate() sees the series before the first event.
    resumes.inc({ kind }, 0);
    retries.inc({ kind }, 0);
  }
  new Gauge({
    name: 'asyncdiff_devices',
    help: 'Devices of each replica group.',
    labelNames: ['group'] as const,
    registers,
    collect() {
      for (const g of groups()) this.set({ group: g.id }, g.devices);
    },
  });
  new Gauge({
    name: 'asyncdiff_devices_busy',
    help: 'Devices of each replica group leased to a running job right now.',
    labelNames: ['group'] as const,
    registers,
    collect() {
      for (const g of groups()) this.set({ group: g.id }, g.busy());
    },
  });

  const batchRows = new Histogram({
    name: 'asyncdiff_batch_step_rows',
    help: 'Model rows (2 per image with guidance) of one continuous-batch step, by device and model: batch occupancy over time.',
    labelNames: ['group', 'device', 'model'] as const,
    buckets: [1, 2, 4, 8, 12, 16, 24, 32, 48, 64],
    registers,
  });
  const batchMembers = new Gauge({ name: 'asyncdiff_batch_members', help: 'Jobs in the last step of each device\'s continuous batch.', labelNames: ['group', 'device', 'model'] as const, registers });

  const histograms = new Map<string, { model: string; mode: Mode; counts: number[]; sumSec: number; count: number }>();
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    jobStarted(kind, model, queueWaitMs, info) {
      if (queueWaitMs !== undefined) queueWait.observe({ kind, model }, queueWaitMs / 1000);
      if (info.resumed) resumes.inc({ kind });
      if (info.retry) retries.inc({ kind });
    },
    jobEnded(kind, model, mode, outcome, runMs) {
      runTime.observe({ kind, model, mode, outcome }, runMs / 1000);
    },
    step(model, mode, t) {
      const sec = t.stepMs / 1000;
      stepTime.observe({ model, mode }, sec);
      handoff.observe({ model, mode }, t.handoffMs / 1000);
      t.stageMs.forEach((ms, stage) => {
        if (ms > 0) stageRun.observe({ model, mode, stage: String(stage) }, ms / 1000);
      });
      const key = `${model}\u0000${mode}`;
      let h = histograms.get(key);
      if (!h) histograms.set(key, (h = { model, mode, counts: new Array<number>(STEP_SECONDS_BUCKETS.length + 1).fill(0), sumSec: 0, count: 0 }));
      const i = STEP_SECONDS_BUCKETS.findIndex((le) => sec <= le);
      const at = i < 0 ? STEP_SECONDS_BUCKETS.length : i;
      h.counts[at] = (h.counts[at] ?? 0) + 1;
      h.sumSec += sec;
      h.count += 1;
    },
    stageRestarted(group) {
      restarts.inc({ group });
    },
    batchStep(group, device, model, info) {
      // rows 0: the batch emptied and its device went back to the group.
      if (info.rows > 0) batchRows.observe({ group, device, model }, info.rows);
      batchMembers.set({ group, device, model }, info.members);
    },
    stepTimes: () => [...histograms.values()].map((h) => ({ ...h, counts: [...h.counts], sumSec: Math.round(h.sumSec * 1e6) / 1e6 })),
  };
}
