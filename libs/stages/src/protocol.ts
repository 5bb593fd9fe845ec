import type { ComponentSpec, PipelineSpec } from '@asyncdiff/asyncdiff';
import type { TensorSpec } from '@asyncdiff/shm';

import type { ControlLayout } from './control-layout.js';
import type { DeviceSpec } from './device.js';

/** The element types a stage feeds its graph (the pipeline's, fixed for a stage's life). */
export type StageFeedTypes = Pick<PipelineSpec, 'latentDtype' | 'timestepDtype'>;

/**
 * Control messages between a coordinator and a stage process (over the IPC channel of `fork`).
 * Per-step traffic never goes through here: steps are dispatched through the shared control
 * block and doorbells. Every request carries an `id` echoed by its reply.
 */
export type ToStage =
  | {
      readonly type: 'load';
      readonly id: number;
      readonly device: number;
      readonly spec: DeviceSpec;
      readonly component: ComponentSpec;
      readonly feedTypes: StageFeedTypes;
      readonly spinUs: number;
    }
  | {
      readonly type: 'configure';
      readonly id: number;
      /** Rows this stage computes (its branch's share of the generation). */
      readonly batch: number;
      /** Its first row within the control block's latent and conditioning (0 with one branch). */
      readonly rowOffset: number;
      /** Global device of its branch's component 0: a boundary input of producer k comes from deviceBase + k. */
      readonly deviceBase: number;
      readonly sampleDims: readonly number[];
      /** Dims (all rows of the generation first) of each conditioning tensor this binding serves. */
      readonly conditioningDims: Readonly<Record<string, readonly number[]>>;
      /** Name of the coordinator's control block segment and its layout. */
      readonly control: string;
      readonly layout: ControlLayout;
      /** Output channel of every producer device this stage reads from. */
      readonly producers: readonly { readonly device: number; readonly channel: string }[];
      /**
       * Slots of this stage's output channel: 2 (double buffer), or k + 1 so that consumers can
       * combine its last k runs (staleness compensation) while it writes the next.
       */
      readonly slots: number;
    }
  | { readonly type: 'health'; readonly id: number }
  | { readonly type: 'shutdown'; readonly id: number };

/** Replies and notices from a stage process. */
export type FromStage =
  | { readonly type: 'started'; readonly pid: number }
  | { readonly type: 'loaded'; readonly id: number; readonly loadMs: number; readonly weightBytes: number; readonly rssBytes: number; readonly cpus: readonly number[] }
  | { readonly type: 'configured'; readonly id: number; readonly channel: string; readonly outputs: readonly TensorSpec[] }
  | {
      readonly type: 'health';
      readonly id: number;
      readonly runMs: number;
      /** Whether a real inference ran (false only before the first `configure`: no input shapes yet). */
      readonly inferred: boolean;
      readonly rssBytes: number;
      readonly peakRssBytes: number;
    }
  | { readonly type: 'stopping'; readonly id: number }
  | { readonly type: 'error'; readonly id: number | null; readonly code: string; readonly message: string };

/** Narrows an unknown IPC payload to a `FromStage` message (a malformed one is a protocol bug). */
export function isFromStage(m: unknown): m is FromStage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

/** Narrows an unknown IPC payload to a `ToStage` message. */
export function isToStage(m: unknown): m is ToStage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && typeof (m as { id?: unknown }).id === 'number';
}

/** Exhaustiveness guard for switches over message and state unions. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
