import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { makeProgress, type JobProgress } from '../domain/job-record.js';
import { throttleProgress } from './progress-throttle.js';

/** A throttle on the fake clock, recording what it wrote as `step@ms` (`phase` when not denoise). */
function harness(intervalMs: number) {
  const written: string[] = [];
  const t = throttleProgress(
    intervalMs,
    async (p: JobProgress) => {
      written.push(`${p.step}${p.phase && p.phase !== 'denoise' ? ` ${p.phase}` : ''}@${Date.now()}`);
    },
    () => Date.now(),
  );
  /** Reports `step` of 10 at `ms` on the fake clock. */
  const at = async (ms: number, step: number, phase = 'denoise'): Promise<void> => {
    await vi.advanceTimersByTimeAsync(ms - Date.now());
    await t.report(makeProgress(step, 10, phase));
  };
  return { t, written, at };
}

describe('throttleProgress', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('0 writes every report, in order', async () => {
    const { written, at } = harness(0);
    for (let s = 1; s <= 10; s++) await at(s, s);
    expect(written).toEqual(['1@1', '2@2', '3@3', '4@4', '5@5', '6@6', '7@7', '8@8', '9@9', '10@10']);
  });

  it('writes one report per interval, the newest when the interval ends; a new phase and the last step at once', async () => {
    const { t, written, at } = harness(100);
    await at(0, 1); // the first: at once
    await at(10, 2); // held…
    await at(30, 3); // …replaced by the newer step
    expect(written).toEqual(['1@0']);
    await vi.advanceTimersByTimeAsync(100 - Date.now());
    expect(written).toEqual(['1@0', '3@100']); // the interval ended: the newest step
    await at(150, 4); // held until 200
    await at(160, 5, 'encode'); // a new phase: at once, and step 4 is not written after it
    await at(170, 6, 'encode'); // held until 260
    await at(180, 10, 'encode'); // the last step: at once
    await vi.advanceTimersByTimeAsync(500);
    expect(written).toEqual(['1@0', '3@100', '5 encode@160', '10 encode@180']);
    await at(1000, 7); // due, nothing held: at once
    await at(1010, 8); // held…
    await t.flush(); // …until the run ends
    expect(written).toEqual(['1@0', '3@100', '5 encode@160', '10 encode@180', '7@1000', '8@1010']);
    await vi.advanceTimersByTimeAsync(500);
    expect(written).toHaveLength(6); // the flushed report's timer wrote nothing more
  });

  it('a held report resolves at once: a handler that awaits progress is not slowed to one step per interval', async () => {
    const { t, written } = harness(10_000);
    await t.report(makeProgress(1, 10, 'denoise'));
    let resolved = false;
    void t.report(makeProgress(2, 10, 'denoise')).then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(true);
    expect(written).toEqual(['1@0']);
  });
});
