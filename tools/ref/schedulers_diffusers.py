"""diffusers' scheduler classes as a real Stable Diffusion package configures them, in numpy.

Reference for the config-driven part of @asyncdiff/schedulers: PNDMScheduler (PLMS with
skip_prk_steps, and PRK), DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler,
EulerAncestralDiscreteScheduler and DPMSolverMultistepScheduler (dpmsolver++, order 2), each with
diffusers' prediction types, timestep spacings, steps_offset, set_alpha_to_one, clip_sample_range,
final_sigmas_type and Karras sigmas, written from diffusers' source (src/diffusers/schedulers/) in
numpy float64. `from_config` mirrors diffusers' ConfigMixin: a config key applies when the class
accepts it, every other parameter keeps the class default.

Deliberate float64 where diffusers uses float32 (as in schedulers_ref.py): the training schedule
(alphas_cumprod), the sigmas and Euler's "linspace" timesteps. `timesteps_f32` holds diffusers'
own float32 timestep values, which the denoiser is conditioned on, for an exact comparison.
"""
import math

import numpy as np

# The __init__ parameters (and defaults) of each class that this reference implements.
COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule='linear',
              trained_betas=None)
CLASS_PARAMS = {
    'PNDMScheduler': dict(COMMON, skip_prk_steps=False, set_alpha_to_one=False, prediction_type='epsilon',
                          timestep_spacing='leading', steps_offset=0),
    'DDIMScheduler': dict(COMMON, clip_sample=True, set_alpha_to_one=True, steps_offset=0,
                          prediction_type='epsilon', thresholding=False, dynamic_thresholding_ratio=0.995,
                          clip_sample_range=1.0, sample_max_value=1.0, timestep_spacing='leading',
                          rescale_betas_zero_snr=False),
    'DDPMScheduler': dict(COMMON, variance_type='fixed_small', clip_sample=True, prediction_type='epsilon',
                          thresholding=False, dynamic_thresholding_ratio=0.995, clip_sample_range=1.0,
                          sample_max_value=1.0, timestep_spacing='leading', steps_offset=0,
                          rescale_betas_zero_snr=False),
    'EulerDiscreteScheduler': dict(COMMON, prediction_type='epsilon', interpolation_type='linear',
                                   use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
                                   sigma_min=None, sigma_max=None, timestep_spacing='linspace',
                                   timestep_type='discrete', steps_offset=0, rescale_betas_zero_snr=False,
                                   final_sigmas_type='zero'),
    'EulerAncestralDiscreteScheduler': dict(COMMON, prediction_type='epsilon', timestep_spacing='linspace',
                                            steps_offset=0, rescale_betas_zero_snr=False),
    'DPMSolverMultistepScheduler': dict(COMMON, solver_order=2, prediction_type='epsilon', thresholding=False,
                                        algorithm_type='dpmsolver++', solver_type='midpoint',
                                        lower_order_final=True, euler_at_final=False, use_karras_sigmas=False,
                                        final_sigmas_type='zero', lambda_min_clipped=-math.inf,
                                        variance_type=None, timestep_spacing='linspace', steps_offset=0,
                                        rescale_betas_zero_snr=False),
}
KIND_CLASS = {'pndm': 'PNDMScheduler', 'ddim': 'DDIMScheduler', 'ddpm': 'DDPMScheduler',
              'euler': 'EulerDiscreteScheduler', 'euler-ancestral': 'EulerAncestralDiscreteScheduler',
              'dpmpp-2m': 'DPMSolverMultistepScheduler'}


def from_config(class_name, config):
    """ConfigMixin.from_config: keys the class accepts override its defaults; the rest is ignored."""
    params = dict(CLASS_PARAMS[class_name])
    for key, value in config.items():
        if key in params:
            params[key] = value
    assert not params.get('thresholding', False) and not params.get('rescale_betas_zero_snr', False)
    assert params['trained_betas'] is None
    return params


