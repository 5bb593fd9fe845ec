import { modelRows } from '@asyncdiff/asyncdiff';
import { EngineBatches, calibrateBatching, probeConditioning, type BatchAdmission, type BatchJoinRequest, type BatchOccupancy, type BatchShape, type CalibrationLimits, type Engine, type GenerateResult, type TextToImage } from '@asyncdiff/engine';

import type { DeviceDemand, DeviceLease } from '../device-allocator.js';
import type { CachedEngine } from '../engine-cache.js';

/** A device running a continuous batch: its lease, its engine and the jobs inside. */
export interface BatchSlot {
  /** Engine key (model, sequential, device). */
  readonly key: string;
  readonly model: string;
  /** Group device index. */
  readonly device: number;
  readonly engine: Engine;
  /** Text models: the pipeline around the engine (a member encodes and decodes here, denoises in the batch). */
  readonly text: TextToImage | undefined;
  readonly batches: EngineBatches;
}

/**
 * What a job got: a seat in a batch (`join` runs it there; `leave` when done, joined or not), or
 * a lease to run alone on.
 */
export type SlotGrant =
  | {
      readonly kind: 'batch';
      readonly slot: BatchSlot;
      readonly join: (req: BatchJoinRequest) => Promise<GenerateResult>;
      readonly leave: (broken?: boolean) => Promise<void>;
      readonly waitedMs: number;
    }
  | { readonly kind: 'lease'; readonly lease: DeviceLease };

/** What `BatchSlots` needs from its group (an interface, so it is tested without a host). */
export interface BatchSlotDeps {
  /** Waits for devices (the group's allocator). */
  acquire(demand: DeviceDemand, signal: AbortSignal): Promise<DeviceLease>;
  /** Whether a device is free now and nobody waits for one. */
  deviceFree(): boolean;
  /** Takes the sequential engine of `model` on one device, opening it if needed. */
  takeEngine(model: string, device: number): Promise<{ key: string; entry: CachedEngine; release: (broken?: boolean) => Promise<void> }>;
  /** Admission: step-time budget in ms, or undefined for twice a lone job's step. */
  readonly maxStepMs: number | undefined;
  /** Admission: a model is batched only when a full batch does this many times a lone job's work per ms. */
  readonly minBatchGain: number;
  /** Hard cap on rows (and the runner's own `maxBatch`). */
  readonly maxBatchRows: number;
  readonly onError: (err: unknown) => void;
  /** A batch step ran (occupancy for metrics and the dashboard). */
  readonly onStep?: (slot: BatchSlot, info: { members: number; rows: number; stepMs: number }) => void;
  /** A batch replaced dead stage processes (the device is the slot's). */
  readonly onRestart?: (slot: BatchSlot) => void;
  /** Admission control measured an engine (and decided whether its model is batched on its device). */
  readonly onCalibrated?: (slot: Pick<BatchSlot, 'key' | 'device' | 'model'>, admission: BatchAdmission) => void;
  /** Devices in the group (a model none of them batches skips the batch bookkeeping). */
  readonly devices: number;
  /** Measures admission on a device's engine; `calibrateEngine` unless a test decides per device. */
  readonly calibrate?: (entry: CachedEngine, limits: CalibrationLimits) => Promise<BatchAdmission>;
}

/** Times the engine's steps at doubling batch sizes on its own conditioning (see `calibrateBatching`). */
async function calibrateEngine(entry: Pick<CachedEngine, 'engine' | 'text'>, limits: CalibrationLimits): Promise<BatchAdmission> {
  return calibrateBatching(entry.engine, await probeConditioning(entry.engine, entry.text), limits);
}

interface OpenSlot extends BatchSlot {
  /** Admission control's verdict for the engine (a slot that does not batch is never entered). */
  readonly batched: boolean;
  holders: number;
  closing: boolean;
  readonly lease: DeviceLease;
  readonly release: (broken?: boolean) => Promise<void>;
}

/** Seconds of occupancy history kept per device (the dashboard's sparkline). */
export const OCCUPANCY_SECONDS = 60;

/** A device's batch occupancy over the last `OCCUPANCY_SECONDS`, one value per second (oldest first). */
export interface DeviceOccupancy {
  readonly device: number;
  /** The model of the batch running now, or of the last one. */
  readonly model: string;
  /** Now: members and rows of the running batch (0 when the device has none). */
  readonly occupancy: BatchOccupancy;
  /** Most model rows any step ran in each of the last seconds (0: no batch step that second). */
  readonly recentRows: readonly number[];
}

