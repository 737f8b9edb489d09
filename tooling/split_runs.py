"""A solve split across two KSamplerAdvanced nodes through ComfyUI's own node code, and the finely solved two-model
ODE to measure it against. Used by tests/integration/test_split_runs.py, benchmarks/split_runs.py and
benchmarks/photos_pair.py."""
import torch

from .pack import comfyui_nodes


def demo(seed=0, batch_size=4):
    """The built-in demo mixture (a shipped 4-step karras table): (model, positive, negative, latent)."""
    from comfyui_dyweight.nodes.mixture import DyWeightDemoModel
    with torch.inference_mode():
        return DyWeightDemoModel.execute("eps", 3.0, batch_size, seed).result


def photos_pair(batch_size=64):
    """The built-in trained network and its low-noise expert, every class prompted: (first, second) as demo() gives."""
    from comfyui_dyweight.nodes.photos import ALL_SUBJECTS, DyWeightPhotosModel
    with torch.inference_mode():
        model, positive, negative, latent, low_noise = DyWeightPhotosModel.execute(ALL_SUBJECTS, batch_size).result
    return (model, positive, negative, latent), (low_noise, positive, negative, latent)


def split(first, second, sampler, steps, switch, seed=5, scheduler="karras", cfg=1.0):
    """`first`'s model for steps 0..switch (leftover noise on), `second`'s from there (no new noise)."""
    model_a, positive, negative, latent = first
    with torch.inference_mode():
        k = comfyui_nodes().KSamplerAdvanced()
        (half,) = k.sample(model_a, "enable", seed, steps, cfg, sampler, scheduler, positive, negative, latent, 0, switch, "enable")
        (out,) = k.sample(second[0], "disable", seed, steps, cfg, sampler, scheduler, positive, negative, half, switch, 10000, "disable")
    return out["samples"]


def split_with_table(first, second, table, switch, seed=5, cfg=1.0):
    """A table connected to DyWeight Sampler, its sigmas split at `switch` into two SamplerCustom runs, one per model."""
    import comfy.sample
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    model_a, positive, negative, latent = first
    sampler = DyWeightSampler.execute(table=table).result[0]
    sigmas = torch.tensor(table.sigmas)
    noise = comfy.sample.prepare_noise(latent["samples"], seed)
    run = lambda model, n, s, x: comfy.sample.sample_custom(model, n, cfg, sampler, s, positive, negative, x, seed=seed,
                                                            disable_pbar=True)
    with torch.inference_mode():
        half = run(model_a, noise, sigmas[:switch + 1], latent["samples"])
        return run(second[0], torch.zeros_like(noise), sigmas[switch:], half)


def whole(first, sampler, steps, seed=5, scheduler="karras"):
    model, positive, negative, latent = first
    with torch.inference_mode():
        (out,) = comfyui_nodes().KSampler().sample(model, seed, steps, 1.0, sampler, scheduler, positive, negative, latent)
    return out["samples"]


def reference(first, second, steps, switch, fine=200, seed=5, scheduler="karras", cfg=1.0):
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
        x = comfy.sample.sample_custom(model_a, noise, cfg, heun, log_even(sigmas[0], sigmas[switch]), positive, negative,
                                       latent["samples"], seed=seed, disable_pbar=True)
        return comfy.sample.sample_custom(second[0], torch.zeros_like(noise), cfg, heun, log_even(sigmas[switch], sigmas[-1]),
                                          positive, negative, x, seed=seed, disable_pbar=True)


def median_error(x, target):
    return (x - target).flatten(1).norm(dim=1).median().item()
