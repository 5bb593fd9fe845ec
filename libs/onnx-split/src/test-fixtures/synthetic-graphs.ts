import { GraphBuilder } from './graph-builder.js';
import type { OnnxModel } from '../onnx-types.js';
import type { InputSpecs } from '../random-feeds.js';

const WIDTH = 16;

/**
 * (a) A chain of 14 dense layers whose first hidden state `h0` is read again by the very last
 * node (a skip over every cut), with a second skip from layer 2 to layer 9 and a timestep
 * embedding added to every other layer.
 */
export function longSkipGraph(): { model: OnnxModel; inputs: InputSpecs; skip: string } {
  const g = new GraphBuilder();
  const sample = g.input('sample', 'float32', ['batch', WIDTH]);
  const timestep = g.input('timestep', 'float32', ['batch', 1]);
  const temb = g.op('MatMul', [g.op('Sin', [g.op('Mul', [timestep, g.weight('t_freq', [1, WIDTH], 7)])], {}, 't_sin'), g.weight('t_w', [WIDTH, WIDTH], 8)], {}, 't_proj');
  const h0 = g.op('MatMul', [sample, g.weight('w_in', [WIDTH, WIDTH], 1)], {}, 'layer_in');
  let h = h0;
  let h2 = h0;
  for (let i = 1; i <= 12; i++) {
    h = g.op('Tanh', [g.op('MatMul', [h, g.weight(`w${i}`, [WIDTH, WIDTH], i + 10)], {}, `layer${i}_mm`)], {}, `layer${i}_act`);
    if (i % 2 === 0) h = g.op('Add', [h, temb], {}, `layer${i}_temb`);
    if (i === 2) h2 = h;
    if (i === 9) h = g.op('Add', [h, h2], {}, 'skip_2_to_9');
  }
  g.node('Add', [h, h0], ['eps'], {}, 'skip_in_to_out');
  g.output('eps', 'float32', ['batch', WIDTH]);
  return {
    model: g.build('long_skip'),
    inputs: { sample: { dtype: 'float32', dims: [2, WIDTH] }, timestep: { dtype: 'float32', dims: [2, 1] } },
    skip: h0,
  };
}

/**
 * (b) Three latent-independent branches: a timestep MLP (used by the first half of the layers), a
 * class-label embedding MLP from an int64 input (used by the second half), and a constant-only
 * subgraph (Constant nodes and math on them) scaling the middle layer.
 */
export function multiBranchGraph(): { model: OnnxModel; inputs: InputSpecs } {
  const g = new GraphBuilder();
  const sample = g.input('sample', 'float32', ['batch', WIDTH]);
  const timestep = g.input('timestep', 'float32', ['batch', 1]);
  const labels = g.input('class_labels', 'int64', ['batch']);
  const t1 = g.op('Tanh', [g.op('MatMul', [g.op('Cos', [g.op('Mul', [timestep, g.weight('t_freq', [1, WIDTH], 3)], {}, 't_scale')], {}, 't_cos'), g.weight('t_w1', [WIDTH, WIDTH], 4)], {}, 't_mm1')], {}, 't_act');
  const temb = g.op('MatMul', [t1, g.weight('t_w2', [WIDTH, WIDTH], 5)], {}, 't_mm2');
  const c0 = g.op('Gather', [g.weight('class_table', [10, WIDTH], 6), labels], { axis: { int: 0 } }, 'c_gather');
  const cemb = g.op('Sigmoid', [g.op('MatMul', [c0, g.weight('c_w', [WIDTH, WIDTH], 7)], {}, 'c_mm')], {}, 'c_act');
  g.node('Constant', [], ['k_a'], { value: { name: 'k_a_value', dims: [1], dataType: 1, floatData: [0.5] } }, 'k_const_a');
  g.node('Constant', [], ['k_b'], { value: { name: 'k_b_value', dims: [1], dataType: 1, floatData: [1.5] } }, 'k_const_b');
  const k = g.op('Mul', [g.op('Add', ['k_a', 'k_b'], {}, 'k_add'), 'k_a'], {}, 'k_mul');
  let h = sample;
  for (let i = 0; i < 10; i++) {
    h = g.op('MatMul', [h, g.weight(`w${i}`, [WIDTH, WIDTH], 20 + i)], {}, `layer${i}_mm`);
    h = g.op('Add', [h, i < 5 ? temb : cemb], {}, `layer${i}_cond`);
    h = g.op('Tanh', [h], {}, `layer${i}_act`);
    if (i === 5) h = g.op('Mul', [h, k], {}, 'layer5_const_scale');
  }
  g.node('Identity', [h], ['eps'], {}, 'out');
  g.output('eps', 'float32', ['batch', WIDTH]);
  return {
    model: g.build('multi_branch'),
    inputs: {
      sample: { dtype: 'float32', dims: [2, WIDTH] },
      timestep: { dtype: 'float32', dims: [2, 1] },
      class_labels: { dtype: 'int64', dims: [2] },
    },
  };
}

/**
 * Two parallel latent branches (a1 → a2 and b1 → b2, interleaved in node order) merged at the end,
 * so a valid assignment need not be contiguous in topological order.
 */
export function diamondGraph(): { model: OnnxModel; inputs: InputSpecs } {
  const g = new GraphBuilder();
  const sample = g.input('sample', 'float32', ['batch', WIDTH]);
  const timestep = g.input('timestep', 'float32', ['batch', 1]);
  const temb = g.op('Sin', [g.op('Mul', [timestep, g.weight('t_freq', [1, WIDTH], 2)], {}, 't_mul')], {}, 't_sin');
  const a1 = g.op('Tanh', [g.op('MatMul', [sample, g.weight('wa1', [WIDTH, WIDTH], 3)], {}, 'a1_mm')], {}, 'a1');
  const b1 = g.op('Sigmoid', [g.op('MatMul', [sample, g.weight('wb1', [WIDTH, WIDTH], 4)], {}, 'b1_mm')], {}, 'b1');
  const a2 = g.op('Add', [g.op('MatMul', [a1, g.weight('wa2', [WIDTH, WIDTH], 5)], {}, 'a2_mm'), temb], {}, 'a2');
  const b2 = g.op('Mul', [g.op('MatMul', [b1, g.weight('wb2', [WIDTH, WIDTH], 6)], {}, 'b2_mm'), temb], {}, 'b2');
  g.node('Add', [a2, b2], ['eps'], {}, 'merge');
  g.output('eps', 'float32', ['batch', WIDTH]);
  return { model: g.build('diamond'), inputs: { sample: { dtype: 'float32', dims: [2, WIDTH] }, timestep: { dtype: 'float32', dims: [2, 1] } } };
}
