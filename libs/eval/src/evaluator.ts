import type { FeatureStats } from './feature-stats.js';
import type { ClassifierPackage, ReferenceKind } from './classifier-package.js';

/** Classifier outputs for a batch of images, row-major. */
export interface Classification {
  /** Predicted class id per image (argmax of logits). */
  readonly labels: Int32Array;
  /** count × classes.length. */
  readonly logits: Float32Array;
  /** count × featureSize: the feature space of the Fréchet distance. */
  readonly features: Float32Array;
}

/** A real-data reference set, converted to the classifier's input range. */
export interface ReferenceSet {
  /** count × channels × height × width, values in the package's valueRange (uint8 0…255 mapped linearly). */
  readonly images: Float32Array;
  readonly count: number;
}

/**
 * The evaluation classifier, loaded once: classifies generated images (prompt adherence), maps
 * them to features (Fréchet distance) and serves the real reference sets. `session.run` of
 * onnxruntime-node occupies a thread while it runs: use it from the CLI/bench or a worker thread,
 * never on a BullMQ worker's event loop.
 */
export interface Evaluator {
  /** The validated classifier package. */
  readonly package: ClassifierPackage;
  /**
   * Runs the classifier over `count` images (count × channels × height × width floats in the
   * package's valueRange), in batches. Rejects with EvalError SHAPE_MISMATCH for a wrong length.
   */
  classify(images: Float32Array, count: number): Promise<Classification>;
  /** Reads one reference set named in model.json `reference`. */
  loadReference(kind: ReferenceKind): Promise<ReferenceSet>;
  /** Feature statistics of a reference set, computed on first use and cached by this evaluator. */
  referenceStats(kind: ReferenceKind): Promise<FeatureStats>;
  /** Releases the ONNX session. Repeat-safe; later calls reject with EVALUATOR_CLOSED. */
  close(): Promise<void>;
}

/** Options of `openEvaluator`. */
export interface EvaluatorOptions {
  /**
   * onnxruntime intra-op threads (CPU execution provider).
   * @defaultValue 1
   */
  intraOpThreads?: number;
  /**
   * Images per `session.run`.
   * @defaultValue 256
   */
  batchSize?: number;
}
