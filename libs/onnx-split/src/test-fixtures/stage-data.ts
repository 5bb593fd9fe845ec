import { open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { readOnnxModel } from '../onnx-io.js';
import type { OnnxModel, OnnxTensor } from '../onnx-types.js';
import { DATA_LOCATION_EXTERNAL } from '../onnx-types.js';
import type { LoadedSplitPlan } from '../plan-file.js';
import { graphTensors } from '../tensor-walk.js';

/** Per-stage facts found by {@link checkStageData}. */
export interface StageDataReport {
  /** Everything that breaks "each stage file references only its own data file, holding exactly its weights". */
  readonly problems: string[];
  /** Bytes of external tensors per stage. */
  readonly externalBytes: number[];
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

function entry(t: OnnxTensor, key: string): string | undefined {
  return (t.externalData ?? []).find((e) => e.key === key)?.value;
}

/** The payload bytes of a tensor of a model at `modelPath` (inline raw data or its external range). */
async function payload(t: OnnxTensor, modelPath: string): Promise<Buffer> {
  if (t.dataLocation !== DATA_LOCATION_EXTERNAL) return Buffer.from(t.rawData ?? new Uint8Array(0));
  return readRange(resolve(dirname(modelPath), entry(t, 'location') ?? ''), Number(entry(t, 'offset') ?? 0), Number(entry(t, 'length')));
}

/**
 * Checks a split of a model with external data: the plan directory holds only the plan and the
 * stage files; every external tensor of stage k points into `stage-k.onnx_data` (inside the file);
 * each stage tensor's bytes equal the source tensor's; a stage holds no initializer its nodes do
 * not read; its data file holds nothing but its tensors (plus alignment padding).
 */
export async function checkStageData(split: LoadedSplitPlan, sourceModelPath: string): Promise<StageDataReport> {
  const problems: string[] = [];
  const source: OnnxModel = (await readOnnxModel(sourceModelPath)).model;
  const sourceTensors = new Map((source.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const expectedFiles = new Set(['plan.json', ...split.plan.stages.flatMap((s) => [s.file, ...(s.dataFile ? [s.dataFile] : [])])]);
  for (const name of await readdir(split.planDir)) if (!expectedFiles.has(name)) problems.push(`unexpected file ${name} in the plan dir`);
  const externalBytes: number[] = [];
  for (const stage of split.plan.stages) {
    const path = split.stagePaths[stage.index] as string;
    const { model } = await readOnnxModel(path);
    if (stage.dataFile === null) problems.push(`stage ${stage.index} has no data file`);
    const dataPath = join(split.planDir, stage.dataFile ?? '');
    const dataSize = (await stat(dataPath)).size;
    if (dataSize !== stage.dataBytes) problems.push(`stage ${stage.index}: data file is ${dataSize} bytes, plan says ${stage.dataBytes}`);
    const reads = new Set((model.graph?.node ?? []).flatMap((n) => n.input ?? []));
    let bytes = 0;
    let count = 0;
    for (const t of graphTensors(model.graph ?? {})) {
      const name = t.name ?? '';
      if (!reads.has(name) && (model.graph?.initializer ?? []).includes(t)) problems.push(`stage ${stage.index} holds initializer ${name} that none of its nodes reads`);
      const original = sourceTensors.get(name);
      if (t.dataLocation === DATA_LOCATION_EXTERNAL) {
        const location = entry(t, 'location');
        const offset = Number(entry(t, 'offset') ?? 0);
        const length = Number(entry(t, 'length'));
        if (location !== stage.dataFile) problems.push(`stage ${stage.index}: ${name} points into ${location}`);
        if (offset + length > dataSize) problems.push(`stage ${stage.index}: ${name} [${offset}, ${offset + length}) is outside its data file`);
        bytes += length;
        count++;
      }
      if (original === undefined) continue;
      const [mine, theirs] = [await payload(t, path), await payload(original, sourceModelPath)];
      if (!mine.equals(theirs)) problems.push(`stage ${stage.index}: bytes of ${name} differ from the source`);
      if (t.dataLocation !== original.dataLocation) problems.push(`stage ${stage.index}: ${name} is ${t.dataLocation === DATA_LOCATION_EXTERNAL ? 'external' : 'inline'} but the source's is not`);
    }
    if (dataSize > bytes + 4096 * count) problems.push(`stage ${stage.index}: data file ${dataSize} bytes holds more than its ${bytes} bytes of tensors`);
    externalBytes.push(bytes);
  }
  return { problems, externalBytes };
}
