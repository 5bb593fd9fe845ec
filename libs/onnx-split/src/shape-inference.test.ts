import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SplitOptionsError } from './errors.js';
import { analyseGraph } from './graph-analysis.js';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { profileNodes } from './profile.js';
import type { InputSpecs } from './random-feeds.js';
import { inferShapes } from './shape-inference.js';
import { GraphBuilder } from './test-fixtures/graph-builder.js';
import { SD_FIXTURES, unetPath } from './test-fixtures/sd-pipelines.js';
import { sdUnetGraph } from './test-fixtures/sd-unet.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';

/** Every node output ORT reports while running the model must match the inferred dtype and dims. */
async function expectInferenceMatchesOrt(path: string, model: OnnxModel, inputs: InputSpecs, latentInputs = ['sample']): Promise<number> {
  const analysis = analyseGraph(model, { latentInputs });
  const inferred = inferShapes(model, analysis, inputs);
  expect(inferred.unsupportedOps).toEqual({});
  expect(inferred.unknownNodes).toBe(0);
  const observed = await profileNodes(path, { inputs, runs: 1, warmupRuns: 0, nodes: analysis.nodes.map((n) => ({ name: n.name, outputs: n.proto.output ?? [] })) });
  const names = Object.keys(observed.tensors);
  expect(names.length).toBeGreaterThan(analysis.nodes.length / 2);
  for (const name of names) {
    const mine = inferred.tensors.get(name);
    const theirs = observed.tensors[name];
    // ORT's CPU provider runs some float16 kernels in float32 (it inserts casts around them even
    // unoptimised), so its profile reports float32 where the graph says float16.
    const dtype = mine?.dtype === 'float16' && theirs?.dtype === 'float32' ? 'float32' : mine?.dtype;
    expect({ name, dims: mine?.dims, dtype }).toEqual({ name, dims: theirs?.dims, dtype: theirs?.dtype });
  }
  return names.length;
}

describe('shape inference (no weights read, nothing run)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-shapes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const kind of ['sd15', 'sdxl'] as const) {
    it(`matches what ORT computes for every tensor of a ${kind}-shaped UNet, at two sizes and batches`, async () => {
      const { model, inputs } = sdUnetGraph({ kind, timestepDtype: kind === 'sdxl' ? 'int64' : 'float32' });
      const path = join(dir, `${kind}.onnx`);
      await writeOnnxModel(path, model);
      for (const [batch, size] of [[2, 8], [3, 12]] as const) expect(await expectInferenceMatchesOrt(path, model, inputs(batch, size))).toBeGreaterThan(300);
    });
  }

  it('matches ORT on the shipped image model (a real torch.onnx export)', async () => {
    const path = await copyShippedModel(SHIPPED.digits.path);
    const { model } = await readOnnxModel(path);
    await expectInferenceMatchesOrt(path, model, SHIPPED.digits.inputs);
    await rm(join(path, '..'), { recursive: true, force: true });
  });

  for (const f of SD_FIXTURES) {
    it(`matches ORT on every tensor of the ${f.name} UNet (torch export) at two sizes and batches`, async () => {
      const path = unetPath(f.name);
      const { model } = await readOnnxModel(path);
      for (const [batch, size] of [[2, 8], [1, 16]] as const) expect(await expectInferenceMatchesOrt(path, model, f.inputs(batch, size))).toBeGreaterThan(1000);
    });
  }

  it('leaves dims unknown downstream of an op it has no rule for, and says which', () => {
    const g = new GraphBuilder();
    const x = g.input('sample', 'float32', ['batch', 4]);
    const nz = g.op('NonZero', [x], {}, 'nonzero');
    g.node('Cast', [g.op('Custom', [nz], {}, 'custom')], ['eps'], { to: { int: 1 } }, 'out');
    g.output('eps', 'float32', ['batch', 4]);
    const model = g.build();
    (model.graph?.node?.[1] as { domain?: string }).domain = 'com.example';
    const result = inferShapes(model, analyseGraph(model), { sample: { dtype: 'float32', dims: [2, 4] } });
    expect(result.unsupportedOps).toEqual({ NonZero: 1, 'com.example:Custom': 1 });
    expect(result.unknownNodes).toBe(3);
    expect(result.tensors.get('nonzero_out')).toEqual({ dtype: 'int64', dims: null });
    expect(result.tensors.get('eps')).toEqual({ dtype: 'float32', dims: null });
  });

  it('rejects input specs that contradict the graph, naming the input', () => {
    const { model, inputs } = sdUnetGraph({ kind: 'sd15' });
    const analysis = analyseGraph(model);
    const good = inputs(2, 8);
    const attempt = (specs: InputSpecs): unknown => {
      try {
        inferShapes(model, analysis, specs);
        return undefined;
      } catch (error) {
        return error;
      }
    };
    const rank = attempt({ ...good, sample: { dtype: 'float32', dims: [2, 4, 8] } });
    expect(rank).toBeInstanceOf(SplitOptionsError);
    expect(rank).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs.sample' });
    expect(attempt({ ...good, sample: { dtype: 'float32', dims: [2, 3, 8, 8] } })).toMatchObject({ field: 'inputs.sample', message: expect.stringContaining('dims[1] is 3 but the graph fixes it to 4') });
    expect(attempt({ ...good, encoder_hidden_states: { dtype: 'float16', dims: [2, 5, 12] } })).toMatchObject({ field: 'inputs.encoder_hidden_states' });
    const { encoder_hidden_states: _missing, ...partial } = good;
    expect(attempt(partial)).toMatchObject({ field: 'inputs.encoder_hidden_states' });
    // Odd spatial sizes do not survive the down/up path: the shapes contradict an operator.
    expect(attempt({ ...good, sample: { dtype: 'float32', dims: [2, 4, 9, 9] } })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs' });
  });
});
