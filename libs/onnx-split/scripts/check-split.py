#!/usr/bin/python3
"""Dev cross-check of a split written by @asyncdiff/onnx-split, with the reference `onnx` package.

Usage: /usr/bin/python3 libs/onnx-split/scripts/check-split.py <plan dir>

For each stage file named in plan.json: loads it WITHOUT its external data, runs onnx.checker and
ONNX shape inference, and checks that its graph inputs/outputs are exactly what the plan says.
Also checks that every boundary input of a stage is an output of its producer stage. Not part of
the product or the test suite (the product is TypeScript); run it after changing the writer.
"""
import json
import os
import sys

import onnx

plan_dir = sys.argv[1]
with open(os.path.join(plan_dir, "plan.json")) as f:
    plan = json.load(f)

outputs_by_stage = {}
for stage in plan["stages"]:
    path = os.path.normpath(os.path.join(plan_dir, stage["file"]))
    model = onnx.load(path, load_external_data=False)
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = model.graph
    got_in = [i.name for i in g.input]
    got_out = [o.name for o in g.output]
    want_in = [i["name"] for i in stage["inputs"]]
    want_out = [o["name"] for o in stage["outputs"]]
    assert got_in[: len(want_in)] == want_in, (stage["index"], got_in, want_in)
    assert got_out == want_out, (stage["index"], got_out, want_out)
    outputs_by_stage[stage["index"]] = set(got_out)
    external = sum(1 for t in g.initializer if t.data_location == onnx.TensorProto.EXTERNAL)
    print(f"stage {stage['index']}: {len(g.node)} nodes, {len(g.initializer)} initializers ({external} external), "
          f"inputs {len(got_in)}, outputs {len(got_out)}: ok")

for stage in plan["stages"]:
    for i in stage["inputs"]:
        if i["kind"] == "boundary":
            assert i["producer"] < stage["index"] and i["name"] in outputs_by_stage[i["producer"]], (stage["index"], i)
print(f"{len(plan['stages'])} stages, {len(plan['boundaries'])} boundary tensors: consistent")
