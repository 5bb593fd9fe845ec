"""Reference for @asyncdiff/tensor gaussianNoise: Philox4x32-10 + Box-Muller, written out in
plain Python integers and floats (independent of the TypeScript code).

Regenerate the fixture (from the repo root):
    /usr/bin/python3 tools/ref/noise_ref.py
which writes libs/tensor/src/test-fixtures/noise.json.
"""
import math

import numpy as np

from fixture_io import write_fixture

MASK = 0xFFFFFFFF
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(ctr, key):
    x0, x1, x2, x3 = ctr
    k0, k1 = key
    for r in range(10):
        if r > 0:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0 = M0 * x0
        p1 = M1 * x2
        x0, x1, x2, x3 = ((p1 >> 32) ^ x1 ^ k0) & MASK, p1 & MASK, ((p0 >> 32) ^ x3 ^ k1) & MASK, p0 & MASK
    return [x0, x1, x2, x3]


def gaussian_noise(seed, count, stream=0):
    out = []
    b = 0
    while len(out) < count:
        w = philox4x32_10([b & MASK, b >> 32, stream & MASK, stream >> 32], [seed & MASK, seed >> 32])
        for p in range(2):
            u0 = (w[2 * p] + 0.5) / 2**32
            u1 = (w[2 * p + 1] + 0.5) / 2**32
            r = math.sqrt(-2 * math.log(u0))
            th = 2 * math.pi * u1
            out += [r * math.cos(th), r * math.sin(th)]
        b += 1
    return np.array(out[:count], dtype=np.float64).astype(np.float32)


# Known-answer vectors published with Random123 (kat_vectors: philox4x32 10).
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([MASK] * 4, [MASK] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


def main():
    for ctr, key, want in KAT:
        got = philox4x32_10(ctr, key)
        assert got == want, (ctr, key, [hex(g) for g in got])
    cases = [(0, 0), (1, 0), (42, 0), (42, 1), (42, 2), (2**53 - 1, 7), (123456789012345, 2**40 + 3)]
    golden = []
    for seed, stream in cases:
        z = gaussian_noise(seed, 18, stream)
        golden.append({'seed': str(seed), 'stream': stream, 'values': [float(v) for v in z],
                       'words': philox4x32_10([0, 0, stream & MASK, stream >> 32], [seed & MASK, seed >> 32])})
    write_fixture('libs/tensor/src/test-fixtures/noise.json', {
        'generator': 'tools/ref/noise_ref.py',
        'kat': [{'counter': c, 'key': k, 'output': o} for c, k, o in KAT],
        'cases': golden})


if __name__ == '__main__':
    main()
