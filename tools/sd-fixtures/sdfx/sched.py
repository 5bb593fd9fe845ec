"""The three schedulers the fixtures ship, as diffusers 0.31 computes them (torch float32 tensors,
numpy where diffusers uses numpy), only for the configurations in kinds.py. Used by golden.py to
write a reference sampling run; the TypeScript schedulers have their own references in tools/ref.

- PNDMScheduler, skip_prk_steps=True (PLMS only): set_timesteps duplicates the second-to-last
  leading timestep, so 4 inference steps give 5 UNet calls: [751, 501, 501, 251, 1].
- DDIMScheduler, eta 0, "leading" + steps_offset 1: [751, 501, 251, 1]; epsilon or v_prediction.
- EulerDiscreteScheduler, "leading" + steps_offset 1, linear sigma interpolation, final sigma 0.
"""
import numpy as np
import torch


def alphas_cumprod(cfg):
    if cfg["beta_schedule"] != "scaled_linear":
        raise ValueError("only scaled_linear is used by the fixtures")
    betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, cfg["num_train_timesteps"],
                           dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def _leading(cfg, steps):
    ratio = cfg["num_train_timesteps"] // steps
    return (np.arange(0, steps) * ratio).round() + cfg["steps_offset"]


class Pndm:
    def __init__(self, cfg, steps):
        assert cfg["skip_prk_steps"] and cfg["timestep_spacing"] == "leading"
        self.cfg, self.steps = cfg, steps
        self.ac = alphas_cumprod(cfg)
        self.final_ac = torch.tensor(1.0) if cfg["set_alpha_to_one"] else self.ac[0]
        t = _leading(cfg, steps)
        self.timesteps = torch.from_numpy(np.concatenate([t[:-1], t[-2:-1], t[-1:]])[::-1].astype(np.int64).copy())
        self.init_noise_sigma = 1.0
        self.ets, self.counter, self.cur_sample = [], 0, None

    def scale_model_input(self, sample, t):
        return sample

    def _prev_sample(self, sample, t, prev_t, model_output):
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else self.final_ac
        b_t, b_prev = 1 - a_t, 1 - a_prev
        if self.cfg["prediction_type"] == "v_prediction":
            model_output = (a_t ** 0.5) * model_output + (b_t ** 0.5) * sample
        sample_coeff = (a_prev / a_t) ** 0.5
        denom = a_t * b_prev ** 0.5 + (a_t * b_t * a_prev) ** 0.5
        return sample_coeff * sample - (a_prev - a_t) * model_output / denom

    def step(self, model_output, t, sample):
        t = int(t)
        prev_t = t - self.cfg["num_train_timesteps"] // self.steps
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(model_output)
        else:
            prev_t = t
            t = t + self.cfg["num_train_timesteps"] // self.steps
        if len(self.ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(self.ets) == 1 and self.counter == 1:
            model_output = (model_output + self.ets[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(self.ets) == 2:
            model_output = (3 * self.ets[-1] - self.ets[-2]) / 2
        elif len(self.ets) == 3:
            model_output = (23 * self.ets[-1] - 16 * self.ets[-2] + 5 * self.ets[-3]) / 12
        else:
            model_output = (1 / 24) * (55 * self.ets[-1] - 59 * self.ets[-2] + 37 * self.ets[-3] - 9 * self.ets[-4])
        self.counter += 1
        return self._prev_sample(sample, t, prev_t, model_output)


class Ddim:
    def __init__(self, cfg, steps):
        assert cfg["timestep_spacing"] == "leading" and not cfg["clip_sample"] and not cfg["thresholding"]
        self.cfg, self.steps = cfg, steps
        self.ac = alphas_cumprod(cfg)
        self.final_ac = torch.tensor(1.0) if cfg["set_alpha_to_one"] else self.ac[0]
        ratio = cfg["num_train_timesteps"] // steps
        t = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.int64) + cfg["steps_offset"]
        self.timesteps = torch.from_numpy(t)
        self.init_noise_sigma = 1.0

    def scale_model_input(self, sample, t):
        return sample

    def step(self, model_output, t, sample):
        t = int(t)
        prev_t = t - self.cfg["num_train_timesteps"] // self.steps
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else self.final_ac
        b_t = 1 - a_t
        if self.cfg["prediction_type"] == "epsilon":
            x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
            eps = model_output
        elif self.cfg["prediction_type"] == "v_prediction":
            x0 = (a_t ** 0.5) * sample - (b_t ** 0.5) * model_output
            eps = (a_t ** 0.5) * model_output + (b_t ** 0.5) * sample
        else:
            raise ValueError(self.cfg["prediction_type"])
        direction = (1 - a_prev) ** 0.5 * eps
        return a_prev ** 0.5 * x0 + direction


class EulerDiscrete:
    def __init__(self, cfg, steps):
        assert cfg["timestep_spacing"] == "leading" and cfg["interpolation_type"] == "linear"
        assert not cfg["use_karras_sigmas"] and cfg["final_sigmas_type"] == "zero"
        self.cfg = cfg
        ac = alphas_cumprod(cfg)
        ratio = cfg["num_train_timesteps"] // steps
        t = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.float32)
        t += cfg["steps_offset"]
        sigmas = np.array(((1 - ac) / ac) ** 0.5)
        sigmas = np.interp(t, np.arange(0, len(sigmas)), sigmas)
        sigmas = np.concatenate([sigmas, [0]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sigmas)
        self.timesteps = torch.from_numpy(t.astype(np.float32))
        self.init_noise_sigma = float((self.sigmas.max() ** 2 + 1) ** 0.5)
        self.index = 0

    def scale_model_input(self, sample, t):
        sigma = self.sigmas[self.index]
        return sample / ((sigma ** 2 + 1) ** 0.5)

    def step(self, model_output, t, sample):
        sigma = self.sigmas[self.index]
        if self.cfg["prediction_type"] == "epsilon":
            x0 = sample - sigma * model_output
        elif self.cfg["prediction_type"] == "v_prediction":
            x0 = model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
        else:
            raise ValueError(self.cfg["prediction_type"])
        derivative = (sample - x0) / sigma
        prev = sample + derivative * (self.sigmas[self.index + 1] - sigma)
        self.index += 1
        return prev


SCHEDULERS = {"PNDMScheduler": Pndm, "DDIMScheduler": Ddim, "EulerDiscreteScheduler": EulerDiscrete}


def make(cfg, steps):
    return SCHEDULERS[cfg["_class_name"]](cfg, steps)
