"""Network definitions for the shipped models.

The image UNet keeps the structural features of Stable Diffusion's UNet (residual blocks with
timestep + class embedding, self-attention at the lowest resolution, down/up paths with skip
connections) so that cutting it into AsyncDiff components is a real test: skips cross cuts,
conditioning is replicated, attention sits in the middle.

Attention is written with einsum and multi-axis reductions instead of reshapes so the exported
ONNX graph carries no Shape/Reshape chains on hidden states (those would otherwise become int64
boundary tensors when the graph is cut).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(8, ch)


class ResBlock(nn.Module):
    """Residual block; `video` adds a temporal convolution across frames after the spatial one."""

    def __init__(self, cin: int, cout: int, emb: int, video: bool):
        super().__init__()
        self.video = video
        conv = (lambda a, b: nn.Conv3d(a, b, (1, 3, 3), padding=(0, 1, 1))) if video else (
            lambda a, b: nn.Conv2d(a, b, 3, padding=1))
        self.n1 = norm(cin)
        self.c1 = conv(cin, cout)
        self.emb = nn.Linear(emb, cout)
        self.n2 = norm(cout)
        self.c2 = conv(cout, cout)
        if video:
            self.nt = norm(cout)
            self.ct = nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0))
        self.skip = (nn.Conv3d(cin, cout, 1) if video else nn.Conv2d(cin, cout, 1)) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.c1(F.silu(self.n1(x)))
        ee = self.emb(F.silu(e))
        h = h + (ee[:, :, None, None, None] if self.video else ee[:, :, None, None])
        h = self.c2(F.silu(self.n2(h)))
        h = h + self.skip(x)
        if self.video:
            h = h + self.ct(F.silu(self.nt(h)))
        return h


class SpatialAttention(nn.Module):
    """Single-head self-attention over spatial positions (per frame for video)."""

    def __init__(self, ch: int, video: bool):
        super().__init__()
        self.video = video
        self.n = norm(ch)
        conv1 = nn.Conv3d if video else nn.Conv2d
        self.q = conv1(ch, ch, 1)
        self.k = conv1(ch, ch, 1)
        self.v = conv1(ch, ch, 1)
        self.o = conv1(ch, ch, 1)
        self.scale = ch ** -0.5

    def forward(self, x):
        h = self.n(x)
        q, k, v = self.q(h) * self.scale, self.k(h), self.v(h)
        if self.video:
            s = torch.einsum('bcfhw,bcfij->bfhwij', q, k)
            a = softmax2(s)
            out = torch.einsum('bfhwij,bcfij->bcfhw', a, v)
        else:
            s = torch.einsum('bchw,bcij->bhwij', q, k)
            a = softmax2(s)
            out = torch.einsum('bhwij,bcij->bchw', a, v)
        return x + self.o(out)


class TemporalAttention(nn.Module):
    """Self-attention across frames at each spatial position (video only)."""

    def __init__(self, ch: int):
        super().__init__()
        self.n = norm(ch)
        self.q = nn.Conv3d(ch, ch, 1)
        self.k = nn.Conv3d(ch, ch, 1)
        self.v = nn.Conv3d(ch, ch, 1)
        self.o = nn.Conv3d(ch, ch, 1)
        self.scale = ch ** -0.5

    def forward(self, x):
        h = self.n(x)
        q, k, v = self.q(h) * self.scale, self.k(h), self.v(h)
        s = torch.einsum('bcfhw,bcghw->bhwfg', q, k)
        s = s - s.amax(dim=-1, keepdim=True)
        a = torch.exp(s)
        a = a / a.sum(dim=-1, keepdim=True)
        out = torch.einsum('bhwfg,bcghw->bcfhw', a, v)
        return x + self.o(out)


def softmax2(s):
    """Softmax over the last two axes without a reshape."""
    s = s - s.amax(dim=(-2, -1), keepdim=True)
    a = torch.exp(s)
    return a / a.sum(dim=(-2, -1), keepdim=True)


class UNet(nn.Module):
    """Class-conditional epsilon-prediction UNet (image: NCHW, video: NCFHW).

    Inputs: sample, timestep (float, one per batch item), class_labels (int64; `num_classes` is
    the null class used for classifier-free guidance).
    """

    def __init__(self, chs=(32, 64, 96), blocks=2, emb=128, num_classes=10, video=False):
        super().__init__()
        self.video = video
        self.chs = chs
        self.emb_dim = emb
        self.t_mlp = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_emb = nn.Embedding(num_classes + 1, emb)
        conv3 = (lambda a, b: nn.Conv3d(a, b, (1, 3, 3), padding=(0, 1, 1))) if video else (
            lambda a, b: nn.Conv2d(a, b, 3, padding=1))
        self.conv_in = conv3(1, chs[0])
        self.down = nn.ModuleList()
        skip_chs = [chs[0]]
        ch = chs[0]
        for lvl, c in enumerate(chs):
            for _ in range(blocks):
                mods = nn.ModuleList([ResBlock(ch, c, emb, video)])
                if lvl == len(chs) - 1:
                    mods.append(SpatialAttention(c, video))
                    if video:
                        mods.append(TemporalAttention(c))
                self.down.append(mods)
                ch = c
                skip_chs.append(ch)
            if lvl != len(chs) - 1:
                ds = nn.Conv3d(ch, ch, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)) if video else nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                self.down.append(nn.ModuleList([ds]))
                skip_chs.append(ch)
        self.mid = nn.ModuleList([ResBlock(ch, ch, emb, video), SpatialAttention(ch, video)]
                                 + ([TemporalAttention(ch)] if video else [])
                                 + [ResBlock(ch, ch, emb, video)])
        self.up = nn.ModuleList()
        for lvl in reversed(range(len(chs))):
            c = chs[lvl]
            for i in range(blocks + 1):
                mods = nn.ModuleList([ResBlock(ch + skip_chs.pop(), c, emb, video)])
                if lvl == len(chs) - 1:
                    mods.append(SpatialAttention(c, video))
                    if video:
                        mods.append(TemporalAttention(c))
                ch = c
                if lvl != 0 and i == blocks:
                    mods.append(Upsample(ch, video))
                self.up.append(mods)
        self.out_norm = norm(ch)
        self.conv_out = conv3(ch, 1)

    def forward(self, sample, timestep, class_labels):
        e = self.t_mlp(timestep_embedding(timestep, self.emb_dim)) + self.class_emb(class_labels)
        h = self.conv_in(sample)
        hs = [h]
        for mods in self.down:
            for m in mods:
                h = m(h, e) if isinstance(m, ResBlock) else m(h)
            hs.append(h)
        for m in self.mid:
            h = m(h, e) if isinstance(m, ResBlock) else m(h)
        for mods in self.up:
            h = torch.cat([h, hs.pop()], dim=1)
            for m in mods:
                h = m(h, e) if isinstance(m, ResBlock) else m(h)
        return self.conv_out(F.silu(self.out_norm(h)))


class Upsample(nn.Module):
    def __init__(self, ch: int, video: bool):
        super().__init__()
        self.video = video
        self.conv = nn.Conv3d(ch, ch, (1, 3, 3), padding=(0, 1, 1)) if video else nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        scale = (1.0, 2.0, 2.0) if self.video else (2.0, 2.0)
        return self.conv(F.interpolate(x, scale_factor=scale, mode='nearest'))


class Classifier(nn.Module):
    """Digit classifier for evaluation; `features` is the penultimate vector used for Fréchet distance."""

    def __init__(self, feat=128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 16, feat), nn.ReLU())
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(feat, 10)

    def forward(self, image):
        f = self.body(image)
        return self.head(self.drop(f)), f
