import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { ModelError } from './errors.js';

/** The file beside a package's model.json that holds its quality receipts. */
export const QUALITY_RECEIPTS_FILE = 'quality-receipts.json';

/**
 * The configuration a receipt was measured for: a stale-feature parallel mode with its AsyncDiff
 * knobs. `compensation` names a staleness-compensation knob (`none` without one), so receipts of
 * compensated and plain runs never answer for each other.
 */
export interface ReceiptConfig {
  readonly mode: string;
  readonly stages: number;
  readonly stride: 1 | 2;
  readonly warmup: number;
  readonly timeShift: boolean;
  readonly compensation: string;
}

/**
 * What a stale-feature configuration costs in quality on one model, measured by
 * `asyncdiff eval --receipt` against sequential sampling of the same seeds: distribution quality
 * (Fréchet distance in the eval classifier's feature space), prompt adherence (classifier
 * agreement) and fidelity (PSNR/SSIM against the sequential output).
 */
export interface QualityReceipt {
  readonly config: ReceiptConfig;
  /** The package version measured (a retrained model needs new receipts). */
  readonly modelVersion: string;
  /** Images (image models) or clips (video models) generated in each of the two sets. */
  readonly samples: number;
  /** Fractions in 0…1; `delta` = mode − sequential (negative: fewer samples show the class). */
  readonly agreement: { readonly sequential: number; readonly mode: number; readonly delta: number };
  /** `delta` = mode − sequential; `relative` = delta / sequential (0.1 = 10% worse). */
  readonly frechet: { readonly sequential: number; readonly mode: number; readonly delta: number; readonly relative: number };
  readonly psnrDb: number;
  readonly ssim: number;
  /** ISO 8601 time of the measurement. */
  readonly measuredAt: string;
  /** How it was measured, to reproduce it. */
  readonly eval: {
    readonly command: string;
    readonly steps: number;
    readonly scheduler: string;
    readonly guidance: number;
    readonly perClass: number;
    readonly seedBase: number;
    readonly batch: number;
  };
}

const configSchema = z.object({
  mode: z.string().min(1),
  stages: z.number().int().positive(),
  stride: z.union([z.literal(1), z.literal(2)]),
  warmup: z.number().int().positive(),
  timeShift: z.boolean(),
  compensation: z.string().min(1).default('none'),
});
const receiptSchema = z.object({
  config: configSchema,
  modelVersion: z.string(),
  samples: z.number().int().positive(),
  agreement: z.object({ sequential: z.number(), mode: z.number(), delta: z.number() }),
  frechet: z.object({ sequential: z.number(), mode: z.number(), delta: z.number(), relative: z.number() }),
  psnrDb: z.number(),
  ssim: z.number(),
  measuredAt: z.string(),
  eval: z.object({ command: z.string(), steps: z.number(), scheduler: z.string(), guidance: z.number(), perClass: z.number(), seedBase: z.number(), batch: z.number() }),
});
const fileSchema = z.object({ version: z.literal(1), model: z.string(), receipts: z.array(receiptSchema) });

/** The receipts file of one package. */
export interface QualityReceiptsFile {
  readonly version: 1;
  readonly model: string;
  readonly receipts: readonly QualityReceipt[];
}

/** A stable name for a configuration (the receipts file holds at most one receipt per key). */
export function receiptKey(c: ReceiptConfig): string {
  return `${c.mode}/N${c.stages}/S${c.stride}/W${c.warmup}/${c.timeShift ? 'time-shift' : 'no-time-shift'}/${c.compensation}`;
}

/**
 * Reads `<dir>/quality-receipts.json`; a package without one has no receipts. A file that does
 * not parse is a broken package (`MODEL_INVALID`), not "none measured".
 */
export function readQualityReceipts(dir: string, model: string): QualityReceiptsFile {
  const file = path.join(dir, QUALITY_RECEIPTS_FILE);
  if (!existsSync(file)) return { version: 1, model, receipts: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelError('MODEL_INVALID', `${file} is not JSON: ${(err as Error).message}`, QUALITY_RECEIPTS_FILE, { cause: err });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelError('MODEL_INVALID', `${file}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`, `${QUALITY_RECEIPTS_FILE}:${issue?.path.join('.') ?? ''}`);
  }
  return parsed.data;
}

/** The receipt measured for exactly `config` on package version `modelVersion`, if any. */
export function findQualityReceipt(file: QualityReceiptsFile, config: ReceiptConfig, modelVersion: string): QualityReceipt | undefined {
  const key = receiptKey(config);
  return file.receipts.find((r) => receiptKey(r.config) === key && r.modelVersion === modelVersion);
}

/**
 * Adds (or replaces, same key) a receipt in `<dir>/quality-receipts.json`, written atomically
 * (temp file + rename) so a host reading it never sees half a file.
 */
export function writeQualityReceipt(dir: string, model: string, receipt: QualityReceipt): QualityReceiptsFile {
  const current = readQualityReceipts(dir, model);
  const key = receiptKey(receipt.config);
  const receipts = [...current.receipts.filter((r) => receiptKey(r.config) !== key), receipt].sort((a, b) => receiptKey(a.config).localeCompare(receiptKey(b.config)));
  const next: QualityReceiptsFile = { version: 1, model, receipts };
  const file = path.join(dir, QUALITY_RECEIPTS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
  renameSync(tmp, file);
  return next;
}
