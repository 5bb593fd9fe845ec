import type { FeedDtype } from '@asyncdiff/asyncdiff';
import { Doorbell, ShmSegment } from '@asyncdiff/shm';
import type { DataTypeMap } from '@asyncdiff/tensor';

import { DEVICE_BASE, DEVICE_STRIDE, MAX_COMPENSATION_WEIGHTS, MAX_DEVICES, controlLayout, type ControlCapacity, type ControlLayout, type ControlRegion } from './control-layout.js';

export { MAX_DEVICES } from './control-layout.js';

/*
 * Layout (bytes, little-endian), created by the coordinator and opened by every stage:
 *   0   u32 magic 'ADCB', u32 version, u32 devices, u32 maxBatch, u32 byteLength
 *   64  completion doorbell (8 B): every stage rings it when a run is done
 *   128 + 192·d  device block d:
 *        0  request doorbell (8 B): the coordinator rings it after writing the request
 *        8  i32 run        (the stage's output channel step: slot run % slots)
 *       12  i32 tIndex
 *       16  f64 tValue     (model timestep value)
 *       24  i32 status     (0 ok, 1 failed)
 *       28  i32 doneSeq    (request doorbell seq of the last finished request)
 *       32  f64 runUs      (time inside session.run, for the profile)
 *       40  f64 wokeAtUs   (monotonic clock when the stage woke for the request, for the profile)
 *       48  f64 doneAtUs   (monotonic clock just before it rang completion)
 *       56  i32 perRow     (1: each row's timestep is in the rowTimesteps region, not tValue)
 *       64  i32 producerRuns[16] (which run of producer device j to read; -1 none)
 *      128  i32 weightCount (0 or 1: read the producers' runs as they are)
 *      136  f64 weights[4] (staleness compensation: input = Σ_i weights[i] · producer's run (r − i))
 *   then the regions of `ControlLayout` (64-byte aligned): the step's latent (float32 or float16),
 *   the per-row timestep values (f64) and every conditioning tensor of the current generation (class labels, text embeddings, …).
 */
const MAGIC = 0x42434441;
const VERSION = 6;
const COMPLETION = 64;
const F = { run: 8, tIndex: 12, tValue: 16, status: 24, doneSeq: 28, runUs: 32, wokeAtUs: 40, doneAtUs: 48, perRow: 56, producerRuns: 64, weightCount: 128, weights: 136 } as const;

/**
 * A clock every process on the machine shares (CLOCK_MONOTONIC), in µs: stamps written by a
 * stage and read by the coordinator are comparable, which `performance.now()` (per-process
 * origin) is not.
 */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** One step's work for one device, as the coordinator writes it. */
export interface StageRequest {
  readonly run: number;
  readonly tIndex: number;
  readonly tValue: number;
  /**
   * Rows carry their own timesteps (the block's `rowTimesteps`, written before dispatch): a
   * continuous batch of jobs at different steps. False: every row is at `tValue`.
   */
  readonly perRow: boolean;
  /** Run number to read for each producer device (index = device), -1 for none. */
  readonly producerRuns: readonly number[];
  /**
   * Staleness compensation: each boundary input is Σ_i weights[i] · its producer's run
   * (producerRuns[p] − i) — float tensors only. Empty (or [1]) reads the runs as they are.
   */
  readonly weights: readonly number[];
}

/** A typed view on one region of a control block. */
export type RegionView = { readonly [D in FeedDtype]: { readonly dtype: D; readonly data: DataTypeMap[D] } }[FeedDtype];

function view(buf: ArrayBuffer, r: ControlRegion): RegionView {
  switch (r.dtype) {
    case 'float32':
      return { dtype: 'float32', data: new Float32Array(buf, r.byteOffset, r.elements) };
    case 'float16':
      return { dtype: 'float16', data: new Uint16Array(buf, r.byteOffset, r.elements) };
    case 'int64':
      return { dtype: 'int64', data: new BigInt64Array(buf, r.byteOffset, r.elements) };
    case 'int32':
      return { dtype: 'int32', data: new Int32Array(buf, r.byteOffset, r.elements) };
  }
}

/**
 * The coordinator's shared control block: per-device request words and doorbells, the step's
 * latent and the generation's conditioning tensors. Requests go out and completions come back
 * through futex doorbells, so a step costs a few microseconds of signalling instead of IPC
 * messages; stages read the latent and conditioning in place (zero copy).
 */
export class ControlBlock {
  readonly completion: Doorbell;
  readonly latent: RegionView;
  /** The model timestep value of each row, for `perRow` requests. */
  readonly rowTimesteps: Float64Array;
  readonly conditioning: ReadonlyMap<string, RegionView>;
  readonly devices: number;
  readonly maxBatch: number;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly requestBells: Doorbell[];

  private constructor(
    private readonly segment: ShmSegment,
    readonly layout: ControlLayout,
  ) {
    const buf = segment.buffer;
    const { devices } = layout;
    this.devices = devices;
    this.maxBatch = layout.maxBatch;
    this.i32 = new Int32Array(buf, 0, DEVICE_BASE / 4 + (devices * DEVICE_STRIDE) / 4);
    this.f64 = new Float64Array(buf, 0, (DEVICE_BASE + devices * DEVICE_STRIDE) / 8);
    this.completion = new Doorbell(segment, COMPLETION);
    this.requestBells = Array.from({ length: devices }, (_, d) => new Doorbell(segment, DEVICE_BASE + d * DEVICE_STRIDE));
    this.latent = view(buf, layout.latent);
    this.rowTimesteps = new Float64Array(buf, layout.rowTimesteps.byteOffset, layout.rowTimesteps.elements);
    this.conditioning = new Map(Object.entries(layout.conditioning).map(([name, r]) => [name, view(buf, r)]));
  }

