/**
 * The commands a newcomer copies — root npm scripts and the READMEs' `node`/`npx tsx`/`bash`
 * lines — must name files that a clean clone has. Checked against `git ls-files`, not the disk,
 * because a file left untracked on a developer's machine (as `bench/run.js` once was) makes the
 * command work there and fail everywhere else. Build outputs (`…/dist/….js`) count when their
 * TypeScript source is tracked.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tracked = new Set(execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean));
const isGitCheckout = tracked.size > 0;

/** Script paths after `node`, `tsx`, `bash` or `sh` (flags skipped), relative to the repo root. */
function scriptPaths(command: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;&|(])(?:node|tsx|bash|sh)\s+((?:-{1,2}[\w-]+(?:=\S+)?\s+)*)([\w./-]+\.(?:js|mjs|cjs|ts|sh)|\.ci\/run)\b/g;
  for (const m of command.matchAll(re)) out.push(path.posix.normalize(m[2]!));
  return out;
}

/** A path a clean clone provides: tracked, or a dist output whose source is tracked. */
function provided(rel: string): boolean {
  if (tracked.has(rel)) return true;
  const source = rel.replace(/\/dist\//, '/src/').replace(/\.js$/, '.ts');
  return source !== rel && tracked.has(source);
}

describe('commands in package.json and the READMEs', () => {
  it.runIf(isGitCheckout)('root npm scripts only run tracked files (or the build output of tracked sources)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const missing: string[] = [];
    let checked = 0;
    for (const [name, command] of Object.entries(pkg.scripts)) {
      for (const p of scriptPaths(command)) {
        checked += 1;
        if (!provided(p)) missing.push(`npm run ${name}: ${p}`);
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it.runIf(isGitCheckout)('README command lines only run tracked files', () => {
    const readmes = [...tracked].filter((f) => /(^|\/)README\.md$/.test(f));
    const missing: string[] = [];
    let checked = 0;
    for (const readme of readmes) {
      const text = readFileSync(path.join(ROOT, readme), 'utf8');
      for (const p of scriptPaths(text)) {
        checked += 1;
        if (!provided(p)) missing.push(`${readme}: ${p}`);
      }
    }
    expect(checked).toBeGreaterThan(5);
    expect(missing).toEqual([]);
  });

  it.runIf(isGitCheckout)('every workspace bin is a tracked file (npm links bins at install time, before any build)', () => {
    const manifests = [...tracked].filter((f) => /^(apps|libs)\/[^/]+\/package\.json$/.test(f));
    const bins: string[] = [];
    for (const manifest of manifests) {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, manifest), 'utf8')) as { bin?: string | Record<string, string> };
      const targets = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
      for (const t of targets) bins.push(path.posix.join(path.posix.dirname(manifest), t));
    }
    expect(bins).toContain('apps/cli/bin/asyncdiff.js');
    expect(bins.filter((b) => !tracked.has(b))).toEqual([]);
  });

  it('finds script paths behind flags and in chained commands', () => {
    expect(scriptPaths('npm run build && node apps/cli/dist/main.js bench')).toEqual(['apps/cli/dist/main.js']);
    expect(scriptPaths('npx tsx bench/handoff.ts --iterations 5')).toEqual(['bench/handoff.ts']);
    expect(scriptPaths('node --enable-source-maps ./apps/x/dist/y.js; bash .ci/run')).toEqual(['apps/x/dist/y.js', '.ci/run']);
    expect(provided('bench/run.js')).toBe(false);
  });
});
