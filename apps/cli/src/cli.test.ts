import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodePng, inspectGif } from '@asyncdiff/media';
import { describe, expect, it } from 'vitest';

/** The CLI as users run it: the built entry point in a child process. */
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('asyncdiff generate', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-'));

  it('writes a PNG of the requested size, byte-identical on a second run (sequential and AsyncDiff)', () => {
    for (const mode of ['sequential', 'async']) {
      const a = path.join(dir, `a-${mode}.png`);
      const b = path.join(dir, `b-${mode}.png`);
      for (const out of [a, b]) {
        const r = cli('generate', '--model', 'digits', '--prompt', 'digit 7', '--seed', '3', '--steps', '12', '--mode', mode, '--out', out);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim()).toBe(out);
      }
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
      const png = decodePng(readFileSync(a));
      expect([png.width, png.height]).toEqual([128, 128]);
    }
  }, 120_000);

  it('writes a grid for --count, separate files for --out-dir, and a JSON summary with timings', () => {
    const grid = path.join(dir, 'grid.png');
    const r = cli('generate', '--model', 'digits', '--prompt', '3', '--count', '4', '--steps', '8', '--scale', '2', '--out', grid, '--json');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { outputs: { path: string }[]; timings: Record<string, unknown>; count: number };
    expect(summary.count).toBe(4);
    expect(Object.keys(summary.timings).sort()).toEqual(['denoiseMs', 'encodeMs', 'modelLoadMs', 'perStepMs', 'totalMs']);
    const png = decodePng(readFileSync(grid));
    expect(png.width).toBeGreaterThan(2 * 32);
    const outDir = path.join(dir, 'many');
    const r2 = cli('generate', '--model', 'digits', '--prompt', '3', '--count', '3', '--steps', '8', '--out-dir', outDir);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout.trim().split('\n')).toHaveLength(3);
  }, 120_000);

  it('--count beyond one engine batch (48 images × 2 guidance rows > 32) runs in chunks; image i equals a lone run of seed + i', () => {
    const outDir = path.join(dir, 'many');
    const r = cli('generate', '--model', 'digits', '--prompt', '5', '--seed', '100', '--count', '48', '--steps', '4', '--mode', 'async', '--scale', '1', '--out-dir', outDir);
    expect(r.status, r.stderr).toBe(0);
    const files = r.stdout.trim().split('\n');
    expect(files).toHaveLength(48);
    expect(files[40]).toBe(path.join(outDir, 'digits-5-seed140.png'));
    const lone = path.join(dir, 'lone-140.png');
    const one = cli('generate', '--model', 'digits', '--prompt', '5', '--seed', '140', '--steps', '4', '--mode', 'async', '--scale', '1', '--out', lone);
    expect(one.status, one.stderr).toBe(0);
    expect(readFileSync(files[40]!).equals(readFileSync(lone))).toBe(true);
  }, 120_000);

  it('writes an animated GIF with every frame for the video model', () => {
    const gif = path.join(dir, 'v.gif');
    const r = cli('generate', '--model', 'moving-digits', '--prompt', 'nine', '--steps', '6', '--out', gif);
    expect(r.status, r.stderr).toBe(0);
    const info = inspectGif(readFileSync(gif));
    expect([info.width, info.height, info.frames]).toEqual([128, 128, 8]);
  }, 120_000);

  it.each([
    [['--model', 'digits', '--prompt', 'a cat'], '--prompt', /accepted: 0, 1/],
    [['--model', 'sdxl', '--prompt', '7'], '--model', /available: digits, moving-digits/],
    [['--model', 'digits', '--prompt', '7', '--steps', '0'], '--steps', /integer from 1 to 1000/],
    [['--model', 'digits', '--prompt', '7', '--guidance', '-1'], '--guidance', /number from 0 to 30/],
    [['--model', 'digits', '--prompt', '7', '--seed', '1.5'], '--seed', /integer/],
    [['--model', 'digits', '--prompt', '7', '--scheduler', 'plms'], '--scheduler', /one of ddim/],
    [['--model', 'digits', '--prompt', '7', '--bogus'], '--bogus', /Unknown option/],
    [['--model', 'digits'], '--prompt', /required/],
  ])('rejects %j naming %s', (args, flag, message) => {
    const r = cli('generate', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).toMatch(message);
  });
});

