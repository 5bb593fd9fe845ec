/**
 * The engine facade used by the CLI and GPU hosts alike: a model package becomes a denoiser
 * pipeline (whole, or split into AsyncDiff stages), driven by a runner (stage processes or
 * in-process), and `Engine.generate` runs one generation on it, surviving stage crashes.
 * GPU hosts add only discovery, supervision and the queue on top.
 */
export { Engine } from './engine.js';
export type { EngineOptions, GenerateRequest, GenerateResult } from './engine.js';
export { EngineBatches, batchAdmission, batchShapeOf, calibrateBatching, maxRowsWithin, measureStepMs, probeConditioning, timestepBatching } from './engine-batch.js';
export type { BatchAdmission, BatchJoinRequest, CalibrationLimits, BatchOccupancy, BatchShape, EngineBatchOptions } from './engine-batch.js';
// Parallel modes and quality budgets live in the pure asyncdiff lib (the queue's job spec needs
// the same names without onnxruntime); re-exported so engine users need one import.
export { DEFAULT_PARALLEL, DEFAULT_QUALITY, PARALLEL_MODES, QUALITY_BUDGETS, branchesOf, budgetAdmits, devicesNeeded, isStale, layoutOf, resolveParallel } from '@asyncdiff/asyncdiff';
export type { AsyncKnobs, ParallelLayout, ParallelMode, ParallelOptions, QualityBudget, ResolvedParallel } from '@asyncdiff/asyncdiff';
export { pipelineFromSplit, splitForModel } from './split-pipeline.js';
export type { SplitForModelOptions } from './split-pipeline.js';
export { classConditioning, denoiserOf } from './denoiser.js';
export type { Denoiser } from './denoiser.js';
export { graphSignature } from './graph-signature.js';
export type { GraphSignature, GraphValue } from './graph-signature.js';
export { DenoiserSignatureError, denoiserFeeds, wholeModelPipeline } from './whole-model.js';
export type { DenoiserIo } from './whole-model.js';
export { schedulerOptions } from './scheduler-options.js';
export { samplingOf } from './sampling.js';
export type { Sampling } from './sampling.js';
export { TextToImage, latentDims, openModelHost } from './text-to-image.js';
export type { EncodedPrompt, ModelHostMode, TextToImageRequest, TextToImageResult } from './text-to-image.js';
export { receiptConfigOf } from './receipt-config.js';
export { PREVIEW_MAX_SIDE, previewRenderer } from './preview.js';
export type { PreviewFrame, PreviewRenderer } from './preview.js';
export { LATENT_RGB_TABLES, latentToRgb } from './latent-rgb.js';
export type { LatentRgbTable } from './latent-rgb.js';
