import { Doorbell, ShmSegment } from '@asyncdiff/shm';

/** Devices a control block can address (8 components + stride 2's extra device). */
export const MAX_DEVICES = 9;

/*
 * Layout (bytes, little-endian), created by the coordinator and opened by every stage:
 *   0   u32 magic 'ADCB', u32 version, u32 devices, u32 maxBatch, u32 latentFloats
 *   64  completion doorbell (8 B): every stage rings it when a run is done
 *   128 + 128·d  device block d:
 *        0  request doorbell (8 B): the coordinator rings it after writing the request
 *        8  i32 run        (the stage's output channel step: slot run % 2)
 *       12  i32 tIndex
 *       16  f64 tValue     (model timestep value)
 *       24  i32 status     (0 ok, 1 failed)
 *       28  i32 doneSeq    (request doorbell seq of the last finished request)
 *       32  f64 runUs      (time inside session.run, for the profile)
 *       40  i32 producerRuns[9] (which run of producer device j to read; -1 none)
 *       80  f64 wokeAtUs   (monotonic clock when the stage woke for the request, for the profile)
 *       88  f64 doneAtUs   (monotonic clock just before it rang completion)
 *   latent: f32[latentFloats] (64-byte aligned) — the model input of the current step
 *   labels: i64[maxBatch]                       — class labels of the current generation
 */
const MAGIC = 0x42434441;
const VERSION = 2;
const COMPLETION = 64;
const DEVICE_BASE = 128;
const DEVICE_STRIDE = 128;
const F = { run: 8, tIndex: 12, tValue: 16, status: 24, doneSeq: 28, runUs: 32, producerRuns: 40, wokeAtUs: 80, doneAtUs: 88 } as const;

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

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
  /** Run number to read for each producer device (index = device), -1 for none. */
  readonly producerRuns: readonly number[];
}

/**
 * The coordinator's shared control block: per-device request words and doorbells, the step's
 * latent and the class labels. Requests go out and completions come back through futex
 * doorbells, so a step costs a few microseconds of signalling instead of IPC messages.
 */
export class ControlBlock {
  readonly completion: Doorbell;
  readonly latent: Float32Array;
  readonly labels: BigInt64Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly requestBells: Doorbell[];

  private constructor(
    private readonly segment: ShmSegment,
    readonly devices: number,
    readonly maxBatch: number,
    readonly latentFloats: number,
  ) {
    const buf = segment.buffer;
    this.i32 = new Int32Array(buf, 0, DEVICE_BASE / 4 + (devices * DEVICE_STRIDE) / 4);
    this.f64 = new Float64Array(buf, 0, (DEVICE_BASE + devices * DEVICE_STRIDE) / 8);
    this.completion = new Doorbell(segment, COMPLETION);
    this.requestBells = Array.from({ length: devices }, (_, d) => new Doorbell(segment, DEVICE_BASE + d * DEVICE_STRIDE));
    const latentOffset = align64(DEVICE_BASE + devices * DEVICE_STRIDE);
    this.latent = new Float32Array(buf, latentOffset, latentFloats);
    this.labels = new BigInt64Array(buf, align64(latentOffset + latentFloats * 4), maxBatch);
  }

  /** Creates a block (coordinator side) sized for `maxBatch` rows of `sampleFloats` each. */
  static create(label: string, devices: number, maxBatch: number, sampleFloats: number): ControlBlock {
    if (devices < 1 || devices > MAX_DEVICES) throw new RangeError(`devices must be 1..${MAX_DEVICES}, got ${devices}`);
    const latentFloats = maxBatch * sampleFloats;
    const bytes = align64(align64(DEVICE_BASE + devices * DEVICE_STRIDE) + latentFloats * 4) + maxBatch * 8;
    const segment = ShmSegment.create({ label, byteLength: bytes });
    const head = new Uint32Array(segment.buffer, 0, 5);
    head.set([MAGIC, VERSION, devices, maxBatch, latentFloats]);
    const block = new ControlBlock(segment, devices, maxBatch, latentFloats);
    for (let d = 0; d < devices; d++) block.i32.fill(-1, block.word(d, F.producerRuns), block.word(d, F.producerRuns) + MAX_DEVICES);
    return block;
  }

  /** Opens a coordinator's block by name (stage side). */
  static open(name: string): ControlBlock {
    const segment = ShmSegment.open(name);
    const head = new Uint32Array(segment.buffer, 0, 5);
    if (head[0] !== MAGIC || head[1] !== VERSION) {
      segment.dispose();
      throw new Error(`${name} is not an asyncdiff control block (v${VERSION})`);
    }
    return new ControlBlock(segment, head[2] as number, head[3] as number, head[4] as number);
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
    const base = this.word(device, F.producerRuns);
    for (let j = 0; j < MAX_DEVICES; j++) this.i32[base + j] = req.producerRuns[j] ?? -1;
    return this.requestBell(device).ring();
  }

  /** Stage: reads the request it was rung for. */
  readRequest(device: number): StageRequest {
    const base = this.word(device, F.producerRuns);
    return {
      run: this.i32[this.word(device, F.run)] as number,
      tIndex: this.i32[this.word(device, F.tIndex)] as number,
      tValue: this.f64[(DEVICE_BASE + device * DEVICE_STRIDE + F.tValue) / 8] as number,
      producerRuns: Array.from(this.i32.subarray(base, base + MAX_DEVICES)),
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
