"""Writes models/<name>/MODEL_CARD.md from the training record (training.json).

The evaluation section between the `eval:begin`/`eval:end` markers is owned by
`asyncdiff eval --card` (the shipped TypeScript pipeline) and is kept as is.
"""
import json
import os
import re

from common import MODELS

DATA = ('scikit-learn\'s bundled digits: the 1,797-image test portion of the UCI "Optical Recognition of '
        'Handwritten Digits" data (Alpaydin & Kaynak, 1998), 8x8 grey levels 0-16 of digits 0-9. The data set is '
        'licensed CC BY 4.0 by UCI; scikit-learn is BSD-3-Clause.')
REPRO = 'make -C tools/train all   # or: npm run train:models (Debian python3-torch, python3-sklearn, python3-onnx)'


def keep_eval(path):
    if not os.path.exists(path):
        return None
    text = open(path).read()
    m = re.search(r'<!-- eval:begin.*?<!-- eval:end -->', text, re.S)
    return m.group(0) if m else None


def human(s):
    return f'{s / 60:.0f} min' if s >= 120 else f'{s:.0f} s'


def generator_card(name, t, m):
    kind = t['kind']
    hist = t['history']
    g = list(hist[-1]['agreement'].keys())
    judge_rows = '\n'.join(
        f"| {h['iteration']} | {human(h['wallSeconds'])} | " + ' | '.join(f"{100 * h['agreement'][k]:.1f}%" for k in g) + ' |'
        for h in hist)
    shape = ('8 frames of 16x16, 1 channel' if kind == 'video' else '16x16, 1 channel')
    arch_extra = ('Each residual block adds a temporal convolution (kernel 3 across frames); the lowest resolution '
                  'has spatial self-attention per frame and temporal self-attention across frames. Convolutions are '
                  '(1,3,3) spatial Conv3d, downsampling is spatial only.' if kind == 'video' else
                  'Self-attention (single head, written with einsum so the ONNX graph has no reshapes on hidden '
                  'states) at the lowest resolution, in the down path, the middle block and the up path.')
    data_extra = ('Clips are synthesised: a digit shrunk to 56-70% of the frame moves in a straight line between two '
                  'random points at least 3 px apart (random direction and speed), with a small random rotation.'
                  if kind == 'video' else
                  'Augmentation: random rotation (+-8 deg), scale (0.92-1.08) and shift (+-1 px), sampled from a 32x32 '
                  'bilinear upscale and area-downsampled to 16x16.')
    per_judge = t['judgedPerClass']
    return f"""# {name}

{m['description']}. Shipped as `model.onnx` (ONNX opset 17, dynamic batch) with `model.json`.

- **Kind:** {kind}; sample shape {shape}; values in [-1, 1].
- **Conditioning:** classes 0-9 (prompts `7`, `seven`, `digit 7`, ...) plus the null class 10 used for
  classifier-free guidance (labels dropped to the null class 15% of the time during training).
- **Prediction:** epsilon, on the linear beta schedule 1e-4 -> 0.02 over 1,000 training steps.
- **Defaults:** {m['defaults']['steps']} DDIM steps, eta 0, clip_sample with the noise re-derived from the
  clipped x0, guidance {m['defaults']['guidance']} (chosen from the table below).

## Data

{DATA} {data_extra}

## Architecture

A UNet with the structural features of Stable Diffusion's: residual blocks (GroupNorm, SiLU,
3x3 convolutions) that add a projection of the timestep embedding (sinusoidal -> MLP) plus a learned
class embedding; a down path {' -> '.join(str(c) for c in t['channels'])} channels at 16/8/4 px with
{t['resBlocksPerLevel']} residual block(s) per level, strided-convolution downsampling, a middle block,
an up path with skip connections (concatenation) and nearest-neighbour upsampling. {arch_extra}

- **Parameters:** {t['parameters']:,} ({t['exportedParameters']:,} stored in the ONNX file).

## Training

- **Iterations:** {t['iterations']:,} at batch {t['batch']} (AdamW, lr {t['lr']}, 500-step warm-up then cosine to 10%,
  gradient clipping 1.0, min-SNR-5 loss weighting, EMA 0.9995 — the EMA weights are exported).
- **Wall time:** {human(t['wallSeconds'])} on {t['threads']} CPU threads (Debian torch 1.13, a shared 2-core VM).
- **Final loss** (unweighted epsilon MSE, mean of the last 500 iterations): {t['finalLoss']}.
- **Seed:** {t['seed']}. Reproduce: `{REPRO}`.

### Agreement while training (Python reference sampler)

The eval classifier's agreement with the requested digit ({per_judge} samples per class, 50 DDIM steps,
seed 1234) at each guidance scale, measured on the EMA weights during training:

| iteration | wall time | {' | '.join('guidance ' + k for k in g)} |
|---:|---:|{'---:|' * len(g)}
{judge_rows}

## Samples

{'![samples](samples.gif) (first frames: ![first frames](samples-first-frames.png))' if kind == 'video' else '![samples](samples.png)'}

(8 samples per class, columns are classes 0-9, seeds 0-79, guidance {m['defaults']['guidance']}, 50 DDIM steps, drawn by the
shipped TypeScript pipeline: `asyncdiff eval --model {name} --grid ...`; the training script's own grid is overwritten.)
"""


