import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ModelError, acceptedPrompts, defaultModelsDir, findModelPackage, listModelPackages, loadModelPackage, resolvePrompt, sampleSize } from './index.js';

describe('shipped model packages', () => {
  it('lists the image and video generators (not the classifier)', () => {
    const names = listModelPackages().map((m) => m.name);
    expect(names).toEqual(['digits', 'moving-digits']);
  });

  it('loads digits with its sample shape, vocabulary and schedule', () => {
    const m = findModelPackage('digits');
    expect(m.kind).toBe('image');
    expect(m.sampleDims).toEqual([1, 16, 16]);
    expect(sampleSize(m)).toBe(256);
    expect(m.nullClass).toBe(10);
    expect(m.noiseSchedule).toEqual({ type: 'linear', betaStart: 0.0001, betaEnd: 0.02, trainSteps: 1000 });
    expect(m.denoiserPath.startsWith(defaultModelsDir())).toBe(true);
  });

  it('loads moving-digits as a video with frames in its sample dims', () => {
    const m = findModelPackage('moving-digits');
    expect(m.kind).toBe('video');
    expect(m.sampleDims).toEqual([1, 8, 16, 16]);
    expect(m.frames).toBe(8);
  });

  it('resolves prompts by label or alias, case-insensitively', () => {
    const m = findModelPackage('digits');
    expect(resolvePrompt(m, '7')).toBe(7);
    expect(resolvePrompt(m, ' Seven ')).toBe(7);
    expect(resolvePrompt(m, 'digit 7')).toBe(7);
    expect(resolvePrompt(m, 'a handwritten seven')).toBe(7);
    expect(() => resolvePrompt(m, 'seven eight')).toThrowError(/unknown prompt/);
    expect(acceptedPrompts(m)).toContain('zero');
  });

  it('rejects an unknown prompt, naming the field and listing what is accepted', () => {
    const m = findModelPackage('digits');
    try {
      resolvePrompt(m, 'a cat');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ModelError);
      expect((e as ModelError).code).toBe('MODEL_UNKNOWN_PROMPT');
      expect((e as ModelError).field).toBe('prompt');
      expect((e as Error).message).toMatch(/accepted: 0, 1, .*nine/);
    }
  });

  it('rejects an unknown model name, listing the available ones', () => {
    expect(() => findModelPackage('sdxl')).toThrowError(/available: digits, moving-digits/);
  });
});

describe('bad model.json', () => {
  function withJson(mutate: (j: Record<string, unknown>) => void): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'model-'));
    const src = findModelPackage('digits');
    const j = JSON.parse(readFileSync(path.join(src.dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    mutate(j);
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
    copyFileSync(src.denoiserPath, path.join(dir, 'model.onnx'));
    return dir;
  }

  it('names the invalid field', () => {
    const dir = withJson((j) => {
      (j['sample'] as Record<string, unknown>)['height'] = -3;
    });
    expect(() => loadModelPackage(dir)).toThrowError(/sample\.height/);
  });

  it('rejects a null class that collides with a real class', () => {
    const dir = withJson((j) => {
      (j['conditioning'] as Record<string, unknown>)['nullClass'] = 3;
    });
    try {
      loadModelPackage(dir);
      expect.unreachable();
    } catch (e) {
      expect((e as ModelError).code).toBe('MODEL_INVALID');
      expect((e as ModelError).field).toBe('conditioning.nullClass');
    }
  });

  it('reports a missing folder as MODEL_NOT_FOUND', () => {
    expect(() => loadModelPackage('/nonexistent/model')).toThrowError(ModelError);
  });
});
