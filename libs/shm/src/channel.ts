import {
  assertLayoutMatches,
  type ChannelLayout,
  computeChannelLayout,
  DOORBELL_OFFSET,
  readChannelHeader,
  SLOT_STATE_OFFSETS,
  type TensorSpec,
  writeChannelHeader,
} from './channel-layout.js';
import { Doorbell, type DoorbellWaitOptions } from './doorbell.js';
import { DTYPES, type DtypeArrayMap, type ShmDtype } from './dtypes.js';
import {
  ShmDisposedError,
  ShmInvalidArgumentError,
  ShmInterruptedError,
  ShmInvalidStateError,
  ShmSlotOverwrittenError,
  ShmTimeoutError,
} from './errors.js';
import { ShmSegment } from './segment.js';

/** A typed view of one tensor in one slot; `data` is the shared memory itself, not a copy. */
export type ShmTensorView = {
  readonly [D in ShmDtype]: {
    readonly name: string;
    readonly dtype: D;
    readonly dims: readonly number[];
    readonly data: DtypeArrayMap[D];
  };
}[ShmDtype];

/** The tensors of one slot of a channel, as zero-copy views. */
export interface ChannelSlot {
  /** Which slot (step % slotCount). */
  readonly index: number;
  /** Every tensor, in layout order. */
  readonly tensors: readonly ShmTensorView[];
  /** The view named `name`; throws `ShmInvalidArgumentError` if the channel has none. */
  tensor(name: string): ShmTensorView;
  /** The data of `name`, checked to be of `dtype` (e.g. to wrap in an `ort.Tensor`). */
  data<D extends ShmDtype>(name: string, dtype: D): DtypeArrayMap[D];
}

/** Options for `Channel.create`. */
export interface ChannelCreateOptions {
  /** Label in the segment name `/<prefix>-<instance>-<pid>-<label>`, unique within the process. */
  readonly label: string;
  /** The tensors the producer publishes each step, in order. */
  readonly tensors: readonly TensorSpec[];
  /**
   * Slots to cycle through: 2 (double buffer) lets readers use step n − 1 while step n is written;
   * k + 1 keeps the last k steps readable (staleness compensation reads several). @defaultValue 2
   */
  readonly slots?: number;
  /** @defaultValue `'asyncdiff'` */
  readonly prefix?: string;
}

/** Options for `Channel.open`. */
export interface ChannelOpenOptions {
  /** If given, the channel must carry exactly these tensors (else `ShmLayoutMismatchError`). */
  readonly expect?: readonly TensorSpec[];
}

/** Options for waiting on a step with `Channel.read`. */
export interface ChannelReadOptions {
  /** @defaultValue `Infinity` */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const MAX_STEP = 2 ** 30 - 1; // slot state packs 2*step+1 into an int32

class Slot implements ChannelSlot {
  readonly index: number;
  readonly tensors: readonly ShmTensorView[];
  readonly #byName: ReadonlyMap<string, ShmTensorView>;

  constructor(index: number, tensors: readonly ShmTensorView[]) {
    this.index = index;
    this.tensors = tensors;
    this.#byName = new Map(tensors.map((t) => [t.name, t]));
  }

  tensor(name: string): ShmTensorView {
    const t = this.#byName.get(name);
    if (!t) throw new ShmInvalidArgumentError(`no tensor named "${name}" in this channel (has ${[...this.#byName.keys()].join(', ')})`);
    return t;
  }

