import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Tests import every lib from its TypeScript source; child processes spawned by tests run the
 * built JavaScript (`npm test` builds first), exactly as production does. */
const libs = readdirSync(new URL('./libs', import.meta.url));
const alias = Object.fromEntries(
  libs.map((name) => [`@asyncdiff/${name}`, fileURLToPath(new URL(`./libs/${name}/src/index.ts`, import.meta.url))]),
);

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
