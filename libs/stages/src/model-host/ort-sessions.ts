import '../ort-env.js';
import type { FeedTensor } from '@asyncdiff/asyncdiff';
import ort from 'onnxruntime-node';

import type { DeviceSpec } from '../device.js';
import { threadsFor } from '../device.js';
import type { ModelHostMetadata, ValueInfo } from './model-host.js';

/** Loaded sessions by key, with their metadata: the body of both model-host flavours. */
export interface OrtSessions {
  readonly sessions: ReadonlyMap<string, ort.InferenceSession>;
  readonly metadata: ModelHostMetadata;
}

function info(m: ort.InferenceSession.ValueMetadata): ValueInfo {
  return m.isTensor ? { name: m.name, dtype: m.type, dims: [...m.shape] } : { name: m.name, dtype: 'non-tensor', dims: [] };
}

/** Creates one session per model on `spec` (CPU threads or the CUDA provider), sequentially. */
export async function loadSessions(models: Readonly<Record<string, string>>, spec: DeviceSpec | undefined): Promise<OrtSessions> {
  const sessions = new Map<string, ort.InferenceSession>();
  const metadata: Record<string, { inputs: ValueInfo[]; outputs: ValueInfo[] }> = {};
  for (const [key, file] of Object.entries(models)) {
    const s = await ort.InferenceSession.create(file, {
      intraOpNumThreads: spec ? threadsFor(spec) : 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: spec?.kind === 'cuda' ? [{ name: 'cuda', deviceId: 0 }, 'cpu'] : ['cpu'],
    });
    sessions.set(key, s);
    metadata[key] = { inputs: s.inputMetadata.map(info), outputs: s.outputMetadata.map(info) };
  }
  return { sessions, metadata };
}

/** Runs one model; outputs come back as plain feed tensors (typed arrays, structured-clone safe). */
export async function runSession(s: OrtSessions, model: string, feeds: Readonly<Record<string, FeedTensor>>, outputs?: readonly string[]): Promise<Record<string, FeedTensor>> {
  const session = s.sessions.get(model);
  if (!session) throw Object.assign(new Error(`no model "${model}" loaded (have ${[...s.sessions.keys()].join(', ')})`), { code: 'MODEL_HOST_UNKNOWN_MODEL' });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype, t.data, [...t.dims]);
  const result = outputs ? await session.run(ortFeeds, [...outputs]) : await session.run(ortFeeds);
  const out: Record<string, FeedTensor> = {};
  for (const [name, t] of Object.entries(result)) {
    if (t.type !== 'float32' && t.type !== 'float16' && t.type !== 'int64' && t.type !== 'int32') {
      throw Object.assign(new Error(`${model} output ${name} has type ${t.type}`), { code: 'MODEL_HOST_BAD_OUTPUT' });
    }
    out[name] = { dtype: t.type, dims: [...t.dims], data: t.data } as FeedTensor;
  }
  return out;
}
