import { DTYPES, dtypeFromOnnxCode, isShmDtype, type ShmDtype } from './dtypes.js';
import { ShmInvalidArgumentError, ShmLayoutMismatchError, ShmNotReadyError } from './errors.js';

/** One tensor a channel carries, as the producer declares it. */
export interface TensorSpec {
  /** Graph-level name (e.g. the ONNX output name); 1-255 UTF-8 bytes, unique in the channel. */
  readonly name: string;
  readonly dtype: ShmDtype;
  /** Fixed shape; every dimension a positive integer, at most 8 of them. */
  readonly dims: readonly number[];
}

/** Where a tensor lives inside each slot. */
export interface TensorLayout extends TensorSpec {
  /** Offset from the start of a slot; a multiple of 64. */
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly elementCount: number;
}

/** The complete geometry of a channel, as recorded in its header. */
export interface ChannelLayout {
  readonly tensors: readonly TensorLayout[];
  /**
   * Slots the producer cycles through (step n in slot n % slotCount): 2 is a double buffer;
   * a reader that needs the producer's last k steps while the producer writes the next one
   * (staleness compensation combines them) needs k + 1.
   */
  readonly slotCount: number;
  /** Offset of slot 0 from the start of the segment (page aligned). */
  readonly slotsOffset: number;
  /** Distance between slots (page aligned). */
  readonly slotBytes: number;
  readonly totalBytes: number;
}

/*
 * Header, little-endian. Lines are 64 bytes so the words one process writes often (doorbell,
 * slot states) never share a cache line with each other or with the read-only descriptor.
 *
 *   0  u32 magic 'ADCH'        4 u32 version       8 u32 tensorCount     12 u32 slotCount (2…8)
 *  16  u32 creatorPid         20 u32 entryBytes   24 u64 slotsOffset    32 u64 slotBytes
 *  40  u64 totalBytes         48..63 reserved
 *  64  i32 doorbell seq       68 i32 doorbell waiters
 * 128 + 64·i  i32 slot i state, i < 8 (unused lines stay -1)
 *        state: -1 empty, 2n writing step n, 2n+1 step n ready (one word: never torn)
 * 640  tensor table, ENTRY_BYTES each (names are long in exported UNets:
 *      `/down_blocks.1/attentions.0/transformer_blocks.0/attn2/to_out.0/MatMul_output_0`):
 *        0 name (UTF-8, NUL padded, 256 B)  256 u32 dtype (ONNX code)  260 u32 rank
 *      264 u32 dims[8]                      296 u64 byteOffset in slot  304 u64 byteLength
 *      312 reserved
 */
export const CHANNEL_MAGIC = 0x48434441; // bytes 'A' 'D' 'C' 'H'
/** 3: a channel has 2…8 slots (was always 2); the tensor table moved to make room for their states. */
export const CHANNEL_VERSION = 3;
export const DOORBELL_OFFSET = 64;
/** Most slots a channel can have. */
export const MAX_SLOTS = 8;
/** Byte offset of slot i's state word (its own cache line). */
export const SLOT_STATE_OFFSETS: readonly number[] = Array.from({ length: MAX_SLOTS }, (_, i) => 128 + 64 * i);
export const TABLE_OFFSET = 128 + 64 * MAX_SLOTS;
export const ENTRY_BYTES = 320;
export const MAX_TENSORS = 256;
export const MAX_RANK = 8;
export const TENSOR_ALIGN = 64;
export const PAGE_BYTES = 4096;
const NAME_BYTES = 256;
/** Field offsets inside a tensor table entry. */
const F_DTYPE = NAME_BYTES;
const F_RANK = NAME_BYTES + 4;
const F_DIMS = NAME_BYTES + 8;
const F_OFFSET = F_DIMS + 4 * 8;
const F_LENGTH = F_OFFSET + 8;

const align = (n: number, to: number): number => Math.ceil(n / to) * to;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function checkSpec(spec: TensorSpec, index: number): void {
  const where = `tensors[${index}]`;
  const nameBytes = typeof spec.name === 'string' ? encoder.encode(spec.name).length : 0;
  if (nameBytes < 1 || nameBytes >= NAME_BYTES || spec.name.includes('\0')) {
    throw new ShmInvalidArgumentError(`${where}.name must be 1-${NAME_BYTES - 1} UTF-8 bytes without NUL`);
  }
  if (typeof spec.dtype !== 'string' || !isShmDtype(spec.dtype)) {
    throw new ShmInvalidArgumentError(`${where}.dtype (${String(spec.dtype)}) must be one of ${Object.keys(DTYPES).join(', ')}`);
  }
  if (!Array.isArray(spec.dims) || spec.dims.length > MAX_RANK || !spec.dims.every((d) => Number.isSafeInteger(d) && d > 0 && d < 2 ** 32)) {
    throw new ShmInvalidArgumentError(`${where}.dims of "${spec.name}" must be at most ${MAX_RANK} positive integers`);
  }
}

