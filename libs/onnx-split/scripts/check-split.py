#!/usr/bin/python3
"""Dev cross-check of a split written by @asyncdiff/onnx-split, with the reference `onnx` package.

Usage: /usr/bin/python3 libs/onnx-split/scripts/check-split.py <plan dir>

For each stage file named in plan.json: runs onnx.checker on the file (which also checks that its
external data references resolve, relative to the stage file), loads it WITHOUT its external data
for ONNX shape inference, checks that its graph inputs/outputs are exactly what the plan says and
that every external tensor lives in the stage's own data file (plan `dataFile`). Also checks that
every boundary input of a stage is an output of its producer stage. Not part of
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
    onnx.checker.check_model(path)
    model = onnx.load(path, load_external_data=False)
    onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = model.graph
    got_in = [i.name for i in g.input]
    got_out = [o.name for o in g.output]
    want_in = [i["name"] for i in stage["inputs"]]
    want_out = [o["name"] for o in stage["outputs"]]
    assert got_in[: len(want_in)] == want_in, (stage["index"], got_in, want_in)
    assert got_out == want_out, (stage["index"], got_out, want_out)
    outputs_by_stage[stage["index"]] = set(got_out)
    external_tensors = [t for t in g.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    for t in external_tensors:
        location = {e.key: e.value for e in t.external_data}["location"]
        assert location == stage.get("dataFile"), (stage["index"], t.name, location)
    external = len(external_tensors)
    print(f"stage {stage['index']}: {len(g.node)} nodes, {len(g.initializer)} initializers ({external} external), "
          f"inputs {len(got_in)}, outputs {len(got_out)}: ok")

for stage in plan["stages"]:
    for i in stage["inputs"]:
        if i["kind"] == "boundary":
            assert i["producer"] < stage["index"] and i["name"] in outputs_by_stage[i["producer"]], (stage["index"], i)
print(f"{len(plan['stages'])} stages, {len(plan['boundaries'])} boundary tensors: consistent")
