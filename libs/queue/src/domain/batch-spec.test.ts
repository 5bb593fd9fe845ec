import { findModelPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { batchBand, batchChildBullPriority, BULL_PRIORITY_LIMIT } from './batch-priority.js';
import type { BatchChild, BatchRecord } from './batch-record.js';
import { BATCH_LIMITS, matrixSize, resolveBatchRequest } from './batch-spec.js';
import { summarizeBatch } from './batch-summary.js';
import { JobSpecError } from './errors.js';
import { staticModelCatalog } from './model-catalog.js';
import { PRIORITY_MAX, PRIORITY_MIN, toBullPriority } from './priority.js';

const catalog = staticModelCatalog([findModelPackage('digits'), findModelPackage('moving-digits')]);
const issuesOf = (input: unknown) => {
  try {
    resolveBatchRequest(input, catalog, () => 42);
  } catch (err) {
    if (err instanceof JobSpecError) return err.issues.map((i) => `${i.field}:${i.code}`);
    throw err;
  }
  return [];
};

describe('batch requests', () => {
  it('expands prompts × seeds × steps × guidance × scheduler with the last axis fastest', () => {
    const plan = resolveBatchRequest(
      { matrix: { type: 'video', model: 'moving-digits', prompts: ['1', 'two'], seeds: [5, 6], steps: [3, 4], guidance: [1.5], scheduler: ['ddim', 'euler'] }, priority: 20 },
      catalog,
    );
    expect(plan.children).toHaveLength(matrixSize({ prompts: ['1', 'two'], seeds: [5, 6], steps: [3, 4], guidance: [1.5], scheduler: ['ddim', 'euler'] }));
    expect(plan.children.slice(0, 5).map((c) => [c.classId, c.seed, c.steps, c.scheduler])).toEqual([
      [1, 5, 3, 'ddim'],
      [1, 5, 3, 'euler'],
      [1, 5, 4, 'ddim'],
      [1, 5, 4, 'euler'],
      [1, 6, 3, 'ddim'],
    ]);
    expect(plan).toMatchObject({ kind: 'video', model: 'moving-digits', priority: 20 });
    expect(plan.children.every((c) => c.priority === 20 && c.guidance === 1.5 && c.webhook === undefined)).toBe(true);
  });

  it('resolves a list with the batch-wide parallel settings and draws missing seeds', () => {
    const plan = resolveBatchRequest({ jobs: [{ type: 'image', model: 'digits', prompt: '3' }, { type: 'image', model: 'digits', prompt: '4', seed: 9 }], parallel: { mode: 'async', stages: 2 } }, catalog, () => 42);
    expect(plan.children.map((c) => [c.seed, c.parallel.mode, c.parallel.stages])).toEqual([
      [42, 'async', 2],
      [9, 'async', 2],
    ]);
  });

  it('names the request field of every problem, once', () => {
    expect(issuesOf({ matrix: { type: 'image', model: 'digits', prompts: ['x', '1', 'y'], seeds: [1, 2, 3] } })).toEqual(['matrix.prompts.0:unknown_prompt', 'matrix.prompts.2:unknown_prompt']);
    expect(issuesOf({ jobs: [{ type: 'video', model: 'moving-digits', prompt: '1', count: 2 }] })).toEqual(['jobs.0.count:too_big']);
    expect(issuesOf({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [...Array(BATCH_LIMITS.axisValues).keys()], steps: [1, 2, 3, 4, 5, 6] } })).toEqual(['matrix:too_big']);
    expect(issuesOf({ jobs: Array.from({ length: 80 }, () => ({ type: 'image', model: 'digits', prompt: 'cat' })) })).toHaveLength(50);
  });
});

describe('batch priorities', () => {
  it('puts every batch child after every interactive job, orders batches by priority, and levels within a band', () => {
    const worstInteractive = toBullPriority(PRIORITY_MIN);
    expect(batchChildBullPriority(PRIORITY_MAX, 0)).toBeGreaterThan(worstInteractive);
    expect(batchChildBullPriority(80, 0)).toBeLessThan(batchChildBullPriority(20, 0));
    expect(batchChildBullPriority(80, 19_999)).toBeLessThan(batchChildBullPriority(79, 0));
    expect(batchChildBullPriority(50, 5)).toBe(batchChildBullPriority(50, 0) + 5);
    expect(batchChildBullPriority(50, 1e9)).toBe(batchBand(50)[1]);
    expect(batchChildBullPriority(PRIORITY_MIN, 1e9)).toBeLessThanOrEqual(BULL_PRIORITY_LIMIT);
  });
});

describe('batch summaries', () => {
  const record: BatchRecord = { id: 'batch_x', kind: 'image', model: 'digits', total: 4, priority: 50, parallel: { mode: 'auto', timeShift: false }, createdAt: 0, updatedAt: 0, state: 'open', round: 1 };
  const child = (index: number, status: BatchChild['status'], extra: Partial<BatchChild> = {}): BatchChild => ({ index, jobId: `job_${index}`, status, percent: 0, attempts: 1, outputs: [], timings: {}, ...extra });

  it('counts, derives the status and estimates the time left from the completion rate', () => {
    const s = summarizeBatch(record, [child(0, 'succeeded', { startedAt: 1000, finishedAt: 2000 }), child(1, 'failed', { startedAt: 2000, finishedAt: 3000, error: { code: 'X', message: 'y' } }), child(2, 'running', { startedAt: 3000, percent: 50 }), child(3, 'queued')], { now: 6000 });
    expect(s.status).toBe('running');
    expect(s.counts).toMatchObject({ total: 4, succeeded: 1, failed: 1, running: 1, queued: 1 });
    expect(s.percent).toBe(62.5);
    // 2.5 children in 5 s → 1.5 left take 3 s.
    expect(s.etaMs).toBe(3000);
    expect(s.failed).toEqual([{ index: 1, jobId: 'job_1', error: { code: 'X', message: 'y' } }]);
    expect(summarizeBatch(record, [child(0, 'queued')]).status).toBe('queued');
    expect(summarizeBatch(record, [child(0, 'canceled')]).status).toBe('finalizing');
    expect(summarizeBatch({ ...record, state: 'completed_with_errors' }, [child(0, 'failed')]).status).toBe('completed_with_errors');
  });
});
