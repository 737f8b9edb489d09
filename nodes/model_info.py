"""Who is this MODEL? Family, model type, shift and a cheap weight fingerprint, for table lookup."""
import hashlib

import torch

import comfy.model_sampling

from ..dyweight_core.schedules import continuous_timestep

FINGERPRINT_TENSORS = 8      # the first few tensors in name order ...
FINGERPRINT_ELEMENTS = 4096  # ... and the first elements of each: milliseconds even for FLUX


def find_patcher(model):
    """The ModelPatcher behind a MODEL, a CFGGuider or the wrapped model a sampler function receives."""
    m = model
    while m is not None:
        if hasattr(m, "get_model_object"):
            return m
        if getattr(m, "model_patcher", None) is not None:
            return m.model_patcher
        m = getattr(m, "inner_model", None)
    raise TypeError(f"cannot find a ComfyUI model behind {type(model).__name__}")


def model_identity(model):
    """{family, model_type, shift, fingerprint} of a MODEL, as tables record it."""
    patcher = find_patcher(model)
    base = patcher.model
    shift = getattr(patcher.get_model_object("model_sampling"), "shift", None)
    return {
        "family": type(base.model_config).__name__,
        "model_type": getattr(base.model_type, "name", str(base.model_type)),
        "shift": float(shift) if shift is not None else None,
        "fingerprint": weight_fingerprint(getattr(base, "diffusion_model", None)),
    }


@torch.no_grad()
def weight_fingerprint(module):
    """sha256 over names, shapes, dtypes and leading values of the first tensors; None without any."""
    if module is None:
        return None
    h = hashlib.sha256(type(module).__name__.encode())
    tensors = sorted(module.state_dict(keep_vars=True).items())[:FINGERPRINT_TENSORS]
    if not tensors:
        return None
    for name, t in tensors:
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        head = t.detach().reshape(-1)[:FINGERPRINT_ELEMENTS].to("cpu", torch.float32)
        h.update(head.numpy().tobytes())
    return h.hexdigest()[:16]


class ContinuousTimestep:
    """Discrete (SD1.x/SDXL) samplings map sigma to a timestep by argmin, which has no gradient.
    Interpolating between the training timesteps as the DyWeight authors do gives the same timesteps
    on the grid, lets time scales learn, and runs the authors' SD tables at the times they trained at."""

    def timestep(self, sigma):
        return continuous_timestep(sigma, self.sigmas)


def continuous_sampling(sampling):
    """The same model sampling with interpolated timesteps, or None where timesteps are continuous already."""
    if not isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete) or \
            isinstance(sampling, (ContinuousTimestep, comfy.model_sampling.ModelSamplingDiscreteEDM)):
        return None
    cls = type("ContinuousTimestepSampling", (ContinuousTimestep, type(sampling)), {})
    continuous = cls.__new__(cls)
    continuous.__dict__.update(sampling.__dict__)
    return continuous


def sampling_description(sampling):
    """What the `dyweight` scheduler needs to know of a model sampling (see lookup.scheduler_sigmas)."""
    info = {"sigma_min": float(sampling.sigma_min), "sigma_max": float(sampling.sigma_max),
            "shift": float(getattr(sampling, "shift", 1.0))}
    if isinstance(sampling, comfy.model_sampling.ModelSamplingFlux):
        return dict(info, kind="flux")
    if isinstance(sampling, comfy.model_sampling.ModelSamplingDiscreteFlow):
        return dict(info, kind="flow")
    if isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete) and \
            not isinstance(sampling, comfy.model_sampling.ModelSamplingDiscreteEDM):
        return dict(info, kind="discrete", grid=sampling.sigmas.detach().double().cpu())
    return dict(info, kind="continuous")
