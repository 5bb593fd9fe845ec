import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Tests import every lib from its TypeScript source; child processes spawned by tests run the
 * built JavaScript (`npm test` builds first), exactly as production does. */
const libs = readdirSync(new URL('./libs', import.meta.url));
const alias = [
  // Subpaths first: Vite matches `@asyncdiff/queue` as a prefix of `@asyncdiff/queue/test-fixtures`.
  { find: '@asyncdiff/queue/test-fixtures', replacement: fileURLToPath(new URL('./libs/queue/src/test-fixtures/redis.ts', import.meta.url)) },
  ...libs.map((name) => ({ find: `@asyncdiff/${name}`, replacement: fileURLToPath(new URL(`./libs/${name}/src/index.ts`, import.meta.url)) })),
];

// No onnxruntime telemetry (a DNS lookup of mobile.events.data.microsoft.com every ~2 s) from
// test processes or the processes they fork, which inherit this.
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['libs/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
