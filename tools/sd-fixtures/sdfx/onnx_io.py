"""ONNX export as optimum's `export_pytorch` does it, the float16 rewrite, and the external-data layout.

- torch.onnx.export(model, args, input_names, output_names, dynamic_axes, do_constant_folding=True,
  opset_version=14): optimum's UNet / CLIP / VAE OnnxConfigs all set DEFAULT_ONNX_OPSET = 14.
- External data: when torch writes one file per tensor (models over 2 GB), optimum reloads the model
  and re-saves it with save_as_external_data=True, all_tensors_to_one_file=True,
  location=<file name> + "_data", size_threshold=1024, convert_attribute=True. We write our UNets
  the same way (even the tiny ones, which optimum would leave in one file), so tensors under
  1 KiB stay inside model.onnx and the rest go to model.onnx_data.
"""
import io
from collections import defaultdict

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

from .nn import HALF_EXPORT

OPSET = 14
EXTERNAL_SIZE_THRESHOLD = 1024


def export(model, args, input_names, output_names, dynamic_axes, half=False):
    """Trace `model` on `args` and return the ONNX ModelProto (float16-converted when `half`)."""
    buf = io.BytesIO()
    model.eval()
    HALF_EXPORT.on = half
    try:
        with torch.no_grad():
            torch.onnx.export(model, args, buf, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True, opset_version=OPSET)
    finally:
        HALF_EXPORT.on = False
    proto = onnx.load_from_string(buf.getvalue())
    if half:
        proto = convert_to_fp16(proto)
    onnx.checker.check_model(proto)
    return proto


def save(proto, path, external):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not external:
        onnx.save_model(proto, str(path))
        return
    data = path.parent / (path.name + "_data")
    if data.exists():
        data.unlink()  # onnx appends to an existing data file
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=EXTERNAL_SIZE_THRESHOLD, convert_attribute=True)


# ----------------------------------------------------------------------------- float16 rewrite

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _collapse_markers(graph):
    """Cast(DOUBLE)->Cast(FLOAT) becomes Cast(FLOAT) (an upcast); Cast(FLOAT16)->Cast(FLOAT) becomes
    Cast(FLOAT16) (a downcast). Returns the outputs of the downcasts."""
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def cast_to(node):
        return next(a.i for a in node.attribute if a.name == "to") if node.op_type == "Cast" else None

    pairs = []
    for node in graph.node:
        first = cast_to(node)
        if first not in (TensorProto.DOUBLE, F16):
            continue
        users = consumers[node.output[0]]
        if len(users) != 1 or cast_to(users[0]) != F32:
            raise ValueError(f"dangling dtype marker at {node.name}")
        pairs.append((node, first, users[0]))
    drop, downcasts = set(), set()
    for node, first, second in pairs:
        second.input[0] = node.input[0]
        if first == F16:
            next(a for a in second.attribute if a.name == "to").i = F16
            downcasts.add(second.output[0])
        drop.add(id(node))
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept)
    return downcasts


def _split_shared_scalars(graph):
    """Give every consumer its own copy of small shared initializers, so a constant used both in a
    float32 region and a float16 region can take both types (torch de-duplicates equal constants)."""
    inits = {i.name: i for i in graph.initializer}
    uses = defaultdict(list)
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in inits and inits[name].data_type == F32:
                uses[name].append((node, k))
    for name, sites in uses.items():
        arr = numpy_helper.to_array(inits[name])
        if len(sites) < 2 or arr.size > 16:
            continue
        for j, (node, k) in enumerate(sites[1:], 1):
            copy = f"{name}__{j}"
            graph.initializer.append(numpy_helper.from_array(arr, copy))
            node.input[k] = copy


