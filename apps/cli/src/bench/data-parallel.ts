import type { ModelPackage } from '@asyncdiff/models';
import { Engine, classConditioning, resolveParallel } from '@asyncdiff/engine';

/** Throughput of data parallelism: one sequential engine per core, all generating at once. */
export interface DataParallelResult {
  readonly devices: number;
  readonly images: number;
  readonly wallMs: number;
  /** Wall time per image at full occupancy (1 / throughput): what a queue of jobs sees. */
  readonly perImageMs: number;
}

/**
 * `cores` sequential stage processes, one pinned per core, each generating `repeats` single
 * images back to back, all at the same time (the GPU host's data parallelism across jobs). Each
 * image is computed exactly as sequential sampling computes it, so its quality is sequential's.
 */
export async function measureDataParallel(model: ModelPackage, cores: number, steps: number, repeats: number): Promise<DataParallelResult> {
  const engines: Engine[] = [];
  try {
    for (let i = 0; i < cores; i++) {
      engines.push(await Engine.open({ model, parallel: resolveParallel({ mode: 'sequential' }), devices: [{ kind: 'cpu', cpus: [i] }], wait: 'async' }));
    }
    for (const e of engines) await e.generate({ conditioning: classConditioning(model, [0]), seed: 999, steps });
    const t0 = performance.now();
    await Promise.all(
      engines.map(async (e, i) => {
        for (let r = 0; r < repeats; r++) await e.generate({ conditioning: classConditioning(model, [(i + r) % model.classes.length]), seed: i * 1000 + r, steps });
      }),
    );
    const wallMs = performance.now() - t0;
    const images = cores * repeats;
    return { devices: cores, images, wallMs, perImageMs: wallMs / images };
  } finally {
    for (const e of engines) await e.close();
  }
}