/** Places `specs` in a slot (64-byte aligned tensors, page-aligned slots after the header), so
 * a planner can size a stage's shared memory before any segment exists. */
export function computeChannelLayout(specs: readonly TensorSpec[], slotCount = 2): ChannelLayout {
  if (!Number.isInteger(slotCount) || slotCount < 2 || slotCount > MAX_SLOTS) {
    throw new ShmInvalidArgumentError(`slots must be an integer in [2, ${MAX_SLOTS}], got ${String(slotCount)}`);
  }
  if (specs.length === 0 || specs.length > MAX_TENSORS) {
    throw new ShmInvalidArgumentError(`tensors must list 1-${MAX_TENSORS} tensor specs, got ${specs.length}`);
  }
  const seen = new Set<string>();
  let cursor = 0;
  const tensors = specs.map((spec, i): TensorLayout => {
    checkSpec(spec, i);
    if (seen.has(spec.name)) throw new ShmInvalidArgumentError(`tensors[${i}].name "${spec.name}" is listed twice`);
    seen.add(spec.name);
    const elementCount = spec.dims.reduce((a, b) => a * b, 1);
    const byteLength = elementCount * DTYPES[spec.dtype].bytesPerElement;
    if (!Number.isSafeInteger(byteLength)) throw new ShmInvalidArgumentError(`tensors[${i}] "${spec.name}" is too large`);
    const byteOffset = align(cursor, TENSOR_ALIGN);
    cursor = byteOffset + byteLength;
    return { name: spec.name, dtype: spec.dtype, dims: [...spec.dims], byteOffset, byteLength, elementCount };
  });
  const slotsOffset = align(TABLE_OFFSET + ENTRY_BYTES * specs.length, PAGE_BYTES);
  const slotBytes = align(Math.max(cursor, 1), PAGE_BYTES);
  return { tensors, slotCount, slotsOffset, slotBytes, totalBytes: slotsOffset + slotCount * slotBytes };
}

/** Writes the header of a freshly created (zeroed) segment; the magic goes last, so a reader
 * that sees it sees everything else. */
export function writeChannelHeader(buffer: ArrayBuffer, layout: ChannelLayout, creatorPid: number): void {
  const dv = new DataView(buffer);
  dv.setUint32(4, CHANNEL_VERSION, true);
  dv.setUint32(8, layout.tensors.length, true);
  dv.setUint32(12, layout.slotCount, true);
  dv.setUint32(16, creatorPid, true);
  dv.setUint32(20, ENTRY_BYTES, true);
  dv.setBigUint64(24, BigInt(layout.slotsOffset), true);
  dv.setBigUint64(32, BigInt(layout.slotBytes), true);
  dv.setBigUint64(40, BigInt(layout.totalBytes), true);
  const words = new Int32Array(buffer, 0, TABLE_OFFSET / 4);
  for (const off of SLOT_STATE_OFFSETS) Atomics.store(words, off / 4, -1);
  layout.tensors.forEach((t, i) => {
    const base = TABLE_OFFSET + i * ENTRY_BYTES;
    encoder.encodeInto(t.name, new Uint8Array(buffer, base, NAME_BYTES - 1));
    dv.setUint32(base + F_DTYPE, DTYPES[t.dtype].onnxCode, true);
    dv.setUint32(base + F_RANK, t.dims.length, true);
    t.dims.forEach((d, k) => dv.setUint32(base + F_DIMS + 4 * k, d, true));
    dv.setBigUint64(base + F_OFFSET, BigInt(t.byteOffset), true);
    dv.setBigUint64(base + F_LENGTH, BigInt(t.byteLength), true);
  });
  Atomics.store(words, 0, CHANNEL_MAGIC | 0);
}

function mismatch(name: string, what: string): ShmLayoutMismatchError {
  return new ShmLayoutMismatchError(`channel ${name}: ${what}`);
}

