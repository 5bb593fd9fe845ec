import { spawn } from 'node:child_process';
import { FfmpegFailedError, FfmpegMissingError, MediaAbortedError, type MediaTool } from './errors.js';

/** How to run one ffmpeg/ffprobe command. */
export interface ToolRun {
  tool: MediaTool;
  path: string;
  args: readonly string[];
  /** Bytes written to the tool's stdin (then closed). */
  stdin?: Uint8Array;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What a successful run printed. */
export interface ToolOutput {
  stdout: Buffer;
  stderr: string;
}

const STDERR_TAIL_CHARS = 4000;
const MAX_STDOUT_BYTES = 64 * 1024 * 1024;

/**
 * Runs ffmpeg/ffprobe as a child process (never a shell), feeding stdin and collecting output,
 * and turns every way it can go wrong into a typed error: missing binary, non-zero exit,
 * timeout (SIGKILL), or the caller's abort. Asynchronous, so a worker's event loop stays free.
 */
export function runTool(run: ToolRun): Promise<ToolOutput> {
  if (run.signal?.aborted) return Promise.reject(new MediaAbortedError({ cause: run.signal.reason }));
  return new Promise((resolve, reject) => {
    const child = spawn(run.path, run.args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const finish = (error: Error | null, output?: ToolOutput): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if (error !== null) reject(error);
      else resolve(output as ToolOutput);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, run.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EACCES') finish(new FfmpegMissingError(run.tool, run.path, { cause: error }));
      else finish(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) child.kill('SIGKILL');
      else stdout.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    });
    // The tool may exit before reading all input (bad arguments): its exit status explains it.
    child.stdin.on('error', () => undefined);
    if (run.stdin !== undefined) child.stdin.end(run.stdin);
    else child.stdin.end();

    child.on('close', (code) => {
      if (aborted) finish(new MediaAbortedError({ cause: run.signal?.reason }));
      else if (code === 0 && !timedOut) finish(null, { stdout: Buffer.concat(stdout), stderr });
      else finish(new FfmpegFailedError(run.tool, code, stderr, timedOut));
    });
  });
}
