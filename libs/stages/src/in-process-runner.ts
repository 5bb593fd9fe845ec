import './ort-env.js';
import type { ComponentSpec, GenerationBatch, PipelineSpec, PlannedRun, PlannedStep, StageRunner, StageStatus } from '@asyncdiff/asyncdiff';
import { EngineError, componentOfDevice, extrapolationWeights, isIdentity } from '@asyncdiff/asyncdiff';
import ort from 'onnxruntime-node';

import { activeBranches, branchDevice, branchRows, type BranchLayout } from './branches.js';
import { InputCompensator, isCompensable } from './compensate.js';
import { asFloat32, timestepArray, timestepDims, writeLatent } from './feeds.js';

/** Options of the in-process runner. */
export interface InProcessRunnerOptions {
  /** Devices to emulate per branch: N (stride 1) or N+1 (stride 2). @defaultValue number of components */
  devices?: number;
  /** Branches computing the batch's rows side by side (see `BranchLayout`). @defaultValue 1 */
  branches?: 1 | 2;
  /** ORT intra-op threads per session. @defaultValue 1 */
  intraOpThreads?: number;
  /**
   * Measurement only: per boundary tensor name, the damping of its compensation (0 = stale input,
   * 1 = the full extrapolation; see `extrapolationWeights`), e.g. fitted on a calibration run.
   * @defaultValue 1 for every tensor
   */
  compensationDamping?: Readonly<Record<string, number>>;
  /**
   * Measurement only (calibration of compensation): called with every run's outputs, by step and
   * global device. The tensors are valid until the runner forgets the step.
   */
  onOutputs?: (step: number, device: number, outputs: Readonly<Record<string, { readonly type: string; readonly dims: readonly number[]; readonly data: unknown }>>) => void;
}

/** Outputs kept per device for compensation: its newest run and up to three older runs. */
const KEEP_RUNS = 4;

type Outputs = Record<string, ort.Tensor>;

/**
 * Runs every component in this process, one after another. `session.run` blocks the JS thread,
 * so this is for tests, the exactness check and the local CLI — never a BullMQ worker's loop.
 * It executes the same plans as the stage-process runner and is the reference it is checked
 * against.
 */
export class InProcessRunner implements StageRunner {
  readonly devices: number;
  readonly components: number;
  readonly layout: BranchLayout;
  /** Latest outputs by global device. */
  private readonly latest = new Map<number, Outputs>();
  /** Recent outputs by global device and step (compensated runs combine several). */
  private readonly byStep = new Map<number, Map<number, Outputs>>();
  private batch: GenerationBatch | undefined;
  /** Per-row timestep values of the step being run (a continuous batch), else undefined. */
  private rowTimesteps: Float64Array | undefined;
  /** Per active branch: its rows and its conditioning feeds. */
  private branchFeeds: { branch: number; start: number; end: number; conditioning: Record<string, ort.Tensor> }[] = [];
  private epsScratch = new Float32Array(0);
  private closed = false;

  private constructor(
    private readonly spec: PipelineSpec,
    private readonly sessions: ort.InferenceSession[],
    layout: BranchLayout,
    private readonly damping: Readonly<Record<string, number>> = {},
    private readonly onOutputs?: InProcessRunnerOptions['onOutputs'],
  ) {
    this.components = spec.components.length;
    this.layout = layout;
    this.devices = layout.branches * layout.perBranch;
  }

  /** Loads one session per device (stride 2's extra device gets its own copy of C_{N-1}; each branch its own). */
  static async create(spec: PipelineSpec, options: InProcessRunnerOptions = {}): Promise<InProcessRunner> {
    const layout: BranchLayout = { branches: options.branches ?? 1, perBranch: options.devices ?? spec.components.length };
    const threads = options.intraOpThreads ?? 1;
    const sessions: ort.InferenceSession[] = [];
    for (let g = 0; g < layout.branches * layout.perBranch; g++) {
      const c = spec.components[componentOfDevice(spec.components.length, g % layout.perBranch)] as ComponentSpec;
      sessions.push(
        await ort.InferenceSession.create(c.modelPath, {
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
        }),
      );
    }
    return new InProcessRunner(spec, sessions, layout, options.compensationDamping, options.onOutputs);
  }

