import './ort-env.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { defaultModelsDir } from '@asyncdiff/models';
import * as ort from 'onnxruntime-node';

import { loadClassifierPackage, type ClassifierPackage, type ReferenceKind } from './classifier-package.js';
import { checkInteger, checkLength, EvalError } from './errors.js';
import type { Classification, Evaluator, EvaluatorOptions, ReferenceSet } from './evaluator.js';
import { featureStats, type FeatureStats } from './feature-stats.js';

/** Name of the shipped evaluation classifier package under the models folder. */
export const DEFAULT_EVALUATOR_PACKAGE = 'digits-eval';

/**
 * Loads the classifier package in `dir` (default: `<models>/digits-eval`, see
 * `defaultModelsDir()` of @asyncdiff/models) and opens its ONNX model on the CPU.
 */
export async function openEvaluator(dir?: string, options: EvaluatorOptions = {}): Promise<Evaluator> {
  const intraOpThreads = options.intraOpThreads ?? 1;
  const batchSize = options.batchSize ?? 256;
  checkInteger(intraOpThreads, 'intraOpThreads', 1);
  checkInteger(batchSize, 'batchSize', 1);
  const pkg = loadClassifierPackage(dir ?? path.join(defaultModelsDir(), DEFAULT_EVALUATOR_PACKAGE));
  const session = await ort.InferenceSession.create(pkg.modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  return new OrtEvaluator(pkg, session, batchSize);
}

class OrtEvaluator implements Evaluator {
  readonly package: ClassifierPackage;
  readonly #session: ort.InferenceSession;
  readonly #batchSize: number;
  readonly #stats = new Map<ReferenceKind, Promise<FeatureStats>>();
  #closing: Promise<void> | undefined;

  constructor(pkg: ClassifierPackage, session: ort.InferenceSession, batchSize: number) {
    this.package = pkg;
    this.#session = session;
    this.#batchSize = batchSize;
  }

  async classify(images: Float32Array, count: number): Promise<Classification> {
    this.#ensureOpen();
    const p = this.package;
    checkInteger(count, 'count', 0);
    const per = p.channels * p.height * p.width;
    checkLength(images, count * per, 'images', `count × ${p.channels} × ${p.height} × ${p.width}`);
    const classes = p.classes.length;
    const logits = new Float32Array(count * classes);
    const features = new Float32Array(count * p.featureSize);
    for (let start = 0; start < count; start += this.#batchSize) {
      const n = Math.min(this.#batchSize, count - start);
      const input = new ort.Tensor('float32', images.slice(start * per, (start + n) * per), [n, p.channels, p.height, p.width]);
      const out = await this.#session.run({ [p.inputName]: input });
      logits.set(outputData(out, p.logitsName, n * classes), start * classes);
      features.set(outputData(out, p.featuresName, n * p.featureSize), start * p.featureSize);
      input.dispose();
    }
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if ((logits[i * classes + c] as number) > (logits[i * classes + best] as number)) best = c;
      labels[i] = best;
    }
    return { labels, logits, features };
  }

  async loadReference(kind: ReferenceKind): Promise<ReferenceSet> {
    this.#ensureOpen();
    const spec = this.package.reference[kind];
    if (spec === undefined) throw new EvalError('REFERENCE_INVALID', `reference.${kind}`, `${this.package.name} has no reference.${kind}`);
    const bytes = await readFile(spec.path);
    const [c, h, w] = spec.shape;
    const expected = spec.count * c * h * w;
    if (bytes.length !== expected) {
      throw new EvalError('REFERENCE_INVALID', `reference.${kind}.count`, `${spec.path} has ${bytes.length} bytes, expected ${expected} (count × ${c} × ${h} × ${w})`);
    }
    const [lo, hi] = this.package.valueRange;
    const scale = (hi - lo) / 255;
    const images = new Float32Array(expected);
    for (let i = 0; i < expected; i++) images[i] = (bytes[i] as number) * scale + lo;
    return { images, count: spec.count };
  }

  referenceStats(kind: ReferenceKind): Promise<FeatureStats> {
    let stats = this.#stats.get(kind);
    if (stats === undefined) {
      stats = (async () => {
        const ref = await this.loadReference(kind);
        const { features } = await this.classify(ref.images, ref.count);
        return featureStats(features, ref.count, this.package.featureSize);
      })();
      stats.catch(() => this.#stats.delete(kind));
      this.#stats.set(kind, stats);
    }
    return stats;
  }

  close(): Promise<void> {
    this.#closing ??= this.#session.release();
    return this.#closing;
  }

  #ensureOpen(): void {
    if (this.#closing !== undefined) throw new EvalError('EVALUATOR_CLOSED', 'evaluator', 'the evaluator was closed');
  }
}

function outputData(out: ort.InferenceSession.OnnxValueMapType, name: string, expected: number): Float32Array {
  const t = out[name];
  if (t === undefined || !(t.data instanceof Float32Array) || t.data.length !== expected) {
    throw new EvalError('PACKAGE_INVALID', `outputs.${name}`, `model output ${name} is missing or is not float32 with ${expected} values`);
  }
  return t.data;
}
