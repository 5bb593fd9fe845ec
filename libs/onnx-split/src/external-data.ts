import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { basename, isAbsolute, normalize, resolve, sep } from 'node:path';
import { SplitModelError } from './errors.js';
import { tensorBytes } from './graph-analysis.js';
import { writeOnnxModel } from './onnx-io.js';
import type { OnnxModel, OnnxTensor } from './onnx-types.js';
import { DATA_LOCATION_EXTERNAL } from './onnx-types.js';
import { graphTensors, mapModelTensors } from './tensor-walk.js';

/** Tensors at least this big start on a page boundary in a stage's data file (mmap-friendly, as ORT aligns). */
const PAGE_ALIGN_FROM_BYTES = 1 << 20;
const PAGE_BYTES = 4096;
/** Smaller tensors start on a 64-byte boundary (SIMD-friendly when mapped). */
const SMALL_ALIGN_BYTES = 64;
/** Copy buffer: the only weight bytes the splitter ever holds at once. */
const COPY_BUFFER_BYTES = 8 << 20;

/** Where one external tensor's bytes are in the source model's data files. */
interface SourceRange {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** What {@link writeModelWithOwnData} wrote. */
export interface OwnDataFile {
  /** File name of the model's data file (beside it), or null when it has no external tensors. */
  readonly dataFile: string | null;
  /** Size of that file, bytes (alignment padding included). */
  readonly dataBytes: number;
  /** Bytes of the ONNX file itself. */
  readonly graphBytes: number;
}

/**
 * Reads byte ranges of a source model's external data files, opened lazily and checked: locations
 * must stay inside the model's directory and ranges inside the file (the rules ORT applies).
 */
export class ExternalDataSource {
  private readonly handles = new Map<string, Promise<{ handle: FileHandle; size: number }>>();
  private readonly buffer = Buffer.allocUnsafe(COPY_BUFFER_BYTES);

  constructor(private readonly modelDir: string) {}

  /** The source range of an external tensor (validated against its file's size). */
  async range(t: OnnxTensor): Promise<SourceRange> {
    const entry = (key: string): string | undefined => (t.externalData ?? []).find((e) => e.key === key)?.value;
    const location = entry('location');
    const name = t.name ?? '';
    if (!location || isAbsolute(location) || normalize(location).split(sep).includes('..')) {
      throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `tensor "${name}": external data location ${JSON.stringify(location)} must be a path inside the model's directory`, {
        field: 'modelPath',
      });
    }
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length') !== undefined ? Number(entry('length')) : tensorBytes({ ...t, externalData: [] , dataLocation: 0 });
    const { size } = await this.file(location, name);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `tensor "${name}": external data [${offset}, ${offset + length}) lies outside "${location}" (${size} bytes)`, {
        field: 'modelPath',
      });
    }
    return { location, offset, length };
  }

  /** Streams a range into `to` at `position`, through one reused buffer. */
  async copy(range: SourceRange, to: FileHandle, position: number): Promise<void> {
    const { handle } = await this.file(range.location, range.location);
    let done = 0;
    while (done < range.length) {
      const want = Math.min(this.buffer.length, range.length - done);
      const { bytesRead } = await handle.read(this.buffer, 0, want, range.offset + done);
      if (bytesRead <= 0) throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `external data file "${range.location}" ended early`, { field: 'modelPath' });
      await writeFully(to, this.buffer.subarray(0, bytesRead), position + done);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    for (const pending of this.handles.values()) {
      try {
        await (await pending).handle.close();
      } catch {
        // Opening failed (already reported) or the handle is gone.
      }
    }
    this.handles.clear();
  }

  private file(location: string, tensorName: string): Promise<{ handle: FileHandle; size: number }> {
    let pending = this.handles.get(location);
    if (pending === undefined) {
      pending = (async () => {
        const path = resolve(this.modelDir, location);
        try {
          const handle = await open(path, 'r');
          return { handle, size: (await handle.stat()).size };
        } catch (cause) {
          throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `tensor "${tensorName}": external data file "${location}" cannot be opened: ${String(cause)}`, {
            field: 'modelPath',
            cause,
          });
        }
      })();
      this.handles.set(location, pending);
    }
    return pending;
  }
}

/**
 * Writes a model (a stage, or a renamed copy of the source) whose external tensors live in its own
 * data file `<file name>_data` beside it: each referenced byte range is streamed from the source
 * data files (never a whole file in memory), tensors used twice are stored once, large tensors are
 * page-aligned. Inline tensors stay inline, as in the source. The result loads in ORT from any
 * directory, independently of the source model's folder (which may be read-only or absent).
 */
export async function writeModelWithOwnData(model: OnnxModel, path: string, source: ExternalDataSource): Promise<OwnDataFile> {
  const external = [...graphTensors(model.graph ?? {})].filter((t) => t.dataLocation === DATA_LOCATION_EXTERNAL);
  if (external.length === 0) return { dataFile: null, dataBytes: 0, graphBytes: await writeOnnxModel(path, model) };
  const dataFile = `${basename(path)}_data`;
  const placed = new Map<string, { range: SourceRange; offset: number }>();
  const byTensor = new Map<OnnxTensor, { offset: number; length: number }>();
  let end = 0;
  for (const t of external) {
    const range = await source.range(t);
    const key = `${range.location}\0${range.offset}\0${range.length}`;
    let slot = placed.get(key);
    if (slot === undefined) {
      const align = range.length >= PAGE_ALIGN_FROM_BYTES ? PAGE_BYTES : SMALL_ALIGN_BYTES;
      const offset = Math.ceil(end / align) * align;
      slot = { range, offset };
      placed.set(key, slot);
      end = offset + range.length;
    }
    byTensor.set(t, { offset: slot.offset, length: range.length });
  }
  const out = await open(`${path}_data`, 'w');
  try {
    for (const { range, offset } of placed.values()) await source.copy(range, out, offset);
    await out.truncate(end);
  } finally {
    await out.close();
  }
  const relocated = mapModelTensors(model, (t) => {
    const at = byTensor.get(t);
    if (at === undefined) return t;
    const checksum = (t.externalData ?? []).find((e) => e.key === 'checksum');
    return {
      ...t,
      dataLocation: DATA_LOCATION_EXTERNAL,
      externalData: [
        { key: 'location', value: dataFile },
        { key: 'offset', value: String(at.offset) },
        { key: 'length', value: String(at.length) },
        ...(checksum ? [checksum] : []),
      ],
    };
  });
  return { dataFile, dataBytes: end, graphBytes: await writeOnnxModel(path, relocated) };
}

async function writeFully(to: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await to.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}
