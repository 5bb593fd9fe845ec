import { describe, expect, it } from 'vitest';
import {
  add,
  allocate,
  axpby,
  bytesPerElement,
  clamp,
  concatBatch,
  createTensor,
  DTypeMismatchError,
  isDataType,
  maxAbsDiff,
  repeatBatch,
  scale,
  ShapeMismatchError,
  sizeOf,
  sliceBatch,
  sub,
  TensorDisposedError,
  InvalidArgumentError,
} from './index.js';

describe('dtype map', () => {
  it('allocates the typed array of each dtype', () => {
    expect(allocate('float32', 3)).toBeInstanceOf(Float32Array);
    expect(allocate('int64', 3)).toBeInstanceOf(BigInt64Array);
    expect(allocate('int32', 3)).toBeInstanceOf(Int32Array);
    expect(allocate('uint8', 3)).toBeInstanceOf(Uint8Array);
    expect(bytesPerElement('int64')).toBe(8);
    expect(isDataType('float32')).toBe(true);
    expect(isDataType('float64')).toBe(false);
    expect(isDataType('toString')).toBe(false);
  });
});

describe('createTensor', () => {
  it('wraps data without copying and types .data by dtype', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = createTensor('float32', [2, 3], data);
    const f: Float32Array = t.data;
    expect(f).toBe(data);
    expect(t.size).toBe(6);
    expect(t.dims).toEqual([2, 3]);
    const l = createTensor('int64', [2]);
    expect(l.data).toEqual(new BigInt64Array(2));
  });

  it('throws on use after dispose and runs the release hook once', () => {
    let released = 0;
    const t = createTensor('uint8', [4], new Uint8Array(4), { onDispose: () => released++ });
    t.dispose();
    t.dispose();
    expect(released).toBe(1);
    expect(t.disposed).toBe(true);
    expect(() => t.data).toThrow(TensorDisposedError);
    expect(() => t.dims).toThrow(TensorDisposedError);
  });

  it('rejects mismatched data', () => {
    expect(() => createTensor('float32', [3], new Float32Array(2))).toThrow(ShapeMismatchError);
    expect(() => createTensor('float32', [2], new Int32Array(2) as unknown as Float32Array)).toThrow(DTypeMismatchError);
    expect(() => createTensor('float32', [2, -1])).toThrow(/dims\[1\]/);
  });
});

describe('sizeOf', () => {
  it('multiplies dims', () => {
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([2, 1, 16, 16])).toBe(512);
    expect(sizeOf([0, 5])).toBe(0);
    expect(() => sizeOf([1.5])).toThrow(InvalidArgumentError);
  });
});

describe('batch helpers', () => {
  const a = createTensor('float32', [1, 2], new Float32Array([1, 2]));
  const b = createTensor('float32', [2, 2], new Float32Array([3, 4, 5, 6]));

  it('concatenates along the batch dimension', () => {
    const c = concatBatch([a, b]);
    expect(c.dims).toEqual([3, 2]);
    expect([...c.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => concatBatch([a, createTensor('float32', [1, 3])])).toThrow(/tensors\[1\]/);
    expect(() => concatBatch([])).toThrow(InvalidArgumentError);
  });

  it('repeats one sample into a batch', () => {
    const r = repeatBatch(a, 3);
    expect(r.dims).toEqual([3, 2]);
    expect([...r.data]).toEqual([1, 2, 1, 2, 1, 2]);
    expect(() => repeatBatch(b, 2)).toThrow(ShapeMismatchError);
    expect(() => repeatBatch(a, 0)).toThrow(/k/);
  });

  it('slices a batch as a view', () => {
    const s = sliceBatch(b, 1, 2);
    expect(s.dims).toEqual([1, 2]);
    expect([...s.data]).toEqual([5, 6]);
    s.data[0] = 9;
    expect(b.data[2]).toBe(9);
    b.data[2] = 5;
    expect(() => sliceBatch(b, 1, 3)).toThrow(/start\/end/);
  });
});

describe('elementwise', () => {
  const x = new Float32Array([1, -2, 3]);
  const y = new Float32Array([0.5, 0.5, -1]);
  it('computes', () => {
    expect([...add(x, y)]).toEqual([1.5, -1.5, 2]);
    expect([...sub(x, y)]).toEqual([0.5, -2.5, 4]);
    expect([...scale(x, 2)]).toEqual([2, -4, 6]);
    expect([...axpby(2, x, -2, y)]).toEqual([1, -5, 8]);
    expect([...clamp(x, -1, 1)]).toEqual([1, -1, 1]);
    expect(maxAbsDiff(x, y)).toBe(4);
    expect(maxAbsDiff([1, Number.NaN, 3], [1, 2, 3])).toBeNaN();
    expect(() => add(x, new Float32Array(2))).toThrow(ShapeMismatchError);
  });
});