  data<D extends ShmDtype>(name: string, dtype: D): DtypeArrayMap[D] {
    const t = this.tensor(name);
    if (t.dtype !== dtype) throw new ShmInvalidArgumentError(`tensor "${name}" is ${t.dtype}, not ${dtype}`);
    return t.data as DtypeArrayMap[D];
  }
}

function makeSlot(buffer: ArrayBuffer, layout: ChannelLayout, index: number): Slot {
  const base = layout.slotsOffset + index * layout.slotBytes;
  const views = layout.tensors.map(
    (t) => ({ name: t.name, dtype: t.dtype, dims: t.dims, data: DTYPES[t.dtype].view(buffer, base + t.byteOffset, t.elementCount) }) as ShmTensorView,
  );
  return new Slot(index, views);
}

function checkStep(step: number): number {
  if (!Number.isSafeInteger(step) || step < 0 || step > MAX_STEP) {
    throw new ShmInvalidArgumentError(`step must be an integer in [0, ${MAX_STEP}], got ${String(step)}`);
  }
  return step;
}

/**
 * One producer's output in shared memory: a self-describing header and (by default) two slots,
 * so step n is written into slot n % 2 while readers still use step n - 1 in the other; with k + 1
 * slots, readers can use the last k steps. Consumers in other
 * processes open it by name and get typed-array views on the producer's slots (ONNX Runtime takes
 * them as inputs without copying); the producer gets writable views on its own slots and can hand
 * them to ONNX Runtime as preallocated outputs. `publish(step)` rings the channel's doorbell.
 *
 * The channel does not stop the producer from reusing a slot that a slow reader still reads:
 * the step barrier of the sampling loop does. Readers can check `isCurrent(step)` after reading
 * to detect a torn read, and reading a reused slot throws `ShmSlotOverwrittenError`.
 */
export class Channel {
  readonly layout: ChannelLayout;
  /** Rung on every publish; wait on it to learn that a new step may be ready. */
  readonly doorbell: Doorbell;
  readonly #segment: ShmSegment;
  readonly #slots: readonly Slot[];
  readonly #states: Int32Array;

  private constructor(segment: ShmSegment, layout: ChannelLayout) {
    this.#segment = segment;
    this.layout = layout;
    this.doorbell = new Doorbell(segment, DOORBELL_OFFSET);
    this.#slots = Array.from({ length: layout.slotCount }, (_, i) => makeSlot(segment.buffer, layout, i));
    this.#states = new Int32Array(segment.buffer, 0, layout.slotsOffset / 4);
  }

  /** Creates a channel for the calling (producer) process. */
  static create(options: ChannelCreateOptions): Channel {
    const layout = computeChannelLayout(options.tensors, options.slots ?? 2);
    const segment = ShmSegment.create({
      label: options.label,
      byteLength: layout.totalBytes,
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    });
    try {
      writeChannelHeader(segment.buffer, layout, process.pid);
      return new Channel(segment, layout);
    } catch (err) {
      segment.dispose();
      throw err;
    }
  }

  /** Opens another process's channel by name, reading its layout from the header. */
  static open(name: string, options: ChannelOpenOptions = {}): Channel {
    const segment = ShmSegment.open(name);
    try {
      const layout = readChannelHeader(segment.buffer, name);
      if (options.expect) assertLayoutMatches(name, layout, options.expect);
      return new Channel(segment, layout);
    } catch (err) {
      segment.dispose();
      throw err;
    }
  }

  /** The segment name to hand to consumers. */
  get name(): string {
    return this.#segment.name;
  }

  /** True in the process that created the channel (the only one allowed to write it). */
  get isProducer(): boolean {
    return this.#segment.owner;
  }

  get disposed(): boolean {
    return this.#segment.disposed;
  }

  #checkLive(): void {
    if (this.#segment.disposed) throw new ShmDisposedError(`channel ${this.name} is disposed`);
  }

  #state(index: number): number {
    return Atomics.load(this.#states, (SLOT_STATE_OFFSETS[index] ?? 0) / 4);
  }

  /** Views on slot `index` with no state checks (diagnostics, warm-up). */
  slot(index: number): ChannelSlot {
    this.#checkLive();
    const s = this.#slots[index];
    if (!s) throw new ShmInvalidArgumentError(`slot ${index} out of range (channel has ${this.#slots.length})`);
    return s;
  }

