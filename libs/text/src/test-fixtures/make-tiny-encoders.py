"""Writes the tiny text-encoder graphs the @asyncdiff/text unit tests run (checked in beside this file).

They have the input/output signature of optimum's CLIP text encoder exports, not CLIP's maths:
  input_ids [batch, sequence] (int32 or int64)
  hidden_states.0 = id * A + C per position           (the "embeddings")
  hidden_states.k = sin(hidden_states.{k-1}) + 0.5 * hidden_states.{k-1}   (k = 1, 2: the "layers")
  last_hidden_state = 0.7 * hidden_states.2 + 0.01     (the "final norm")
  pooler_output / text_embeds = mean over positions of last_hidden_state (text_embeds: then @ P)
so every output differs from every other one, and float16 variants cast each output to float16.
Run with /usr/bin/python3 (onnx 1.12): python3 make-tiny-encoders.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "encoders")


def encoder(name, width, ids_type, hidden_states, pooled, float16, projection=0):
    rng = np.random.default_rng(len(name) * 7 + width)
    a = (rng.standard_normal(width) * 0.01).astype(np.float32)
    c = (rng.standard_normal(width) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, "A"), numpy_helper.from_array(c, "C"),
             numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.array(0.5, dtype=np.float32), "half"),
             numpy_helper.from_array(np.array(0.7, dtype=np.float32), "scale"),
             numpy_helper.from_array(np.array(0.01, dtype=np.float32), "shift")]
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids_f", "axis2"], ["ids_u"]),
        helper.make_node("Mul", ["ids_u", "A"], ["h0_a"]),
        helper.make_node("Add", ["h0_a", "C"], ["h0"]),
    ]
    for k in (1, 2):
        prev, cur = f"h{k-1}", f"h{k}"
        nodes += [helper.make_node("Sin", [prev], [f"{cur}_s"]),
                  helper.make_node("Mul", [prev, "half"], [f"{cur}_h"]),
                  helper.make_node("Add", [f"{cur}_s", f"{cur}_h"], [cur])]
    nodes += [helper.make_node("Mul", ["h2", "scale"], ["last_s"]),
              helper.make_node("Add", ["last_s", "shift"], ["last"]),
              helper.make_node("ReduceMean", ["last"], ["mean"], axes=[1], keepdims=0)]
    outputs = {}
    if pooled == "text_embeds":
        p = (rng.standard_normal((width, projection)) * 0.5).astype(np.float32)
        inits.append(numpy_helper.from_array(p, "P"))
        nodes.append(helper.make_node("MatMul", ["mean", "P"], ["pooled"]))
        outputs["text_embeds"] = ("pooled", ["batch_size", projection])
        outputs["last_hidden_state"] = ("last", ["batch_size", "sequence_length", width])
    else:
        outputs["last_hidden_state"] = ("last", ["batch_size", "sequence_length", width])
        outputs["pooler_output"] = ("mean", ["batch_size", width])
    if hidden_states:
        for k in range(3):
            outputs[f"hidden_states.{k}"] = (f"h{k}", ["batch_size", "sequence_length", width])
    out_type = TensorProto.FLOAT16 if float16 else TensorProto.FLOAT
    graph_outputs = []
    for out_name, (src, shape) in outputs.items():
        if float16:
            nodes.append(helper.make_node("Cast", [src], [out_name], to=TensorProto.FLOAT16))
        else:
            nodes.append(helper.make_node("Identity", [src], [out_name]))
        graph_outputs.append(helper.make_tensor_value_info(out_name, out_type, shape))
    ids = helper.make_tensor_value_info("input_ids", ids_type, ["batch_size", "sequence_length"])
    graph = helper.make_graph(nodes, name, [ids], graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="asyncdiff-text-fixture")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, f"{name}.onnx"))


os.makedirs(HERE, exist_ok=True)
# SD 1.x/2.x text_encoder: int32 ids (older optimum exports) and int64 ids (newer), no hidden_states.
encoder("sd-int32", 4, TensorProto.INT32, False, "pooler_output", False)
encoder("sd-int64", 4, TensorProto.INT64, False, "pooler_output", False)
encoder("sd-fp16", 4, TensorProto.INT32, False, "pooler_output", True)
# SDXL: text_encoder (CLIPTextModel with output_hidden_states) and text_encoder_2 (with projection).
encoder("sdxl-1", 4, TensorProto.INT32, True, "pooler_output", False)
encoder("sdxl-2", 6, TensorProto.INT32, True, "text_embeds", False, projection=3)
encoder("sdxl-1-fp16", 4, TensorProto.INT64, True, "pooler_output", True)
encoder("sdxl-2-fp16", 6, TensorProto.INT64, True, "text_embeds", True, projection=3)
# A broken export: token ids declared as float, which the lib must refuse before running.
encoder("bad-float-ids", 4, TensorProto.FLOAT, False, "pooler_output", False)
