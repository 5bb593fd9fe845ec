import { describe, expect, it } from 'vitest';

import { controlLayout, layoutFits, type ControlCapacity } from './control-layout.js';

const sdxl: ControlCapacity = {
  devices: 3,
  maxBatch: 4,
  latentDtype: 'float16',
  sampleElements: 4 * 8 * 8,
  conditioning: { time_ids: { dtype: 'float16', rowElements: 6 }, encoder_hidden_states: { dtype: 'float16', rowElements: 77 * 64 }, text_embeds: { dtype: 'float16', rowElements: 32 } },
};

describe('control block layout', () => {
  it('places the latent after the device words and every conditioning tensor after it, 64-byte aligned, in name order', () => {
    const l = controlLayout(sdxl);
    expect(l.latent.byteOffset).toBe(128 + 3 * 192);
    expect(l.latent.elements).toBe(4 * 256);
    const names = Object.keys(l.conditioning);
    expect(names).toEqual(['encoder_hidden_states', 'text_embeds', 'time_ids']);
    let end = l.latent.byteOffset + l.latent.elements * 2;
    for (const n of names) {
      const r = l.conditioning[n]!;
      expect(r.byteOffset % 64).toBe(0);
      expect(r.byteOffset).toBeGreaterThanOrEqual(end);
      end = r.byteOffset + r.elements * 2;
    }
    expect(l.byteLength).toBeGreaterThanOrEqual(end);
    expect(l.conditioning['encoder_hidden_states']!.elements).toBe(4 * 77 * 64);
  });

  it('a scalar-per-row input (class labels) still gets one element per row', () => {
    expect(controlLayout({ ...sdxl, conditioning: { class_labels: { dtype: 'int64', rowElements: 1 } } }).conditioning['class_labels']!.elements).toBe(4);
  });

  it('fits smaller requests, not larger ones or other names/dtypes', () => {
    const l = controlLayout(sdxl);
    expect(layoutFits(l, sdxl)).toBe(true);
    expect(layoutFits(l, { ...sdxl, sampleElements: 4 * 4 * 4 })).toBe(true);
    expect(layoutFits(l, { ...sdxl, sampleElements: 4 * 16 * 16 })).toBe(false);
    expect(layoutFits(l, { ...sdxl, maxBatch: 8 })).toBe(false);
    expect(layoutFits(l, { ...sdxl, latentDtype: 'float32' })).toBe(false);
    expect(layoutFits(l, { ...sdxl, conditioning: { ...sdxl.conditioning, time_ids: { dtype: 'float32', rowElements: 6 } } })).toBe(false);
    expect(layoutFits(l, { ...sdxl, conditioning: { class_labels: { dtype: 'int64', rowElements: 1 } } })).toBe(false);
  });

  it('refuses more devices than the block can address', () => {
    expect(() => controlLayout({ ...sdxl, devices: 17 })).toThrow(RangeError);
  });
});