def classifier_card(t, m):
    h = t['heldOut']
    return f"""# digits-eval

The evaluation classifier that judges generated digits: prompt adherence (agreement with the
requested class, our analogue of CLIP score) and a 128-d penultimate feature vector for the Frechet
distance (our analogue of FID). It is trained only on real digits, never on generated ones.

- **Input:** `image` [B, 1, 16, 16] in [-1, 1]. **Outputs:** `logits` [B, 10], `features` [B, 128].
- **Architecture:** 4 conv layers (32-32-64-64 channels, BatchNorm, ReLU, 2 max-pools) -> FC 128 (features) -> dropout -> FC 10.
  {t['parameters']:,} parameters.
- **Data:** {DATA} Stratified split: {t['trainCount']} training / {h['count']} held-out images.
  Training mixes full-frame digits (rotation +-12 deg, scale 0.85-1.12, shift +-1.5 px) and shrunken
  digits placed anywhere in the frame (the style of the video model's frames).
- **Training:** {t['iterations']} iterations, batch 128, AdamW + one-cycle lr 2e-3, {human(t['wallSeconds'])}; final loss {t['finalLoss']}; seed {t['seed']}.

## Held-out accuracy

| held-out set ({h['count']} images never seen in training) | accuracy |
|---|---:|
| full-frame digits as in the data set | {100 * h['accuracyFullFrame']:.2f}% |
| the same, augmented | {100 * h['accuracyAugmented']:.2f}% |
| the same, as video-style frames (shrunken, displaced) | {100 * h['accuracyVideoFrames']:.2f}% |

## Reference sets (for Frechet distance)

- `real-images.u8`: all 1,797 digits at 16x16 (uint8), the image model's reference.
- `real-video-frames.u8`: 2,000 frames drawn from synthetic clips (uint8), the video model's reference.

Reproduce: `{REPRO}`.
"""


def main():
    for name in ('digits-eval', 'digits', 'moving-digits'):
        d = os.path.join(MODELS, name)
        tj = os.path.join(d, 'training.json')
        if not os.path.exists(tj):
            continue
        t = json.load(open(tj))
        m = json.load(open(os.path.join(d, 'model.json')))
        text = classifier_card(t, m) if name == 'digits-eval' else generator_card(name, t, m)
        card = os.path.join(d, 'MODEL_CARD.md')
        ev = keep_eval(card)
        if ev:
            text += '\n## Evaluation\n\n' + ev + '\n'
        with open(card, 'w') as f:
            f.write(text)
        print('wrote', card)


if __name__ == '__main__':
    main()
