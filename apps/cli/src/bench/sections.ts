import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * bench/RESULTS.md collects the output of several benchmarks (denoiser step, engine, fleet);
 * each owns one marked section and rewrites only that, so running one keeps the others.
 */
export function replaceSection(file: string, name: string, content: string, title = '# Benchmark results'): void {
  const begin = `<!-- section:${name}:begin -->`;
  const end = `<!-- section:${name}:end -->`;
  const block = `${begin}\n${content.trim()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `${title}\n\nEach section below is written by the benchmark named in it; rerun that one to refresh it.\n`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  const next = start >= 0 && stop > start ? `${text.slice(0, start)}${block}${text.slice(stop + end.length)}` : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
