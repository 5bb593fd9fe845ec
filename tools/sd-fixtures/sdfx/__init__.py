"""Tiny random-weight Stable Diffusion pipelines in the layout `optimum-cli export onnx` writes.

The modules mirror diffusers / transformers (module attribute names, so ONNX initializer names look
like a real export; forward code, so the graphs have the same operators and dtype casts). No code
is copied from those projects; see ../README.md for the facts relied on and where they come from.
"""
