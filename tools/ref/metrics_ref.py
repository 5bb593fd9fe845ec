"""Reference for @asyncdiff/eval metrics: Frechet distance (the pytorch-fid formula with
scipy.linalg.sqrtm), PSNR and SSIM (Gaussian window, valid positions, weighted statistics),
written with numpy/scipy.

Inputs come from the same seeded generator as the TypeScript side (noise_ref.gaussian_noise is
bit-identical to @asyncdiff/tensor gaussianNoise), transformed with float64 arithmetic that both
sides reproduce exactly, then rounded to float32; `make_inputs` documents the formulas.

Regenerate (from the repo root):
    /usr/bin/python3 tools/ref/metrics_ref.py
which writes libs/eval/src/test-fixtures/metrics.json.
"""
import numpy as np
from scipy import linalg

from fixture_io import write_fixture
from noise_ref import gaussian_noise


def features(seed, n, dim, kind):
    z = gaussian_noise(seed, n * dim).astype(np.float64).reshape(n, dim)
    if kind == 'a':  # correlated neighbours
        x = z + 0.5 * np.roll(z, -1, axis=1)
    else:  # different scale, mean and correlation
        x = 1.25 * z + 0.1 * (np.arange(dim) % 7) - 0.2 * np.roll(z, -3, axis=1)
    return x.astype(np.float32)


def frechet(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def images(seed, count, kind):
    z = gaussian_noise(seed, count * 256).astype(np.float64).reshape(count, 16, 16)
    if kind == 'noise':
        x = np.clip(z / 2.5, -1.0, 1.0)
    else:  # smooth ramp plus a little noise
        yy, xx = np.mgrid[0:16, 0:16]
        x = np.clip((xx + yy) / 15.0 - 1.0 + 0.125 * z, -1.0, 1.0)
    return x.astype(np.float32)


def perturb(a, seed, amount):
    z = gaussian_noise(seed, a.size).astype(np.float64).reshape(a.shape)
    return np.clip(a.astype(np.float64) + amount * z, -1.0, 1.0).astype(np.float32)


def psnr(a, b, data_range):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(data_range ** 2 / mse))


def ssim(a, b, data_range, size=7, sigma=1.5):
    a, b = a.astype(np.float64), b.astype(np.float64)
    g = np.exp(-((np.arange(size) - (size - 1) / 2) ** 2) / (2 * sigma ** 2))
    w = np.outer(g, g) / g.sum() ** 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    vals = []
    for y in range(a.shape[0] - size + 1):
        for x in range(a.shape[1] - size + 1):
            pa, pb = a[y:y + size, x:x + size], b[y:y + size, x:x + size]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def main():
    frechet_cases = []
    for dim, na, nb in [(8, 40, 30), (128, 600, 400)]:
        a, b = features(101, na, dim, 'a'), features(202, nb, dim, 'b')
        frechet_cases.append({'dim': dim, 'nA': na, 'nB': nb, 'seedA': 101, 'seedB': 202,
                              'ab': frechet(a, b), 'aa': frechet(a, a),
                              'halves': frechet(a[: na // 2], a[na // 2:])})
    image_cases = []
    for kind, seed in [('noise', 21), ('smooth', 31)]:
        a = images(seed, 3, kind)
        b = perturb(a, seed + 1, 0.25)
        windows = [(7, 1.5), (11, 1.5), (3, 0.8), (15, 3.0)]
        image_cases.append({
            'kind': kind, 'seed': seed, 'count': 3, 'perturbSeed': seed + 1, 'amount': 0.25,
            'psnr': [psnr(a[i], b[i], 2.0) for i in range(3)],
            'ssim': [{'size': s, 'sigma': sg, 'values': [ssim(a[i], b[i], 2.0, s, sg) for i in range(3)]}
                     for s, sg in windows],
            'ssimSelf': ssim(a[0], a[0], 2.0),
        })
    write_fixture('libs/eval/src/test-fixtures/metrics.json', {
        'generator': 'tools/ref/metrics_ref.py', 'frechet': frechet_cases, 'images': image_cases})


if __name__ == '__main__':
    main()
