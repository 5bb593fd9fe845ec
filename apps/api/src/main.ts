#!/usr/bin/env node
/**
 * Runs the API standalone (`node apps/api/dist/main.js`), configured from the environment (see
 * `apiOptionsFromEnv`), logging JSON lines to stdout. SIGTERM/SIGINT close it gracefully; a
 * second signal exits at once.
 */
import { createObjectStore, resolveStorageOptions } from '@asyncdiff/storage';

import { apiOptionsFromEnv } from './env.js';
import { createLogger } from './log/logger.js';
import { startApi } from './server.js';
import { storageDeps } from './storage-deps.js';

const options = apiOptionsFromEnv();
const logger = createLogger({ level: options.logLevel ?? 'info' });
const store = createObjectStore(resolveStorageOptions(process.env));
const api = await startApi({ ...options, logger, ...storageDeps(store) });
logger.info(`asyncdiff API listening on ${api.url} (docs: ${api.url}/docs, OpenAPI: ${api.url}/openapi.json)`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(1);
  stopping = true;
  logger.info(`${signal}: shutting down`);
  Promise.all([api.close(), store.close()]).then(
    () => logger.pino.flush(() => process.exit(0)),
    (err: unknown) => {
      logger.error('shutdown failed', err);
      logger.pino.flush(() => process.exit(1));
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
