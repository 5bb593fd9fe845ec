"""Times the shipped denoiser architecture in PyTorch eager (Debian torch) for bench/denoiser-step.ts.

Weights are freshly initialised (timing does not depend on their values); shapes and architecture
are read from models/<name>/training.json, so this is the same network ORT runs.
Prints one JSON line: {"threads": T, "ms": [per-run milliseconds...]}.
"""
import argparse
import json
import os
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'train'))
from nets import UNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='digits')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--runs', type=int, default=100)
    ap.add_argument('--warmup', type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t = json.load(open(os.path.join(ROOT, 'models', a.model, 'training.json')))
    video = t['kind'] == 'video'
    net = UNet(chs=tuple(t['channels']), blocks=t['resBlocksPerLevel'], video=video).eval()
    shape = (2, 1, 8, 16, 16) if video else (2, 1, 16, 16)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g)
    ts = torch.tensor([500.0, 500.0])
    y = torch.tensor([3, 10])
    out = []
    with torch.inference_mode():
        for _ in range(a.warmup):
            net(x, ts, y)
        for _ in range(a.runs):
            t0 = time.perf_counter()
            net(x, ts, y)
            out.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({'threads': a.threads, 'ms': out}))


if __name__ == '__main__':
    main()
