import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { encodeGif, encodePng, upscaleNearest, type GrayImage } from '@asyncdiff/media';
import { JobFailureError, outputKey, type JobHandler, type JobRecord } from '@asyncdiff/queue';

/** Where the handler stores outputs (an `ObjectStore` fits). */
export interface OutputSink {
  put(key: string, body: Buffer, options: { contentType: string }): Promise<{ sha256: string; bytes: number }>;
}

/** The 16×16 picture a test job "generates": a pattern from its class and seed (frame f shifts it). */
export function fakeFrame(job: Pick<JobRecord, 'spec'>, frame = 0): GrayImage {
  const pixels = new Uint8Array(16 * 16);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) pixels[y * 16 + x] = ((x + frame) * 13 + y * 7 + job.spec.classId * 29 + job.spec.seed * 3) % 256;
  return { width: 16, height: 16, pixels };
}

/**
 * A timer-based handler that writes real outputs to `sink` (PNG per image, an 8-frame GIF per
 * video, scaled by `output.scale`), so batch manifests and contact sheets can be checked.
 * `fail(job)` returning a string fails that job for good with that message.
 */
export function mediaHandler(sink: OutputSink, options: { stepMs?: number; fail?: (job: JobRecord) => string | undefined } = {}): JobHandler {
  const stepMs = options.stepMs ?? 5;
  return async ({ job, signal, reportProgress }) => {
    for (let step = 1; step <= job.spec.steps; step++) {
      await sleep(stepMs, undefined, { signal });
      await reportProgress(step, job.spec.steps);
    }
    const why = options.fail?.(job);
    if (why) throw new JobFailureError('TEST_FAILURE', why, { retryable: false });
    const scale = job.spec.output.scale;
    const outputs = [];
    if (job.spec.type === 'image') {
      for (let i = 0; i < job.spec.count; i++) {
        const bytes = encodePng(upscaleNearest(fakeFrame(job), scale));
        const key = outputKey(job.id, i, 'png');
        const put = await sink.put(key, bytes, { contentType: 'image/png' });
        outputs.push({ key, contentType: 'image/png', bytes: put.bytes, sha256: put.sha256, kind: 'image' as const });
      }
    } else {
      const bytes = encodeGif(Array.from({ length: 8 }, (_, f) => upscaleNearest(fakeFrame(job, f), scale)));
      const key = outputKey(job.id, 0, 'gif');
      const put = await sink.put(key, bytes, { contentType: 'image/gif' });
      outputs.push({ key, contentType: 'image/gif', bytes: put.bytes, sha256: put.sha256, kind: 'video' as const });
    }
    return { outputs, timings: { denoiseMs: job.spec.steps * stepMs } };
  };
}

/** sha256 hex of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