def alphas_cumprod(p):
    n = p['num_train_timesteps']
    if p['beta_schedule'] == 'linear':
        betas = np.linspace(p['beta_start'], p['beta_end'], n, dtype=np.float64)
    elif p['beta_schedule'] == 'scaled_linear':
        betas = np.linspace(p['beta_start'] ** 0.5, p['beta_end'] ** 0.5, n, dtype=np.float64) ** 2
    elif p['beta_schedule'] == 'squaredcos_cap_v2':
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = np.array([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)])
    else:
        raise ValueError(p['beta_schedule'])
    return np.cumprod(1.0 - betas)


def spaced(p, n, integer=True):
    """set_timesteps of DDIM / DDPM / Euler (descending); PNDM reverses `_timesteps` itself."""
    T, spacing = p['num_train_timesteps'], p['timestep_spacing']
    if spacing == 'linspace':
        if integer:
            return np.linspace(0, T - 1, n).round()[::-1].copy().astype(np.int64)
        return np.linspace(0, T - 1, n, dtype=float)[::-1].copy()  # float64: see the module doc
    if spacing == 'leading':
        ts = (np.arange(0, n) * (T // n)).round()[::-1].copy().astype(np.int64)
        ts += p['steps_offset']
        return ts if integer else ts.astype(np.float64)
    if spacing == 'trailing':
        ts = np.round(np.arange(T, 0, -T / n)).astype(np.int64)
        ts -= 1
        return ts if integer else ts.astype(np.float64)
    raise ValueError(spacing)


def x0_eps_vp(pred, model_output, sample, a_t):
    """(x0, eps) from a model output at ᾱ_t (DDIM / DDPM)."""
    b_t = 1 - a_t
    if pred == 'epsilon':
        return (sample - b_t ** 0.5 * model_output) / a_t ** 0.5, model_output
    if pred == 'sample':
        return model_output, (sample - a_t ** 0.5 * model_output) / b_t ** 0.5
    if pred == 'v_prediction':
        return a_t ** 0.5 * sample - b_t ** 0.5 * model_output, a_t ** 0.5 * model_output + b_t ** 0.5 * sample
    raise ValueError(pred)


class Pndm:
    def __init__(self, p, n):
        self.p, self.ac, T = p, alphas_cumprod(p), p['num_train_timesteps']
        self.final = 1.0 if p['set_alpha_to_one'] else self.ac[0]
        self.n = n
        if p['timestep_spacing'] == 'linspace':
            ts = np.linspace(0, T - 1, n).round().astype(np.int64)
        elif p['timestep_spacing'] == 'leading':
            ts = (np.arange(0, n) * (T // n)).round()
            ts += p['steps_offset']
        else:
            ts = np.round(np.arange(T, 0, -T / n))[::-1].astype(np.int64)
            ts -= 1
        if p['skip_prk_steps']:
            self.prk = np.array([])
            self.plms = np.concatenate([ts[:-1], ts[-2:-1], ts[-1:]])[::-1].copy()
        else:
            prk = np.array(ts[-4:]).repeat(2) + np.tile(np.array([0, T // n // 2]), 4)
            self.prk = prk[:-1].repeat(2)[1:-1][::-1].copy()
            self.plms = ts[:-3][::-1].copy()
        self.timesteps = np.concatenate([self.prk, self.plms]).astype(np.int64)
        self.init_noise_sigma, self.stochastic = 1.0, False
        self.counter, self.ets, self.cur_sample, self.cur_model_output = 0, [], None, 0

    def scale(self, i):
        return 1.0

    def prev_sample(self, sample, t, prev_t, model_output):
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else self.final
        b_t, b_prev = 1 - a_t, 1 - a_prev
        if self.p['prediction_type'] == 'v_prediction':
            model_output = a_t ** 0.5 * model_output + b_t ** 0.5 * sample
        else:
            assert self.p['prediction_type'] == 'epsilon'
        denom = a_t * b_prev ** 0.5 + (a_t * b_t * a_prev) ** 0.5
        return (a_prev / a_t) ** 0.5 * sample - (a_prev - a_t) * model_output / denom

    def step(self, i, sample, model_output, noise):
        t = int(self.timesteps[i])
        T = self.p['num_train_timesteps']
        if self.counter < len(self.prk) and not self.p['skip_prk_steps']:
            return self.step_prk(t, sample, model_output)
        prev_t = t - T // self.n
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(model_output)
        else:
            prev_t = t
            t = t + T // self.n
        e = self.ets
        if len(e) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(e) == 1 and self.counter == 1:
            model_output = (model_output + e[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(e) == 2:
            model_output = (3 * e[-1] - e[-2]) / 2
        elif len(e) == 3:
            model_output = (23 * e[-1] - 16 * e[-2] + 5 * e[-3]) / 12
        else:
            model_output = (1 / 24) * (55 * e[-1] - 59 * e[-2] + 37 * e[-3] - 9 * e[-4])
        out = self.prev_sample(sample, t, prev_t, model_output)
        self.counter += 1
        return out

    def step_prk(self, t, sample, model_output):
        T = self.p['num_train_timesteps']
        diff = 0 if self.counter % 2 else T // self.n // 2
        prev_t = t - diff
        t = int(self.prk[self.counter // 4 * 4])
        if self.counter % 4 == 0:
            self.cur_model_output = self.cur_model_output + 1 / 6 * model_output
            self.ets.append(model_output)
            self.cur_sample = sample
        elif (self.counter - 1) % 4 == 0:
            self.cur_model_output = self.cur_model_output + 1 / 3 * model_output
        elif (self.counter - 2) % 4 == 0:
            self.cur_model_output = self.cur_model_output + 1 / 3 * model_output
        else:
            model_output = self.cur_model_output + 1 / 6 * model_output
            self.cur_model_output = 0
        cur = self.cur_sample if self.cur_sample is not None else sample
        out = self.prev_sample(cur, t, prev_t, model_output)
        self.counter += 1
        return out


class Ddim:
    def __init__(self, p, n, eta=0.0, use_clipped=False):
        self.p, self.ac, self.n = p, alphas_cumprod(p), n
        self.final = 1.0 if p['set_alpha_to_one'] else self.ac[0]
        self.timesteps = spaced(p, n)
        self.eta, self.use_clipped = eta, use_clipped
        self.init_noise_sigma, self.stochastic = 1.0, eta > 0

    def scale(self, i):
        return 1.0

    def step(self, i, sample, model_output, noise):
        p = self.p
        t = int(self.timesteps[i])
        prev_t = t - p['num_train_timesteps'] // self.n
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else self.final
        b_t = 1 - a_t
        x0, eps = x0_eps_vp(p['prediction_type'], model_output, sample, a_t)
        if p['clip_sample']:
            x0 = np.clip(x0, -p['clip_sample_range'], p['clip_sample_range'])
        variance = ((1 - a_prev) / b_t) * (1 - a_t / a_prev)
        std = self.eta * variance ** 0.5
        if self.use_clipped:
            eps = (sample - a_t ** 0.5 * x0) / b_t ** 0.5
        prev = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * eps
        if self.eta > 0:
            prev = prev + std * noise
        return prev


class Ddpm:
    def __init__(self, p, n):
        assert p['variance_type'] == 'fixed_small'
        self.p, self.ac = p, alphas_cumprod(p)
        self.timesteps = spaced(p, n)
        self.init_noise_sigma, self.stochastic = 1.0, True

    def scale(self, i):
        return 1.0

    def step(self, i, sample, model_output, noise):
        p = self.p
        t = int(self.timesteps[i])
        prev_t = int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1
        a_t = self.ac[t]
        a_prev = self.ac[prev_t] if prev_t >= 0 else 1.0
        b_t, b_prev = 1 - a_t, 1 - a_prev
        cur_alpha = a_t / a_prev
        cur_beta = 1 - cur_alpha
        x0, _ = x0_eps_vp(p['prediction_type'], model_output, sample, a_t)
        if p['clip_sample']:
            x0 = np.clip(x0, -p['clip_sample_range'], p['clip_sample_range'])
        prev = (a_prev ** 0.5 * cur_beta / b_t) * x0 + (cur_alpha ** 0.5 * b_prev / b_t) * sample
        if t > 0:
            variance = max((1 - a_prev) / (1 - a_t) * cur_beta, 1e-20)
            prev = prev + variance ** 0.5 * noise
        return prev


def sigma_to_t(sigma, log_sigmas):
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high_idx = low_idx + 1
    low, high = log_sigmas[low_idx], log_sigmas[high_idx]
    w = np.clip((low - log_sigma) / (low - high), 0, 1)
    return ((1 - w) * low_idx + w * high_idx).reshape(sigma.shape)


def karras(sigma_min, sigma_max, n, rho=7.0):
    ramp = np.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


class Euler:
    def __init__(self, p, n, ancestral=False):
        self.p, self.ac, self.ancestral = p, alphas_cumprod(p), ancestral
        train = ((1 - self.ac) / self.ac) ** 0.5
        ts = spaced(p, n, integer=False)
        sig = np.interp(ts, np.arange(0, len(train)), train)
        if not ancestral and p['use_karras_sigmas']:
            assert p['sigma_min'] is None and p['sigma_max'] is None
            sig = karras(sig[-1], sig[0], n)
            ts = np.array([sigma_to_t(s, np.log(train)) for s in sig])
        last = 0.0
        if not ancestral and p['final_sigmas_type'] == 'sigma_min':
            last = ((1 - self.ac[0]) / self.ac[0]) ** 0.5
        self.sigmas = np.concatenate([sig, [last]])
        self.timesteps = ts
        if p['timestep_spacing'] == 'linspace' and not (not ancestral and p['use_karras_sigmas']):
            self.timesteps_f32 = np.linspace(0, p['num_train_timesteps'] - 1, n, dtype=np.float32)[::-1]
        else:
            self.timesteps_f32 = ts.astype(np.float32)
        smax = self.sigmas.max()
        leading = p['timestep_spacing'] not in ('linspace', 'trailing')
        self.init_noise_sigma = float((smax ** 2 + 1) ** 0.5 if leading else smax)
        self.stochastic = ancestral

    def scale(self, i):
        return 1.0 / (self.sigmas[i] ** 2 + 1) ** 0.5

    def step(self, i, sample, model_output, noise):
        sigma, pred = self.sigmas[i], self.p['prediction_type']
        if pred == 'epsilon':
            x0 = sample - sigma * model_output
        elif pred == 'v_prediction':
            x0 = model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
        elif pred == 'sample' and not self.ancestral:
            x0 = model_output
        else:
            raise ValueError(pred)
        derivative = (sample - x0) / sigma
        if not self.ancestral:
            return sample + derivative * (self.sigmas[i + 1] - sigma)
        s_to = self.sigmas[i + 1]
        up = (s_to ** 2 * (sigma ** 2 - s_to ** 2) / sigma ** 2) ** 0.5
        down = (s_to ** 2 - up ** 2) ** 0.5
        return sample + derivative * (down - sigma) + noise * up


class DpmSolverPP2M:
    def __init__(self, p, n):
        assert p['solver_order'] == 2 and p['algorithm_type'] == 'dpmsolver++' and p['variance_type'] is None
        assert p['lambda_min_clipped'] == -math.inf and not p['thresholding']
        self.p, self.ac = p, alphas_cumprod(p)
        T, spacing, last_t = p['num_train_timesteps'], p['timestep_spacing'], p['num_train_timesteps']
        if spacing == 'linspace':
            ts = np.linspace(0, last_t - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif spacing == 'leading':
            ratio = last_t // (n + 1)
            ts = (np.arange(0, n + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64)
            ts += p['steps_offset']
        else:
            ts = np.arange(last_t, 0, -T / n).round().copy().astype(np.int64)
            ts -= 1
        train = ((1 - self.ac) / self.ac) ** 0.5
        if p['use_karras_sigmas']:
            sig = karras(train[0], train[-1], n)
            ts = np.array([sigma_to_t(s, np.log(train)) for s in sig])
            if p['beta_schedule'] != 'squaredcos_cap_v2':
                ts = ts.round()
            ts = ts.astype(np.int64)  # torch .to(int64) truncates
        else:
            sig = np.interp(ts, np.arange(0, len(train)), train)
        last = 0.0 if p['final_sigmas_type'] == 'zero' else ((1 - self.ac[0]) / self.ac[0]) ** 0.5
        self.sigmas = np.concatenate([sig, [last]])
        self.timesteps = ts
        self.timesteps_f32 = ts.astype(np.float32)
        self.n = len(ts)
        self.init_noise_sigma, self.stochastic = 1.0, False
        self.model_outputs, self.lower_order_nums = [None, None], 0

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

    def step(self, i, sample, model_output, noise):
        p = self.p
        lower_order_final = i == self.n - 1 and (
            p['euler_at_final'] or (p['lower_order_final'] and self.n < 15) or p['final_sigmas_type'] == 'zero')
        alpha_s0, sigma_s0 = self.alpha_sigma(self.sigmas[i])
        pred = p['prediction_type']
        if pred == 'epsilon':
            x0 = (sample - sigma_s0 * model_output) / alpha_s0
        elif pred == 'sample':
            x0 = model_output
        elif pred == 'v_prediction':
            x0 = alpha_s0 * sample - sigma_s0 * model_output
        else:
            raise ValueError(pred)
        x0 = x0.astype(np.float32).astype(np.float64)  # kept in the model output's dtype
        self.model_outputs = [self.model_outputs[1], x0]
        alpha_t, sigma_t = self.alpha_sigma(self.sigmas[i + 1])
        lambda_t, lambda_s0 = self.lam(self.sigmas[i + 1]), self.lam(self.sigmas[i])
        h = lambda_t - lambda_s0
        if self.lower_order_nums < 1 or lower_order_final:
            prev = (sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * x0
        else:
            lambda_s1 = self.lam(self.sigmas[i - 1])
            m0, m1 = self.model_outputs[1], self.model_outputs[0]
            r0 = (lambda_s0 - lambda_s1) / h
            d0, d1 = m0, (1.0 / r0) * (m0 - m1)
            if p['solver_type'] == 'midpoint':
                prev = ((sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * d0
                        - 0.5 * (alpha_t * (np.exp(-h) - 1.0)) * d1)
            else:
                prev = ((sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * d0
                        + (alpha_t * ((np.exp(-h) - 1.0) / h + 1.0)) * d1)
        if self.lower_order_nums < 2:
            self.lower_order_nums += 1
        return prev


def make(kind, config, steps, runtime=None):
    """The reference scheduler `kind` configured from a diffusers scheduler_config.json."""
    runtime = runtime or {}
    p = from_config(KIND_CLASS[kind], config)
    if kind == 'pndm':
        return Pndm(p, steps)
    if kind == 'ddim':
        return Ddim(p, steps, runtime.get('eta', 0.0), runtime.get('useClippedModelOutput', False))
    if kind == 'ddpm':
        return Ddpm(p, steps)
    if kind == 'euler':
        return Euler(p, steps)
    if kind == 'euler-ancestral':
        return Euler(p, steps, ancestral=True)
    if kind == 'dpmpp-2m':
        return DpmSolverPP2M(p, steps)
    raise ValueError(kind)
