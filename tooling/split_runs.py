"""A solve split across two KSamplerAdvanced nodes through ComfyUI's own node code, and the finely solved two-model
ODE to measure it against. Used by tests/integration/test_split_runs.py and benchmarks/split_runs.py."""
import torch

from .pack import comfyui_nodes


def demo(seed=0, batch_size=4):
    """The built-in demo mixture (a shipped 4-step karras table): (model, positive, negative, latent)."""
    from comfyui_dyweight.nodes.mixture import DyWeightDemoModel
    with torch.inference_mode():
        return DyWeightDemoModel.execute("eps", 3.0, batch_size, seed).result


def split(first, second, sampler, steps, switch, seed=5, scheduler="karras"):
    """`first`'s model for steps 0..switch (leftover noise on), `second`'s from there (no new noise)."""
    model_a, positive, negative, latent = first
    with torch.inference_mode():
        k = comfyui_nodes().KSamplerAdvanced()
        (half,) = k.sample(model_a, "enable", seed, steps, 1.0, sampler, scheduler, positive, negative, latent, 0, switch, "enable")
        (out,) = k.sample(second[0], "disable", seed, steps, 1.0, sampler, scheduler, positive, negative, half, switch, 10000, "disable")
    return out["samples"]


def whole(first, sampler, steps, seed=5, scheduler="karras"):
    model, positive, negative, latent = first
    with torch.inference_mode():
        (out,) = comfyui_nodes().KSampler().sample(model, seed, steps, 1.0, sampler, scheduler, positive, negative, latent)
    return out["samples"]


def reference(first, second, steps, switch, fine=200, seed=5, scheduler="karras"):
    """The two-model ODE solved finely: Heun on `fine` log-even steps per part, the model switched at the same sigma."""
    import comfy.sample
    import comfy.samplers
    model_a, positive, negative, latent = first
    sigmas = comfy.samplers.calculate_sigmas(model_a.get_model_object("model_sampling"), scheduler, steps)

    def log_even(hi, lo):
        last = lo if lo > 0 else sigmas[-2] * 1e-2
        inner = torch.exp(torch.linspace(torch.log(hi), torch.log(last), fine + 1))
        return torch.cat([inner, sigmas.new_zeros(1)]) if lo == 0 else inner
    heun = comfy.samplers.sampler_object("heun")
    with torch.inference_mode():
        noise = comfy.sample.prepare_noise(latent["samples"], seed)
        x = comfy.sample.sample_custom(model_a, noise, 1.0, heun, log_even(sigmas[0], sigmas[switch]), positive, negative,
                                       latent["samples"], seed=seed, disable_pbar=True)
        return comfy.sample.sample_custom(second[0], torch.zeros_like(noise), 1.0, heun, log_even(sigmas[switch], sigmas[-1]),
                                          positive, negative, x, seed=seed, disable_pbar=True)


def median_error(x, target):
    return (x - target).flatten(1).norm(dim=1).median().item()
