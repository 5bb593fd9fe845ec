import { readFileSync, statSync } from 'node:fs';

import type { ComponentInputSpec, ComponentSpec } from '@asyncdiff/asyncdiff';
import { Channel, getAffinity, setProcessAffinity, type TensorSpec } from '@asyncdiff/shm';
import ort from 'onnxruntime-node';

import { ControlBlock, monotonicUs } from './control-block.js';
import type { DeviceSpec } from './device.js';
import { threadsFor } from './device.js';
import type { FromStage, ToStage } from './protocol.js';
import { assertNever } from './protocol.js';

type Send = (m: FromStage) => void;

/** Everything bound for one batch size: control block, channels and prebuilt ORT tensors. */
interface Binding {
  readonly control: ControlBlock;
  readonly output: Channel;
  readonly producers: Map<number, Channel>;
  /** feeds for the non-boundary inputs (latent, timestep, labels) — fixed objects over shared memory. */
  readonly fixedFeeds: Record<string, ort.Tensor>;
  readonly timestep: Float32Array;
  /** [input name, producer device, tensors for producer slot 0 and 1] */
  readonly boundary: readonly (readonly [string, number, readonly [ort.Tensor, ort.Tensor]])[];
  /** preallocated outputs in this stage's own slot 0 and 1 */
  readonly fetches: readonly [Record<string, ort.Tensor>, Record<string, ort.Tensor>];
  /** Complete feeds per combination of producer slots (bit p = slot of producer p), built on first use. */
  readonly feedsBySlots: Map<number, Record<string, ort.Tensor>>;
}

/**
 * The body of a stage process: pinned to its device, holding only its own component, it sleeps
 * on its request doorbell, runs the component when rung (inputs are views on the producers'
 * shared slots, outputs are written by ORT straight into its own slot) and rings completion.
 * Control messages (load, configure, health, shutdown) arrive over IPC between steps.
 */
export class StageProcess {
  private session: ort.InferenceSession | undefined;
  private component: ComponentSpec | undefined;
  private device = -1;
  private spinUs = 0;
  private binding: Binding | undefined;
  private loopRunning = false;
  private stopping = false;

  constructor(private readonly send: Send) {}

  async handle(m: ToStage): Promise<void> {
    try {
      switch (m.type) {
        case 'load':
          await this.load(m.id, m.device, m.spec, m.component, m.spinUs);
          return;
        case 'configure':
          await this.configure(m.id, m.batch, m.sampleDims, m.control, m.producers);
          return;
        case 'health':
          await this.health(m.id);
          return;
        case 'shutdown':
          this.stopping = true;
          this.send({ type: 'stopping', id: m.id });
          this.dispose();
          return;
        default:
          assertNever(m);
      }
    } catch (e) {
      const err = e as Error & { code?: string };
      this.send({ type: 'error', id: m.id, code: err.code ?? 'STAGE_FAILED', message: err.message });
    }
  }

