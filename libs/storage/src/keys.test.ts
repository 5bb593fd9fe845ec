import { describe, expect, it } from 'vitest';
import { outputKey, validateKey, validatePrefix } from './keys.js';

describe('validateKey', () => {
  it.each([
    ['', 'empty'],
    ['/abs', 'absolute'],
    ['C:/x', 'absolute'],
    ['a/../b', 'dot-segment'],
    ['..', 'dot-segment'],
    ['./a', 'dot-segment'],
    ['a//b', 'empty-segment'],
    ['a/', 'empty-segment'],
    ['a\\..\\b', 'backslash'],
    ['a\0b', 'control-char'],
    ['a\nb', 'control-char'],
    ['a\uD800b', 'control-char'],
    ['x'.repeat(1025), 'too-long'],
    ['y'.repeat(241), 'segment-too-long'],
    ['.asyncdiff/meta/x', 'reserved'],
  ])('rejects %j (%s)', (key, reason) => {
    expect(() => validateKey(key)).toThrow(expect.objectContaining({ code: 'STORAGE_INVALID_KEY', field: 'key', reason }));
  });

  it('accepts ordinary keys, including dots inside names and unicode', () => {
    for (const key of ['a', 'jobs/x/0000.png', '.hidden/x', 'a/..b/c..', 'ü/日本.png']) expect(validateKey(key)).toBe(key);
  });

  it('prefixes may be empty, end in "/" or in a partial segment', () => {
    for (const prefix of ['', 'jobs/', 'jobs/ab', 'jobs/.']) expect(validatePrefix(prefix)).toBe(prefix);
    for (const prefix of ['../', 'jobs/..', '/jobs', 'a//']) expect(() => validatePrefix(prefix), prefix).toThrow(expect.objectContaining({ field: 'prefix' }));
  });
});

describe('outputKey', () => {
  it('builds a deterministic key', () => {
    expect(outputKey('job_01-ab', 3, 'png')).toBe('jobs/job_01-ab/0003.png');
    expect(outputKey('j', 12345, 'mp4')).toBe('jobs/j/12345.mp4');
  });

  it('rejects bad parts naming the field', () => {
    const bad = (field: string) => expect.objectContaining({ code: 'STORAGE_INVALID_ARGUMENT', field });
    expect(() => outputKey('../x', 0, 'png')).toThrow(bad('jobId'));
    expect(() => outputKey('', 0, 'png')).toThrow(bad('jobId'));
    expect(() => outputKey('a', -1, 'png')).toThrow(bad('index'));
    expect(() => outputKey('a', 1.5, 'png')).toThrow(bad('index'));
    expect(() => outputKey('a', 0, '.png')).toThrow(bad('ext'));
    expect(() => outputKey('a', 0, 'p/g')).toThrow(bad('ext'));
  });
});
