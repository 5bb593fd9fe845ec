#!/usr/bin/env node
// `npx asyncdiff …`: a tracked file, so it exists when `npm ci` links workspace bins — before the
// first build has written dist/ (a bin pointing into dist/ is skipped then, and npx falls through
// to the registry). It runs the built CLI, or says how to build it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(`asyncdiff: the CLI is not built yet (${fileURLToPath(main)} is missing): run "npm run build" (or "npm start") at the repository root first\n`);
  process.exit(1);
}
await import(main.href);
