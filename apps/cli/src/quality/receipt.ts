import { receiptConfigOf, type ResolvedParallel } from '@asyncdiff/engine';
import type { ModelPackage, QualityReceipt } from '@asyncdiff/models';

import type { Quality } from './measure.js';

/** How a receipt's sets were generated (recorded in the receipt, to reproduce it). */
export interface ReceiptEvalConfig {
  readonly steps: number;
  readonly scheduler: string;
  readonly guidance: number;
  readonly perClass: number;
  readonly seedBase: number;
  readonly batch: number;
}

/**
 * A quality receipt from the two measured sets of the same seeds: the stale-feature configuration
 * (`mode`, with PSNR/SSIM against `sequential`) and sequential sampling itself. Deltas are mode −
 * sequential, so the GPU host can judge the cost without knowing the model's absolute numbers.
 */
export function buildReceipt(model: ModelPackage, parallel: ResolvedParallel, mode: Quality, sequential: Quality, config: ReceiptEvalConfig, command: string, now: Date = new Date()): QualityReceipt {
  if (mode.psnrDb === undefined || mode.ssim === undefined) throw new TypeError('a receipt needs the mode measured against the sequential set (PSNR/SSIM)');
  const frechetDelta = mode.frechet - sequential.frechet;
  return {
    config: receiptConfigOf(parallel),
    modelVersion: String(model.version),
    samples: mode.samples,
    agreement: { sequential: sequential.agreement, mode: mode.agreement, delta: mode.agreement - sequential.agreement },
    frechet: { sequential: sequential.frechet, mode: mode.frechet, delta: frechetDelta, relative: sequential.frechet > 0 ? frechetDelta / sequential.frechet : 0 },
    psnrDb: mode.psnrDb,
    ssim: mode.ssim,
    measuredAt: now.toISOString(),
    eval: { command, ...config },
  };
}
