"""Reference for @asyncdiff/schedulers: diffusers' DDIM, DDPM, Euler, Euler ancestral and
DPM-Solver++(2M) update rules written out in numpy float64 (diffusers itself is not needed).

Conventions mirrored from diffusers' defaults for a DDPM-trained epsilon-prediction model:
- DDIM / DDPM: "leading" spacing, steps_offset 0, set_alpha_to_one, clip_sample_range 1,
  DDPM variance "fixed_small" (clamped at 1e-20), no noise at t == 0.
- Euler / Euler ancestral: "linspace" spacing with fractional timesteps, sigmas linearly
  interpolated (np.interp), final sigma 0, init_noise_sigma = max sigma, s_churn 0.
- DPM-Solver++(2M): "linspace" spacing over steps+1 points rounded (np.round), last dropped;
  midpoint solver, lower_order_final, final sigma 0; model outputs (x0) kept in float32.
Samples are float32 between steps (as the TypeScript side keeps them); arithmetic is float64.

Inputs are deterministic: the initial sample is stored in the fixture; eps and noise for step i,
element k are closed-form rationals (`closed_form`) that the tests recompute bit-exactly.

Regenerate (from the repo root):
    /usr/bin/python3 tools/ref/schedulers_ref.py
which writes libs/schedulers/src/test-fixtures/schedulers.json (the schedulers with their own
defaults, above) and libs/schedulers/src/test-fixtures/diffusers.json (each scheduler configured
from a real package's scheduler_config.json the way diffusers' from_config does it:
schedulers_diffusers.py).
"""
import json
import os

import numpy as np

import schedulers_diffusers as sd
from fixture_io import ROOT, write_fixture

LENGTH = 16  # elements per sample vector (e.g. two samples of 8)
EPS_SALT, NOISE_SALT, INIT_SALT = 1, 2, 3


def closed_form(i, k, salt):
    """Pseudo-random value in [-2.5, 2.5]: exact integer hash, one correctly rounded division."""
    h = (k * 7919 + i * 104729 + salt * 15485863) % 10007
    return (h - 5003) / 2000.0


def vector(i, salt):
    return np.array([closed_form(i, k, salt) for k in range(LENGTH)], dtype=np.float64).astype(np.float32)


def alphas_cumprod(spec):
    t = spec['trainSteps']
    if spec['type'] == 'linear':
        betas = np.linspace(spec['betaStart'], spec['betaEnd'], t, dtype=np.float64)
    else:
        betas = np.linspace(spec['betaStart'] ** 0.5, spec['betaEnd'] ** 0.5, t, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas)


class Ddim:
    def __init__(self, ac, steps, eta=0.0, clip=True, use_clipped=False):
        self.ac, self.T, self.steps = ac, len(ac), steps
        ratio = self.T // steps
        self.timesteps = (np.arange(0, steps) * ratio).round()[::-1].astype(np.int64)
        self.eta, self.clip, self.use_clipped = eta, clip, use_clipped
        self.init_noise_sigma = 1.0
        self.stochastic = eta > 0

    def scale(self, i):
        return 1.0

    def step(self, i, sample, eps, noise):
        t = int(self.timesteps[i])
        prev_t = t - self.T // self.steps
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else 1.0
        b_t = 1 - a_t
        x0 = (sample - b_t ** 0.5 * eps) / a_t ** 0.5
        if self.clip:
            x0 = np.clip(x0, -1.0, 1.0)
        variance = ((1 - a_prev) / b_t) * (1 - a_t / a_prev)
        std = self.eta * variance ** 0.5
        if self.use_clipped:
            eps = (sample - a_t ** 0.5 * x0) / b_t ** 0.5
        direction = (1 - a_prev - std ** 2) ** 0.5 * eps
        prev = a_prev ** 0.5 * x0 + direction
        if self.eta > 0:
            prev = prev + std * noise
        return prev


class Ddpm:
    def __init__(self, ac, steps, clip=True):
        self.ac, self.T, self.steps = ac, len(ac), steps
        ratio = self.T // steps
        self.timesteps = (np.arange(0, steps) * ratio).round()[::-1].astype(np.int64)
        self.clip = clip
        self.init_noise_sigma = 1.0
        self.stochastic = True

    def scale(self, i):
        return 1.0

    def step(self, i, sample, eps, noise):
        t = int(self.timesteps[i])
        prev_t = int(self.timesteps[i + 1]) if i + 1 < self.steps else -1
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else 1.0
        beta_prod_t, beta_prod_prev = 1 - a_t, 1 - a_prev
        current_alpha = a_t / a_prev
        current_beta = 1 - current_alpha
        x0 = (sample - beta_prod_t ** 0.5 * eps) / a_t ** 0.5
        if self.clip:
            x0 = np.clip(x0, -1.0, 1.0)
        x0_coeff = a_prev ** 0.5 * current_beta / beta_prod_t
        cur_coeff = current_alpha ** 0.5 * beta_prod_prev / beta_prod_t
        prev = x0_coeff * x0 + cur_coeff * sample
        if t > 0:
            variance = max(beta_prod_prev / beta_prod_t * current_beta, 1e-20)
            prev = prev + variance ** 0.5 * noise
        return prev


