"""golden.json (+ golden-noise.bin): what a pipeline reading this fixture must reproduce.

Computed with the torch modules in float64 (the float16 fixture: the same float64 computation on
its float16-rounded weights). Scheduler tables are diffusers' float32 values (sched.py).
Tensors are summarised (shape, first 16 values, 16 values at fixed flat indices, sum, sum of squares);
small ones are stored whole.

  tokenizers[name].prompts[i].input_ids       77 ids, padding="max_length", truncation=True
  text.prompts[i]                             SD: encoder_hidden_states (last_hidden_state), pooler_output
                                              SDXL: prompt_embeds = concat(text_encoder hidden_states[-2],
                                              text_encoder_2 hidden_states[-2]), pooled_prompt_embeds
                                              (text_encoder_2 text_embeds)
  sample                                      prompt 0, negative prompt "" (SD) / None + force_zeros (SDXL),
                                              guidance 7.5, 4 inference steps of the shipped scheduler,
                                              initial latents = golden-noise.bin * init_noise_sigma;
                                              first_unet_call.input = both CFG halves of noise * input_scale
"""
import json

import torch

from . import sched

PROMPTS = [
    "a photo of a cat at the lighthouse at dusk",
    "",
    "a highly detailed oil painting of an old lighthouse on a small island in the sea at dusk, "
    "dramatic clouds, golden light, soft shadows, cinematic lighting, trending on artstation, "
    "a red fox and a white owl near the river in the forest under the stars, beautiful watercolor "
    "sketch of a castle on a mountain with snow and fog in the morning, digital art, high quality, "
    "highly realistic portrait of an astronaut riding a horse on mars at sunrise, tiny robot dog",
]
NEGATIVE = ""
GUIDANCE = 7.5
STEPS = 4
NOISE_SEED = 1234
NOISE_FILE = "golden-noise.bin"


def _g(x):
    return float(f"{float(x):.9g}")


def summary(t, whole_below=512):
    arr = t.detach().to(torch.float64).cpu().numpy().ravel()
    n = arr.size
    out = {"shape": list(t.shape), "sum": _g(arr.sum()), "sumSq": _g((arr ** 2).sum())}
    if n <= whole_below:
        out["values"] = [_g(v) for v in arr]
        return out
    idx = [int((k + 0.5) * n / 16) for k in range(16)]
    out["first"] = [_g(v) for v in arr[:16]]
    out["at"] = {"indices": idx, "values": [_g(arr[i]) for i in idx]}
    return out


