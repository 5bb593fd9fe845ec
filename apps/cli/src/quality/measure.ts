import { agreement, featureStats, frechetDistanceFromStats, meanOf, perClassTable, psnrPerImage, ssimPerImage, type Evaluator, type PerClassRow } from '@asyncdiff/eval';

import type { SampleSet } from './sample-set.js';

/** Quality of a sample set, in the paper's terms on our models. */
export interface Quality {
  readonly samples: number;
  /** Classifier agreement with the requested class (per frame for video). */
  readonly agreement: number;
  readonly perClass: readonly PerClassRow[];
  /** Fréchet distance of classifier features against the real reference set. */
  readonly frechet: number;
  /** Against the sequential output of the same seeds (absent for the sequential set itself). */
  readonly psnrDb?: number;
  readonly ssim?: number;
  /** Video only: mean SSIM between consecutive frames (temporal consistency). */
  readonly temporalSsim?: number;
  /** Video only: mean displacement of the digit's centre of mass, first → last frame, in pixels. */
  readonly motionPx?: number;
}

/** Values outside the model range are clipped, as in the PNG/GIF a user receives. */
function clipped(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-1, Math.min(1, x[i] as number));
  return out;
}

function geometry(set: SampleSet): { frames: number; h: number; w: number } {
  const d = set.sampleDims;
  return d.length === 4 ? { frames: d[1]!, h: d[2]!, w: d[3]! } : { frames: 1, h: d[1]!, w: d[2]! };
}

/**
 * Measures a set: classifier agreement (per frame), Fréchet distance against the real digits (or
 * real video frames), and — with `reference`, the sequential set of the same seeds — PSNR and
 * SSIM per frame, plus temporal consistency and motion for video.
 */
export async function measureQuality(evaluator: Evaluator, set: SampleSet, reference?: SampleSet): Promise<Quality> {
  const { frames, h, w } = geometry(set);
  const count = set.classIds.length * frames;
  const x = clipped(set.latents);
  const c = await evaluator.classify(x, count);
  const requested = set.classIds.flatMap((id) => Array<number>(frames).fill(id));
  const classes = evaluator.package.classes;
  const stats = featureStats(c.features, count, evaluator.package.featureSize);
  const ref = await evaluator.referenceStats(frames > 1 ? 'videoFrames' : 'images');
  const q: { -readonly [K in keyof Quality]: Quality[K] } = {
    samples: set.classIds.length,
    agreement: agreement(c.labels, requested),
    perClass: perClassTable(c.labels, requested, classes),
    frechet: frechetDistanceFromStats(stats, ref),
  };
  if (reference) {
    const r = clipped(reference.latents);
    q.psnrDb = meanOf(psnrPerImage(x, r, count, 2), 100);
    q.ssim = meanOf(ssimPerImage(x, r, count, h, w, { dataRange: 2 }));
  }
  if (frames > 1) {
    const a: Float32Array[] = [];
    const b: Float32Array[] = [];
    for (let i = 0; i < set.classIds.length; i++) {
      for (let f = 0; f + 1 < frames; f++) {
        a.push(x.subarray((i * frames + f) * h * w, (i * frames + f + 1) * h * w));
        b.push(x.subarray((i * frames + f + 1) * h * w, (i * frames + f + 2) * h * w));
      }
    }
    q.temporalSsim = meanOf(ssimPerImage(concat(a), concat(b), a.length, h, w, { dataRange: 2 }));
    q.motionPx = meanMotion(x, set.classIds.length, frames, h, w);
  }
  return q;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Mean distance the ink's centre of mass travels from the first to the last frame (pixels). */
export function meanMotion(x: Float32Array, clips: number, frames: number, h: number, w: number): number {
  const centre = (off: number): [number, number] => {
    let m = 0;
    let cx = 0;
    let cy = 0;
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const ink = ((x[off + y * w + xx] as number) + 1) / 2;
        m += ink;
        cx += ink * xx;
        cy += ink * y;
      }
    }
    return m > 0 ? [cx / m, cy / m] : [w / 2, h / 2];
  };
  let total = 0;
  for (let i = 0; i < clips; i++) {
    const [x0, y0] = centre(i * frames * h * w);
    const [x1, y1] = centre((i * frames + frames - 1) * h * w);
    total += Math.hypot(x1 - x0, y1 - y0);
  }
  return total / clips;
}
