import { findModelPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { createModelCatalog, JobSpecError, resolveJobSpec, type SpecIssue } from '../index.js';

const catalog = createModelCatalog();

function issues(input: unknown): SpecIssue[] {
  try {
    resolveJobSpec(input, catalog);
  } catch (err) {
    expect(err).toBeInstanceOf(JobSpecError);
    expect((err as JobSpecError).code).toBe('INVALID_SPEC');
    return [...(err as JobSpecError).issues];
  }
  throw new Error('expected a JobSpecError');
}

describe('resolveJobSpec', () => {
  it('fills defaults from the model package and draws a seed', () => {
    const spec = resolveJobSpec({ type: 'image', model: 'digits', prompt: 'seven' }, catalog, () => 1234);
    expect(spec).toEqual({
      type: 'image',
      model: 'digits',
      prompt: 'seven',
      classId: 7,
      seed: 1234,
      steps: 50,
      guidance: findModelPackage('digits').defaults.guidance,
      scheduler: 'ddim',
      count: 1,
      output: { format: 'png', scale: 8 },
      parallel: { mode: 'auto', timeShift: false },
      priority: 50,
      timeoutSec: findModelPackage('digits').defaults.timeoutSec,
    });
    expect(findModelPackage('digits').defaults.timeoutSec).toBe(600);
  });

  it('keeps every explicit field', () => {
    const spec = resolveJobSpec(
      {
        type: 'video',
        model: 'moving-digits',
        prompt: '3',
        seed: 2 ** 32 - 1,
        steps: 20,
        guidance: 2.5,
        scheduler: 'euler',
        count: 1,
        output: { format: 'mp4', scale: 4 },
        parallel: { mode: 'async', stages: 3, stride: 2, warmup: 9, timeShift: true, compensation: 'linear' },
        priority: 90,
        webhook: 'https://example.com/hook',
        timeoutSec: 3600,
      },
      catalog,
    );
    expect(spec.timeoutSec).toBe(3600);
    expect(spec.seed).toBe(2 ** 32 - 1);
    expect(spec.output).toEqual({ format: 'mp4', scale: 4 });
    expect(spec.parallel).toEqual({ mode: 'async', stages: 3, stride: 2, warmup: 9, timeShift: true, compensation: 'linear' });
    expect(spec.webhook).toBe('https://example.com/hook');
    expect(spec.output.format).toBe('mp4');
  });

  it('names the field of each shape error', () => {
    const found = issues({ type: 'gif', model: 'digits', prompt: 7, seed: -1, steps: 1001, guidance: 31, count: 0, extra: 1, output: { scale: 17, x: 1 } });
    const fields = found.map((i) => i.field).sort();
    expect(fields).toEqual(['count', 'extra', 'guidance', 'output.scale', 'output.x', 'prompt', 'seed', 'steps', 'type']);
    expect(found.find((i) => i.field === 'prompt')?.code).toBe('invalid_type');
    expect(found.find((i) => i.field === 'extra')?.code).toBe('unknown_field');
  });

  it('reports missing fields as required and non-objects at the root as body', () => {
    expect(issues({}).map((i) => [i.field, i.code])).toEqual([
      ['type', 'required'],
      ['model', 'required'],
      ['prompt', 'required'],
    ]);
    expect(issues(null)[0]?.field).toBe('body');
    expect(issues([1, 2])[0]?.field).toBe('body');
  });

  it('checks the spec against the model package', () => {
    expect(issues({ type: 'image', model: 'nope', prompt: '1' })).toMatchObject([{ field: 'model', code: 'unknown_model' }]);
    expect(issues({ type: 'image', model: 'moving-digits', prompt: '1' })).toMatchObject([{ field: 'model', code: 'wrong_kind' }]);
    expect(issues({ type: 'image', model: 'digits', prompt: 'cat' })).toMatchObject([{ field: 'prompt', code: 'unknown_prompt' }]);
    expect(issues({ type: 'video', model: 'moving-digits', prompt: '1', count: 2 })).toMatchObject([{ field: 'count' }]);
    expect(issues({ type: 'video', model: 'moving-digits', prompt: '1', output: { format: 'png' } })).toMatchObject([{ field: 'output.format' }]);
    expect(issues({ type: 'image', model: 'digits', prompt: '1', output: { format: 'gif' } })).toMatchObject([{ field: 'output.format' }]);
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { mode: 'sequential', stages: 2 } })).toMatchObject([{ field: 'parallel.stages' }]);
  });

  it('parallel: every engine mode (one list, PARALLEL_MODES) plus auto, and a quality budget', () => {
    for (const mode of ['auto', 'sequential', 'async', 'cfg', 'hybrid'] as const) {
      expect(resolveJobSpec({ type: 'image', model: 'digits', prompt: '1', parallel: { mode } }, catalog).parallel.mode).toBe(mode);
    }
    expect(resolveJobSpec({ type: 'video', model: 'moving-digits', prompt: '1', parallel: { mode: 'cfg' } }, catalog).parallel).toEqual({ mode: 'cfg', timeShift: false });
    expect(resolveJobSpec({ type: 'image', model: 'digits', prompt: '1', parallel: { mode: 'hybrid', stages: 2, quality: 'fastest' } }, catalog).parallel).toEqual({ mode: 'hybrid', quality: 'fastest', stages: 2, timeShift: false });
    for (const quality of ['exact', 'balanced', 'fastest'] as const) {
      expect(resolveJobSpec({ type: 'image', model: 'digits', prompt: '1', parallel: { quality } }, catalog).parallel).toEqual({ mode: 'auto', quality, timeShift: false });
    }
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { mode: 'pipeline' } })).toMatchObject([{ field: 'parallel.mode' }]);
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { quality: 'best' } })).toMatchObject([{ field: 'parallel.quality' }]);
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { mode: 'cfg', stages: 2 } })).toMatchObject([{ field: 'parallel.stages' }]);
    // A forced stale-feature mode contradicts the exact budget: said, not silently overridden.
    for (const mode of ['async', 'hybrid']) {
      const [issue] = issues({ type: 'image', model: 'digits', prompt: '1', parallel: { mode, quality: 'exact' } });
      expect(issue).toMatchObject({ field: 'parallel.quality', code: 'invalid_value' });
      expect(issue?.message).toMatch(/stale features/);
    }
    expect(resolveJobSpec({ type: 'image', model: 'digits', prompt: '1', parallel: { mode: 'cfg', quality: 'exact' } }, catalog).parallel.quality).toBe('exact');
  });

  it('accepts only http(s) webhooks and integer seeds in range', () => {
    expect(issues({ type: 'image', model: 'digits', prompt: '1', webhook: 'ftp://x.y/z' })[0]?.field).toBe('webhook');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', webhook: 'javascript:alert(1)' })[0]?.field).toBe('webhook');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', seed: 2 ** 32 })[0]?.field).toBe('seed');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', seed: 1.5 })[0]?.field).toBe('seed');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { stride: 3 } })[0]?.field).toBe('parallel.stride');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', parallel: { compensation: 'cubic' } })[0]?.field).toBe('parallel.compensation');
    expect(issues({ type: 'image', model: 'digits', prompt: '1', priority: 101 })[0]?.field).toBe('priority');
  });

  it('bounds timeoutSec to whole seconds in 1…3600', () => {
    for (const timeoutSec of [0, 3601, 1.5, '60']) {
      expect(issues({ type: 'image', model: 'digits', prompt: '1', timeoutSec })).toMatchObject([{ field: 'timeoutSec' }]);
    }
    expect(resolveJobSpec({ type: 'image', model: 'digits', prompt: '1', timeoutSec: 1 }, catalog).timeoutSec).toBe(1);
  });

  it('bounds preview.every to whole steps in 1…1000 and keeps previews off unless asked for', () => {
    const base = { type: 'image', model: 'digits', prompt: '1' };
    for (const every of [0, -5, 1001, 2.5, '5', null]) {
      expect(issues({ ...base, preview: { every } })).toMatchObject([{ field: 'preview.every' }]);
    }
    expect(issues({ ...base, preview: {} })).toMatchObject([{ field: 'preview.every', code: 'required' }]);
    expect(issues({ ...base, preview: { every: 5, size: 64 } })).toMatchObject([{ field: 'preview.size', code: 'unknown_field' }]);
    expect(issues({ ...base, preview: true })).toMatchObject([{ field: 'preview' }]);
    expect(resolveJobSpec({ ...base, preview: { every: 1 } }, catalog).preview).toEqual({ every: 1 });
    expect(resolveJobSpec({ ...base, preview: { every: 1000 } }, catalog).preview).toEqual({ every: 1000 });
    expect(resolveJobSpec(base, catalog)).not.toHaveProperty('preview');
  });
});
