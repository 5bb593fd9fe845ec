/**
 * @asyncdiff/shm — shared memory and doorbells between stage processes.
 *
 * Stage processes hand boundary tensors to each other every denoising step; with ~1 ms of
 * compute per stage, a hand-off must cost microseconds, not the ~100 µs+ of an IPC message. This
 * library maps POSIX shm segments as external ArrayBuffers (ONNX Runtime reads and writes them in
 * place), wakes readers with cross-process futexes, and pins processes to cores.
 */
export { ShmSegment, type ShmSegmentCreateOptions } from './segment.js';
export { DEFAULT_SEGMENT_PREFIX } from './names.js';
export { sweepOrphanSegments, isProcessAlive, SHM_DIR, type SweepOptions, type SweepResult, type SweepFailure } from './sweep.js';
export {
  Doorbell,
  type DoorbellWaitOptions,
  type DoorbellAsyncWaitOptions,
  type DoorbellWaitResult,
  type DoorbellAsyncWaitResult,
} from './doorbell.js';
export {
  Channel,
  type ChannelSlot,
  type ShmTensorView,
  type ChannelCreateOptions,
  type ChannelOpenOptions,
  type ChannelReadOptions,
} from './channel.js';
export { computeChannelLayout, type TensorSpec, type TensorLayout, type ChannelLayout } from './channel-layout.js';
export type { ShmDtype, DtypeArrayMap } from './dtypes.js';
export { setProcessAffinity, getAffinity } from './affinity.js';
export {
  ShmError,
  ShmNotFoundError,
  ShmNotReadyError,
  ShmExistsError,
  ShmInvalidNameError,
  ShmInvalidArgumentError,
  ShmInvalidStateError,
  ShmLayoutMismatchError,
  ShmSlotOverwrittenError,
  ShmDisposedError,
  ShmTimeoutError,
  ShmInterruptedError,
  ShmSystemError,
  type ShmErrorCode,
} from './errors.js';
