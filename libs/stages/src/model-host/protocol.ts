import type { FeedTensor } from '@asyncdiff/asyncdiff';

import type { DeviceSpec } from '../device.js';
import type { ModelHostMetadata } from './model-host.js';

/** Requests to a model-host process (IPC with structured clone: typed arrays travel as they are). */
export type ToModelHost =
  | { readonly type: 'load'; readonly id: number; readonly models: Readonly<Record<string, string>>; readonly spec: DeviceSpec }
  | { readonly type: 'run'; readonly id: number; readonly model: string; readonly feeds: Readonly<Record<string, FeedTensor>>; readonly outputs?: readonly string[] }
  | { readonly type: 'shutdown'; readonly id: number };

/** Replies of a model-host process; each echoes its request's `id`. */
export type FromModelHost =
  | { readonly type: 'started'; readonly pid: number }
  | { readonly type: 'loaded'; readonly id: number; readonly metadata: ModelHostMetadata }
  | { readonly type: 'ran'; readonly id: number; readonly outputs: Record<string, FeedTensor> }
  | { readonly type: 'stopping'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly code: string; readonly message: string };

/** Narrows an IPC payload (shape only: both ends are ours). */
export function isMessage<T extends { type: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
