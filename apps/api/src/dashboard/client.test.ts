import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';
import { describe, expect, it } from 'vitest';

describe('dashboard client (assets/dashboard.js, assets/dashboard-charts.js)', () => {
  it('type-checks as strict JavaScript against the DOM types and uPlot\'s own types', () => {
    const file = fileURLToPath(new URL('../../assets/dashboard.js', import.meta.url));
    // The page loads uPlot as a classic script (its global `uPlot`); its d.ts declares that global.
    const uplotTypes = createRequire(import.meta.url).resolve('uplot/dist/uPlot.d.ts');
    const program = ts.createProgram([file, uplotTypes], {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      strict: true,
      noImplicitAny: true,
      allowUmdGlobalAccess: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: [],
    });
    expect(program.getSourceFiles().map((f) => f.fileName)).toContainEqual(expect.stringMatching(/assets\/dashboard-charts\.js$/));
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${d.file?.fileName.split('/').pop() ?? ''}:${where ? `${where.line + 1}:${where.character + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  }, 60_000);
});
