import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeOnnxModel } from '../onnx-io.js';
import type { InputSpecs } from '../random-feeds.js';

/** The shipped tiny models and the input shapes the tests split them at (batch 2 = CFG pair). */
export const SHIPPED = {
  digits: {
    path: fileURLToPath(new URL('../../../../models/digits/model.onnx', import.meta.url)),
    inputs: {
      sample: { dtype: 'float32', dims: [2, 1, 16, 16] },
      timestep: { dtype: 'float32', dims: [2] },
      class_labels: { dtype: 'int64', dims: [2] },
    } satisfies InputSpecs,
  },
  movingDigits: {
    path: fileURLToPath(new URL('../../../../models/moving-digits/model.onnx', import.meta.url)),
    inputs: {
      sample: { dtype: 'float32', dims: [2, 1, 8, 16, 16] },
      timestep: { dtype: 'float32', dims: [2] },
      class_labels: { dtype: 'int64', dims: [2] },
    } satisfies InputSpecs,
  },
} as const;

/**
 * Copies a shipped model into a fresh temp dir. The training job may be rewriting the file, so the
 * copy is retried until it decodes; the tests then only touch the copy (never the shipped file).
 */
export async function copyShippedModel(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'onnx-split-shipped-'));
  const target = join(dir, 'model.onnx');
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await copyFile(source, target);
      decodeOnnxModel(await readFile(target));
      return target;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw lastError;
}