  /** Creates a block (coordinator side) that holds what `capacity` asks for. */
  static create(label: string, capacity: ControlCapacity): ControlBlock {
    const layout = controlLayout(capacity);
    const segment = ShmSegment.create({ label, byteLength: layout.byteLength });
    const head = new Uint32Array(segment.buffer, 0, 5);
    head.set([MAGIC, VERSION, layout.devices, layout.maxBatch, layout.byteLength]);
    const block = new ControlBlock(segment, layout);
    for (let d = 0; d < layout.devices; d++) block.i32.fill(-1, block.word(d, F.producerRuns), block.word(d, F.producerRuns) + MAX_DEVICES);
    return block;
  }

  /** Opens a coordinator's block by name with the layout it was created with (stage side). */
  static open(name: string, layout: ControlLayout): ControlBlock {
    const segment = ShmSegment.open(name);
    const head = new Uint32Array(segment.buffer, 0, 5);
    if (head[0] !== MAGIC || head[1] !== VERSION || head[2] !== layout.devices || head[3] !== layout.maxBatch || head[4] !== layout.byteLength) {
      segment.dispose();
      throw new Error(`${name} is not an asyncdiff control block (v${VERSION}) with the layout it was configured with`);
    }
    return new ControlBlock(segment, layout);
  }

  get name(): string {
    return this.segment.name;
  }

  /** The doorbell a device's stage sleeps on. */
  requestBell(device: number): Doorbell {
    const b = this.requestBells[device];
    if (!b) throw new RangeError(`device ${device} out of range`);
    return b;
  }

  /** Coordinator: writes a request and rings the device. Returns the seq its completion will echo. */
  dispatch(device: number, req: StageRequest): number {
    this.i32[this.word(device, F.run)] = req.run;
    this.i32[this.word(device, F.tIndex)] = req.tIndex;
    this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.tValue) / 8] = req.tValue;
    this.i32[this.word(device, F.perRow)] = req.perRow ? 1 : 0;
    const base = this.word(device, F.producerRuns);
    for (let j = 0; j < MAX_DEVICES; j++) this.i32[base + j] = req.producerRuns[j] ?? -1;
    if (req.weights.length > MAX_COMPENSATION_WEIGHTS) throw new RangeError(`at most ${MAX_COMPENSATION_WEIGHTS} compensation weights, got ${req.weights.length}`);
    this.i32[this.word(device, F.weightCount)] = req.weights.length;
    const w = (DEVICE_BASE + device * DEVICE_STRIDE + F.weights) / 8;
    for (let i = 0; i < req.weights.length; i++) this.f64[w + i] = req.weights[i] as number;
    return this.requestBell(device).ring();
  }

  /** Stage: reads the request it was rung for. */
  readRequest(device: number): StageRequest {
    const base = this.word(device, F.producerRuns);
    const count = Math.min(MAX_COMPENSATION_WEIGHTS, Math.max(0, this.i32[this.word(device, F.weightCount)] as number));
    const w = (DEVICE_BASE + device * DEVICE_STRIDE + F.weights) / 8;
    return {
      run: this.i32[this.word(device, F.run)] as number,
      tIndex: this.i32[this.word(device, F.tIndex)] as number,
      tValue: this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.tValue) / 8] as number,
      perRow: this.i32[this.word(device, F.perRow)] === 1,
      producerRuns: Array.from(this.i32.subarray(base, base + MAX_DEVICES)),
      weights: Array.from(this.f64.subarray(w, w + count)),
    };
  }

  /**
   * Stage: reports request `seq` finished (ok or failed) and rings the coordinator. `wokeAtUs`
   * is when it woke for the request (`monotonicUs`); the completion time is stamped here.
   */
  complete(device: number, seq: number, ok: boolean, runUs: number, wokeAtUs: number): void {
    this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.runUs) / 8] = runUs;
    this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.wokeAtUs) / 8] = wokeAtUs;
    this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.doneAtUs) / 8] = monotonicUs();
    this.i32[this.word(device, F.status)] = ok ? 0 : 1;
    Atomics.store(this.i32, this.word(device, F.doneSeq), seq);
    this.completion.ring();
  }

  /** Coordinator: the last finished request seq of a device, whether it failed, its run time. */
  done(device: number): { seq: number; failed: boolean; runUs: number } {
    return {
      seq: Atomics.load(this.i32, this.word(device, F.doneSeq)),
      failed: this.i32[this.word(device, F.status)] === 1,
      runUs: this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.runUs) / 8] as number,
    };
  }

  /** Coordinator: when the device's stage woke for its last request and when it finished (`monotonicUs`). */
  stamps(device: number): { wokeAtUs: number; doneAtUs: number } {
    return {
      wokeAtUs: this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.wokeAtUs) / 8] as number,
      doneAtUs: this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.doneAtUs) / 8] as number,
    };
  }

  dispose(): void {
    this.segment.dispose();
  }

  private word(device: number, field: number): number {
    return (DEVICE_BASE + device * DEVICE_STRIDE + field) / 4;
  }
}
