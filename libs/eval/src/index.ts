/**
 * @asyncdiff/eval — quality metrics of the benchmark (the paper's protocol on our models):
 * Fréchet distance in the evaluation classifier's feature space (FID analogue), classifier
 * agreement with the requested class (CLIP-score analogue), PSNR/SSIM against the sequential
 * output of the same seed (LPIPS analogue), and the Evaluator that runs the classifier.
 */
export { agreement, formatPerClassTable, perClassTable } from './agreement.js';
export type { PerClassRow } from './agreement.js';
export type { ClassifierPackage, ReferenceKind, ReferenceSetSpec } from './classifier-package.js';
export { loadClassifierPackage } from './classifier-package.js';
export type { EvalErrorCode } from './errors.js';
export { EvalError } from './errors.js';
export type { Classification, Evaluator, EvaluatorOptions, ReferenceSet } from './evaluator.js';
export { DEFAULT_EVALUATOR_PACKAGE, openEvaluator } from './evaluator-impl.js';
export type { FeatureStats, FeatureStatsJson } from './feature-stats.js';
export { featureStats, featureStatsFromJson, featureStatsToJson } from './feature-stats.js';
export { frechetDistance, frechetDistanceFromStats } from './frechet.js';
export { meanOf, psnr, psnrPerImage } from './psnr.js';
export type { SsimOptions, SsimWindow } from './ssim.js';
export { DEFAULT_SSIM_SIGMA, DEFAULT_SSIM_WINDOW_SIZE, ssim, ssimPerImage } from './ssim.js';
export type { SymmetricEigen } from './symmetric-eigen.js';
export { symmetricEigen } from './symmetric-eigen.js';