def interp_sigmas(ac, timesteps):
    sigmas = ((1 - ac) / ac) ** 0.5
    return np.concatenate([np.interp(timesteps, np.arange(0, len(sigmas)), sigmas), [0.0]])


class Euler:
    def __init__(self, ac, steps, ancestral=False):
        self.T = len(ac)
        self.timesteps = np.linspace(0, self.T - 1, steps, dtype=float)[::-1].copy()
        self.sigmas = interp_sigmas(ac, self.timesteps)
        self.init_noise_sigma = float(self.sigmas.max())  # "linspace" spacing: max sigma
        self.ancestral = ancestral
        self.stochastic = ancestral

    def scale(self, i):
        return 1.0 / (self.sigmas[i] ** 2 + 1) ** 0.5

    def step(self, i, sample, eps, noise):
        sigma = self.sigmas[i]
        x0 = sample - sigma * eps
        derivative = (sample - x0) / sigma
        if not self.ancestral:
            return sample + derivative * (self.sigmas[i + 1] - sigma)
        sigma_from, sigma_to = sigma, self.sigmas[i + 1]
        sigma_up = (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5
        sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
        return sample + derivative * (sigma_down - sigma) + noise * sigma_up


class DpmSolverPP2M:
    def __init__(self, ac, steps):
        self.T, self.steps = len(ac), steps
        self.timesteps = np.linspace(0, self.T - 1, steps + 1).round()[::-1][:-1].copy().astype(np.int64)
        self.sigmas = interp_sigmas(ac, self.timesteps)
        self.init_noise_sigma = 1.0
        self.stochastic = False
        self.model_outputs = [None, None]
        self.lower_order_nums = 0

    def scale(self, i):
        return 1.0

    @staticmethod
    def alpha_sigma(sigma):
        alpha = 1 / (sigma ** 2 + 1) ** 0.5
        return alpha, sigma * alpha

    def lam(self, sigma):
        alpha, s = self.alpha_sigma(sigma)
        with np.errstate(divide='ignore'):
            return np.log(alpha) - np.log(s)

    def step(self, i, sample, eps, noise):
        alpha_s0, sigma_s0 = self.alpha_sigma(self.sigmas[i])
        x0 = ((sample - sigma_s0 * eps) / alpha_s0).astype(np.float32).astype(np.float64)
        self.model_outputs = [self.model_outputs[1], x0]
        lower_order_final = i == self.steps - 1  # final_sigmas_type "zero"
        alpha_t, sigma_t = self.alpha_sigma(self.sigmas[i + 1])
        lambda_t, lambda_s0 = self.lam(self.sigmas[i + 1]), self.lam(self.sigmas[i])
        h = lambda_t - lambda_s0
        if self.lower_order_nums < 1 or lower_order_final:
            prev = (sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * x0
        else:
            lambda_s1 = self.lam(self.sigmas[i - 1])
            m0, m1 = self.model_outputs[1], self.model_outputs[0]
            h_0 = lambda_s0 - lambda_s1
            r0 = h_0 / h
            d0, d1 = m0, (1.0 / r0) * (m0 - m1)
            prev = ((sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * d0
                    - 0.5 * (alpha_t * (np.exp(-h) - 1.0)) * d1)
        if self.lower_order_nums < 2:
            self.lower_order_nums += 1
        return prev


LINEAR = {'type': 'linear', 'betaStart': 1e-4, 'betaEnd': 0.02, 'trainSteps': 1000}
SCALED = {'type': 'scaled-linear', 'betaStart': 0.00085, 'betaEnd': 0.012, 'trainSteps': 1000}

CONFIGS = [
    ('ddim-50-eta0-clip (shipped default)', LINEAR, {'kind': 'ddim', 'steps': 50, 'eta': 0, 'clipSample': True}),
    ('ddim-10-eta0-clip', LINEAR, {'kind': 'ddim', 'steps': 10, 'eta': 0, 'clipSample': True}),
    ('ddim-50-eta0-noclip', LINEAR, {'kind': 'ddim', 'steps': 50, 'eta': 0, 'clipSample': False}),
    ('ddim-50-eta1-clip', LINEAR, {'kind': 'ddim', 'steps': 50, 'eta': 1, 'clipSample': True}),
    ('ddim-10-eta0.5-noclip', LINEAR, {'kind': 'ddim', 'steps': 10, 'eta': 0.5, 'clipSample': False}),
    ('ddim-30-eta0-clip-clippedeps', LINEAR,
     {'kind': 'ddim', 'steps': 30, 'eta': 0, 'clipSample': True, 'useClippedModelOutput': True}),
    ('ddim-1', LINEAR, {'kind': 'ddim', 'steps': 1}),
    ('ddpm-10-clip', LINEAR, {'kind': 'ddpm', 'steps': 10, 'clipSample': True}),
    ('ddpm-50-noclip', LINEAR, {'kind': 'ddpm', 'steps': 50, 'clipSample': False}),
    ('euler-10', LINEAR, {'kind': 'euler', 'steps': 10}),
    ('euler-50', LINEAR, {'kind': 'euler', 'steps': 50}),
    ('euler-20-scaled-linear', SCALED, {'kind': 'euler', 'steps': 20}),
    ('euler-ancestral-10', LINEAR, {'kind': 'euler-ancestral', 'steps': 10}),
    ('euler-ancestral-50', LINEAR, {'kind': 'euler-ancestral', 'steps': 50}),
    ('dpmpp-2m-10', LINEAR, {'kind': 'dpmpp-2m', 'steps': 10}),
    ('dpmpp-2m-50', LINEAR, {'kind': 'dpmpp-2m', 'steps': 50}),
    ('dpmpp-2m-7', LINEAR, {'kind': 'dpmpp-2m', 'steps': 7}),
    ('dpmpp-2m-20-scaled-linear', SCALED, {'kind': 'dpmpp-2m', 'steps': 20}),
    ('dpmpp-2m-1', LINEAR, {'kind': 'dpmpp-2m', 'steps': 1}),
]


def make(spec, o):
    ac = alphas_cumprod(spec)
    kind, steps = o['kind'], o['steps']
    if kind == 'ddim':
        return Ddim(ac, steps, o.get('eta', 0.0), o.get('clipSample', True), o.get('useClippedModelOutput', False))
    if kind == 'ddpm':
        return Ddpm(ac, steps, o.get('clipSample', True))
    if kind == 'euler':
        return Euler(ac, steps)
    if kind == 'euler-ancestral':
        return Euler(ac, steps, ancestral=True)
    if kind == 'dpmpp-2m':
        return DpmSolverPP2M(ac, steps)
    raise ValueError(kind)


def run(name, spec, options):
    s = make(spec, options)
    init = (s.init_noise_sigma * vector(0, INIT_SALT).astype(np.float64)).astype(np.float32)
    x = init
    outputs = []
    for i in range(options['steps']):
        eps = vector(i, EPS_SALT).astype(np.float64)
        noise = vector(i, NOISE_SALT).astype(np.float64)
        out = s.step(i, x.astype(np.float64), eps, noise)
        outputs.append([float(v) for v in out])
        x = out.astype(np.float32)  # the next step's input, as the TypeScript chain keeps it
    return {
        'name': name, 'schedule': spec, 'options': options,
        'timesteps': [float(t) for t in s.timesteps],
        'initNoiseSigma': float(s.init_noise_sigma),
        'stochastic': bool(s.stochastic),
        'inputScales': [float(s.scale(i)) for i in range(options['steps'])],
        'initialSample': [float(v) for v in init],
        'outputs': outputs,
    }


def check_training_sampler():
    """Asserts that Ddim(use_clipped=True) reproduces tools/train/schedule.py's ddim_sample (the
    sampler the shipped models were judged with) to float32 precision, with a fake model."""
    import os
    import sys
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'train'))
    import schedule  # noqa: E402
    calls = [0]

    def model(x, t, labels):
        e = torch.tensor(vector(calls[0], EPS_SALT)).reshape(1, 1, 4, 4)
        calls[0] += 1
        return e.repeat(x.shape[0], 1, 1, 1)

    x0 = torch.randn((1, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    want = schedule.ddim_sample(model, torch.tensor([3]), (1, 4, 4), steps=50, seed=0, clip=True).numpy().reshape(-1)
    s = Ddim(alphas_cumprod(LINEAR), 50, 0.0, True, use_clipped=True)
    x = x0.numpy().reshape(-1)
    for i in range(50):
        x = s.step(i, x.astype(np.float64), vector(i, EPS_SALT).astype(np.float64), None).astype(np.float32)
    err = np.abs(want - x).max()
    assert err < 1e-4, err
    print(f'tools/train/schedule.py ddim_sample == DDIM(useClippedModelOutput) to {err:.1e}')


CONFIG_DIR = 'libs/schedulers/src/test-fixtures/scheduler-configs'


def package_config(name, **overrides):
    with open(os.path.join(ROOT, CONFIG_DIR, name + '.json')) as f:
        config = json.load(f)
    config.update(overrides)
    return config


SD15, SD21, SDXL = 'sd15', 'sd21', 'sdxl'
# (name, kind, package config, overrides of the config, steps, runtime options)
CONFIG_CASES = [
    ('pndm-50 sd15', 'pndm', SD15, {}, 50, {}),
    ('pndm-4 sd15', 'pndm', SD15, {}, 4, {}),
    ('pndm-2 sd15', 'pndm', SD15, {}, 2, {}),
    ('pndm-1 sd15', 'pndm', SD15, {}, 1, {}),
    ('pndm-20 sd21 (v-prediction)', 'pndm', SD21, {}, 20, {}),
    ('pndm-10 sd15 trailing', 'pndm', SD15, {'timestep_spacing': 'trailing'}, 10, {}),
    ('pndm-10 sd15 linspace', 'pndm', SD15, {'timestep_spacing': 'linspace'}, 10, {}),
    ('pndm-10 prk sd15', 'pndm', SD15, {'skip_prk_steps': False}, 10, {}),
    ('pndm-4 prk sd21 (v-prediction)', 'pndm', SD21, {'skip_prk_steps': False}, 4, {}),
    ('ddim-50 sd21 (v-prediction)', 'ddim', SD21, {}, 50, {}),
    ('ddim-10 sd21 (v-prediction)', 'ddim', SD21, {}, 10, {}),
    ('ddim-10 sd21 eta1', 'ddim', SD21, {}, 10, {'eta': 1}),
    ('ddim-10 sd21 trailing', 'ddim', SD21, {'timestep_spacing': 'trailing'}, 10, {}),
    ('ddim-10 sd21 linspace', 'ddim', SD21, {'timestep_spacing': 'linspace'}, 10, {}),
    ('ddim-16 sd21 trailing (ties at .5)', 'ddim', SD21, {'timestep_spacing': 'trailing'}, 16, {}),
    ('ddim-25 sd15 (epsilon, offset 1)', 'ddim', SD15, {}, 25, {}),
    ('ddim-10 sample clip 0.5', 'ddim', SD15,
     {'prediction_type': 'sample', 'clip_sample': True, 'clip_sample_range': 0.5}, 10, {}),
    ('ddim-10 sd15 set_alpha_to_one', 'ddim', SD15, {'set_alpha_to_one': True}, 10, {}),
    ('ddim-10 squaredcos_cap_v2', 'ddim', SD15, {'beta_schedule': 'squaredcos_cap_v2'}, 10, {}),
    ('ddpm-10 sd15', 'ddpm', SD15, {}, 10, {}),
    ('ddpm-10 sd21 trailing (v-prediction)', 'ddpm', SD21, {'timestep_spacing': 'trailing'}, 10, {}),
    ('ddpm-10 sample linspace clip', 'ddpm', SD15,
     {'prediction_type': 'sample', 'timestep_spacing': 'linspace', 'clip_sample': True}, 10, {}),
    ('ddpm-7 sd15 linspace (ties at .5)', 'ddpm', SD15, {'timestep_spacing': 'linspace'}, 7, {}),
    ('euler-30 sdxl leading', 'euler', SDXL, {}, 30, {}),
    ('euler-30 sdxl trailing', 'euler', SDXL, {'timestep_spacing': 'trailing'}, 30, {}),
    ('euler-30 sdxl linspace', 'euler', SDXL, {'timestep_spacing': 'linspace'}, 30, {}),
    ('euler-20 sd21 (v-prediction, linspace)', 'euler', SD21, {}, 20, {}),
    ('euler-10 sample', 'euler', SDXL, {'prediction_type': 'sample'}, 10, {}),
    ('euler-25 sdxl karras', 'euler', SDXL, {'use_karras_sigmas': True}, 25, {}),
    ('euler-10 sdxl sigma_min', 'euler', SDXL, {'final_sigmas_type': 'sigma_min'}, 10, {}),
    ('euler-ancestral-20 sdxl leading', 'euler-ancestral', SDXL, {}, 20, {}),
    ('euler-ancestral-20 sd21 trailing (v-prediction)', 'euler-ancestral', SD21,
     {'timestep_spacing': 'trailing'}, 20, {}),
    ('dpmpp-2m-20 sdxl (linspace)', 'dpmpp-2m', SDXL, {'timestep_spacing': 'linspace'}, 20, {}),
    ('dpmpp-2m-6 sdxl linspace (ties at .5)', 'dpmpp-2m', SDXL, {'timestep_spacing': 'linspace'}, 6, {}),
    ('dpmpp-2m-20 sdxl leading', 'dpmpp-2m', SDXL, {}, 20, {}),
    ('dpmpp-2m-20 sd21 trailing (v-prediction)', 'dpmpp-2m', SD21, {'timestep_spacing': 'trailing'}, 20, {}),
    ('dpmpp-2m-10 sample', 'dpmpp-2m', SD15, {'prediction_type': 'sample'}, 10, {}),
    ('dpmpp-2m-20 karras', 'dpmpp-2m', SD15, {'use_karras_sigmas': True}, 20, {}),
    ('dpmpp-2m-12 karras squaredcos_cap_v2', 'dpmpp-2m', SD15,
     {'use_karras_sigmas': True, 'beta_schedule': 'squaredcos_cap_v2'}, 12, {}),
    ('dpmpp-2m-15 heun', 'dpmpp-2m', SD15, {'solver_type': 'heun'}, 15, {}),
    ('dpmpp-2m-10 sigma_min', 'dpmpp-2m', SD15, {'final_sigmas_type': 'sigma_min'}, 10, {}),
    ('dpmpp-2m-15 sigma_min', 'dpmpp-2m', SD15, {'final_sigmas_type': 'sigma_min'}, 15, {}),
    ('dpmpp-2m-20 sigma_min', 'dpmpp-2m', SD15, {'final_sigmas_type': 'sigma_min'}, 20, {}),
    ('dpmpp-2m-20 sigma_min euler_at_final', 'dpmpp-2m', SD15,
     {'final_sigmas_type': 'sigma_min', 'euler_at_final': True}, 20, {}),
    ('dpmpp-2m-10 sigma_min no lower_order_final', 'dpmpp-2m', SD15,
     {'final_sigmas_type': 'sigma_min', 'lower_order_final': False}, 10, {}),
]


def run_config_case(name, kind, package, overrides, steps, runtime):
    config = package_config(package, **overrides)
    s = sd.make(kind, config, steps, runtime)
    init = (s.init_noise_sigma * vector(0, INIT_SALT).astype(np.float64)).astype(np.float32)
    x = init
    outputs = []
    for i in range(len(s.timesteps)):
        out = s.step(i, x.astype(np.float64), vector(i, EPS_SALT).astype(np.float64),
                     vector(i, NOISE_SALT).astype(np.float64))
        outputs.append([float(v) for v in out])
        x = out.astype(np.float32)
    f32 = getattr(s, 'timesteps_f32', s.timesteps)
    return {
        'name': name, 'kind': kind, 'config': config, 'steps': steps, 'runtime': runtime,
        'timesteps': [float(t) for t in s.timesteps],
        'timestepsFloat32': [float(np.float32(t)) for t in f32],
        'initNoiseSigma': float(s.init_noise_sigma),
        'stochastic': bool(s.stochastic),
        'inputScales': [float(s.scale(i)) for i in range(len(s.timesteps))],
        'initialSample': [float(v) for v in init],
        'outputs': outputs,
    }


def main():
    check_training_sampler()
    write_fixture('libs/schedulers/src/test-fixtures/schedulers.json', {
        'generator': 'tools/ref/schedulers_ref.py',
        'length': LENGTH,
        'salts': {'eps': EPS_SALT, 'noise': NOISE_SALT},
        'alphasCumprodLinear': [float(v) for v in alphas_cumprod(LINEAR)[[0, 1, 499, 998, 999]]],
        'cases': [run(*c) for c in CONFIGS],
    })
    write_fixture('libs/schedulers/src/test-fixtures/diffusers.json', {
        'generator': 'tools/ref/schedulers_ref.py (schedulers_diffusers.py)',
        'length': LENGTH,
        'salts': {'eps': EPS_SALT, 'noise': NOISE_SALT},
        'cases': [run_config_case(*c) for c in CONFIG_CASES],
    })


if __name__ == '__main__':
    main()