  /** The slot step `step` is written to (`step % slotCount`), with no state checks. */
  slotOf(step: number): ChannelSlot {
    return this.slot(checkStep(step) % this.#slots.length);
  }

  /** The newest step that is ready, or undefined if none has been published. */
  latestStep(): number | undefined {
    this.#checkLive();
    let best: number | undefined;
    for (let index = 0; index < this.#slots.length; index++) {
      const s = this.#state(index);
      if (s >= 0 && (s & 1) === 1 && (best === undefined || s >> 1 > best)) best = s >> 1;
    }
    return best;
  }

  /** Producer: claims slot step % slotCount for `step` and returns writable views on it. */
  beginWrite(step: number): ChannelSlot {
    this.#checkLive();
    checkStep(step);
    if (!this.isProducer) throw new ShmInvalidStateError(`channel ${this.name}: only its creator may write it`);
    const index = step % this.#slots.length;
    Atomics.store(this.#states, (SLOT_STATE_OFFSETS[index] ?? 0) / 4, 2 * step);
    return this.#slots[index]!;
  }

  /** Producer: marks `step` ready and rings the doorbell. Returns the doorbell's sequence. */
  publish(step: number): number {
    this.#checkLive();
    checkStep(step);
    const index = step % this.#slots.length;
    if (!this.isProducer) throw new ShmInvalidStateError(`channel ${this.name}: only its creator may publish`);
    if (this.#state(index) !== 2 * step) {
      throw new ShmInvalidStateError(`channel ${this.name}: publish(${step}) without beginWrite(${step})`);
    }
    Atomics.store(this.#states, (SLOT_STATE_OFFSETS[index] ?? 0) / 4, 2 * step + 1);
    return this.doorbell.ring();
  }

  /** Consumer: views on `step` if it is ready, undefined if not yet; throws
   * `ShmSlotOverwrittenError` if the producer already reused its slot. */
  tryRead(step: number): ChannelSlot | undefined {
    this.#checkLive();
    checkStep(step);
    const index = step % this.#slots.length;
    const s = this.#state(index);
    if (s === 2 * step + 1) return this.#slots[index];
    if (s >= 0 && s >> 1 > step) {
      throw new ShmSlotOverwrittenError(`channel ${this.name}: step ${step} was overwritten by step ${s >> 1}`);
    }
    return undefined;
  }

  /** Consumer: true while `step` is still the ready content of its slot; check it after reading
   * to know the views were not being rewritten meanwhile. */
  isCurrent(step: number): boolean {
    this.#checkLive();
    return this.#state(checkStep(step) % this.#slots.length) === 2 * step + 1;
  }

  /** Consumer: blocks the thread until `step` is ready (stage processes). Throws
   * `ShmTimeoutError`, or `ShmInterruptedError` when a signal needs the event loop. */
  readSync(step: number, options: DoorbellWaitOptions = {}): ChannelSlot {
    const deadline = performance.now() + (options.timeoutMs ?? Infinity);
    for (;;) {
      const seen = this.doorbell.seq;
      const slot = this.tryRead(step);
      if (slot) return slot;
      const r = this.doorbell.wait(seen, { ...options, timeoutMs: Math.max(0, deadline - performance.now()) });
      if (r.status === 'timed-out' && this.tryRead(step) === undefined) {
        throw new ShmTimeoutError(`channel ${this.name}: step ${step} not published within ${options.timeoutMs ?? Infinity} ms`);
      }
      if (r.status === 'interrupted') {
        throw new ShmInterruptedError(`channel ${this.name}: a signal arrived while waiting for step ${step}`);
      }
    }
  }

  /** Consumer: resolves when `step` is ready, without blocking the event loop. Rejects with
   * `ShmTimeoutError`, `ShmDisposedError` or the abort reason. */
  async read(step: number, options: ChannelReadOptions = {}): Promise<ChannelSlot> {
    const deadline = performance.now() + (options.timeoutMs ?? Infinity);
    for (;;) {
      const seen = this.doorbell.seq;
      const slot = this.tryRead(step);
      if (slot) return slot;
      const r = await this.doorbell.waitAsync(seen, {
        timeoutMs: Math.max(0, deadline - performance.now()),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (r.status === 'timed-out' && this.tryRead(step) === undefined) {
        throw new ShmTimeoutError(`channel ${this.name}: step ${step} not published within ${options.timeoutMs ?? Infinity} ms`);
      }
    }
  }

  /** Unmaps the channel (and unlinks it, in the producer). Views become empty. Repeat-safe. */
  dispose(): void {
    this.#segment.dispose();
  }
}
