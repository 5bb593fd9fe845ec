import './ort-env.js';
import { readFileSync, statSync } from 'node:fs';

import type { ComponentInputSpec, ComponentSpec } from '@asyncdiff/asyncdiff';
import { Channel, getAffinity, setProcessAffinity, type TensorSpec } from '@asyncdiff/shm';
import ort from 'onnxruntime-node';

import { ControlBlock, monotonicUs } from './control-block.js';
import type { DeviceSpec } from './device.js';
import { threadsFor } from './device.js';
import { timestepArray, timestepDims } from './feeds.js';
import type { FromStage, StageFeedTypes, ToStage } from './protocol.js';
import { assertNever } from './protocol.js';
import { boundaryFeed, feedsFor, type BoundaryFeed } from './stage-feeds.js';

type Send = (m: FromStage) => void;

/** Everything bound for one batch size: control block, channels and prebuilt ORT tensors. */
interface Binding {
  readonly control: ControlBlock;
  readonly output: Channel;
  readonly producers: Map<number, Channel>;
  /** feeds for the non-boundary inputs (latent, timestep, conditioning) — fixed objects over shared memory. */
  readonly fixedFeeds: Record<string, ort.Tensor>;
  /** Writes a request's timestep(s) into the timestep feed (in the graph's dtype): one for all rows, or this stage's rows' own. */
  readonly setTimestep: (req: { readonly tValue: number; readonly perRow: boolean }) => void;
  /** Boundary inputs: views on every slot of their producers' channels (and compensation buffers). */
  readonly boundary: readonly BoundaryFeed[];
  /** Preallocated outputs in each of this stage's own slots (run r writes slot r % slots). */
  readonly fetches: readonly Record<string, ort.Tensor>[];
  /** Complete uncompensated feeds per combination of producer slots, built on first use. */
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
  private feedTypes: StageFeedTypes | undefined;
  private device = -1;
  private spinUs = 0;
  private binding: Binding | undefined;
  private loopRunning = false;
  private stopping = false;
  /** Aborts the idle wait on the request doorbell (a new binding, a shutdown). */
  private idleWait: AbortController | undefined;

  constructor(private readonly send: Send) {}

