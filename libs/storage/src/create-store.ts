import type { LocalObjectStore } from './local-object-store.js';
import { LocalFolderStore } from './local-store.js';
import { resolveLocalStoreOptions, resolveS3StoreOptions, type LocalStoreOptions, type ResolvedStorageOptions, type S3StoreOptions } from './options.js';
import type { S3ObjectStore } from './s3-object-store.js';
import { S3Store } from './s3-store.js';

/** Builds the store `resolveStorageOptions` chose; narrow on `kind` for backend extras (`verifyUrl`). */
export function createObjectStore(config: ResolvedStorageOptions): LocalObjectStore | S3ObjectStore {
  return config.kind === 'local' ? new LocalFolderStore(config) : new S3Store(config);
}

/** Builds a local-folder store (tests, CLI, single-host deployments). */
export function createLocalObjectStore(options?: LocalStoreOptions): LocalObjectStore {
  return new LocalFolderStore(resolveLocalStoreOptions(options));
}

/** Builds an S3 (or S3-compatible) store. */
export function createS3ObjectStore(options: S3StoreOptions): S3ObjectStore {
  return new S3Store(resolveS3StoreOptions(options));
}
