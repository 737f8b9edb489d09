"""Who is this MODEL? Family, model type, shift and a cheap weight fingerprint, for table lookup."""
import hashlib

import torch

import comfy.model_sampling

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
    """Discrete (SD1.x/SDXL) samplings map sigma to a timestep by argmin, which has no gradient;
    interpolating log-sigma gives the same timesteps on the grid and lets time scales learn."""

    def timestep(self, sigma):
        log_sigmas = self.log_sigmas.to(sigma.device)
        log_sigma = sigma.log().clamp(log_sigmas[0], log_sigmas[-1])
        low = (torch.searchsorted(log_sigmas, log_sigma.detach().reshape(-1)) - 1).clamp(0, len(log_sigmas) - 2)
        low = low.reshape(sigma.shape)
        frac = (log_sigma - log_sigmas[low]) / (log_sigmas[low + 1] - log_sigmas[low])
        return low.to(sigma.dtype) + frac


def continuous_sampling(sampling):
    """The same model sampling with interpolated timesteps, or None where timesteps are continuous already."""
    if not isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete) or \
            isinstance(sampling, (ContinuousTimestep, comfy.model_sampling.ModelSamplingDiscreteEDM)):
        return None
    cls = type("ContinuousTimestepSampling", (ContinuousTimestep, type(sampling)), {})
    continuous = cls.__new__(cls)
    continuous.__dict__.update(sampling.__dict__)
    return continuous