  async handle(m: ToStage): Promise<void> {
    try {
      switch (m.type) {
        case 'load':
          await this.load(m.id, m.device, m.spec, m.component, m.feedTypes, m.spinUs);
          return;
        case 'configure':
          await this.configure(m);
          return;
        case 'health':
          await this.health(m.id);
          return;
        case 'shutdown':
          this.stopping = true;
          this.idleWait?.abort();
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

  private async load(id: number, device: number, spec: DeviceSpec, component: ComponentSpec, feedTypes: StageFeedTypes, spinUs: number): Promise<void> {
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
    this.feedTypes = feedTypes;
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

  private async configure(m: Extract<ToStage, { type: 'configure' }>): Promise<void> {
    const session = this.need(this.session, 'configure before load');
    const component = this.need(this.component, 'configure before load');
    const feedTypes = this.need(this.feedTypes, 'configure before load');
    const old = this.binding;
    this.binding = undefined;
    this.idleWait?.abort();
    const control = old?.control.name === m.control ? old.control : ControlBlock.open(m.control, m.layout);
    const producers = new Map<number, Channel>();
    for (const p of m.producers) {
      const reuse = old?.producers.get(p.device);
      producers.set(p.device, reuse && reuse.name === p.channel ? reuse : Channel.open(p.channel));
    }
    const fixedFeeds: Record<string, ort.Tensor> = {};
    const boundary: BoundaryFeed[] = [];
    let setTimestep: Binding['setTimestep'] = () => undefined;
    for (const input of component.inputs) {
      if (input.kind === 'timestep') {
        const meta = session.inputMetadata.find((x) => x.name === input.name);
        const dims = timestepDims(meta?.isTensor ? meta.shape : undefined, m.batch);
        const ts = timestepArray(feedTypes.timestepDtype, dims.reduce((a, b) => a * b, 1));
        fixedFeeds[input.name] = new ort.Tensor(feedTypes.timestepDtype, ts.data, dims);
        const mine = control.rowTimesteps.subarray(m.rowOffset, m.rowOffset + m.batch);
        setTimestep = (req) => (req.perRow ? ts.fillRows(mine) : ts.fill(req.tValue));
      } else {
        this.bindInput(input, m, control, producers, fixedFeeds, boundary);
      }
    }
    // Probe once with whatever the slots hold to learn the output shapes, then allocate the
    // output channel so ORT can write into it directly from now on.
    const probeFeeds: Record<string, ort.Tensor> = { ...fixedFeeds };
    for (const f of boundary) probeFeeds[f.name] = f.perSlot[0]!;
    const probe = await session.run(probeFeeds);
    const specs: TensorSpec[] = component.outputs.map((name) => {
      const t = probe[name];
      if (!t) throw new Error(`component ${component.index} did not produce ${name}`);
      return { name, dtype: t.type as TensorSpec['dtype'], dims: [...t.dims] };
    });
    const output = Channel.create({ label: `stage${this.device}-b${m.batch}-${Date.now().toString(36)}`, tensors: specs, slots: m.slots });
    const fetches = Array.from({ length: m.slots }, (_, slot) => {
      const rec: Record<string, ort.Tensor> = {};
      for (const t of output.slot(slot).tensors) {
        // Seed both slots with the probe's values: consumers probe next (configure goes producers
        // first), and a shape tensor crossing a cut (int64 dims for a Reshape) must hold real
        // dims then, not zeros. Later steps overwrite it with the same values.
        (t.data as Float32Array).set(probe[t.name]!.data as Float32Array);
        rec[t.name] = new ort.Tensor(t.dtype, t.data as Float32Array, [...t.dims]);
      }
      return rec;
    });
    if (old) {
      old.output.dispose();
      for (const [dev, ch] of old.producers) if (producers.get(dev) !== ch) ch.dispose();
      if (old.control !== control) old.control.dispose();
    }
    this.binding = { control, output, producers, fixedFeeds, setTimestep, boundary, fetches, feedsBySlots: new Map() };
    this.send({ type: 'configured', id: m.id, channel: output.name, outputs: specs });
    if (!this.loopRunning) void this.loop();
  }

  private bindInput(
    input: Exclude<ComponentInputSpec, { kind: 'timestep' }>,
    m: {
      readonly batch: number;
      readonly rowOffset: number;
      readonly deviceBase: number;
      readonly sampleDims: readonly number[];
      readonly conditioningDims: Readonly<Record<string, readonly number[]>>;
    },
    control: ControlBlock,
    producers: Map<number, Channel>,
    fixedFeeds: Record<string, ort.Tensor>,
    boundary: BoundaryFeed[],
  ): void {
    switch (input.kind) {
      case 'latent': {
        // This stage's rows of the step's latent (a branch computes one slice of the batch).
        const n = m.sampleDims.reduce((a, b) => a * b, 1);
        const { dtype, data } = control.latent;
        fixedFeeds[input.name] = new ort.Tensor(dtype, data.subarray(m.rowOffset * n, (m.rowOffset + m.batch) * n) as Float32Array, [m.batch, ...m.sampleDims]);
        return;
      }
      case 'conditioning': {
        const region = control.conditioning.get(input.name);
        const dims = m.conditioningDims[input.name];
        if (!region || !dims) throw Object.assign(new Error(`no conditioning ${input.name} in the control block`), { code: 'STAGE_PROTOCOL' });
        const row = dims.slice(1).reduce((a, b) => a * b, 1);
        fixedFeeds[input.name] = new ort.Tensor(region.dtype, region.data.subarray(m.rowOffset * row, (m.rowOffset + m.batch) * row) as Float32Array, [m.batch, ...dims.slice(1)]);
        return;
      }
      case 'boundary': {
        // Producers are named by component; this stage's branch holds them from `deviceBase` on.
        const producer = m.deviceBase + input.producer;
        const ch = producers.get(producer);
        if (!ch) throw new Error(`no channel for producer device ${producer} (input ${input.name})`);
        boundary.push(boundaryFeed(input.name, producer, ch));
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
    let emptyWaits = 0;
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
      // Idle (no request for IDLE_AFTER_EMPTY_WAITS short waits): sleep on the doorbell from a
      // helper thread instead, so the event loop stays free for IPC without waking 50 times a
      // second (an idle stage cost ~7.5% of a core that way). The first request after idle pays
      // an async wake-up (tens of µs); requests within a generation keep the synchronous path.
      let r: { readonly status: 'rung' | 'timed-out' | 'interrupted'; readonly seq: number };
      if (emptyWaits >= IDLE_AFTER_EMPTY_WAITS) {
        const wait = (this.idleWait = new AbortController());
        try {
          r = await bell.waitAsync(seen, { timeoutMs: IDLE_WAIT_MS, signal: wait.signal });
        } catch (e) {
          if (wait.signal.aborted) continue; // a new binding or a shutdown: look again at the top
          throw e;
        } finally {
          this.idleWait = undefined;
        }
      } else {
        r = bell.wait(seen, { timeoutMs: 20, spinUs: busy ? this.spinUs : 0 });
      }
      busy = r.status === 'rung';
      if (r.status !== 'rung') {
        if (r.status === 'timed-out') emptyWaits++;
        await yieldToLoop();
        continue;
      }
      emptyWaits = 0;
      seen = r.seq;
      const wokeAtUs = monotonicUs();
      const req = b.control.readRequest(this.device);
      const t0 = performance.now();
      let ok = true;
      try {
        b.setTimestep(req);
        b.output.beginWrite(req.run);
        await session.run(feedsFor(b, req.producerRuns, req.weights, this.device), b.fetches[req.run % b.fetches.length]!);
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
      for (const f of b.boundary) feeds[f.name] = f.perSlot[0]!;
      await session.run(feeds);
    }
    this.send({ type: 'health', id, runMs: performance.now() - t0, inferred: b !== undefined, rssBytes: process.memoryUsage().rss, peakRssBytes: peakRss() });
  }

  dispose(): void {
    const b = this.binding;
    this.binding = undefined;
    this.idleWait?.abort();
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

/** Short synchronous waits (20 ms each) without a request before a stage counts as idle. */
const IDLE_AFTER_EMPTY_WAITS = 5;
/** An idle stage's doorbell wait: it re-checks its binding this often even if nothing aborts the wait. */
const IDLE_WAIT_MS = 1000;

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