describe('asyncdiff plan', () => {
  it('prints the schedule as JSON in the documented shape', () => {
    const r = cli('plan', '--steps', '4', '--stages', '2', '--stride', '2', '--warmup', '1', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { step: 0, runs: [{ device: 0, component: 0, t: 0 }, { device: 1, component: 1, t: 0 }], eps: { device: 1, step: 0 } },
      { step: 1, runs: [{ device: 0, component: 0, t: 2 }, { device: 1, component: 1, t: 2 }, { device: 2, component: 1, t: 1 }], eps: { device: 2, step: 1 } },
      { step: 2, runs: [], eps: { device: 1, step: 1 } },
      { step: 3, runs: [{ device: 0, component: 0, t: 3 }, { device: 1, component: 1, t: 3 }, { device: 2, component: 1, t: 3 }], eps: { device: 2, step: 3 } },
    ]);
  });

  it('names the flag of a bad value', () => {
    const r = cli('plan', '--stages', '9');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--stages');
  });
});

describe('asyncdiff bench and eval', () => {
  it('bench runs every configuration and writes its section and JSON (tiny settings)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-'));
    const results = path.join(dir, 'RESULTS.md');
    const json = path.join(dir, 'engine.json');
    const r = cli('bench', '--steps', '4', '--repeats', '1', '--per-class', '1', '--video-clips', '10', '--warmups', '1,3', '--results', results, '--json', json);
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(results, 'utf8');
    for (const heading of ['Image model (digits)', 'Acceptance (issue #3)', 'Warm-up sweep', "Where a step's time goes", 'Memory', 'Video model (moving-digits)']) expect(md).toContain(heading);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { image: { config: { id: string }; quality?: { samples: number } }[] };
    expect(report.image.map((c) => c.config.id)).toEqual(expect.arrayContaining(['seq-1', 'seq-proc-1', 'N2S1W3', 'N2S1W1', 'N2S1W3-hybrid', 'N2S1W3-async']));
    expect(report.image.every((c) => c.quality?.samples === 10)).toBe(true);
  }, 300_000);

  it('eval prints agreement and Fréchet distance for the requested guidance scales', () => {
    const r = cli('eval', '--model', 'digits', '--per-class', '2', '--steps', '6', '--guidances', '1,2', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { rows: { guidance: number; quality: { samples: number; agreement: number; frechet: number } }[] };
    expect(out.rows.map((x) => x.guidance)).toEqual([1, 2]);
    for (const row of out.rows) {
      expect(row.quality.samples).toBe(20);
      expect(row.quality.frechet).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('asyncdiff eval --receipt', () => {
  it('writes a quality receipt for a stale-feature mode into the package folder; refuses exact modes naming the flag', () => {
    const models = mkdtempSync(path.join(tmpdir(), 'receipt-models-'));
    cpSync(path.join(REPO, 'models/digits'), path.join(models, 'digits'), { recursive: true, filter: (src) => !src.endsWith('quality-receipts.json') && !src.includes('/splits') });
    symlinkSync(path.join(REPO, 'models/digits-eval'), path.join(models, 'digits-eval'));
    const env = { ...process.env, ASYNCDIFF_MODELS_DIR: models };
    const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000, env });
    const bad = run('eval', '--model', 'digits', '--mode', 'cfg', '--receipt');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('--receipt');
    const r = run('eval', '--model', 'digits', '--per-class', '1', '--steps', '6', '--mode', 'async', '--stages', '2', '--warmup', '2', '--receipt', '--json');
    expect(r.status, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(path.join(models, 'digits', 'quality-receipts.json'), 'utf8')) as { receipts: { config: object; samples: number; psnrDb: number; frechet: { sequential: number; mode: number; delta: number } }[] };
    expect(file.receipts).toHaveLength(1);
    const [receipt] = file.receipts;
    expect(receipt?.config).toEqual({ mode: 'async', stages: 2, stride: 1, warmup: 2, timeShift: false, compensation: 'linear' });
    expect(receipt?.samples).toBe(10);
    expect(receipt!.frechet.delta).toBeCloseTo(receipt!.frechet.mode - receipt!.frechet.sequential, 9);
    expect(receipt!.psnrDb).toBeGreaterThan(0);
    expect((JSON.parse(r.stdout) as { receipt: unknown }).receipt).toEqual(receipt);
  }, 240_000);
});
