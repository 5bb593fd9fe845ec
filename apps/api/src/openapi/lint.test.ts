/**
 * `redocly lint` (recommended rules, the committed redocly.yaml) on the OpenAPI document the
 * running app serves — the real CLI as a child process, on the document written to a temp file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from '../test-fixtures/harness.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CONFIG = path.join(ROOT, 'redocly.yaml');
const CLI = path.join(path.dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

/** What `redocly lint --format json` reports. */
interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Array<{ ruleId: string; severity: 'error' | 'warn'; message: string; location: Array<{ pointer?: string }> }>;
}

/** Warnings redocly.yaml explains and accepts: the probes and the document have no 4xx. */
const ACCEPTED_WARNINGS = ['operation-4xx-response #/paths/~1healthz/get/responses', 'operation-4xx-response #/paths/~1readyz/get/responses', 'operation-4xx-response #/paths/~1openapi.json/get/responses'];

const describeProblem = (p: LintReport['problems'][number]) => `${p.ruleId} ${p.location[0]?.pointer ?? '?'}`;

async function redoclyLint(file: string): Promise<{ code: number | null; report: LintReport; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'lint', file, '--config', CONFIG, '--format', 'json'], {
    cwd: path.dirname(file),
    // No usage data, no update check: nothing leaves the machine.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`redocly printed no JSON report (exit ${code}): ${stderr}`);
  return { code, report: JSON.parse(stdout.slice(start)) as LintReport, stderr };
}

describe('OpenAPI document passes redocly lint (recommended)', () => {
  let h: Harness;
  let dir: string;
  let served: Record<string, unknown>;

  beforeAll(async () => {
    h = await startHarness({ apiKeys: ['lint-test-key-0123456789abcdef'], metricsToken: 'lint-test-metrics-token-0123' });
    const res = await h.request('/openapi.json');
    expect(res.status).toBe(200);
    served = (await res.json()) as Record<string, unknown>;
    dir = mkdtempSync(path.join(tmpdir(), 'openapi-lint-'));
  });
  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has no errors, and no warnings beyond the ones redocly.yaml accepts', async () => {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(served, null, 2));
    const { code, report, stderr } = await redoclyLint(file);
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => `${describeProblem(p)}: ${p.message}`);
    expect(errors, stderr).toEqual([]);
    expect(code).toBe(0);
    const warnings = report.problems.filter((p) => p.severity === 'warn').map(describeProblem);
    expect(warnings.filter((w) => !ACCEPTED_WARNINGS.includes(w))).toEqual([]);
  }, 60_000);

  it('fails a document with errors (the check can fail)', async () => {
    // The same document without servers and with one operation that declares no security.
    const broken = structuredClone(served) as { servers?: unknown; paths: Record<string, Record<string, { security?: unknown }>> };
    delete broken.servers;
    delete broken.paths['/healthz']!['get']!.security;
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const { code, report } = await redoclyLint(file);
    expect(code).not.toBe(0);
    expect(report.totals.errors).toBeGreaterThanOrEqual(2);
    const rules = report.problems.filter((p) => p.severity === 'error').map(describeProblem);
    expect(rules).toContain('no-empty-servers #/openapi');
    expect(rules).toContain('security-defined #/paths/~1healthz/get');
  }, 60_000);
});
