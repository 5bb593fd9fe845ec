import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ModelError } from './errors.js';
import { findQualityReceipt, QUALITY_RECEIPTS_FILE, readQualityReceipts, receiptKey, writeQualityReceipt, type QualityReceipt } from './quality-receipts.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'receipts-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function receipt(warmup: number, frechetMode: number, modelVersion = '1'): QualityReceipt {
  return {
    config: { mode: 'async', stages: 2, stride: 1, warmup, timeShift: false, compensation: 'none' },
    modelVersion,
    samples: 100,
    agreement: { sequential: 1, mode: 0.99, delta: -0.01 },
    frechet: { sequential: 40, mode: frechetMode, delta: frechetMode - 40, relative: (frechetMode - 40) / 40 },
    psnrDb: 31.5,
    ssim: 0.96,
    measuredAt: '2026-12-04T19:00:00.000Z',
    eval: { command: 'asyncdiff eval --receipt', steps: 50, scheduler: 'ddim', guidance: 1.5, perClass: 10, seedBase: 0, batch: 50 },
  };
}

describe('quality receipts (models/<name>/quality-receipts.json)', () => {
  it('a package without the file has no receipts', () => {
    expect(readQualityReceipts(tmp(), 'digits')).toEqual({ version: 1, model: 'digits', receipts: [] });
  });

  it('writes, replaces the receipt of the same configuration, keeps the others, and finds by config and model version', () => {
    const dir = tmp();
    writeQualityReceipt(dir, 'digits', receipt(3, 48));
    writeQualityReceipt(dir, 'digits', receipt(1, 50));
    const file = writeQualityReceipt(dir, 'digits', receipt(3, 44));
    expect(file.receipts.map((r) => [r.config.warmup, r.frechet.mode])).toEqual([
      [1, 50],
      [3, 44],
    ]);
    expect(readQualityReceipts(dir, 'digits')).toEqual(file);
    const config = { mode: 'async', stages: 2, stride: 1 as const, warmup: 3, timeShift: false, compensation: 'none' };
    expect(findQualityReceipt(file, config, '1')?.frechet.mode).toBe(44);
    // A retrained model (new version) or another knob: none measured.
    expect(findQualityReceipt(file, config, '2')).toBeUndefined();
    expect(findQualityReceipt(file, { ...config, compensation: 'linear' }, '1')).toBeUndefined();
    expect(findQualityReceipt(file, { ...config, timeShift: true }, '1')).toBeUndefined();
    expect(receiptKey(config)).toBe('async/N2/S1/W3/no-time-shift/none');
  });

  it('reads receipts written before the compensation field existed as compensation none', () => {
    const dir = tmp();
    const old = receipt(3, 44) as unknown as { config: Record<string, unknown> };
    delete old.config['compensation'];
    writeFileSync(path.join(dir, QUALITY_RECEIPTS_FILE), JSON.stringify({ version: 1, model: 'digits', receipts: [old] }));
    expect(readQualityReceipts(dir, 'digits').receipts[0]?.config.compensation).toBe('none');
  });

  it('a broken file is MODEL_INVALID naming the field, not "none measured"', () => {
    const dir = tmp();
    const file = path.join(dir, QUALITY_RECEIPTS_FILE);
    writeFileSync(file, '{');
    expect(() => readQualityReceipts(dir, 'digits')).toThrow(ModelError);
    const bad = receipt(3, 44) as unknown as { samples: unknown };
    bad.samples = -1;
    writeFileSync(file, JSON.stringify({ version: 1, model: 'digits', receipts: [bad] }));
    try {
      readQualityReceipts(dir, 'digits');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'MODEL_INVALID', field: `${QUALITY_RECEIPTS_FILE}:receipts.0.samples` });
    }
    expect(readFileSync(file, 'utf8')).toContain('"samples":-1');
  });
});
