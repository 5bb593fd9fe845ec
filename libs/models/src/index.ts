/**
 * Model packages: our folder format (model.json + ONNX) and diffusers ONNX exports (read as
 * optimum writes them), their validation and discovery, and prompt → class resolution.
 */
export { ModelError } from './errors.js';
export type { ModelErrorCode } from './errors.js';
export type { ConditioningClass, ModelDefaults, ModelKind, ModelPackage, NoiseScheduleSpec } from './model-package.js';
export { batchDims, JOB_TIMEOUT_SEC, sampleSize } from './model-package.js';
export { defaultModelsDir, findGenerator, findModelPackage, listGenerators, listModelPackages, loadGenerator, loadModelPackage, modelSearchDirs } from './load.js';
export type { GeneratorPackage } from './load.js';
export { isDiffusersDir, loadDiffusersPackage, packageName } from './diffusers-load.js';
export { imageSizeProblem } from './resolution.js';
export type { DiffusersPackage, DiffusersPipeline, TextEncoderFiles } from './diffusers-package.js';
export { acceptedPrompts, resolvePrompt } from './prompt.js';
export type { ModelJson } from './schema.js';
export { findQualityReceipt, QUALITY_RECEIPTS_FILE, readQualityReceipts, receiptKey, writeQualityReceipt } from './quality-receipts.js';
export type { QualityReceipt, QualityReceiptsFile, ReceiptConfig } from './quality-receipts.js';
export { readOnnxInputs, timestepBatchingOf } from './onnx-inputs.js';
export type { OnnxInputShape, TimestepBatching } from './onnx-inputs.js';
