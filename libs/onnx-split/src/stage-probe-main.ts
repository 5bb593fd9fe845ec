/**
 * Entry of a stage probe child (see `probeInChild`): loads one ONNX file alone, runs it on random
 * inputs, answers one `ProbeReply` over IPC and exits.
 */
import './ort-env.js';
import { performance } from 'node:perf_hooks';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { TensorDtype } from './onnx-types.js';
import { median, sessionOptions } from './profile.js';
import { randomFeeds } from './random-feeds.js';
import type { ProbeReply, ProbeRequest, ProbeResult, TransferTensor } from './stage-probe.js';

async function probe(request: ProbeRequest): Promise<{ result: ProbeResult; returned: Record<string, TransferTensor> }> {
  const loadStart = performance.now();
  const session = await InferenceSession.create(request.path, sessionOptions(request.intraOpNumThreads, 'all'));
  const loadMs = performance.now() - loadStart;
  const rssAfterLoadBytes = process.memoryUsage().rss;
  try {
    const feeds: Record<string, Tensor> = randomFeeds(request.randomInputs, request.seed);
    for (const [name, t] of Object.entries(request.givenInputs)) feeds[name] = new Tensor(t.dtype as never, t.data as never, [...t.dims]);
    const times: number[] = [];
    let last: Record<string, Tensor> = {};
    for (let i = 0; i < request.warmupRuns + request.runs; i++) {
      const start = performance.now();
      last = (await session.run(feeds)) as Record<string, Tensor>;
      if (i >= request.warmupRuns) times.push(performance.now() - start);
    }
    const outputs: Record<string, { dtype: TensorDtype; dims: number[] }> = {};
    for (const [name, t] of Object.entries(last)) outputs[name] = { dtype: t.type as TensorDtype, dims: [...t.dims] };
    const returned: Record<string, TransferTensor> = {};
    for (const name of request.returnOutputs) {
      const t = last[name];
      if (t === undefined) throw new Error(`output ${name} missing`);
      returned[name] = { dtype: t.type as TensorDtype, dims: [...t.dims], data: t.data as TransferTensor['data'] };
    }
    const result = { loadMs, runMs: median(times), rssAfterLoadBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024, outputs };
    return { result, returned };
  } finally {
    await session.release();
  }
}

process.once('message', (raw) => {
  const request = raw as ProbeRequest;
  const answer = (reply: ProbeReply): void => {
    process.send?.(reply, () => process.disconnect());
  };
  probe(request).then(
    ({ result, returned }) => answer({ type: 'result', result, returned }),
    (error: unknown) => answer({ type: 'error', message: String(error) }),
  );
});
