import { listModelPackages, type ModelPackage } from '@asyncdiff/models';

/**
 * The model packages a service accepts jobs for. Loaded once (model.json files do not change
 * under a running service), so validating a job never touches the disk.
 */
export interface ModelCatalog {
  /** The package called `name`, or undefined. */
  find(name: string): ModelPackage | undefined;
  /** Every package, sorted by name. */
  list(): readonly ModelPackage[];
}

/** A catalog of the packages under `modelsDir` (default: the shipped `models/`). */
export function createModelCatalog(modelsDir?: string): ModelCatalog {
  return staticModelCatalog(modelsDir === undefined ? listModelPackages() : listModelPackages(modelsDir));
}

/** A catalog over packages already in memory (tests, embedders with their own loading). */
export function staticModelCatalog(models: readonly ModelPackage[]): ModelCatalog {
  const byName = new Map(models.map((m) => [m.name, m]));
  const sorted = [...models].sort((a, b) => a.name.localeCompare(b.name));
  return { find: (name) => byName.get(name), list: () => sorted };
}
