/**
 * Model packages: the folder format (model.json + ONNX) shared by the CLI, the engine and the
 * fleet, its validation, and prompt → class resolution.
 */
export { ModelError } from './errors.js';
export type { ModelErrorCode } from './errors.js';
export type { ConditioningClass, ModelDefaults, ModelKind, ModelPackage, NoiseScheduleSpec } from './model-package.js';
export { batchDims, sampleSize } from './model-package.js';
export { defaultModelsDir, findModelPackage, listModelPackages, loadModelPackage } from './load.js';
export { acceptedPrompts, resolvePrompt } from './prompt.js';
export type { ModelJson } from './schema.js';
