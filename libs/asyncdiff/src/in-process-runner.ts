import ort from 'onnxruntime-node';

import { EngineError } from './errors.js';
import { componentOfDevice, type ComponentSpec, type PipelineSpec } from './pipeline.js';
import type { PlannedStep } from './plan.js';
import type { GenerationBatch, StageRunner } from './runner.js';

/** Options of the in-process runner. */
export interface InProcessRunnerOptions {
  /** Devices to emulate: N (stride 1) or N+1 (stride 2). @defaultValue number of components */
  devices?: number;
  /** ORT intra-op threads per session. @defaultValue 1 */
  intraOpThreads?: number;
}

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
  private readonly latest = new Map<number, Outputs>();
  private batch: GenerationBatch | undefined;
  private closed = false;

  private constructor(
    private readonly spec: PipelineSpec,
    private readonly sessions: ort.InferenceSession[],
    devices: number,
  ) {
    this.components = spec.components.length;
    this.devices = devices;
  }

  /** Loads one session per device (stride 2's extra device gets its own copy of C_{N-1}). */
  static async create(spec: PipelineSpec, options: InProcessRunnerOptions = {}): Promise<InProcessRunner> {
    const devices = options.devices ?? spec.components.length;
    const threads = options.intraOpThreads ?? 1;
    const sessions: ort.InferenceSession[] = [];
    for (let d = 0; d < devices; d++) {
      const c = spec.components[componentOfDevice(spec.components.length, d)] as ComponentSpec;
      sessions.push(
        await ort.InferenceSession.create(c.modelPath, {
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
        }),
      );
    }
    return new InProcessRunner(spec, sessions, devices);
  }

  async begin(batch: GenerationBatch): Promise<void> {
    this.ensureOpen();
    this.batch = batch;
    this.latest.clear();
  }

  async runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array): Promise<void> {
    this.ensureOpen();
    if (step.phase === 'warmup') {
      for (const run of step.runs) {
        this.latest.set(run.device, await this.execute(run.device, run.t, latent, timestepValues, this.latest));
      }
      return;
    }
    // Parallel: every run sees the outputs as they were when the step started.
    const before = new Map(this.latest);
    const results: [number, Outputs][] = [];
    for (const run of step.runs) results.push([run.device, await this.execute(run.device, run.t, latent, timestepValues, before)]);
    for (const [device, out] of results) this.latest.set(device, out);
  }

  eps(device: number): Float32Array {
    const t = this.latest.get(device)?.[this.spec.epsOutput];
    if (!t) throw new EngineError('RUNNER_BAD_STEP', `device ${device} has no noise prediction yet`, false);
    return t.data as Float32Array;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.latest.clear();
    for (const s of this.sessions) await s.release();
  }

  private async execute(device: number, t: number, latent: Float32Array, timestepValues: Float64Array, from: Map<number, Outputs>): Promise<Outputs> {
    const batch = this.batch;
    if (!batch) throw new EngineError('RUNNER_BAD_STEP', 'runStep before begin', false);
    const comp = this.spec.components[componentOfDevice(this.components, device)] as ComponentSpec;
    const value = timestepValues[t];
    if (value === undefined) throw new EngineError('RUNNER_BAD_STEP', `timestep index ${t} out of range`, false);
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of comp.inputs) {
      switch (input.kind) {
        case 'latent':
          feeds[input.name] = new ort.Tensor('float32', latent, [batch.batch, ...batch.sampleDims]);
          break;
        case 'timestep':
          feeds[input.name] = new ort.Tensor('float32', new Float32Array(batch.batch).fill(value), [batch.batch]);
          break;
        case 'class-labels':
          feeds[input.name] = new ort.Tensor('int64', batch.classLabels, [batch.batch]);
          break;
        case 'boundary': {
          const produced = from.get(input.producer)?.[input.name];
          if (!produced) {
            throw new EngineError('RUNNER_BAD_STEP', `component ${comp.index} needs ${input.name} from component ${input.producer}, which has not run`, false);
          }
          feeds[input.name] = produced;
          break;
        }
      }
    }
    const session = this.sessions[device] as ort.InferenceSession;
    return (await session.run(feeds)) as Outputs;
  }

  private ensureOpen(): void {
    if (this.closed) throw new EngineError('RUNNER_CLOSED', 'runner is closed', false);
  }
}
