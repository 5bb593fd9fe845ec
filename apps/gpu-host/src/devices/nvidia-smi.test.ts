import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { GpuHostError } from '../errors.js';
import { cpuDevices, cudaDevices, discoverDevices, formReplicaGroups } from './discover.js';
import { parseNvidiaSmi, queryNvidiaSmi } from './nvidia-smi.js';

/** What `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` prints on an 8-GPU box. */
const FIXTURE = new URL('./test-fixtures/nvidia-smi-8xh100.csv', import.meta.url);
const EIGHT_H100 = readFileSync(FIXTURE, 'utf8');

describe('nvidia-smi parsing', () => {
  it('reads index, name and memory of every GPU', () => {
    const gpus = parseNvidiaSmi(EIGHT_H100);
    expect(gpus).toHaveLength(8);
    expect(gpus[3]).toEqual({ index: 3, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 });
  });

  it('keeps commas inside names, tolerates CRLF, blank lines and [N/A] memory, sorts by index', () => {
    const text = '1, Tesla V100-SXM2-16GB, 16160 MiB\r\n\r\n0, NVIDIA A100-SXM4-40GB, [N/A]\r\n2, Weird, Name, Inc GPU, 24576 MiB\r\n';
    expect(parseNvidiaSmi(text)).toEqual([
      { index: 0, name: 'NVIDIA A100-SXM4-40GB', memoryMiB: undefined },
      { index: 1, name: 'Tesla V100-SXM2-16GB', memoryMiB: 16160 },
      { index: 2, name: 'Weird, Name, Inc GPU', memoryMiB: 24576 },
    ]);
  });

  it('reads "No devices were found" as no GPUs', () => {
    expect(parseNvidiaSmi('No devices were found\n')).toEqual([]);
    expect(parseNvidiaSmi('')).toEqual([]);
  });

  it.each([
    ['a line with too few fields', 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'],
    ['a non-numeric index', 'x, NVIDIA H100, 81559 MiB'],
    ['memory without a unit', '0, NVIDIA H100, 81559'],
    ['a duplicate index', '0, A, 1 MiB\n0, B, 1 MiB'],
  ])('refuses %s with NVIDIA_SMI_FAILED', (_what, text) => {
    expect(() => parseNvidiaSmi(text)).toThrow(GpuHostError);
    try {
      parseNvidiaSmi(text);
    } catch (e) {
      expect((e as GpuHostError).code).toBe('NVIDIA_SMI_FAILED');
    }
  });

  it('turns GPUs into CUDA devices', () => {
    expect(cudaDevices(parseNvidiaSmi('0, NVIDIA L4, 23034 MiB'))).toEqual([{ spec: { kind: 'cuda', gpu: 0 }, label: 'cuda:0', name: 'NVIDIA L4', memoryMiB: 23034 }]);
  });
});

describe('device discovery', () => {
  it('uses the GPUs a (fake) nvidia-smi lists, and CPU core groups when it is missing or fails', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-smi-'));
    try {
      const ok = path.join(dir, 'nvidia-smi');
      writeFileSync(ok, `#!/bin/sh\n[ "$1" = "--query-gpu=index,name,memory.total" ] && [ "$2" = "--format=csv,noheader" ] || exit 9\ncat '${FIXTURE.pathname}'\n`);
      chmodSync(ok, 0o755);
      const failing = path.join(dir, 'failing-smi');
      writeFileSync(failing, '#!/bin/sh\necho "NVIDIA-SMI has failed" >&2\nexit 9\n');
      chmodSync(failing, 0o755);

      expect((await queryNvidiaSmi(ok))?.length).toBe(8);
      const gpu = await discoverDevices({ mode: 'auto', coresPerDevice: 1, cores: 4, nvidiaSmiPath: ok });
      expect(gpu.source).toBe('nvidia-smi');
      expect(gpu.devices.map((d) => d.label)).toEqual(['cuda:0', 'cuda:1', 'cuda:2', 'cuda:3', 'cuda:4', 'cuda:5', 'cuda:6', 'cuda:7']);
      expect((await discoverDevices({ mode: 'cpu', coresPerDevice: 1, cores: 2, nvidiaSmiPath: ok })).source).toBe('cpu');
      expect(await queryNvidiaSmi(failing)).toBeUndefined();
      expect(await queryNvidiaSmi(path.join(dir, 'absent'))).toBeUndefined();
      const cpu = await discoverDevices({ mode: 'auto', coresPerDevice: 2, cores: 5, nvidiaSmiPath: path.join(dir, 'absent') });
      expect(cpu).toEqual({ source: 'cpu', devices: [{ spec: { kind: 'cpu', cpus: [0, 1] }, label: 'cpu[0,1]' }, { spec: { kind: 'cpu', cpus: [2, 3] }, label: 'cpu[2,3]' }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits cores into devices and devices into replica groups (leftovers form a smaller group)', () => {
    expect(cpuDevices(2, 1).map((d) => d.label)).toEqual(['cpu[0]', 'cpu[1]']);
    expect(cpuDevices(1, 4).map((d) => d.label)).toEqual(['cpu[0]']);
    expect(formReplicaGroups([0, 1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
    expect(formReplicaGroups([0, 1], 2)).toEqual([[0, 1]]);
    expect(() => formReplicaGroups([], 2)).toThrow(/no devices/);
  });
});
