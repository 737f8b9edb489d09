"""The noise schedules DyWeight tables are trained and sampled on, in one place (float64).

Users: the importer (the schedule an authors' table was trained on), DyWeight Scheduler and the
`dyweight` scheduler (the schedule to sample a table on), and the continuous timesteps that discrete
(SD) models are calibrated and sampled with.

Discrete (LDM / Stable Diffusion) models have 1000 training sigmas. Between them, time follows the
authors' `CFGPrecond` / DPM-Solver convention: the timestep index is linear in log alpha, where
alpha = 1 / sqrt(1 + sigma^2). At integer timesteps this is exactly the model's own grid.
"""
import math

import torch

from .table import TableError

SD_BETAS = (0.00085, 0.012)        # Stable Diffusion 1.x / 2.x / SDXL scaled-linear betas
LSUN_LDM_BETAS = (0.0015, 0.0195)  # the LSUN-Bedroom LDM of the authors' experiments
FLUX_BASE_SHIFT, FLUX_MAX_SHIFT = 0.5, 1.15  # FLUX.1's mu for 256 and 4096 image tokens


# --- discrete (LDM) models ------------------------------------------------------------------------
def ldm_sigmas(betas=SD_BETAS, timesteps=1000):
    """The training sigmas of a scaled-linear beta schedule, index 0 (sigma_min) to 999 (sigma_max)."""
    beta = torch.linspace(betas[0] ** 0.5, betas[1] ** 0.5, timesteps, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - beta, 0)
    return ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5


def _log_alpha(sigma):
    return -0.5 * torch.log1p(sigma * sigma)


def continuous_timestep(sigma, grid):
    """The fractional timestep of `sigma` on a model's increasing sigma `grid` (differentiable in sigma);
    clamped to the grid's ends. Integer on the grid itself."""
    grid = torch.as_tensor(grid).to(sigma.device, sigma.dtype)
    log_alpha, grid_log_alpha = _log_alpha(sigma), _log_alpha(grid)
    flat = sigma.detach().reshape(-1)
    low = (torch.searchsorted(grid, flat.contiguous()) - 1).clamp(0, len(grid) - 2).reshape(sigma.shape)
    frac = (log_alpha - grid_log_alpha[low]) / (grid_log_alpha[low + 1] - grid_log_alpha[low])
    return low.to(sigma.dtype) + frac.clamp(0, 1)


def sigma_at_timestep(timestep, grid):
    """Inverse of continuous_timestep: the sigma at fractional timesteps (log alpha interpolated)."""
    grid = torch.as_tensor(grid, dtype=torch.float64)
    t = torch.as_tensor(timestep, dtype=torch.float64)
    low = t.floor().long().clamp(0, len(grid) - 2)
    frac = t - low
    grid_log_alpha = _log_alpha(grid)
    log_alpha = (1 - frac) * grid_log_alpha[low] + frac * grid_log_alpha[low + 1]
    return torch.sqrt(torch.expm1(-2 * log_alpha))


def discrete_sigmas(points, grid):
    """The LDM "discrete" schedule (rho 1): `points` timesteps uniform from the last index to 0. It ends
    at the model's sigma_min, with no final 0, as the authors sample; the ends are the grid's exact values."""
    grid = torch.as_tensor(grid, dtype=torch.float64)
    t = torch.linspace(len(grid) - 1, 0, points, dtype=torch.float64)
    sigmas = sigma_at_timestep(t, grid)
    sigmas[0], sigmas[-1] = grid[-1], grid[0]
    return sigmas.tolist()


# --- continuous (EDM) and flow models -------------------------------------------------------------
def polynomial_sigmas(points, sigma_min, sigma_max, rho=7.0):
    """EDM / Karras: uniform in sigma^(1/rho) from sigma_max to sigma_min, `points` values, no final 0."""
    i = torch.arange(points, dtype=torch.float64) / (points - 1)
    return ((sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho).tolist()


def flux_mu(resolution=1024, width=None, height=None):
    """FLUX.1's time shift mu for an image size (ModelSamplingFlux: linear in the number of 16x16 tokens)."""
    tokens = ((width or resolution) // 16) * ((height or resolution) // 16)
    return FLUX_BASE_SHIFT + (FLUX_MAX_SHIFT - FLUX_BASE_SHIFT) * (tokens - 256) / (4096 - 256)


def flux_sigmas(steps, mu):
    """FLUX.1's schedule: linspace(1, 1/N, N) under the exponential time shift mu, then 0."""
    t = torch.linspace(1, 1 / steps, steps, dtype=torch.float64)
    return (math.exp(mu) / (math.exp(mu) + (1 / t - 1))).tolist() + [0.0]


def shifted_flow_sigmas(steps, shift):
    """SD3 / Wan-style flow schedule: linspace(1, 1/N, N) under the time-SNR shift, then 0."""
    t = torch.linspace(1, 1 / steps, steps, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).tolist() + [0.0]


# --- what a table is sampled on --------------------------------------------------------------------
FOLLOWS_RESOLUTION = "flux_shift"  # provenance.schedule of tables whose sigmas follow FLUX's shift


def follows_resolution(table):
    return table.provenance.get("schedule") == FOLLOWS_RESOLUTION


def table_sigmas(table, mu=None, denoise=1.0):
    """The sigmas to run `table` on. Its recorded sigmas, except for tables trained on FLUX's shifted
    schedule, which follows the image size (mu): those get that schedule at `mu`, and with denoise < 1
    the tail of a longer one, as ComfyUI's schedulers do."""
    if follows_resolution(table) and mu is not None:
        if denoise <= 0:
            return []
        total = max(table.steps, int(table.steps / denoise))
        return flux_sigmas(total, mu)[-(table.steps + 1):]
    if denoise < 0.9999:
        raise TableError(f"table '{table.label}' records one fixed schedule; denoise {denoise} needs a table "
                         f"calibrated for it (DyWeight Calibrate with that denoise)")
    return list(table.sigmas)
