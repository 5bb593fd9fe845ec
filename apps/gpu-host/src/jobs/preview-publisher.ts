import type { StepProgress } from '@asyncdiff/asyncdiff';
import type { PreviewRenderer } from '@asyncdiff/engine';
import { encodePng } from '@asyncdiff/media';
import type { JobPreview } from '@asyncdiff/queue';

/** Takes the sampler's steps and publishes every k-th one as a preview, off the loop's path. */
export interface PreviewPublisher {
  /** Called from the sampler's `onStep`: returns at once; the preview is made after the step. */
  offer(progress: Pick<StepProgress, 'step' | 'steps' | 'predictOriginal'>): void;
  /**
   * Previews published and dropped so far (a preview is dropped while the previous one is still
   * in flight), and the coordinator-thread time spent making them (x̂0, frame, PNG, base64).
   */
  readonly counts: { readonly published: number; readonly dropped: number; readonly workMs: number };
  /** Resolves when no preview is in flight. */
  idle(): Promise<void>;
}

/**
 * A preview publisher for one run. Steps k, 2k, … (k = `every`) become previews: x̂0 → frame
 * (`render`) → PNG → base64 → `publish`. None of that happens inside `offer`: it is deferred with
 * `setImmediate`, so it runs while the stages compute the next step (the coordinator's loop only
 * waits for them), and at most one preview is in flight: a step that comes due while the previous
 * preview is still being made or published is dropped, never queued, so previews can never
 * stall the denoising loop or pile up behind a slow Redis. Failures go to `onError`.
 */
export function previewPublisher(args: {
  readonly every: number;
  readonly render: PreviewRenderer;
  readonly publish: (preview: JobPreview) => Promise<void>;
  readonly onError: (err: unknown) => void;
}): PreviewPublisher {
  const { every, render, publish, onError } = args;
  let inflight: Promise<void> | undefined;
  const counts = { published: 0, dropped: 0, workMs: 0 };
  return {
    counts,
    offer(p) {
      if (p.step % every !== 0) return;
      if (inflight) {
        counts.dropped += 1;
        return;
      }
      inflight = new Promise<void>((resolve) => setImmediate(resolve))
        .then(async () => {
          const t0 = performance.now();
          const frame = render(p.predictOriginal());
          const data = encodePng(frame).toString('base64');
          counts.workMs += performance.now() - t0;
          await publish({ step: p.step, steps: p.steps, mime: 'image/png', width: frame.width, height: frame.height, data });
          counts.published += 1;
        })
        .catch(onError)
        .finally(() => {
          inflight = undefined;
        });
    },
    idle: () => inflight ?? Promise.resolve(),
  };
}
