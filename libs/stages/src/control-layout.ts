import type { FeedDtype } from '@asyncdiff/asyncdiff';

/** Bytes per element of the tensors a control block holds. */
export const FEED_BYTES: Readonly<Record<FeedDtype, number>> = { float32: 4, float16: 2, int64: 8, int32: 4 };

/**
 * Devices a control block can address: two branches (classifier-free guidance on separate
 * devices) of up to 8 components (7 with stride 2's extra device).
 */
export const MAX_DEVICES = 16;
/** Header and per-device words (see control-block.ts for their layout). */
export const DEVICE_BASE = 128;
export const DEVICE_STRIDE = 192;
/** Most producer outputs a compensated request combines (a quadratic extrapolation uses 3). */
export const MAX_COMPENSATION_WEIGHTS = 4;

/** Where one tensor region of a control block lives. */
export interface ControlRegion {
  readonly dtype: FeedDtype;
  readonly byteOffset: number;
  /** Capacity in elements. */
  readonly elements: number;
}

/**
 * The byte layout of a control block: the device words, then the step's latent and every
 * conditioning tensor, each sized for `maxBatch` rows. Both sides compute or receive the same
 * layout (the coordinator sends it with `configure`), and the header's byte length is checked.
 */
export interface ControlLayout {
  readonly devices: number;
  readonly maxBatch: number;
  readonly latent: ControlRegion;
  /**
   * One float64 model timestep value per row: read instead of the request's `tValue` when a
   * request says `perRow` (a continuous batch holds jobs at different steps).
   */
  readonly rowTimesteps: ControlRegion;
  readonly conditioning: Readonly<Record<string, ControlRegion>>;
  readonly byteLength: number;
}

/** What a control block must hold: rows of the latent and of each conditioning tensor. */
export interface ControlCapacity {
  readonly devices: number;
  readonly maxBatch: number;
  readonly latentDtype: 'float32' | 'float16';
  /** Elements of one latent row. */
  readonly sampleElements: number;
  /** Per conditioning input: dtype and elements of one row. */
  readonly conditioning: Readonly<Record<string, { readonly dtype: FeedDtype; readonly rowElements: number }>>;
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** Lays out a control block for `c` (names in sorted order, so the layout is canonical). */
export function controlLayout(c: ControlCapacity): ControlLayout {
  if (c.devices < 1 || c.devices > MAX_DEVICES) throw new RangeError(`devices must be 1..${MAX_DEVICES}, got ${c.devices}`);
  let offset = align64(DEVICE_BASE + c.devices * DEVICE_STRIDE);
  const region = (dtype: FeedDtype, elements: number): ControlRegion => {
    const r = { dtype, byteOffset: offset, elements };
    offset = align64(offset + elements * FEED_BYTES[dtype]);
    return r;
  };
  const latent = region(c.latentDtype, c.maxBatch * c.sampleElements);
  // float64 is not a feed dtype: the region is laid out as int64-sized elements and viewed as f64.
  const rowTimesteps = region('int64', c.maxBatch);
  const conditioning: Record<string, ControlRegion> = {};
  for (const name of Object.keys(c.conditioning).sort()) {
    const spec = c.conditioning[name]!;
    conditioning[name] = region(spec.dtype, c.maxBatch * Math.max(1, spec.rowElements));
  }
  return { devices: c.devices, maxBatch: c.maxBatch, latent, rowTimesteps, conditioning, byteLength: Math.max(offset, 64) };
}

/** Whether `layout` can hold everything `need` asks for (same conditioning names and dtypes). */
export function layoutFits(layout: ControlLayout, need: ControlCapacity): boolean {
  if (layout.devices !== need.devices || layout.maxBatch < need.maxBatch || layout.latent.dtype !== need.latentDtype) return false;
  if (layout.latent.elements < need.maxBatch * need.sampleElements) return false;
  const names = Object.keys(need.conditioning);
  if (names.length !== Object.keys(layout.conditioning).length) return false;
  return names.every((n) => {
    const have = layout.conditioning[n];
    const want = need.conditioning[n]!;
    return have !== undefined && have.dtype === want.dtype && have.elements >= need.maxBatch * Math.max(1, want.rowElements);
  });
}
