import type { FeedDtype, FeedTensor } from '@asyncdiff/asyncdiff';

/** A graph input or output as a loaded session reports it. */
export interface ValueInfo {
  readonly name: string;
  /** ORT's type name (`float32`, `float16`, `int64`, `int32`, …). */
  readonly dtype: FeedDtype | string;
  /** Declared dims; symbolic ones as their names. */
  readonly dims: readonly (number | string)[];
}

/** Inputs and outputs of each loaded model, by the key it was loaded under. */
export type ModelHostMetadata = Readonly<Record<string, { readonly inputs: readonly ValueInfo[]; readonly outputs: readonly ValueInfo[] }>>;

/**
 * Runs whole ONNX models that are not split into stages — a pipeline's text encoders and VAE
 * decoder — off the coordinator's thread (`session.run` blocks its thread; a blocked GPU host
 * loop stops renewing BullMQ locks). One call runs one model; calls are queued, never overlap.
 */
export interface ModelHost {
  /** What each model takes and returns (read once at load). */
  readonly metadata: ModelHostMetadata;
  /** Runs `model` on `feeds`; resolves with the requested outputs (all when `outputs` is omitted). */
  run(model: string, feeds: Readonly<Record<string, FeedTensor>>, outputs?: readonly string[]): Promise<Record<string, FeedTensor>>;
  /** Stops the host and releases its sessions. Repeat-safe. */
  close(): Promise<void>;
}
