import { spawn } from 'node:child_process';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { contactSheet, decodePng, encodePng, type GrayImage } from '@asyncdiff/media';
import {
  batchContactSheetKey,
  batchManifestKey,
  buildBatchManifest,
  errorInfo,
  type BatchChild,
  type BatchManifest,
  type FinalizationInput,
  type FinalizationOutcome,
} from '@asyncdiff/queue';

import type { Logger } from '../deps.js';
import { decodeGifFirstFrame } from './gif-first-frame.js';

/**
 * Where batch artefacts go and where the children's outputs are read from: the fleet's object
 * store (`@asyncdiff/storage`'s `ObjectStore` fits as is; the API never imports storage).
 */
export interface ArtifactStore {
  put(key: string, body: Buffer, options: { contentType: string }): Promise<{ sha256: string; bytes: number }>;
  get(key: string): Promise<Buffer>;
}

/** Options of `createBatchFinalizer`. */
export interface BatchFinalizerOptions {
  readonly store: ArtifactStore;
  readonly logger: Logger;
  /** Most cells on a contact sheet (the first children by index). @defaultValue 1024 */
  readonly maxCells?: number;
  /** Widest contact sheet in pixels (the cell scale is chosen to fit). @defaultValue 2048 */
  readonly maxWidthPx?: number;
}

/**
 * The finaliser the batch worker runs once every child has ended: a contact sheet of the
 * succeeded children (each image, or each video's first frame, at model resolution, in index
 * order) and `manifest.json` (every child with spec, status, outputs and sha256, timings, and
 * which cell shows which child), both under `batches/<id>/`. A contact sheet that cannot be made
 * is reported in the outcome; the manifest is always written (a failure to write it throws, and
 * the finalisation is retried). Idempotent: a repeat overwrites the same keys.
 */
export function createBatchFinalizer(options: BatchFinalizerOptions): (input: FinalizationInput) => Promise<FinalizationOutcome> {
  const maxCells = options.maxCells ?? 1024;
  const maxWidthPx = options.maxWidthPx ?? 2048;
  return async (input) => {
    const { record } = input;
    let sheet: BatchManifest['contactSheet'] = null;
    let error: FinalizationOutcome['error'];
    const cells = input.children.filter((c) => c.status === 'succeeded' && previewOutput(c)).slice(0, maxCells);
    if (cells.length) {
      try {
        const images: GrayImage[] = [];
        for (const [i, child] of cells.entries()) {
          images.push(await previewOf(options.store, child));
          if (i % 16 === 15) await yieldToLoop();
        }
        const cell = normalise(images);
        const columns = Math.max(1, Math.ceil(Math.sqrt(cell.length)));
        const cellWidth = cell[0]?.width ?? 16;
        const scale = Math.max(1, Math.min(8, Math.floor(maxWidthPx / (columns * (cellWidth + 2)))));
        const png = encodePng(contactSheet(cell, { columns, scale, gapPx: 2 }));
        const key = batchContactSheetKey(record.id);
        await options.store.put(key, png, { contentType: 'image/png' });
        sheet = { key, columns, cells: cells.map((c) => ({ index: c.index, jobId: c.jobId })) };
      } catch (err) {
        error = errorInfo(err, 'CONTACT_SHEET_FAILED');
        options.logger.warn(`batch ${record.id}: contact sheet failed: ${error.message}`);
      }
    }
    const finishedAt = Math.max(Date.now(), ...input.children.map((c) => c.finishedAt ?? 0));
    const manifest = buildBatchManifest({ ...input, finishedAt, contactSheet: sheet });
    const manifestKey = batchManifestKey(record.id);
    await options.store.put(manifestKey, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { contentType: 'application/json' });
    return { manifestKey, ...(sheet && { contactSheetKey: sheet.key }), ...(error && { error }) };
  };
}

/** The output a child is shown by: its first image or video. */
function previewOutput(child: BatchChild) {
  return child.outputs.find((o) => o.kind === 'image' || o.kind === 'video');
}

/** A child's image (or video's first frame), scaled back down to model resolution. */
async function previewOf(store: ArtifactStore, child: BatchChild): Promise<GrayImage> {
  const output = previewOutput(child);
  if (!output) throw new Error(`job ${child.jobId} has no image or video output`);
  const bytes = await store.get(output.key);
  let frame: GrayImage;
  if (output.contentType === 'image/png') frame = decodePng(bytes);
  else if (output.contentType === 'image/gif') frame = decodeGifFirstFrame(bytes);
  else frame = decodePng(await ffmpegFirstFrame(bytes));
  const scale = child.spec?.output.scale ?? 1;
  return scale > 1 && frame.width % scale === 0 && frame.height % scale === 0 ? downscale(frame, scale) : frame;
}

/** Nearest-neighbour downscale by an integer factor (undoes the outputs' nearest upscale exactly). */
function downscale(image: GrayImage, factor: number): GrayImage {
  const width = image.width / factor;
  const height = image.height / factor;
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = image.pixels[y * factor * image.width + x * factor] as number;
  return { width, height, pixels };
}

/** Cells must share a size: anything else is scaled (nearest) to the first cell's size. */
function normalise(images: readonly GrayImage[]): GrayImage[] {
  const first = images[0];
  if (!first) return [];
  return images.map((img) => {
    if (img.width === first.width && img.height === first.height) return img;
    const pixels = new Uint8Array(first.width * first.height);
    for (let y = 0; y < first.height; y++) {
      for (let x = 0; x < first.width; x++) {
        const sx = Math.floor((x * img.width) / first.width);
        const sy = Math.floor((y * img.height) / first.height);
        pixels[y * first.width + x] = img.pixels[sy * img.width + sx] as number;
      }
    }
    return { width: first.width, height: first.height, pixels };
  });
}

/** The first frame of an MP4/WebM as PNG bytes, through ffmpeg (stdin → stdout). */
function ffmpegFirstFrame(video: Buffer, timeoutMs = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-frames:v', '1', '-f', 'image2pipe', '-vcodec', 'png', 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && chunks.length) resolve(Buffer.concat(chunks));
      else reject(new Error(`ffmpeg could not extract a frame (exit ${String(code)}): ${stderr.slice(0, 300)}`));
    });
    child.stdin.on('error', () => undefined); // ffmpeg may stop reading once it has a frame
    child.stdin.end(video);
  });
}
