"""Shared helpers: determinism, ONNX export, image files."""
import json
import os
import random

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODELS = os.path.join(ROOT, 'models')


def seed_everything(seed: int, threads: int = 2):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def model_dir(name: str) -> str:
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    return d


def write_json(path: str, obj) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def to_uint8(x):
    """[-1, 1] -> uint8 [0, 255]."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def save_grid_png(path, imgs, nrow, scale=4):
    """imgs: N,1,H,W in [-1,1] -> one grayscale PNG grid (1px gaps), nearest-upscaled."""
    from PIL import Image
    n, _, h, w = imgs.shape
    ncol = (n + nrow - 1) // nrow
    a = to_uint8(imgs)[:, 0]
    grid = np.full((nrow * (h + 1) + 1, ncol * (w + 1) + 1), 64, np.uint8)
    for i in range(n):
        r, c = i % nrow, i // nrow
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = a[i]
    Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST).save(path)


def save_video_grid_gif(path, clips, nrow, scale=4, ms=120):
    """clips: N,1,F,H,W -> animated GIF of a grid of clips."""
    from PIL import Image
    frames = []
    for f in range(clips.shape[2]):
        tmp = path + '.frame.png'
        save_grid_png(tmp, clips[:, :, f], nrow, scale)
        frames.append(Image.open(tmp).convert('L').copy())
        os.remove(tmp)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms, loop=0)


def export_onnx(model, args, path, input_names, output_names, dynamic_batch=True):
    import onnx
    model.eval()
    axes = {n: {0: 'batch'} for n in input_names + output_names} if dynamic_batch else None
    torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=axes, opset_version=17, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return sum(int(np.prod(t.dims)) for t in m.graph.initializer)

# The torch classifier is needed again by the diffusion trainers (judging samples); it is a build
# artefact, not a shipped file.
CLASSIFIER_PT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'out', 'classifier.pt')
os.makedirs(os.path.dirname(CLASSIFIER_PT), exist_ok=True)
