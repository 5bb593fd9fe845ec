"""Train digits-eval: the classifier that judges generated digits (agreement and Frechet features).

It must judge both shipped models, so it learns full-frame digits (the image model) and shrunken,
displaced digits (frames of the video model), and its held-out accuracy is reported for both.
"""
import argparse
import time

import torch
import torch.nn.functional as F

import data
from common import CLASSIFIER_PT, export_onnx, model_dir, seed_everything, write_json, to_uint8
from nets import Classifier


class Exported(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image):
        return self.m(image)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=3000)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    seed_everything(a.seed)
    t0 = time.time()
    x32, y = data.load_digits32()
    tr, te = data.stratified_split(y, 0.2, a.seed)
    g = torch.Generator().manual_seed(a.seed)
    m = Classifier()
    opt = torch.optim.AdamW(m.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=a.iters)
    for it in range(a.iters):
        idx = tr[torch.randint(0, len(tr), (128,), generator=g)]
        half = 64
        xb = torch.cat([data.augment_images(x32[idx[:half]], g, rot_deg=12, scale=(0.85, 1.12), shift_px=1.5),
                        data.video_frames(x32[idx[half:]], g)])
        loss = F.cross_entropy(m(xb)[0], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 500 == 0:
            print(f'classifier it {it} loss {loss.item():.4f}', flush=True)
    m.eval()
    ge = torch.Generator().manual_seed(a.seed + 100)
    with torch.no_grad():
        acc_plain = (m(data.to16(x32[te]))[0].argmax(1) == y[te]).float().mean().item()
        acc_aug = (m(data.augment_images(x32[te], ge))[0].argmax(1) == y[te]).float().mean().item()
        acc_video = (m(data.video_frames(x32[te], ge))[0].argmax(1) == y[te]).float().mean().item()
    d = model_dir('digits-eval')
    torch.save(m.state_dict(), CLASSIFIER_PT)
    params = export_onnx(Exported(m), (data.to16(x32[:2]),), f'{d}/model.onnx', ['image'], ['logits', 'features'])
    # Real reference sets for Frechet distance: every source digit, full frame, and 2,000 frames
    # drawn from synthetic clips (the video model's data distribution).
    real_images = to_uint8(data.to16(x32))
    gr = torch.Generator().manual_seed(a.seed + 200)
    idx = torch.randint(0, x32.shape[0], (2000,), generator=gr)
    clips = data.video_clips(x32[idx], gr)
    pick = torch.randint(0, data.FRAMES, (2000,), generator=gr)
    real_frames = to_uint8(clips[torch.arange(2000), :, pick])
    real_images.tofile(f'{d}/real-images.u8')
    real_frames.tofile(f'{d}/real-video-frames.u8')
    write_json(f'{d}/model.json', {
        'name': 'digits-eval', 'kind': 'classifier', 'version': 1,
        'input': {'name': 'image', 'channels': 1, 'height': data.SIZE, 'width': data.SIZE, 'valueRange': [-1, 1]},
        'outputs': {'logits': 'logits', 'features': 'features'},
        'featureSize': 128,
        'classes': [str(c) for c in range(10)],
        'files': {'model': 'model.onnx'},
        'reference': {
            'images': {'file': 'real-images.u8', 'count': int(real_images.shape[0]), 'dtype': 'uint8', 'shape': [1, 16, 16]},
            'videoFrames': {'file': 'real-video-frames.u8', 'count': 2000, 'dtype': 'uint8', 'shape': [1, 16, 16]},
        },
    })
    write_json(f'{d}/training.json', {
        'iterations': a.iters, 'seed': a.seed, 'wallSeconds': round(time.time() - t0, 1),
        'finalLoss': round(loss.item(), 5), 'parameters': params,
        'heldOut': {'count': int(len(te)), 'accuracyFullFrame': acc_plain, 'accuracyAugmented': acc_aug,
                    'accuracyVideoFrames': acc_video},
        'trainCount': int(len(tr)),
    })
    print(f'classifier held-out accuracy: plain {acc_plain:.4f} augmented {acc_aug:.4f} video-frames {acc_video:.4f}')


if __name__ == '__main__':
    main()
