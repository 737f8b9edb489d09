"""An exact diffusion model: a Gaussian mixture over procedurally drawn RGB pictures.

Its denoiser D(x, sigma) = E[x0 | x] is closed-form, and a high-accuracy reference ODE solve
gives the true endpoint of every trajectory, so "a better sampler" is a number. It is the
demo model (no download) and the ground truth of the tests and benchmarks.
"""
import math

import torch

KINDS = ("eps", "v", "flow")  # VE-type (EPS / V-prediction models see the same D) or rectified flow


def draw_pictures(count=12, size=32, seed=0):
    """`count` RGB pictures in [-1, 1], shape (count, 3, size, size): gradients, discs, stripes, checkers."""
    g = torch.Generator().manual_seed(seed)
    u = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size, dtype=torch.float64),
                            torch.linspace(-1, 1, size, dtype=torch.float64), indexing="ij")
    pictures = []
    for k in range(count):
        c1, c2 = u(3, 1, 1) * 2 - 1, u(3, 1, 1) * 2 - 1
        angle = u(()) * math.pi
        ramp = (xx * torch.cos(angle) + yy * torch.sin(angle)).clamp(-1, 1) * 0.5 + 0.5
        base = c1 * (1 - ramp) + c2 * ramp
        shape = k % 3
        if shape == 0:    # a disc
            cx, cy, r = u(()) - 0.5, u(()) - 0.5, 0.3 + 0.4 * u(())
            mask = (((xx - cx) ** 2 + (yy - cy) ** 2) < r * r).double()
        elif shape == 1:  # stripes
            freq = 2 + int(u(()) * 4)
            mask = (torch.sin(freq * math.pi * (xx + u(()))) > 0).double()
        else:             # a checkerboard
            n = 2 + int(u(()) * 3)
            mask = ((torch.floor((xx + 1) * n / 2) + torch.floor((yy + 1) * n / 2)) % 2).double()
        fg = u(3, 1, 1) * 2 - 1
        pictures.append((base * (1 - mask) + fg * mask).clamp(-1, 1))
    return torch.stack(pictures)


class GaussianMixture:
    """Equal-weight isotropic mixture sum_k N(mean_k, std^2 I); all maths in float64."""

    def __init__(self, means, std=0.15):
        self.means = means.to(torch.float64)
        self.flat = self.means.flatten(1)
        self.sq = (self.flat ** 2).sum(1)
        self.std = float(std)

    @classmethod
    def pictures(cls, count=12, size=32, seed=0, std=0.15):
        return cls(draw_pictures(count, size, seed), std)

    @property
    def shape(self):
        return tuple(self.means.shape[1:])

    def posterior_mean(self, x, alpha, noise, logits=None):
        """E[x0 | x = alpha * x0 + noise * n]; alpha and noise are scalars or per-sample tensors.

        `logits` (batch x components) tilts the mixture weights: the demo's text conditioning.
        """
        xf = x.to(torch.float64).flatten(1)
        alpha = torch.as_tensor(alpha, dtype=torch.float64, device=xf.device).reshape(-1, 1)
        noise = torch.as_tensor(noise, dtype=torch.float64, device=xf.device).reshape(-1, 1)
        means, sq = self.flat.to(xf.device), self.sq.to(xf.device)
        var = alpha ** 2 * self.std ** 2 + noise ** 2
        dist = (xf ** 2).sum(1, keepdim=True) - 2 * alpha * (xf @ means.T) + alpha ** 2 * sq
        if logits is not None:
            dist = dist - 2 * var * logits.to(xf)
        resp = torch.softmax(-dist / (2 * var), dim=1)
        gain = alpha * self.std ** 2 / var
        out = (1 - alpha * gain) * (resp @ means) + gain * xf
        return out.reshape(x.shape)

    def denoiser(self, kind, logits=None, cfg=1.0, uncond_logits=None):
        """D(x, sigma) in ComfyUI's convention for the model kind (flow: x = (1-sigma) x0 + sigma n).

        With cfg != 1 it is the guided denoiser D_u + cfg (D_c - D_u), as ComfyUI's CFG computes it.
        """
        def cond(x, sigma, lg):
            alpha = 1 - sigma if kind == "flow" else 1.0
            return self.posterior_mean(x, alpha, sigma, lg)

        def denoise(x, sigma):
            out = cond(x, sigma, logits)
            if cfg != 1.0:
                uncond = cond(x, sigma, uncond_logits)
                out = uncond + cfg * (out - uncond)
            return out.to(x.dtype)
        return denoise

    def sample_data(self, count, seed=0):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randint(len(self.means), (count,), generator=g)
        return self.means[idx] + self.std * torch.randn((count,) + self.shape, generator=g, dtype=torch.float64)


def reference_grid(sigma_start, sigma_end, kind, steps=512):
    """RK4 grid: geometric in sigma where the ODE is log-stiff, uniform near sigma 1 for flow."""
    floor = max(float(sigma_end), 1e-4 * min(1.0, float(sigma_start)))
    if kind == "flow" and sigma_start > 0.25:
        knee = max(0.25, floor)
        head = torch.linspace(float(sigma_start), knee, steps // 4 + 1, dtype=torch.float64)
        tail = torch.exp(torch.linspace(math.log(knee), math.log(floor), steps - steps // 4 + 1, dtype=torch.float64))
        return torch.cat([head, tail[1:]])
    return torch.exp(torch.linspace(math.log(float(sigma_start)), math.log(floor), steps + 1, dtype=torch.float64))


@torch.no_grad()
def reference_solve(denoise, kind, x, sigma_start, sigma_end=0.0, steps=512):
    """The probability-flow ODE of `denoise` (a demo mixture denoiser) solved by RK4 in float64 (error
    ~1e-7 at 512 steps); to sigma_end, or to x0 when it is 0."""
    f = lambda y, s: (y - denoise(y, s)) / s
    y = x.to(torch.float64)
    grid = reference_grid(sigma_start, sigma_end, kind, steps)
    for s0, s1 in zip(grid[:-1].tolist(), grid[1:].tolist()):
        h = s1 - s0
        k1 = f(y, s0)
        k2 = f(y + h / 2 * k1, s0 + h / 2)
        k3 = f(y + h / 2 * k2, s0 + h / 2)
        k4 = f(y + h * k3, s1)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    if sigma_end == 0:
        y = denoise(y, float(grid[-1]))  # x(0) = D(x(s), s) + O(s^2) at the floor s
    return y

