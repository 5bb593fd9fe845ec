/**
 * @asyncdiff/media — turns sampler output (floats in [-1, 1]: 16×16 grayscale from our small
 * models, planar RGB from image decoders) into files users can open: PNG, GIF, MP4/WebM (ffmpeg)
 * and batch contact sheets, through one path (`encodeSamples`) for every caller, plus the
 * decoders/probes the tests and end-to-end checks use to verify them. No model knowledge: it is
 * handed floats and their dims.
 */
export {
  channelsOf,
  checkFrames,
  checkImage,
  MAX_FRAMES,
  MAX_SIDE_PX,
  type ByteImage,
  type Channels,
  type FloatImage,
  type FloatRgbImage,
  type FrameInput,
  type GrayImage,
  type ImageInput,
  type RgbFrameInput,
  type RgbImage,
} from './image.js';
export { MODEL_RANGE, toByteImage, toGrayImage, toRgbImage, toUint8, type ValueRange } from './convert.js';
export { checkScale, MAX_SCALE, upscaleNearest } from './upscale.js';
export { DEFAULT_SCALE, renderFrames, renderImage, resolveRenderOptions, type RenderOptions, type ResolvedRenderOptions } from './render.js';
export { framesOf, parseSampleDims, type FloatFrame, type SampleLayout } from './frames.js';
export {
  encodeSamples,
  resolveEncodeSamplesOptions,
  SAMPLE_CONTENT_TYPES,
  SAMPLE_FORMATS,
  type EncodedFile,
  type EncodedKind,
  type EncodeSamplesOptions,
  type ResolvedEncodeSamplesOptions,
  type SampleFormat,
} from './encode-samples.js';
export { decodePng, decodePngRgb, encodePng, type PngOptions } from './png.js';
export { encodeGif, gifDelayMs, resolveGifOptions, type GifOptions, type ResolvedGifOptions } from './gif.js';
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