/** Decodes and bounds-checks the header of a segment of `byteLength` bytes. */
export function readChannelHeader(buffer: ArrayBuffer, name: string): ChannelLayout {
  if (buffer.byteLength < TABLE_OFFSET) throw mismatch(name, `segment is ${buffer.byteLength} bytes, smaller than a channel header`);
  const magic = Atomics.load(new Int32Array(buffer, 0, 1), 0) >>> 0;
  if (magic === 0) throw new ShmNotReadyError(`channel ${name}: header not written yet`);
  if (magic !== CHANNEL_MAGIC) throw mismatch(name, `magic is 0x${magic.toString(16)}, not a channel`);
  const dv = new DataView(buffer);
  const version = dv.getUint32(4, true);
  if (version !== CHANNEL_VERSION) throw mismatch(name, `version is ${version}, this reader understands ${CHANNEL_VERSION}`);
  const count = dv.getUint32(8, true);
  const slotCount = dv.getUint32(12, true);
  const entryBytes = dv.getUint32(20, true);
  const slotsOffset = Number(dv.getBigUint64(24, true));
  const slotBytes = Number(dv.getBigUint64(32, true));
  const totalBytes = Number(dv.getBigUint64(40, true));
  if (slotCount < 2 || slotCount > MAX_SLOTS) throw mismatch(name, `slotCount is ${slotCount}, expected 2…${MAX_SLOTS}`);
  if (entryBytes !== ENTRY_BYTES) throw mismatch(name, `entryBytes is ${entryBytes}, expected ${ENTRY_BYTES}`);
  if (count < 1 || count > MAX_TENSORS || TABLE_OFFSET + count * ENTRY_BYTES > slotsOffset) {
    throw mismatch(name, `tensorCount ${count} does not fit before slotsOffset ${slotsOffset}`);
  }
  if (slotsOffset % PAGE_BYTES !== 0 || slotBytes % PAGE_BYTES !== 0 || slotBytes === 0) {
    throw mismatch(name, `slotsOffset ${slotsOffset} / slotBytes ${slotBytes} are not page multiples`);
  }
  if (totalBytes !== buffer.byteLength || slotsOffset + slotCount * slotBytes !== totalBytes) {
    throw mismatch(name, `totalBytes ${totalBytes} disagrees with the segment size ${buffer.byteLength} or the slots`);
  }
  const tensors: TensorLayout[] = [];
  for (let i = 0; i < count; i++) {
    const base = TABLE_OFFSET + i * ENTRY_BYTES;
    const raw = new Uint8Array(buffer, base, NAME_BYTES);
    const end = raw.indexOf(0);
    let tensorName: string;
    try {
      tensorName = decoder.decode(raw.subarray(0, end < 0 ? NAME_BYTES : end));
    } catch {
      throw mismatch(name, `tensors[${i}].name is not UTF-8`);
    }
    const dtype = dtypeFromOnnxCode(dv.getUint32(base + F_DTYPE, true));
    if (dtype === undefined) throw mismatch(name, `tensors[${i}].dtype code ${dv.getUint32(base + F_DTYPE, true)} is unsupported`);
    const rank = dv.getUint32(base + F_RANK, true);
    if (rank > MAX_RANK) throw mismatch(name, `tensors[${i}].rank ${rank} exceeds ${MAX_RANK}`);
    const dims = Array.from({ length: rank }, (_, k) => dv.getUint32(base + F_DIMS + 4 * k, true));
    const byteOffset = Number(dv.getBigUint64(base + F_OFFSET, true));
    const byteLength = Number(dv.getBigUint64(base + F_LENGTH, true));
    const elementCount = dims.reduce((a, b) => a * b, 1);
    if (byteLength !== elementCount * DTYPES[dtype].bytesPerElement) {
      throw mismatch(name, `tensors[${i}].byteLength ${byteLength} disagrees with dims [${dims.join(', ')}] of ${dtype}`);
    }
    if (byteOffset % TENSOR_ALIGN !== 0 || byteOffset + byteLength > slotBytes) {
      throw mismatch(name, `tensors[${i}].byteOffset ${byteOffset} is misaligned or outside the ${slotBytes}-byte slot`);
    }
    tensors.push({ name: tensorName, dtype, dims, byteOffset, byteLength, elementCount });
  }
  return { tensors, slotCount, slotsOffset, slotBytes, totalBytes };
}

/** Throws `ShmLayoutMismatchError` naming the first field where `layout` differs from `expected`. */
export function assertLayoutMatches(name: string, layout: ChannelLayout, expected: readonly TensorSpec[]): void {
  if (layout.tensors.length !== expected.length) {
    throw mismatch(name, `has ${layout.tensors.length} tensors, expected ${expected.length}`);
  }
  expected.forEach((want, i) => {
    const got = layout.tensors[i];
    if (!got || got.name !== want.name) throw mismatch(name, `tensors[${i}].name is "${got?.name}", expected "${want.name}"`);
    if (got.dtype !== want.dtype) throw mismatch(name, `tensor "${want.name}" dtype is ${got.dtype}, expected ${want.dtype}`);
    if (got.dims.length !== want.dims.length || got.dims.some((d, k) => d !== want.dims[k])) {
      throw mismatch(name, `tensor "${want.name}" dims are [${got.dims.join(', ')}], expected [${want.dims.join(', ')}]`);
    }
  });
}
