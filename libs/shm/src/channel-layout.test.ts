import { describe, expect, it } from 'vitest';

import {
  assertLayoutMatches,
  computeChannelLayout,
  MAX_SLOTS,
  readChannelHeader,
  TABLE_OFFSET,
  type TensorSpec,
  writeChannelHeader,
} from './channel-layout.js';
import type { ShmError } from './errors.js';

const specs: TensorSpec[] = [
  { name: 'hidden', dtype: 'float32', dims: [2, 3, 5] },
  { name: 'ids', dtype: 'int64', dims: [7] },
  { name: 'mask', dtype: 'uint8', dims: [3] },
  { name: 'skip', dtype: 'int32', dims: [1, 1, 1, 1, 1, 1, 1, 9] },
];

function thrown(fn: () => unknown): ShmError {
  try {
    fn();
  } catch (err) {
    return err as ShmError;
  }
  throw new Error('expected a throw');
}

describe('channel layout', () => {
  it('aligns tensors to 64 bytes and slots to pages', () => {
    const layout = computeChannelLayout(specs);
    expect(layout.tensors.map((t) => [t.byteOffset, t.byteLength])).toEqual([
      [0, 120],
      [128, 56],
      [192, 3],
      [256, 36],
    ]);
    expect(layout.slotsOffset).toBe(4096);
    expect(layout.slotBytes).toBe(4096);
    expect(layout.totalBytes).toBe(4096 * 3);
  });

  it('round-trips through a header', () => {
    const layout = computeChannelLayout(specs);
    const buffer = new ArrayBuffer(layout.totalBytes);
    writeChannelHeader(buffer, layout, 1234);
    expect(readChannelHeader(buffer, 'x')).toEqual(layout);
    expect(new DataView(buffer).getUint32(16, true)).toBe(1234);
    expect(() => assertLayoutMatches('x', layout, specs)).not.toThrow();
  });

  it('rejects bad specs with the field in the message', () => {
    const cases: [TensorSpec[], RegExp][] = [
      [[], /tensors must list/],
      [[{ name: '', dtype: 'float32', dims: [1] }], /tensors\[0\]\.name/],
      // Exported UNets name tensors like /down_blocks.1/attentions.0/transformer_blocks.0/attn2/to_out.0/MatMul_output_0.
      [[{ name: 'x'.repeat(256), dtype: 'float32', dims: [1] }], /tensors\[0\]\.name/],
      [[{ name: 'a', dtype: 'bfloat16' as 'float32', dims: [1] }], /tensors\[0\]\.dtype/],
      [[{ name: 'a', dtype: 'float32', dims: [0] }], /tensors\[0\]\.dims/],
      [[{ name: 'a', dtype: 'float32', dims: [1, 1, 1, 1, 1, 1, 1, 1, 1] }], /tensors\[0\]\.dims/],
      [[{ name: 'a', dtype: 'float32', dims: [1] }, { name: 'a', dtype: 'int32', dims: [1] }], /tensors\[1\]\.name "a" is listed twice/],
    ];
    for (const [bad, message] of cases) {
      const err = thrown(() => computeChannelLayout(bad));
      expect(err.code).toBe('SHM_INVALID_ARGUMENT');
      expect(err.message).toMatch(message);
    }
  });

  it('reports an unwritten header as not ready and a corrupt one as a mismatch naming the field', () => {
    const layout = computeChannelLayout(specs);
    const fresh = new ArrayBuffer(layout.totalBytes);
    expect(thrown(() => readChannelHeader(fresh, 'x')).code).toBe('SHM_NOT_READY');

    const corrupt = (mutate: (dv: DataView) => void): ShmError => {
      const buffer = new ArrayBuffer(layout.totalBytes);
      writeChannelHeader(buffer, layout, 1);
      mutate(new DataView(buffer));
      return thrown(() => readChannelHeader(buffer, 'x'));
    };
    const cases: [(dv: DataView) => void, RegExp][] = [
      [(dv) => dv.setUint32(0, 0xdeadbeef, true), /magic/],
      [(dv) => dv.setUint32(4, 99, true), /version is 99/],
      [(dv) => dv.setUint32(12, 1, true), /slotCount is 1, expected 2…8/],
      [(dv) => dv.setUint32(12, MAX_SLOTS + 1, true), /slotCount is 9/],
      // A valid count that disagrees with the segment's size.
      [(dv) => dv.setUint32(12, 3, true), /totalBytes/],
      [(dv) => dv.setBigUint64(40, 1n, true), /totalBytes/],
      [(dv) => dv.setUint32(TABLE_OFFSET + 256, 16, true), /tensors\[0\]\.dtype/],
      [(dv) => dv.setBigUint64(TABLE_OFFSET + 304, 4n, true), /tensors\[0\]\.byteLength/],
      [(dv) => dv.setBigUint64(TABLE_OFFSET + 320 + 296, 8n, true), /tensors\[1\]\.byteOffset/],
    ];
    for (const [mutate, message] of cases) {
      const err = corrupt(mutate);
      expect(err.code).toBe('SHM_LAYOUT_MISMATCH');
      expect(err.message).toMatch(message);
    }
  });

  it('lays out 2 to 8 slots (k + 1 keep the last k steps readable) and rejects other counts', () => {
    const three = computeChannelLayout(specs, 3);
    expect(three.slotCount).toBe(3);
    expect(three.totalBytes).toBe(three.slotsOffset + 3 * three.slotBytes);
    const buffer = new ArrayBuffer(three.totalBytes);
    writeChannelHeader(buffer, three, 1);
    expect(readChannelHeader(buffer, 'x')).toEqual(three);
    for (const bad of [1, MAX_SLOTS + 1, 2.5]) {
      const err = thrown(() => computeChannelLayout(specs, bad));
      expect(err.code).toBe('SHM_INVALID_ARGUMENT');
      expect(err.message).toMatch(/slots must be an integer in \[2, 8\]/);
    }
  });

  it('keeps the long tensor names of exported UNets (up to 255 bytes)', () => {
    const long = '/down_blocks.1/attentions.0/transformer_blocks.0/attn2/to_out.0/MatMul_output_0'.padEnd(255, '_');
    const layout = computeChannelLayout([{ name: long, dtype: 'float16', dims: [2, 320, 8, 8] }]);
    const buffer = new ArrayBuffer(layout.totalBytes);
    writeChannelHeader(buffer, layout, 1);
    expect(readChannelHeader(buffer, 'x').tensors.map((t) => [t.name, t.dtype])).toEqual([[long, 'float16']]);
  });

  it('explains how an opened layout differs from the expected one', () => {
    const layout = computeChannelLayout(specs);
    const expectErr = (expected: TensorSpec[]): string => thrown(() => assertLayoutMatches('ch', layout, expected)).message;
    expect(expectErr(specs.slice(1))).toMatch(/has 4 tensors, expected 3/);
    expect(expectErr([{ ...specs[0]!, dims: [2, 3, 6] }, ...specs.slice(1)])).toMatch(/"hidden" dims are \[2, 3, 5\], expected \[2, 3, 6\]/);
    expect(expectErr([{ ...specs[0]!, dtype: 'int32' }, ...specs.slice(1)])).toMatch(/"hidden" dtype is float32, expected int32/);
    expect(expectErr([{ ...specs[0]!, name: 'other' }, ...specs.slice(1)])).toMatch(/tensors\[0\]\.name is "hidden", expected "other"/);
  });
});
