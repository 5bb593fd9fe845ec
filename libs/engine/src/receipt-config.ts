import type { ResolvedParallel } from '@asyncdiff/asyncdiff';
import type { ReceiptConfig } from '@asyncdiff/models';

/**
 * The quality-receipt key of a parallel configuration (what `asyncdiff eval --receipt` writes and
 * the GPU host looks up). `compensation` is read from a staleness-compensation knob when the
 * configuration has one (a string names it; absent, false or 'none' → `none`; other values are
 * named by their JSON), so adding that knob never makes plain receipts answer for compensated runs.
 */
export function receiptConfigOf(p: ResolvedParallel): ReceiptConfig {
  const knob: unknown = (p as { readonly compensation?: unknown }).compensation;
  const compensation = knob === undefined || knob === false || knob === null || knob === 'none' ? 'none' : typeof knob === 'string' ? knob : JSON.stringify(knob);
  return { mode: p.mode, stages: p.stages, stride: p.stride, warmup: p.warmup, timeShift: p.timeShift, compensation };
}