/**
 * A group's continuous batches: at most one per leased device. A batchable job joins a running
 * batch of its model and shape with room — or, when a device is free, opens a new batch there
 * (a new batch steps faster than a fuller one); when neither, it waits for whichever comes
 * first: room in a batch or a device. A device whose batch empties is handed back to the group.
 * Admission is decided per (model, device) the first time a device opens a batch of the model, and
 * kept for the host's life (an engine reopened after eviction has the same stages): a device
 * whose calibration found no gain runs that model's jobs alone on leases, while the group's other
 * devices go on batching it — on a loaded host two devices can measure differently, and one
 * device's "off" must not stop the batches of the others.
 */
export class BatchSlots {
  private readonly slots = new Set<OpenSlot>();
  /** Per device: the second (epoch s) of the newest sample, the samples, the last model. */
  private readonly history = new Map<number, { second: number; rows: number[]; model: string; maxRows: number }>();
  private roomWaiters: (() => void)[] = [];
  /** Admission control's verdict per `model@device`, measured once. */
  private readonly admissions = new Map<string, BatchAdmission>();

  constructor(private readonly deps: BatchSlotDeps) {}

  /** Every device that ran a batch: its batch now and its occupancy over the last minute. */
  occupancy(now = Date.now()): DeviceOccupancy[] {
    const second = Math.floor(now / 1000);
    return [...this.history.entries()]
      .sort(([a], [b]) => a - b)
      .map(([device, h]) => {
        const running = [...this.slots].find((s) => s.device === device);
        const shift = Math.min(OCCUPANCY_SECONDS, Math.max(0, second - h.second));
        const recentRows = [...h.rows.slice(shift), ...new Array<number>(shift).fill(0)];
        return { device, model: running?.model ?? h.model, occupancy: running?.batches.occupancy ?? { members: 0, rows: 0, maxRows: h.maxRows, queued: 0 }, recentRows };
      });
  }

  /** Records a batch step in its device's per-second history. */
  private record(slot: OpenSlot, rows: number, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    let h = this.history.get(slot.device);
    if (!h) this.history.set(slot.device, (h = { second, rows: new Array<number>(OCCUPANCY_SECONDS).fill(0), model: slot.model, maxRows: 0 }));
    const shift = Math.min(OCCUPANCY_SECONDS, Math.max(0, second - h.second));
    if (shift > 0) h.rows = [...h.rows.slice(shift), ...new Array<number>(shift).fill(0)];
    h.second = second;
    h.model = slot.model;
    h.maxRows = slot.batches.occupancy.maxRows;
    h.rows[OCCUPANCY_SECONDS - 1] = Math.max(h.rows[OCCUPANCY_SECONDS - 1] ?? 0, rows);
  }

  /**
   * Places a job of `model` and `shape`: in a batch, or on a lease of its own — when the allocator
   * answers `demand` with several devices (an `auto` job on an idle group), when the job is
   * bigger than admission allows, or when batching does not pay for the model.
   */
  async place(model: string, shape: BatchShape, demand: DeviceDemand, signal: AbortSignal): Promise<SlotGrant> {
    const since = performance.now();
    for (;;) {
      signal.throwIfAborted();
      if (this.unbatchedEverywhere(model)) return { kind: 'lease', lease: await this.deps.acquire(demand, signal) };
      const open = !this.deps.deviceFree() ? this.withRoom(model, shape) : undefined;
      if (open) return this.enter(open, shape, since);
      const room = this.nextRoom();
      const giveUp = new AbortController();
      const onAbort = () => giveUp.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const leased = this.deps.acquire(demand, giveUp.signal);
      const first = await Promise.race([leased.then((lease) => ({ lease }) as const), room.promise.then(() => ({ room: true }) as const)]).finally(() => {
        signal.removeEventListener('abort', onAbort);
        room.cancel();
      });
      if ('room' in first) {
        giveUp.abort();
        // A lease granted in the same turn goes straight back.
        leased.then((l) => l.release(), () => undefined);
        const slot = this.withRoom(model, shape);
        if (slot) return this.enter(slot, shape, since);
        continue;
      }
      const lease = first.lease;
      if (lease.devices.length !== 1 || this.admissions.get(deviceModel(model, lease.devices[0]!))?.batched === false) return { kind: 'lease', lease };
      let slot: OpenSlot;
      try {
        slot = await this.open(model, lease, shape);
      } catch (err) {
        lease.release();
        throw err;
      }
      if (slot.batched && slot.batches.rowsOf(shape) <= slot.batches.occupancy.maxRows) return this.enter(slot, shape, since);
      // Batching does not pay for the model on this device, or the job is bigger than admission
      // allows here: it runs alone on the lease (in chunks if need be), and the batch is not opened.
      await this.drop(slot);
      return { kind: 'lease', lease };
    }
  }

