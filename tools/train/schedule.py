"""Training noise schedule and a reference DDIM sampler (evaluation during training only;
the product samples in TypeScript)."""
import torch

TRAIN_STEPS = 1000
BETA_START = 1e-4
BETA_END = 0.02


def alphas_cumprod():
    betas = torch.linspace(BETA_START, BETA_END, TRAIN_STEPS, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


@torch.no_grad()
def ddim_sample(model, labels, shape, steps=50, guidance=1.0, null_class=10, seed=0, clip=True):
    ac = alphas_cumprod()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((labels.shape[0],) + tuple(shape), generator=g)
    ts = list(range(0, TRAIN_STEPS, TRAIN_STEPS // steps))[::-1]
    null = torch.full_like(labels, null_class)
    for i, t in enumerate(ts):
        tt = torch.full((labels.shape[0] * 2,), float(t))
        eps2 = model(torch.cat([x, x]), tt, torch.cat([labels, null]))
        ec, eu = eps2.chunk(2)
        eps = eu + guidance * (ec - eu)
        a_t = ac[t].float()
        a_prev = ac[ts[i + 1]].float() if i + 1 < len(ts) else torch.tensor(1.0)
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x
