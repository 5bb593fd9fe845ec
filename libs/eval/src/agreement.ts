import { checkLength, EvalError } from './errors.js';

/**
 * Fraction (0…1) of samples whose predicted class equals the requested class — the prompt
 * adherence metric (analogue of CLIP score).
 */
export function agreement(predicted: ArrayLike<number>, requested: ArrayLike<number>): number {
  checkLength(requested, predicted.length, 'requested', 'one per prediction');
  if (predicted.length === 0) throw new EvalError('INVALID_ARGUMENT', 'predicted', 'predicted must not be empty');
  let hits = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === requested[i]) hits++;
  return hits / predicted.length;
}

/** One row of {@link perClassTable}: how samples requested as one class were classified. */
export interface PerClassRow {
  /** Class id (index into the model's classes). */
  readonly classId: number;
  /** Display label of the class. */
  readonly label: string;
  /** Samples requested as this class. */
  readonly requested: number;
  /** Of those, how many the classifier recognised as this class. */
  readonly correct: number;
  /** correct / requested in percent (NaN when none were requested). */
  readonly percent: number;
}

/**
 * Per-class agreement: one row per entry of `classes` (ids 0 … classes.length-1) plus nothing
 * else; requested ids outside that range throw. For model cards and benchmark reports.
 */
export function perClassTable(predicted: ArrayLike<number>, requested: ArrayLike<number>, classes: readonly string[]): PerClassRow[] {
  checkLength(requested, predicted.length, 'requested', 'one per prediction');
  const total = new Array<number>(classes.length).fill(0);
  const correct = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < requested.length; i++) {
    const r = requested[i] as number;
    if (!Number.isInteger(r) || r < 0 || r >= classes.length) {
      throw new EvalError('INVALID_ARGUMENT', 'requested', `requested[${i}] = ${r} is not a class id in [0, ${classes.length - 1}]`);
    }
    total[r] = (total[r] as number) + 1;
    if (predicted[i] === r) correct[r] = (correct[r] as number) + 1;
  }
  return classes.map((label, classId) => {
    const n = total[classId] as number;
    const c = correct[classId] as number;
    return { classId, label, requested: n, correct: c, percent: n === 0 ? Number.NaN : (100 * c) / n };
  });
}

/** Renders {@link perClassTable} rows (plus an "all" row) as a Markdown table for a model card. */
export function formatPerClassTable(rows: readonly PerClassRow[]): string {
  const lines = ['| class | requested | recognised | % |', '|---|---:|---:|---:|'];
  let n = 0;
  let c = 0;
  const pct = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));
  for (const r of rows) {
    lines.push(`| ${r.label} | ${r.requested} | ${r.correct} | ${pct(r.percent)} |`);
    n += r.requested;
    c += r.correct;
  }
  lines.push(`| **all** | ${n} | ${c} | ${pct(n === 0 ? Number.NaN : (100 * c) / n)} |`);
  return lines.join('\n');
}
