/** Per-operator output dtype rules: the fallback when neither the graph, a run nor shape inference knows a dtype. */
import type { OnnxAttribute, TensorDtype } from './onnx-types.js';
import { dtypeOfElemType, int64ToNumber } from './onnx-types.js';

const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'Multinomial']);
const BOOL_OPS = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);

/**
 * Per-operator dtype rule for output `outputIndex` of a node, used when neither the graph nor a
 * run says: the first input's dtype, with the usual exceptions (Shape → int64, Cast → `to`,
 * comparisons → bool…). `dtypeOf` answers for the node's inputs.
 */
export function inferDtype(
  opType: string,
  inputs: readonly string[],
  attributes: readonly OnnxAttribute[],
  outputIndex: number,
  dtypeOf: (name: string) => TensorDtype | undefined,
): TensorDtype | undefined {
  const attr = (name: string): OnnxAttribute | undefined => attributes.find((a) => a.name === name);
  const inputDtype = (k: number): TensorDtype | undefined => {
    const name = inputs[k];
    return name ? dtypeOf(name) : undefined;
  };
  if (INT64_OPS.has(opType)) return 'int64';
  if (BOOL_OPS.has(opType)) return 'bool';
  switch (opType) {
    case 'Cast':
      return dtypeOfElemType(int64ToNumber(attr('to')?.i));
    case 'CastLike':
      return inputDtype(1);
    case 'Constant': {
      const a = attributes[0];
      if (a?.t) return dtypeOfElemType(a.t.dataType);
      if (a?.name === 'value_float' || a?.name === 'value_floats') return 'float32';
      if (a?.name === 'value_int' || a?.name === 'value_ints') return 'int64';
      return undefined;
    }
    case 'ConstantOfShape': {
      const t = attr('value')?.t;
      return t ? dtypeOfElemType(t.dataType) : 'float32';
    }
    case 'Where':
      return inputDtype(1);
    case 'TopK':
    case 'Unique':
      return outputIndex === 0 ? inputDtype(0) : 'int64';
    case 'DequantizeLinear':
      return 'float32';
    case 'QuantizeLinear':
      return inputDtype(2) ?? 'uint8';
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike': {
      const dtype = attr('dtype');
      return dtype ? dtypeOfElemType(int64ToNumber(dtype.i)) : inputDtype(0);
    }
    default:
      return inputDtype(0);
  }
}
