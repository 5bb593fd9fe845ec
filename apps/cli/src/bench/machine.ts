import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { createRequire } from 'node:module';

/** One line describing where a benchmark ran (results are only comparable on the same line). */
export function machineLine(): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  const require = createRequire(import.meta.url);
  let ort = '?';
  try {
    ort = (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    // leave unknown
  }
  const load = readLoad();
  return `${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, onnxruntime-node ${ort} (CPU), load average at start ${load}`;
}

function readLoad(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}
