import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SplitProfileError } from './errors.js';
import type { TensorDtype } from './onnx-types.js';
import type { LoadedSplitPlan } from './plan-file.js';
import type { InputSpecs } from './random-feeds.js';

/** A tensor's bytes as they cross between processes (structured clone keeps typed arrays). */
export interface TransferTensor {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
  readonly data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Float64Array | Int8Array | Int16Array | Uint32Array | BigUint64Array;
}

/** What the parent asks a probe child to do: load one model, run it, report. */
export interface ProbeRequest {
  readonly type: 'probe';
  readonly path: string;
  /** Inputs filled with random values of these specs (graph inputs). */
  readonly randomInputs: InputSpecs;
  /** Inputs given as real tensors (boundary tensors from earlier stages). */
  readonly givenInputs: Readonly<Record<string, TransferTensor>>;
  /** Outputs whose values the parent wants back (boundary tensors later stages read). */
  readonly returnOutputs: readonly string[];
  readonly runs: number;
  readonly warmupRuns: number;
  readonly intraOpNumThreads: number;
  readonly seed: number;
}

/** Measured facts about one model loaded alone in a fresh process. */
export interface ProbeResult {
  /** Session creation time, ms. */
  readonly loadMs: number;
  /** Median `session.run` wall time, ms. */
  readonly runMs: number;
  /** Resident set after loading, bytes. */
  readonly rssAfterLoadBytes: number;
  /** Peak resident set of the process (load and runs), bytes. */
  readonly peakRssBytes: number;
  /** Output name → dtype and dims of the last run. */
  readonly outputs: Readonly<Record<string, { readonly dtype: TensorDtype; readonly dims: readonly number[] }>>;
}

/** Messages a probe child sends back. */
export type ProbeReply =
  | { readonly type: 'result'; readonly result: ProbeResult; readonly returned: Readonly<Record<string, TransferTensor>> }
  | { readonly type: 'error'; readonly message: string };

/** One stage as the chained probe needs it: its file, where its inputs come from, who reads its outputs. */
export interface ProbeStage {
  readonly path: string;
  readonly inputs: readonly { readonly name: string; readonly kind: 'latent' | 'conditioning' | 'boundary' }[];
  readonly outputs: readonly { readonly name: string; readonly consumers: readonly number[] }[];
}

/** Settings of a chained probe. */
export interface ProbeSettings {
  readonly runs: number;
  readonly warmupRuns: number;
  readonly intraOpNumThreads: number;
  /** Per stage. @defaultValue 1 hour */
  readonly timeoutMs?: number;
}

/** The built probe child entry (`dist/stage-probe-main.js`), found from source or dist. */
export function probeEntryPath(): string {
  const dir = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(dir, 'stage-probe-main.js'), resolve(dir, '../dist/stage-probe-main.js')];
  const hit = candidates.find((p) => existsSync(p));
  if (hit === undefined) throw new SplitProfileError(`stage probe entry not built (looked for ${candidates.join(', ')}); run npm run build`, { field: 'measureStages' });
  return hit;
}

/**
 * Runs the stages of a split one after another, each loaded alone in a fresh child process: graph
 * inputs are random values of `inputs` (any batch and resolution the model accepts), boundary
 * inputs are the real tensors the producing stage output in its own child. Proves each stage file
 * loads and runs by itself, and measures its load time, run time and peak RSS, while no process
 * (this one included) ever holds more than one stage's weights. The parent holds only the
 * boundary tensors in flight.
 */
export async function probeChain(stages: readonly ProbeStage[], inputs: InputSpecs, settings: ProbeSettings): Promise<ProbeResult[]> {
  const produced = new Map<string, TransferTensor>();
  const results: ProbeResult[] = [];
  for (const [k, stage] of stages.entries()) {
    const randomInputs: Record<string, InputSpecs[string]> = {};
    const givenInputs: Record<string, TransferTensor> = {};
    for (const input of stage.inputs) {
      if (input.kind === 'boundary') {
        const value = produced.get(input.name);
        if (value === undefined) throw new SplitProfileError(`stage ${k} reads boundary ${input.name}, which no earlier stage produced`, { field: 'measureStages' });
        givenInputs[input.name] = value;
      } else {
        const spec = inputs[input.name];
        if (spec === undefined) throw new SplitProfileError(`stage ${k} reads graph input ${input.name}, which the probe inputs lack`, { field: 'inputs' });
        randomInputs[input.name] = spec;
      }
    }
    const returnOutputs = stage.outputs.filter((o) => o.consumers.length > 0).map((o) => o.name);
    const { result, returned } = await probeInChild(
      { path: stage.path, randomInputs, givenInputs, returnOutputs, runs: settings.runs, warmupRuns: settings.warmupRuns, intraOpNumThreads: settings.intraOpNumThreads, seed: 7 },
      settings.timeoutMs ?? 60 * 60 * 1000,
    );
    for (const [name, t] of Object.entries(returned)) produced.set(name, t);
    // Keep only tensors a later stage still reads.
    for (const name of [...produced.keys()]) {
      if (!stages.slice(k + 1).some((s) => s.inputs.some((i) => i.name === name))) produced.delete(name);
    }
    results.push(result);
  }
  return results;
}

/** {@link probeChain} over a loaded plan (e.g. a shipped one, to check it on this host at any input shapes). */
export async function probeSplit(split: LoadedSplitPlan, inputs: InputSpecs, settings: ProbeSettings): Promise<ProbeResult[]> {
  return probeChain(
    split.plan.stages.map((s) => ({ path: split.stagePaths[s.index] as string, inputs: s.inputs, outputs: s.outputs })),
    inputs,
    settings,
  );
}

/**
 * Loads and runs one model in a fresh child process and reports its load time, run time, peak RSS
 * and output shapes, plus the values of `returnOutputs`. The child is killed after `timeoutMs`.
 */
export async function probeInChild(request: Omit<ProbeRequest, 'type'>, timeoutMs: number): Promise<{ result: ProbeResult; returned: Readonly<Record<string, TransferTensor>> }> {
  const child = fork(probeEntryPath(), [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    return await new Promise((resolvePromise, reject) => {
      const fail = (message: string): void => reject(new SplitProfileError(`stage probe of ${request.path}: ${message}${stderr ? `\n${stderr}` : ''}`, { field: 'measureStages' }));
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      child.once('message', (raw) => {
        clearTimeout(timer);
        const reply = raw as ProbeReply;
        if (reply.type === 'result') resolvePromise({ result: reply.result, returned: reply.returned });
        else fail(reply.message);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(`child exited (${signal ?? `code ${String(code)}`}) before answering`);
      });
      child.send({ type: 'probe', ...request } satisfies ProbeRequest);
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
}
