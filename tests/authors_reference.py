"""The authors' side of the shipped-table tests, written out independently of the pack: their SD1.5
schedule and continuous timesteps (numpy, from the betas), FLUX's schedule, and the DyWeight update
(dyweight_reference). Used by the in-process and the server tests. Import after tooling.pack.load_pack()."""
import math

import numpy as np
import torch

from dyweight_reference import reference_dyweight

SD_STEPS = {4: "00036-mscoco-nfe8", 6: "00037-mscoco-nfe12", 8: "00038-mscoco-nfe16", 10: "00039-mscoco-nfe20"}


def authors_sd_grid():
    """SD1.5's 1000 training sigmas (float64 numpy), index 0 = sigma_min."""
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    abar = np.cumprod(1 - betas)
    return np.sqrt((1 - abar) / abar)


def authors_timestep(sigma, grid):
    """CFGPrecond: c_noise = 1000 t - 1 with t linear in log alpha between the grid points."""
    minus_log_alpha = 0.5 * np.log1p(grid ** 2)  # increasing with the index
    return float(np.interp(0.5 * math.log1p(sigma ** 2), minus_log_alpha, np.arange(1000.0)))


def authors_sd_schedule(entry, grid):
    points = entry["num_steps"]
    if entry["schedule_type"] == "discrete":  # uniform in the timestep index, log alpha interpolated
        log_alpha = -0.5 * np.log1p(grid ** 2)
        la = np.interp(np.linspace(999, 0, points), np.arange(1000.0), log_alpha)
        return np.sqrt(np.exp(-2 * la) - 1).tolist()
    smin, smax, rho = grid[0], grid[-1], entry["schedule_rho"]
    i = np.arange(points) / (points - 1)
    return ((smax ** (1 / rho) + i * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho).tolist()


def authors_timestep_sampling(model, grid):
    """The model's own sampling, but with the authors' continuous timesteps instead of ComfyUI's argmin."""
    sampling = model.get_model_object("model_sampling")

    class AuthorsTimesteps(type(sampling)):
        def timestep(self, sigma):
            return torch.tensor([authors_timestep(float(s), grid) for s in sigma.reshape(-1)], dtype=sigma.dtype).reshape(sigma.shape)

    patched = model.clone()
    replaced = AuthorsTimesteps.__new__(AuthorsTimesteps)
    replaced.__dict__.update(sampling.__dict__)
    patched.add_object_patch("model_sampling", replaced)
    return patched


def reference_sampler(comfy, W, s, window, convention):
    def fn(model, x, sigmas, extra_args=None, callback=None, disable=None):
        ones = x.new_ones([x.shape[0]])
        return reference_dyweight(lambda y, sig: model(y.float(), sig * ones, **(extra_args or {})), x, sigmas.tolist(),
                                  W, s, window, convention=convention).float()
    return comfy.samplers.KSAMPLER(fn)


def flux_sigmas(steps, mu):
    t = np.linspace(1, 1 / steps, steps)
    return (math.exp(mu) / (math.exp(mu) + (1 / t - 1))).tolist() + [0.0]


def with_flux_shift(comfy, model, mu):
    """What the ModelSamplingFlux node does for an image size."""
    patched = model.clone()
    cls = type("ModelSamplingAdvanced", (comfy.model_sampling.ModelSamplingFlux, comfy.model_sampling.CONST), {})
    sampling = cls(model.model.model_config)
    sampling.set_parameters(shift=mu)
    patched.add_object_patch("model_sampling", sampling)
    return patched
