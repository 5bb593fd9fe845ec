import { execFile } from 'node:child_process';

import { GpuHostError } from '../errors.js';

/** One GPU as `nvidia-smi` lists it. */
export interface GpuInfo {
  /** The CUDA device index (what `CUDA_VISIBLE_DEVICES` takes). */
  readonly index: number;
  readonly name: string;
  /** Total memory in MiB; undefined when nvidia-smi prints `[N/A]`. */
  readonly memoryMiB: number | undefined;
}

/** The query the host runs; kept in one place so the fixture tests parse exactly its format. */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total', '--format=csv,noheader'] as const;

/**
 * Parses the CSV of `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader`
 * (`0, NVIDIA H100 80GB HBM3, 81559 MiB` per line). A name may itself contain commas, so the
 * first field is the index, the last the memory and everything between the name. Blank lines
 * and nvidia-smi's "No devices were found" are skipped; any other malformed line throws
 * `NVIDIA_SMI_FAILED` naming it, rather than silently dropping a GPU.
 */
export function parseNvidiaSmi(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || /^no devices were found/i.test(line)) continue;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length < 3) throw new GpuHostError('NVIDIA_SMI_FAILED', `unexpected nvidia-smi line ${JSON.stringify(line)}`, false);
    const index = Number(fields[0]);
    if (!/^\d+$/.test(fields[0] ?? '') || !Number.isSafeInteger(index)) {
      throw new GpuHostError('NVIDIA_SMI_FAILED', `bad GPU index in nvidia-smi line ${JSON.stringify(line)}`, false);
    }
    const memoryField = fields[fields.length - 1] ?? '';
    const name = fields.slice(1, -1).join(', ');
    const mem = /^(\d+(?:\.\d+)?)\s*MiB$/i.exec(memoryField);
    if (!mem && !/^\[?N\/A\]?$/i.test(memoryField)) {
      throw new GpuHostError('NVIDIA_SMI_FAILED', `bad memory.total in nvidia-smi line ${JSON.stringify(line)}`, false);
    }
    out.push({ index, name, memoryMiB: mem ? Math.round(Number(mem[1])) : undefined });
  }
  const seen = new Set<number>();
  for (const g of out) {
    if (seen.has(g.index)) throw new GpuHostError('NVIDIA_SMI_FAILED', `GPU index ${g.index} listed twice`, false);
    seen.add(g.index);
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Asks `nvidia-smi` for this machine's GPUs. Resolves `undefined` when there is no usable
 * nvidia-smi (not installed, no driver, non-zero exit): the host then falls back to CPU core
 * groups. Output that does not parse rejects, since a GPU host that misreads its GPUs should not
 * quietly run on CPUs.
 */
export function queryNvidiaSmi(command = 'nvidia-smi', timeoutMs = 10_000): Promise<GpuInfo[] | undefined> {
  return new Promise((resolve, reject) => {
    execFile(command, [...NVIDIA_SMI_ARGS], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (err) {
        resolve(undefined);
        return;
      }
      try {
        resolve(parseNvidiaSmi(stdout));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
