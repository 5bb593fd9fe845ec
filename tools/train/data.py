"""Training data for the shipped models, all derived from scikit-learn's bundled 8x8 digits.

Digits are upscaled once to 32x32 (bilinear) and every augmentation samples from that
high-resolution copy before an area downsample to 16x16, so shifts and rotations stay smooth.
Pixel values are in [-1, 1] (0 = background ink-free, as in the source data scaled to [0, 1]).
"""
import math

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

SIZE = 16
FRAMES = 8
VIDEO_SCALE = (0.56, 0.7)  # digit side as a fraction of the 16x16 frame in video clips


def load_digits32():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    return F.interpolate(x, size=32, mode='bilinear', align_corners=False).clamp(0, 1), y


def stratified_split(y, test_fraction, seed):
    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(10):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def to16(x32):
    return F.avg_pool2d(x32, 2) * 2 - 1


def _warp(x32, theta, size=SIZE):
    grid = F.affine_grid(theta, (x32.shape[0], 1, size * 2, size * 2), align_corners=False)
    out = F.grid_sample(x32, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    return F.avg_pool2d(out, 2) * 2 - 1


def _theta(rot, scale, tx, ty):
    """Affine from output to input coordinates (what affine_grid expects)."""
    c, s = torch.cos(rot), torch.sin(rot)
    th = torch.zeros(rot.shape[0], 2, 3)
    th[:, 0, 0] = c / scale
    th[:, 0, 1] = -s / scale
    th[:, 1, 0] = s / scale
    th[:, 1, 1] = c / scale
    th[:, 0, 2] = -(c * tx - s * ty) / scale
    th[:, 1, 2] = -(s * tx + c * ty) / scale
    return th


def augment_images(x32, g, rot_deg=8.0, scale=(0.92, 1.08), shift_px=1.0):
    n = x32.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)
    rot = u(-rot_deg, rot_deg) * math.pi / 180
    sc = u(*scale)
    sh = shift_px * 2 / SIZE
    return _warp(x32, _theta(rot, sc, u(-sh, sh), u(-sh, sh)))


def video_clips(x32, g, frames=FRAMES, min_travel_px=3.0):
    """Clips of a shrunken digit moving in a straight line across the frame.

    Start and end points are drawn inside the area where the digit stays whole; their distance is
    at least `min_travel_px`, so direction and speed are random but the motion is visible.
    """
    n = x32.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)
    sc = u(*VIDEO_SCALE)
    rot = u(-6, 6) * math.pi / 180
    lim = 1 - sc  # normalized half-range for the digit centre
    p0 = torch.stack([u(-1, 1), u(-1, 1)], 1) * lim[:, None]
    p1 = torch.stack([u(-1, 1), u(-1, 1)], 1) * lim[:, None]
    min_travel = min_travel_px * 2 / SIZE
    for _ in range(50):
        short = (p1 - p0).norm(dim=1) < min_travel
        if not short.any():
            break
        m = int(short.sum())
        p1[short] = (torch.rand(m, 2, generator=g) * 2 - 1) * lim[short, None]
    out = []
    for f in range(frames):
        a = f / (frames - 1)
        p = p0 * (1 - a) + p1 * a
        out.append(_warp(x32, _theta(rot, sc, p[:, 0], p[:, 1])))
    return torch.stack(out, 2)  # N,1,F,16,16


def video_frames(x32, g):
    """Single frames in the style of video clips (for the classifier)."""
    n = x32.shape[0]
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)
    sc = u(VIDEO_SCALE[0] - 0.04, VIDEO_SCALE[1] + 0.04)
    lim = 1 - sc
    return _warp(x32, _theta(u(-8, 8) * math.pi / 180, sc, u(-1, 1) * lim, u(-1, 1) * lim))
