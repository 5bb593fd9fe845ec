import type { LocalObjectStore, S3ObjectStore } from '@asyncdiff/storage';

import type { ArtifactStore } from './batches/finalizer.js';
import type { ApiDeps } from './deps.js';
import type { OutputStore } from './retention/output-sweeper.js';

/**
 * Adapts an object store to what the API needs: URLs for outputs (presigned for S3, signed API
 * paths for a local folder), for a local folder the file route that serves those paths, and the
 * store itself for batch artefacts (manifest, contact sheet) and for the output sweeper (retention). Used by `main.ts` and by the CLI's
 * `serve`, so both expose stored outputs the same way.
 */
export function storageDeps(
  store: LocalObjectStore | S3ObjectStore,
): Pick<ApiDeps, 'outputUrls'> & Partial<Pick<ApiDeps, 'files'>> & { objectStore: ArtifactStore; outputStore: OutputStore } {
  if (store.kind !== 'local') return { outputUrls: store, objectStore: store, outputStore: store };
  const local = store as LocalObjectStore;
  const basePath = new URL(local.baseUrl, 'http://local.invalid').pathname.replace(/\/+$/, '');
  return {
    outputUrls: local,
    objectStore: local,
    outputStore: local,
    files: {
      basePath,
      async open(requestUrl) {
        const { key } = await local.verifyUrl(requestUrl);
        const head = await local.head(key);
        if (!head) throw Object.assign(new Error(`no object ${key}`), { code: 'STORAGE_NOT_FOUND' });
        return { stream: await local.getStream(key), contentType: head.contentType, bytes: head.bytes };
      },
    },
  };
}