  async begin(batch: GenerationBatch): Promise<void> {
    this.ensureOpen();
    this.batch = batch;
    this.latest.clear();
    this.byStep.clear();
    this.branchFeeds = activeBranches(this.layout, batch.batch).map((branch) => {
      const { start, end } = branchRows(this.layout, batch.batch, branch);
      const conditioning: Record<string, ort.Tensor> = {};
      for (const c of this.spec.conditioning) {
        const t = batch.conditioning[c.name];
        if (!t) throw new EngineError('RUNNER_BAD_STEP', `the generation has no conditioning tensor ${c.name}`, false, c.name);
        if (t.dtype !== c.dtype) throw new EngineError('RUNNER_BAD_STEP', `conditioning ${c.name} is ${t.dtype}, the graph wants ${c.dtype}`, false, c.name);
        const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
        conditioning[c.name] = new ort.Tensor(t.dtype, t.data.subarray(start * row, end * row), [end - start, ...t.dims.slice(1)]);
      }
      return { branch, start, end, conditioning };
    });
  }

  async runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array, rowTimesteps?: Float64Array): Promise<void> {
    this.ensureOpen();
    if (rowTimesteps && rowTimesteps.length !== this.batch?.batch) throw new EngineError('RUNNER_BAD_STEP', `${rowTimesteps.length} row timesteps for a batch of ${this.batch?.batch}`, false);
    this.rowTimesteps = rowTimesteps;
    if (step.phase === 'warmup') {
      for (const run of step.runs) {
        for (const bf of this.branchFeeds) this.keep(step.step, branchDevice(this.layout, bf.branch, run.device), await this.execute(bf, run, latent, timestepValues, this.latest));
      }
      return;
    }
    // Parallel: every run sees the outputs as they were when the step started.
    const before = new Map(this.latest);
    const results: [number, Outputs][] = [];
    for (const run of step.runs) {
      for (const bf of this.branchFeeds) results.push([branchDevice(this.layout, bf.branch, run.device), await this.execute(bf, run, latent, timestepValues, before)]);
    }
    for (const [device, out] of results) this.keep(step.step, device, out);
  }

  /** Records a device's outputs of a step as its latest and in its recent history. */
  private keep(step: number, device: number, out: Outputs): void {
    this.latest.set(device, out);
    let m = this.byStep.get(device);
    if (!m) this.byStep.set(device, (m = new Map()));
    m.set(step, out);
    // Keep the last runs, not the last steps: with stride 2 a device runs every other step, so a
    // quadratic history reaches back six steps.
    for (const s of m.keys()) if (m.size > KEEP_RUNS) m.delete(s);
    this.onOutputs?.(step, device, out);
  }

  /**
   * A compensated boundary input: the producer's outputs of the run's history steps, combined
   * with the extrapolation weights to the run's timestep. undefined when nothing is to be done
   * (identity weights, an integer tensor).
   */
  private compensated(producer: number, name: string, run: PlannedRun, timestepValues: Float64Array): ort.Tensor | undefined {
    const history = run.history;
    if (!history) return undefined;
    const target = timestepValues[run.t] as number;
    const weights = extrapolationWeights(target, history.map((h) => timestepValues[h.t] as number), this.damping[name] ?? 1);
    if (isIdentity(weights)) return undefined;
    const outputs = history.map((h) => this.byStep.get(producer)?.get(h.step)?.[name]);
    const first = outputs[0];
    if (!first || !isCompensable(first.type)) return undefined;
    const sources = outputs.map((t, i) => {
      if (!t) throw new EngineError('RUNNER_BAD_STEP', `compensation needs ${name} of step ${history[i]!.step} from device ${producer}, which is gone`, false);
      return t.data as Float32Array | Uint16Array;
    });
    const c = new InputCompensator(first.type as 'float32' | 'float16', first.size);
    return new ort.Tensor(first.type as 'float32', c.compute(sources, weights) as Float32Array, first.dims);
  }

  eps(device: number): Float32Array {
    const parts = this.branchFeeds.map((bf) => {
      const t = this.latest.get(branchDevice(this.layout, bf.branch, device))?.[this.spec.epsOutput];
      if (!t) throw new EngineError('RUNNER_BAD_STEP', `device ${device} has no noise prediction yet`, false);
      return asFloat32(t.data, () => new Float32Array(t.size));
    });
    if (parts.length === 1) return parts[0]!;
    const total = parts.reduce((n, p) => n + p.length, 0);
    if (this.epsScratch.length !== total) this.epsScratch = new Float32Array(total);
    let offset = 0;
    for (const p of parts) {
      this.epsScratch.set(p, offset);
      offset += p.length;
    }
    return this.epsScratch;
  }

  stageStatus(): readonly StageStatus[] {
    const state = this.closed ? 'stopped' : 'ready';
    return Array.from({ length: this.devices }, (_, device) => ({ device, pid: process.pid, state }));
  }

  /** Sessions in this process cannot die on their own: nothing to check or replace. */
  async checkHealth(): Promise<readonly number[]> {
    this.ensureOpen();
    return [];
  }

  async recover(): Promise<readonly number[]> {
    this.ensureOpen();
    this.latest.clear();
    this.byStep.clear();
    return [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.latest.clear();
    this.byStep.clear();
    for (const s of this.sessions) await s.release();
  }

  /** Runs local device `device`'s component for one branch's rows. */
  private async execute(
    bf: { readonly branch: number; readonly start: number; readonly end: number; readonly conditioning: Record<string, ort.Tensor> },
    run: PlannedRun,
    latent: Float32Array,
    timestepValues: Float64Array,
    from: Map<number, Outputs>,
  ): Promise<Outputs> {
    const { device, t } = run;
    const batch = this.batch;
    if (!batch) throw new EngineError('RUNNER_BAD_STEP', 'runStep before begin', false);
    const comp = this.spec.components[componentOfDevice(this.components, device)] as ComponentSpec;
    const value = timestepValues[t];
    if (value === undefined) throw new EngineError('RUNNER_BAD_STEP', `timestep index ${t} out of range`, false);
    const session = this.sessions[branchDevice(this.layout, bf.branch, device)] as ort.InferenceSession;
    const rows = bf.end - bf.start;
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of comp.inputs) {
      switch (input.kind) {
        case 'latent': {
          const dims = [rows, ...batch.sampleDims];
          const n = batch.sampleDims.reduce((a, b) => a * b, 1);
          const mine = latent.subarray(bf.start * n, bf.end * n);
          feeds[input.name] = this.spec.latentDtype === 'float16' ? new ort.Tensor('float16', half(mine), dims) : new ort.Tensor('float32', mine, dims);
          break;
        }
        case 'timestep': {
          const meta = session.inputMetadata.find((m) => m.name === input.name);
          const dims = timestepDims(meta?.isTensor ? meta.shape : undefined, rows);
          const ts = timestepArray(this.spec.timestepDtype, dims.reduce((a, b) => a * b, 1));
          if (this.rowTimesteps) ts.fillRows(this.rowTimesteps.subarray(bf.start, bf.end));
          else ts.fill(value);
          feeds[input.name] = new ort.Tensor(this.spec.timestepDtype, ts.data, dims);
          break;
        }
        case 'conditioning': {
          const c = bf.conditioning[input.name];
          if (!c) throw new EngineError('RUNNER_BAD_STEP', `component ${comp.index} reads conditioning ${input.name}, which the pipeline does not declare`, false);
          feeds[input.name] = c;
          break;
        }
        case 'boundary': {
          const producer = branchDevice(this.layout, bf.branch, input.producer);
          const produced = from.get(producer)?.[input.name];
          if (!produced) {
            throw new EngineError('RUNNER_BAD_STEP', `component ${comp.index} needs ${input.name} from component ${input.producer}, which has not run`, false);
          }
          feeds[input.name] = this.compensated(producer, input.name, run, timestepValues) ?? produced;
          break;
        }
      }
    }
    return (await session.run(feeds)) as Outputs;
  }

  private ensureOpen(): void {
    if (this.closed) throw new EngineError('RUNNER_CLOSED', 'runner is closed', false);
  }
}

function half(latent: Float32Array): Uint16Array {
  const out = new Uint16Array(latent.length);
  writeLatent(out, latent);
  return out;
}