  /** Whether every device of the group measured that batching `model` does not pay. */
  private unbatchedEverywhere(model: string): boolean {
    for (let d = 0; d < this.deps.devices; d++) if (this.admissions.get(deviceModel(model, d))?.batched !== false) return false;
    return true;
  }

  private withRoom(model: string, shape: BatchShape): OpenSlot | undefined {
    let best: OpenSlot | undefined;
    for (const s of this.slots) {
      if (s.closing || s.model !== model || !s.batches.hasRoom(shape)) continue;
      if (!best || s.holders < best.holders) best = s;
    }
    return best;
  }

  private enter(slot: OpenSlot, shape: BatchShape, since: number): SlotGrant {
    slot.holders += 1;
    // The job joins only once its run has started (several awaits from here): until then its
    // rows are promised, or every job of a burst lands on the first device's batch.
    const reservation = slot.batches.reserve(shape);
    let left = false;
    return {
      kind: 'batch',
      slot,
      waitedMs: performance.now() - since,
      join: (r) => {
        // In the same turn as `batches.join` queues the rows: the batch counts them from here on.
        reservation.release();
        return slot.batches.join(r);
      },
      leave: async (broken = false) => {
        if (left) return;
        left = true;
        reservation.release();
        slot.holders -= 1;
        if (broken && !slot.closing) {
          slot.closing = true;
          await slot.batches.close(new Error('the batch broke'));
        }
        if (slot.holders === 0 && !slot.closing) slot.closing = true;
        if (slot.closing && slot.holders === 0) await this.shut(slot, broken);
        this.wakeRoomWaiters();
      },
    };
  }

  private async open(model: string, lease: DeviceLease, shape: BatchShape): Promise<OpenSlot> {
    const device = lease.devices[0]!;
    const { key, entry, release } = await this.deps.takeEngine(model, device);
    try {
      const engine = entry.engine;
      let admission = this.admissions.get(deviceModel(model, device));
      if (admission === undefined) {
        admission = await (this.deps.calibrate ?? calibrateEngine)(entry, {
          perJob: modelRows(1, shape.guidance ?? engine.sampling.defaults.guidance),
          capRows: Math.min(this.deps.maxBatchRows, engine.runner.maxBatch ?? Infinity),
          maxStepMs: this.deps.maxStepMs,
          minGain: this.deps.minBatchGain,
        });
        this.admissions.set(deviceModel(model, device), admission);
        this.deps.onCalibrated?.({ key, device, model }, admission);
      }
      const maxRows = admission.maxRows;
      const slot: OpenSlot = {
        key,
        model,
        device,
        engine,
        text: entry.text,
        batched: admission.batched,
        lease,
        release,
        holders: 0,
        closing: false,
        batches: undefined as unknown as EngineBatches,
      };
      (slot as { batches: EngineBatches }).batches = new EngineBatches(engine, {
        maxRows,
        onStep: (info) => {
          this.record(slot, info.rows);
          this.deps.onStep?.(slot, info);
        },
        onRestart: () => this.deps.onRestart?.(slot),
      });
      this.slots.add(slot);
      return slot;
    } catch (err) {
      await release(true).catch(this.deps.onError);
      throw err;
    }
  }

  /** Forgets a slot that never held a job, keeping its lease for the caller. */
  private async drop(slot: OpenSlot): Promise<void> {
    this.slots.delete(slot);
    await slot.release(false).catch(this.deps.onError);
  }

  private async shut(slot: OpenSlot, broken: boolean): Promise<void> {
    if (!this.slots.delete(slot)) return;
    this.deps.onStep?.(slot, { members: 0, rows: 0, stepMs: 0 });
    await slot.release(broken).catch(this.deps.onError);
    slot.lease.release();
  }

  private nextRoom(): { promise: Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => (wake = resolve));
    this.roomWaiters.push(wake);
    return { promise, cancel: () => (this.roomWaiters = this.roomWaiters.filter((w) => w !== wake)) };
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }
}

/** The key of a per-device admission verdict. */
const deviceModel = (model: string, device: number): string => `${model}@${device}`;
