/**
 * @asyncdiff/media — turns sampler output (16×16 grayscale, floats in [-1, 1]) into files users
 * can open: PNG, GIF, MP4/WebM (ffmpeg) and batch contact sheets, plus the decoders/probes the
 * tests and end-to-end checks use to verify them.
 */
export { checkFrames, checkImage, MAX_FRAMES, MAX_SIDE_PX, type FloatImage, type FrameInput, type GrayImage } from './image.js';
export { MODEL_RANGE, toGrayImage, toUint8, type ValueRange } from './convert.js';
export { checkScale, MAX_SCALE, upscaleNearest } from './upscale.js';
export { DEFAULT_SCALE, renderFrames, renderImage, resolveRenderOptions, type RenderOptions, type ResolvedRenderOptions } from './render.js';
export { framesOf } from './frames.js';
export { decodePng, encodePng, type PngOptions } from './png.js';
export { encodeGif, resolveGifOptions, type GifOptions, type ResolvedGifOptions } from './gif.js';
export { inspectGif, type GifInfo } from './gif-inspect.js';
export { encodeVideo, resolveVideoOptions, VIDEO_ENCODERS, type ResolvedVideoOptions, type VideoFormat, type VideoOptions } from './video.js';
export { probeVideo, type ProbeOptions, type VideoProbe } from './probe.js';
export { ffmpegAvailable, ffmpegEncoders, resolveFfmpegOptions, type FfmpegOptions, type ResolvedFfmpegOptions } from './ffmpeg.js';
export {
  contactSheet,
  resolveContactSheetOptions,
  type ContactSheetOptions,
  type ResolvedContactSheetOptions,
} from './contact-sheet.js';
export {
  EncoderUnavailableError,
  FfmpegFailedError,
  FfmpegMissingError,
  MediaAbortedError,
  MediaDecodeError,
  MediaError,
  MediaInputError,
  type MediaErrorCode,
  type MediaTool,
} from './errors.js';
