import { listGenerators, modelSearchDirs, type GeneratorPackage } from '@asyncdiff/models';

/**
 * The model packages a service accepts jobs for. Loaded once (model.json files do not change
 * under a running service), so validating a job never touches the disk.
 */
export interface ModelCatalog {
  /** The package called `name`, or undefined. */
  find(name: string): GeneratorPackage | undefined;
  /** Every package, sorted by name. */
  list(): readonly GeneratorPackage[];
}

/**
 * A catalog of the packages in `dirs` (default: `MODELS_DIR`, else the shipped `models/` and
 * `var/models`): ours and diffusers ONNX exports. A broken package is skipped (and reported
 * through `onInvalid`), so one bad export does not take the others down.
 */
export function createModelCatalog(dirs: string | readonly string[] = modelSearchDirs(), onInvalid?: (dir: string, err: Error) => void): ModelCatalog {
  return staticModelCatalog(listGenerators(typeof dirs === 'string' ? [dirs] : dirs, onInvalid));
}

/** A catalog over packages already in memory (tests, embedders with their own loading). */
export function staticModelCatalog(models: readonly GeneratorPackage[]): ModelCatalog {
  const byName = new Map(models.map((m) => [m.name, m]));
  const sorted = [...models].sort((a, b) => a.name.localeCompare(b.name));
  return { find: (name) => byName.get(name), list: () => sorted };
}