def convert_to_fp16(proto):
    """What a float16 trace produces: float tensors become float16, except those diffusers computes
    in float32 (downstream of an upcast / int->float Cast, up to the next downcast)."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = proto.graph
    _split_shared_scalars(graph)
    del graph.value_info[:]
    inferred = onnx.shape_inference.infer_shapes(proto)  # types of the float32 graph, before the rewrite
    downcasts = _collapse_markers(graph)
    types = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in graph.initializer:
        types[init.name] = init.data_type
    for node in graph.node:
        if node.op_type == "Constant":
            types[node.output[0]] = node.attribute[0].t.data_type

    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        parent[find(a)] = find(b)

    anchors = {}
    for node in graph.node:
        if node.op_type == "Cast":
            to = next(a.i for a in node.attribute if a.name == "to")
            if to in (F32, F16):
                anchors[node.output[0]] = F16 if node.output[0] in downcasts else F32
            continue
        names = list(node.input[:1]) + list(node.output[:1]) if node.op_type == "Resize" else \
            list(node.input) + list(node.output)
        floats = [n for n in names if n and types.get(n) == F32]
        for other in floats[1:]:
            union(floats[0], other)
    for vi in list(graph.input) + list(graph.output):
        if vi.type.tensor_type.elem_type == F32:
            anchors[vi.name] = F16

    decided = {}
    for name, kind in anchors.items():
        root = find(name)
        if decided.get(root, kind) != kind:
            raise ValueError(f"float16 rewrite: {name} is in a region that is both float16 and float32 "
                             "(a dtype marker is missing)")
        decided[root] = kind

    def is_half(name):
        return types.get(name) == F32 and decided.get(find(name), F32) == F16

    for i, init in enumerate(graph.initializer):
        if is_half(init.name):
            graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in graph.node:
        if node.op_type in ("Constant", "ConstantOfShape") and is_half(node.output[0]):
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == F32:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16),
                                                            attr.t.name))
    for vi in list(graph.input) + list(graph.output):
        if vi.type.tensor_type.elem_type == F32:
            vi.type.tensor_type.elem_type = F16
    onnx.shape_inference.infer_shapes(proto, strict_mode=True)  # raises on a type mismatch
    return proto


# ----------------------------------------------------------------------------- models over 2 GB

def consolidate_external_data(path, threshold=EXTERNAL_SIZE_THRESHOLD):
    """Torch writes a model over 2 GB with one external file per tensor. Rewrite it the way optimum
    does (onnx.save_model(..., save_as_external_data=True, all_tensors_to_one_file=True,
    location=<name>_data, size_threshold=1024, convert_attribute=True)) but streaming: each tensor is
    copied into <name>_data in onnx's order (initializers, then node attribute tensors), at onnx's
    offsets (appended, no padding), so the model is never held in memory twice."""
    proto = onnx.load(str(path), load_external_data=False)
    data_path = path.parent / (path.name + "_data")
    tensors = list(proto.graph.initializer)
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
            tensors.extend(attr.tensors)
    old_files = set()
    with open(data_path, "wb") as data:
        for t in tensors:
            if t.data_location == TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                src = path.parent / info["location"]
                with open(src, "rb") as f:
                    f.seek(int(info.get("offset", 0)))
                    blob = f.read(int(info["length"])) if "length" in info else f.read()
                old_files.add(src)
            elif t.HasField("raw_data") and len(t.raw_data) >= threshold:
                blob = t.raw_data
            else:
                continue
            offset = data.tell()
            data.write(blob)
            del t.external_data[:]
            t.ClearField("raw_data")
            t.data_location = TensorProto.EXTERNAL
            for key, value in (("location", data_path.name), ("offset", offset), ("length", len(blob))):
                entry = t.external_data.add()
                entry.key, entry.value = key, str(value)
            del blob
    onnx.save_model(proto, str(path))
    for f in old_files:
        if f != data_path:
            f.unlink()
    return proto


def check_large(path):
    """onnx.checker on the file (it reads external data itself), plus the initializer bookkeeping."""
    onnx.checker.check_model(str(path))
    proto = onnx.load(str(path), load_external_data=False)
    external = [t for t in proto.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    lengths = [int({e.key: e.value for e in t.external_data}["length"]) for t in external]
    return {"initializers": len(proto.graph.initializer), "external": len(external),
            "external_bytes": sum(lengths), "model_bytes": path.stat().st_size,
            "data_bytes": (path.parent / (path.name + "_data")).stat().st_size}
