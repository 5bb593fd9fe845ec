import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A graph input's name and declared dims (symbolic dims by name, unknown ones as '?'). */
export interface OnnxInputShape {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

/**
 * Reads the declared inputs of an ONNX file without a protobuf library and without reading its
 * weights: it walks the wire format with positional reads and skips every field it does not need
 * by its length (an SD UNet stored in one file is gigabytes of initializers before its inputs).
 * The API uses it to say how a model batches without loading onnxruntime.
 */
export function readOnnxInputs(path: string): OnnxInputShape[] {
  const fd = openSync(path, 'r');
  try {
    const file = new Reader(fd, fstatSync(fd).size);
    const graph = file.find(0, file.size, 7); // ModelProto.graph
    if (!graph) throw new Error(`${path} has no graph`);
    const initializers = new Set<string>();
    const inputs: OnnxInputShape[] = [];
    for (const f of file.fields(graph.start, graph.end)) {
      if (f.wire !== 2) continue;
      if (f.field === 5) {
        // TensorProto.name (field 8): old IR versions also list initializers among the inputs.
        const name = file.find(f.start, f.end, 8);
        if (name) initializers.add(file.text(name.start, name.end));
      } else if (f.field === 11) {
        inputs.push(valueInfo(file, f.start, f.end));
      }
    }
    return inputs.filter((i) => !initializers.has(i.name));
  } finally {
    closeSync(fd);
  }
}

/** ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → shape (2) → dim (1). */
function valueInfo(file: Reader, start: number, end: number): OnnxInputShape {
  const name = file.find(start, end, 1);
  const dims: (number | string)[] = [];
  const type = file.find(start, end, 2);
  const tensor = type && file.find(type.start, type.end, 1);
  const shape = tensor && file.find(tensor.start, tensor.end, 2);
  if (shape) {
    for (const d of file.fields(shape.start, shape.end)) {
      if (d.field !== 1 || d.wire !== 2) continue;
      const value = file.fields(d.start, d.end).find((x) => x.field === 1 && x.wire === 0);
      const param = file.find(d.start, d.end, 2);
      dims.push(value ? value.value : param ? file.text(param.start, param.end) : '?');
    }
  }
  return { name: name ? file.text(name.start, name.end) : '', dims };
}

interface Field {
  readonly field: number;
  readonly wire: number;
  /** Varints: the value; length-delimited: the payload's range. */
  readonly value: number;
  readonly start: number;
  readonly end: number;
}

/** Positional protobuf reads over a file descriptor (varints and length-delimited fields only need a few bytes each). */
class Reader {
  private readonly buf = Buffer.alloc(16);

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** The first length-delimited field `field` in [start, end). */
  find(start: number, end: number, field: number): Field | undefined {
    for (const f of this.fields(start, end)) if (f.field === field && f.wire === 2) return f;
    return undefined;
  }

  /** Every field in [start, end), in order. */
  fields(start: number, end: number): Field[] {
    const out: Field[] = [];
    let at = start;
    while (at < end) {
      const key = this.varint(at);
      at = key.next;
      const field = Math.floor(key.value / 8);
      const wire = key.value % 8;
      switch (wire) {
        case 0: {
          const v = this.varint(at);
          out.push({ field, wire, value: v.value, start: at, end: v.next });
          at = v.next;
          break;
        }
        case 1:
          at += 8;
          break;
        case 2: {
          const len = this.varint(at);
          out.push({ field, wire, value: len.value, start: len.next, end: len.next + len.value });
          at = len.next + len.value;
          break;
        }
        case 5:
          at += 4;
          break;
        default:
          throw new Error(`not an ONNX protobuf (wire type ${wire} at byte ${at})`);
      }
    }
    if (at !== end) throw new Error('truncated ONNX protobuf');
    return out;
  }

  text(start: number, end: number): string {
    const b = Buffer.alloc(end - start);
    readSync(this.fd, b, 0, b.length, start);
    return b.toString('utf8');
  }

  private varint(at: number): { value: number; next: number } {
    const n = readSync(this.fd, this.buf, 0, Math.min(10, this.size - at), at);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[i]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return { value, next: at + i + 1 };
    }
    throw new Error(`bad varint at byte ${at}`);
  }
}

/**
 * How a denoiser's timestep input lets jobs share a batch: `per-sample` (a [batch] input, or
 * optimum's ['steps']) lets jobs at different steps run in one call; `scalar` (rank 0 or a fixed
 * [1]) batches only jobs at the same step, which then join together.
 */
export type TimestepBatching = 'per-sample' | 'scalar';

/** The batching case of a timestep input with these declared dims. */
export function timestepBatchingOf(dims: readonly (number | string)[] | undefined): TimestepBatching {
  if (!dims || dims.length === 0) return 'scalar';
  return dims.length === 1 && dims[0] === 1 ? 'scalar' : 'per-sample';
}
