#!/usr/bin/env node
/**
 * Runs the API standalone (`node apps/api/dist/main.js`), configured from the environment (see
 * `apiOptionsFromEnv`). SIGTERM/SIGINT close it gracefully; a second signal exits at once.
 */
import { createObjectStore, resolveStorageOptions } from '@asyncdiff/storage';

import { apiOptionsFromEnv } from './env.js';
import { startApi } from './server.js';
import { storageDeps } from './storage-deps.js';

const store = createObjectStore(resolveStorageOptions(process.env));
const api = await startApi({ ...apiOptionsFromEnv(), ...storageDeps(store) });
console.info(`asyncdiff API listening on ${api.url} (OpenAPI: ${api.url}/openapi.json)`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(1);
  stopping = true;
  console.info(`${signal}: shutting down`);
  Promise.all([api.close(), store.close()]).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