class _Encoders:
    """Runs the text encoders the way the diffusers pipelines read their outputs."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.xl = pipe.spec["pipeline"] == "StableDiffusionXLPipeline"

    def ids(self, prompts):
        return {tok: torch.tensor([t(p) for p in prompts], dtype=torch.int64)
                for _, tok, _, _, _, _, t in self.pipe.text_encoders}

    def encode(self, prompts):
        ids = self.ids(prompts)
        if not self.xl:
            (_, tok, _, _, _, model, _), = self.pipe.text_encoders
            last, pooled = model(ids[tok])[:2]
            return {"encoder_hidden_states": last, "pooler_output": pooled}
        hidden, pooled = [], None
        for _, tok, cfg, _, with_projection, model, _ in self.pipe.text_encoders:
            out = model(ids[tok])
            hidden.append(out[-2])  # hidden_states[-2], the penultimate layer (clip_skip None)
            if with_projection:
                pooled = out[0]
        return {"prompt_embeds": torch.cat(hidden, dim=-1), "pooled_prompt_embeds": pooled}


def _unet_call(pipe, latents, t, cond):
    """One UNet call with the inputs the ONNX graph takes (timestep cast to its input dtype)."""
    if pipe.timestep_dtype == "int64":
        timestep = torch.tensor([int(t)], dtype=torch.int64)
    else:
        timestep = torch.tensor(float(t), dtype=torch.float64)
    args = [latents, timestep, cond["encoder_hidden_states"]]
    if "text_embeds" in cond:
        args += [cond["text_embeds"], cond["time_ids"]]
    return pipe.unet(*args)


def _sample(pipe, enc, out):
    cfg = pipe.spec["unet"]
    scale = 2 ** (len(pipe.spec["vae"]["block_out_channels"]) - 1)
    height = width = cfg["sample_size"] * scale
    noise = torch.randn(1, cfg["in_channels"], cfg["sample_size"], cfg["sample_size"],
                        generator=torch.Generator().manual_seed(NOISE_SEED), dtype=torch.float32)
    (out / NOISE_FILE).write_bytes(noise.numpy().astype("<f4").tobytes())
    scheduler = sched.make(pipe.spec["scheduler"], STEPS)
    if enc.xl:
        pos = enc.encode([PROMPTS[0]])
        neg = {k: torch.zeros_like(v) for k, v in pos.items()}  # negative_prompt None + force_zeros_for_empty_prompt
        time_ids = torch.tensor([[height, width, 0, 0, height, width]], dtype=torch.float64)
        cond = {"encoder_hidden_states": torch.cat([neg["prompt_embeds"], pos["prompt_embeds"]]),
                "text_embeds": torch.cat([neg["pooled_prompt_embeds"], pos["pooled_prompt_embeds"]]),
                "time_ids": torch.cat([time_ids, time_ids])}
    else:
        both = enc.encode([NEGATIVE, PROMPTS[0]])
        cond = {"encoder_hidden_states": both["encoder_hidden_states"]}
    latents = noise.to(torch.float64) * torch.as_tensor(scheduler.init_noise_sigma, dtype=torch.float32).item()
    steps, first = [], None
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
        noise_pred = _unet_call(pipe, model_input, t, cond)
        if first is None:
            one = scheduler.scale_model_input(torch.ones(1, dtype=torch.float64), t)
            first = {"timestep": t.item(),
                     "input_scale": _g(float(one) * torch.as_tensor(scheduler.init_noise_sigma, dtype=torch.float32).item()),
                     "input": summary(model_input), "out_sample": summary(noise_pred)}
        uncond, text = noise_pred.chunk(2)
        noise_pred = uncond + GUIDANCE * (text - uncond)
        latents = scheduler.step(noise_pred, t, latents)
        steps.append({"timestep": t.item(), "latents": {"sum": _g(latents.sum()), "sumSq": _g((latents ** 2).sum())}})
    image = pipe.vae.decode(latents / pipe.spec["vae"]["scaling_factor"])
    return {
        "prompt": PROMPTS[0], "negative_prompt": None if enc.xl else NEGATIVE,
        "negative_embeds": "zeros (force_zeros_for_empty_prompt)" if enc.xl else "encoded",
        "guidance_scale": GUIDANCE, "num_inference_steps": STEPS, "height": height, "width": width,
        "scheduler": pipe.spec["scheduler"]["_class_name"],
        "timesteps": [t.item() for t in scheduler.timesteps],
        "init_noise_sigma": _g(torch.as_tensor(scheduler.init_noise_sigma, dtype=torch.float32).item()),
        "noise": {"file": NOISE_FILE, "dtype": "float32", "byteOrder": "little", "shape": list(noise.shape),
                  "seed": NOISE_SEED},
        "add_time_ids": [height, width, 0, 0, height, width] if enc.xl else None,
        "first_unet_call": first, "steps": steps,
        "final_latents": summary(latents, whole_below=1024),
        "image": summary(image),
    }


def write(pipe, out):
    torch.set_num_threads(1)  # a fixed reduction order, so golden.json is reproducible byte for byte
    modules = [pipe.unet, pipe.vae] + [t[5] for t in pipe.text_encoders]
    for m in modules:
        m.double()
    try:
        with torch.no_grad():
            enc = _Encoders(pipe)
            ids = enc.ids(PROMPTS)
            encoded = enc.encode(PROMPTS)
            doc = {
                "about": __doc__.strip().splitlines()[0],
                "kind": pipe.kind, "pipeline": pipe.spec["pipeline"],
                "onnx_dtype": "float16" if pipe.half else "float32",
                "reference_dtype": "float64",
                "timestep_input": pipe.timestep_dtype,
                "prompts": PROMPTS,
                "tokenizers": {tok: {"pad_token": pad, "input_ids": ids[tok].tolist()}
                               for _, tok, _, pad, _, _, _ in pipe.text_encoders},
                "text": [{name: summary(value[i]) for name, value in encoded.items()} for i in range(len(PROMPTS))],
                "sample": _sample(pipe, enc, out),
            }
    finally:
        for m in modules:
            m.float()
        torch.set_num_threads(2)
    (out / "golden.json").write_text(json.dumps(doc, indent=1) + "\n")
