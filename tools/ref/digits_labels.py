"""Labels of the evaluation classifier's real reference digits, for libs/eval's accuracy test.

models/digits-eval/real-images.u8 holds every scikit-learn digit in load_digits() order
(tools/train/train_classifier.py), so its labels are load_digits().target. This script writes them
to libs/eval/src/test-fixtures/real-images-labels.json and, when the shipped file is present,
checks that re-deriving the images reproduces it (so the order assumption holds).

    /usr/bin/python3 tools/ref/digits_labels.py
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

from fixture_io import ROOT, write_fixture


def main():
    d = load_digits()
    shipped = os.path.join(ROOT, 'models', 'digits-eval', 'real-images.u8')
    if os.path.exists(shipped):
        sys.path.insert(0, os.path.join(ROOT, 'tools', 'train'))
        import data  # noqa: E402  (tools/train/data.py: the exact preprocessing)
        from common import to_uint8  # noqa: E402
        x32, y = data.load_digits32()
        derived = to_uint8(data.to16(x32)).reshape(-1)
        real = np.fromfile(shipped, dtype=np.uint8)
        assert real.shape == derived.shape and np.array_equal(real, derived), 'real-images.u8 is not load_digits() order'
        assert np.array_equal(y.numpy(), d.target)
        print('real-images.u8 matches load_digits() order')
    write_fixture('libs/eval/src/test-fixtures/real-images-labels.json', {
        'generator': 'tools/ref/digits_labels.py',
        'source': 'sklearn.datasets.load_digits().target',
        'labels': [int(v) for v in d.target],
    })


if __name__ == '__main__':
    main()