  private async load(id: number, device: number, spec: DeviceSpec, component: ComponentSpec, spinUs: number): Promise<void> {
    const t0 = performance.now();
    let cpus: number[] = [];
    if (spec.cpus && spec.cpus.length > 0) {
      setProcessAffinity(spec.cpus);
      cpus = getAffinity();
    }
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threadsFor(spec),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // One CPU provider per pinned core group; on a GPU host CUDA_VISIBLE_DEVICES (set by the
      // spawner) exposes exactly one GPU, which the CUDA provider sees as device 0.
      executionProviders: spec.kind === 'cuda' ? [{ name: 'cuda', deviceId: 0 }, 'cpu'] : ['cpu'],
    };
    this.session = await ort.InferenceSession.create(component.modelPath, options);
    this.component = component;
    this.device = device;
    this.spinUs = spinUs;
    this.send({
      type: 'loaded',
      id,
      loadMs: performance.now() - t0,
      weightBytes: statSync(component.modelPath).size,
      rssBytes: process.memoryUsage().rss,
      cpus,
    });
  }

  private async configure(
    id: number,
    batch: number,
    sampleDims: readonly number[],
    controlName: string,
    producerList: readonly { device: number; channel: string }[],
  ): Promise<void> {
    const session = this.need(this.session, 'configure before load');
    const component = this.need(this.component, 'configure before load');
    const old = this.binding;
    this.binding = undefined;
    const control = old?.control.name === controlName ? old.control : ControlBlock.open(controlName);
    const producers = new Map<number, Channel>();
    for (const p of producerList) {
      const reuse = old?.producers.get(p.device);
      producers.set(p.device, reuse && reuse.name === p.channel ? reuse : Channel.open(p.channel));
    }
    const n = sampleDims.reduce((a, b) => a * b, 1);
    const timestep = new Float32Array(batch);
    const fixedFeeds: Record<string, ort.Tensor> = {};
    const boundary: [string, number, readonly [ort.Tensor, ort.Tensor]][] = [];
    for (const input of component.inputs) this.bindInput(input, batch, n, sampleDims, control, producers, timestep, fixedFeeds, boundary);
    // Probe once with whatever the slots hold to learn the output shapes, then allocate the
    // output channel so ORT can write into it directly from now on.
    const probeFeeds: Record<string, ort.Tensor> = { ...fixedFeeds };
    for (const [name, , pair] of boundary) probeFeeds[name] = pair[0];
    const probe = await session.run(probeFeeds);
    const specs: TensorSpec[] = component.outputs.map((name) => {
      const t = probe[name];
      if (!t) throw new Error(`component ${component.index} did not produce ${name}`);
      return { name, dtype: t.type as TensorSpec['dtype'], dims: [...t.dims] };
    });
    const output = Channel.create({ label: `stage${this.device}-b${batch}-${Date.now().toString(36)}`, tensors: specs });
    const fetches = ([0, 1] as const).map((slot) => {
      const rec: Record<string, ort.Tensor> = {};
      for (const t of output.slot(slot).tensors) rec[t.name] = new ort.Tensor(t.dtype, t.data as Float32Array, [...t.dims]);
      return rec;
    }) as unknown as readonly [Record<string, ort.Tensor>, Record<string, ort.Tensor>];
    if (old) {
      old.output.dispose();
      for (const [dev, ch] of old.producers) if (producers.get(dev) !== ch) ch.dispose();
      if (old.control !== control) old.control.dispose();
    }
    this.binding = { control, output, producers, fixedFeeds, timestep, boundary, fetches, feedsBySlots: new Map() };
    this.send({ type: 'configured', id, channel: output.name, outputs: specs });
    if (!this.loopRunning) void this.loop();
  }

  private bindInput(
    input: ComponentInputSpec,
    batch: number,
    n: number,
    sampleDims: readonly number[],
    control: ControlBlock,
    producers: Map<number, Channel>,
    timestep: Float32Array,
    fixedFeeds: Record<string, ort.Tensor>,
    boundary: [string, number, readonly [ort.Tensor, ort.Tensor]][],
  ): void {
    switch (input.kind) {
      case 'latent':
        fixedFeeds[input.name] = new ort.Tensor('float32', control.latent.subarray(0, batch * n), [batch, ...sampleDims]);
        return;
      case 'timestep':
        fixedFeeds[input.name] = new ort.Tensor('float32', timestep, [batch]);
        return;
      case 'class-labels':
        fixedFeeds[input.name] = new ort.Tensor('int64', control.labels.subarray(0, batch), [batch]);
        return;
      case 'boundary': {
        const ch = producers.get(input.producer);
        if (!ch) throw new Error(`no channel for producer device ${input.producer} (input ${input.name})`);
        const pair = ([0, 1] as const).map((slot) => {
          const v = ch.slot(slot).tensor(input.name);
          return new ort.Tensor(v.dtype, v.data as Float32Array, [...v.dims]);
        }) as unknown as readonly [ort.Tensor, ort.Tensor];
        boundary.push([input.name, input.producer, pair]);
        return;
      }
      default:
        assertNever(input);
    }
  }

  /** The hot loop: sleep on the request doorbell, run, publish, ring completion. */
  private async loop(): Promise<void> {
    this.loopRunning = true;
    const session = this.need(this.session, 'loop before load');
    let b = this.binding;
    let bell = b?.control.requestBell(this.device);
    // Requests are numbered by the request doorbell; the last one this stage finished is in the
    // block (a baseline read from the bell here could race with a dispatch already under way).
    let seen = b ? b.control.done(this.device).seq : 0;
    let busy = false;
    while (!this.stopping) {
      if (this.binding !== b) {
        const previous = b;
        b = this.binding;
        if (!b) break;
        bell = b.control.requestBell(this.device);
        if (previous?.control !== b.control) seen = b.control.done(this.device).seq;
      }
      if (!b || !bell) break;
      // Short sleeps so IPC control messages (health, configure, shutdown) get through between steps.
      // Spin only while a generation is under way (the last wait was rung): an idle stage that
      // spun on every wake-up would steal a slice of its core from whatever else runs there
      // (measured: other engines' idle stages slowed a 2-thread ORT session below 1 thread).
      const r = bell.wait(seen, { timeoutMs: 20, spinUs: busy ? this.spinUs : 0 });
      busy = r.status === 'rung';
      if (r.status !== 'rung') {
        await yieldToLoop();
        continue;
      }
      seen = r.seq;
      const wokeAtUs = monotonicUs();
      const req = b.control.readRequest(this.device);
      const t0 = performance.now();
      let ok = true;
      try {
        b.timestep.fill(req.tValue);
        b.output.beginWrite(req.run);
        await session.run(feedsFor(b, req.producerRuns, this.device), b.fetches[req.run & 1]);
        b.output.publish(req.run);
      } catch (e) {
        ok = false;
        const err = e as Error & { code?: string };
        this.send({ type: 'error', id: null, code: err.code ?? 'STAGE_RUN_FAILED', message: `run ${req.run}: ${err.message}` });
      }
      b.control.complete(this.device, seen, ok, (performance.now() - t0) * 1000, wokeAtUs);
    }
    this.loopRunning = false;
  }

  private async health(id: number): Promise<void> {
    const session = this.need(this.session, 'health before load');
    const b = this.binding;
    const t0 = performance.now();
    if (b) {
      // A tiny real inference on the current bindings, into fresh outputs: the shared slots
      // (hidden states of a generation in progress) are not touched.
      const feeds: Record<string, ort.Tensor> = { ...b.fixedFeeds };
      for (const [name, , pair] of b.boundary) feeds[name] = pair[0];
      await session.run(feeds);
    }
    this.send({ type: 'health', id, runMs: performance.now() - t0, inferred: b !== undefined, rssBytes: process.memoryUsage().rss, peakRssBytes: peakRss() });
  }

  dispose(): void {
    const b = this.binding;
    this.binding = undefined;
    if (b) {
      b.output.dispose();
      for (const ch of b.producers.values()) ch.dispose();
      b.control.dispose();
    }
  }

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw Object.assign(new Error(what), { code: 'STAGE_PROTOCOL' });
    return v;
  }
}

/**
 * The feeds of a request: inputs are views on the producers' slots named by their run numbers.
 * A producer's slot is its run's parity, so the feeds are cached per parity of each producer.
 */
function feedsFor(b: Binding, producerRuns: readonly number[], device: number): Record<string, ort.Tensor> {
  let mask = 0;
  for (const [, producer] of b.boundary) {
    const run = producerRuns[producer] ?? -1;
    if (run < 0) throw new Error(`request for device ${device} names no run of producer ${producer}`);
    mask |= (run & 1) << producer;
  }
  let feeds = b.feedsBySlots.get(mask);
  if (!feeds) {
    feeds = { ...b.fixedFeeds };
    for (const [name, producer, pair] of b.boundary) feeds[name] = pair[((mask >> producer) & 1) as 0 | 1];
    b.feedsBySlots.set(mask, feeds);
  }
  return feeds;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Peak resident set (VmHWM) of this process, bytes. */
export function peakRss(pid: number | 'self' = 'self'): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
