import { findModelPackage } from '@asyncdiff/models';
import { StageCrashedError } from '@asyncdiff/asyncdiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InProcessModelHost } from './model-host/in-process-model-host.js';
import { ProcessModelHost } from './model-host/process-model-host.js';

const model = findModelPackage('digits');
const feeds = {
  sample: { dtype: 'float32' as const, dims: [2, 1, 16, 16], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i)) },
  timestep: { dtype: 'float32' as const, dims: [2], data: Float32Array.from([500, 20]) },
  class_labels: { dtype: 'int64' as const, dims: [2], data: BigInt64Array.from([3n, 10n]) },
};

describe('model hosts (whole models off the coordinator thread)', () => {
  let proc: ProcessModelHost;
  let local: InProcessModelHost;
  beforeAll(async () => {
    proc = await ProcessModelHost.spawn({ denoiser: model.denoiserPath }, { kind: 'cpu', cpus: [0] });
    local = await InProcessModelHost.create({ denoiser: model.denoiserPath });
  });
  afterAll(async () => {
    await proc.close();
    await local.close();
  });

  it('reports each model\'s inputs and outputs with dtypes', () => {
    for (const host of [proc, local]) {
      expect(host.metadata['denoiser']!.inputs.map((i) => [i.name, i.dtype])).toEqual([
        ['sample', 'float32'],
        ['timestep', 'float32'],
        ['class_labels', 'int64'],
      ]);
      expect(host.metadata['denoiser']!.outputs.map((o) => o.name)).toEqual(['eps']);
    }
  });

  it('computes the same outputs in its own process as in this one', async () => {
    const a = await proc.run('denoiser', feeds);
    const b = await local.run('denoiser', feeds);
    expect(a['eps']!.dims).toEqual([2, 1, 16, 16]);
    expect(Array.from(a['eps']!.data as Float32Array)).toEqual(Array.from(b['eps']!.data as Float32Array));
  });

  it('names an unknown model in a rejected call, and keeps serving', async () => {
    await expect(proc.run('vae', feeds)).rejects.toThrow(/no model "vae"/);
    await expect(proc.run('denoiser', feeds)).resolves.toHaveProperty('eps');
  });

  it('turns a crash into a retryable StageCrashedError for the pending call', async () => {
    const host = await ProcessModelHost.spawn({ denoiser: model.denoiserPath }, { kind: 'cpu', cpus: [0] });
    // Stopped, it cannot answer: the call is surely pending when the process dies.
    process.kill(host.pid, 'SIGSTOP');
    const call = host.run('denoiser', feeds);
    process.kill(host.pid, 'SIGKILL');
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StageCrashedError);
    expect((err as StageCrashedError).retryable).toBe(true);
    await expect(host.run('denoiser', feeds)).rejects.toThrow();
    await host.close();
  });
});
