import * as ort from 'onnxruntime-node';
import type { EncoderSignature, EncoderTensor, TextEncoderComponent, TextEncoderInference } from '../index.js';

/** A {@link TextEncoderInference} over in-process ONNX Runtime sessions, plus a way to close them. */
export interface OrtTextEncoders extends TextEncoderInference {
  /** The session of a component, for running it directly in a test. */
  session(component: TextEncoderComponent): ort.InferenceSession;
  /** Every run so far: which component, and the dims of each feed. */
  readonly calls: { component: TextEncoderComponent; feeds: Record<string, readonly number[]> }[];
  release(): Promise<void>;
}

function fromOrt(tensor: ort.Tensor): EncoderTensor {
  const dims = [...tensor.dims];
  if (tensor.type === 'float32') return { dtype: 'float32', dims, data: tensor.data as Float32Array };
  if (tensor.type === 'float16') return { dtype: 'float16', dims, data: tensor.data as Uint16Array };
  if (tensor.type === 'int32') return { dtype: 'int32', dims, data: tensor.data as Int32Array };
  if (tensor.type === 'int64') return { dtype: 'int64', dims, data: tensor.data as BigInt64Array };
  throw new Error(`test adapter: unexpected output type ${tensor.type}`);
}

/** Opens one session per given component (the in-process test double of a stage process). */
export async function ortTextEncoders(paths: Partial<Record<TextEncoderComponent, string>>): Promise<OrtTextEncoders> {
  const sessions = new Map<TextEncoderComponent, ort.InferenceSession>();
  for (const [component, path] of Object.entries(paths) as [TextEncoderComponent, string][]) {
    sessions.set(component, await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }
  const get = (component: TextEncoderComponent): ort.InferenceSession => {
    const session = sessions.get(component);
    if (session === undefined) throw new Error(`test adapter: no session for ${component}`);
    return session;
  };
  const calls: OrtTextEncoders['calls'] = [];
  return {
    calls,
    session: get,
    signature(component): EncoderSignature {
      const session = get(component);
      const info = (meta: readonly ort.InferenceSession.ValueMetadata[]): { name: string; dtype: string }[] =>
        meta.map((m) => ({ name: m.name, dtype: m.isTensor ? m.type : 'non-tensor' }));
      return { inputs: info(session.inputMetadata), outputs: info(session.outputMetadata) };
    },
    async run(component, feeds, outputNames) {
      const session = get(component);
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(tensor.dtype, tensor.data, [...tensor.dims]);
      calls.push({ component, feeds: Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, tensor.dims])) });
      const result = await session.run(ortFeeds, [...outputNames]);
      return Object.fromEntries(Object.entries(result).map(([name, tensor]) => [name, fromOrt(tensor)]));
    },
    async release() {
      for (const session of sessions.values()) await session.release();
      sessions.clear();
    },
  };
}
