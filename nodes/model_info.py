"""Who is this MODEL? Family, model type, shift and a cheap weight fingerprint, for table lookup."""
import gc
import hashlib

import torch

import comfy.model_base
import comfy.model_patcher
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
    """{family, model_type, shift, fingerprint, weights, patches} of a MODEL, as tables record it.

    `weights` fingerprints the checkpoint; `fingerprint` the model as it samples: the checkpoint and its
    patches (LoRAs and other weight patches, with their strengths; model-option patches such as FreeU,
    PAG or RescaleCFG), so a table or a cached teacher never passes for another LoRA or strength."""
    patcher = find_patcher(model)
    base = patcher.model
    shift = getattr(patcher.get_model_object("model_sampling"), "shift", None)
    weights = weight_fingerprint(getattr(base, "diffusion_model", None))
    patches = model_patches(patcher)
    fingerprint = weights
    if patches and weights:
        h = hashlib.sha256(weights.encode())
        feed_hash(h, patches, head=FINGERPRINT_ELEMENTS)
        fingerprint = h.hexdigest()[:16]
    return {
        "family": type(base.model_config).__name__,
        "model_type": getattr(base.model_type, "name", str(base.model_type)),
        "shift": float(shift) if shift is not None else None,
        "fingerprint": fingerprint, "weights": weights, "patches": describe_patches(patches),
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


OPTION_PATCHES = ("sampler_cfg_function", "sampler_post_cfg_function", "sampler_pre_cfg_function", "model_function_wrapper",
                  "denoise_mask_function")


def model_patches(patcher):
    """What is patched onto the checkpoint: weight patches by key, and the model-option patches."""
    options = patcher.model_options
    transformer = options.get("transformer_options", {})
    found = {"weights": dict(patcher.patches), **{k: options[k] for k in OPTION_PATCHES if options.get(k)},
             **{f"patches.{k}": v for k, v in transformer.get("patches", {}).items()},
             **{f"patches_replace.{k}": v for k, v in transformer.get("patches_replace", {}).items()}}
    return {k: v for k, v in found.items() if v}


def describe_patches(patches):
    """The patches in words for tables and the console (None: none)."""
    parts = []
    if patches.get("weights"):
        strengths = sorted({round(float(p[0]), 4) for entries in patches["weights"].values() for p in entries})
        parts.append(f"{len(patches['weights'])} weight patches (strength {', '.join(f'{v:g}' for v in strengths)})")
    others = sorted(k for k in patches if k != "weights")
    if others:
        parts.append("model options: " + ", ".join(others))
    return "; ".join(parts) or None


def feed_hash(h, obj, head=None, depth=0):
    """Feed a stable description of `obj` to the hash `h`, never its id(): tensors by shape, dtype and
    values (the first `head` of them when given), containers by content, functions by name and closure,
    other objects by type and fields (modules by type and weight fingerprint)."""
    if depth > 12:
        h.update(b"...")
    elif torch.is_tensor(obj):
        h.update(f"T{tuple(obj.shape)}{obj.dtype}".encode())
        flat = obj.detach().reshape(-1)
        h.update((flat if head is None else flat[:head]).to("cpu", torch.float32).numpy().tobytes())
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(f"K{k}".encode())
            feed_hash(h, obj[k], head, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        h.update(f"L{len(obj)}".encode())
        for v in (sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj):
            feed_hash(h, v, head, depth + 1)
    elif isinstance(obj, (str, int, float, bool, type(None))):
        h.update(repr(obj).encode())
    elif isinstance(obj, torch.nn.Module):  # e.g. a ControlNet in conditioning: its weights, sampled
        h.update(f"M{type(obj).__qualname__}{weight_fingerprint(obj)}".encode())
    elif callable(obj) and hasattr(obj, "__qualname__"):
        h.update(f"F{getattr(obj, '__module__', '')}.{obj.__qualname__}".encode())
        feed_hash(h, [c.cell_contents for c in (getattr(obj, "__closure__", None) or ()) if _cell_filled(c)], head, depth + 1)
        feed_hash(h, getattr(obj, "__self__", None), head, depth + 1)  # bound methods: their object
        feed_hash(h, getattr(obj, "keywords", None), head, depth + 1)  # functools.partial
    else:
        h.update(f"O{type(obj).__qualname__}".encode())
        feed_hash(h, getattr(obj, "__dict__", repr(obj)), head, depth + 1)


def _cell_filled(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


class ContinuousTimestep:
    """Discrete (SD1.x/SDXL) samplings map sigma to a timestep by argmin, which has no gradient.
    Interpolating between the training timesteps as the DyWeight authors do gives the same timesteps
    on the grid, lets time scales learn, and runs the authors' SD tables at the times they trained at."""

    def timestep(self, sigma):
        return continuous_timestep(sigma, self.sigmas)


def continuous_sampling(sampling):
    """The same model sampling with interpolated timesteps, or None where timesteps are continuous already:
    every sampling that replaces the discrete argmin with a formula of its own (EDM's log sigma, Stable
    Cascade's cosine), whose timestep the model was trained on and whose gradient is exact."""
    discrete = comfy.model_sampling.ModelSamplingDiscrete
    if not isinstance(sampling, discrete) or isinstance(sampling, ContinuousTimestep) or type(sampling).timestep is not discrete.timestep:
        return None
    cls = type("ContinuousTimestepSampling", (ContinuousTimestep, type(sampling)), {})
    continuous = cls.__new__(cls)
    continuous.__dict__.update(sampling.__dict__)
    return continuous


def prediction_type(sampling):
    """EPS, V_PREDICTION, ...: the ModelType name of a model sampling's prediction mix-in (None if unknown)."""
    names = {t.name for t in comfy.model_base.ModelType}
    return next((c.__name__ for c in type(sampling).__mro__ if c.__name__ in names), None)


def owner_family(sampling):
    """The family (model config class) of the model a model_sampling belongs to: ComfyUI's scheduler API passes
    only the sampling, so find its holder, a BaseModel (through its _modules) or a patcher (object patches)."""
    layer, seen = [sampling], set()
    for _ in range(3):  # sampling <- _modules / object_patches dict <- instance __dict__ <- instance
        parents = []
        for obj in layer:
            for holder in gc.get_referrers(obj):
                if id(holder) in seen or holder is layer:
                    continue
                seen.add(id(holder))
                base = getattr(holder, "model", None) if isinstance(holder, comfy.model_patcher.ModelPatcher) else holder
                if isinstance(base, comfy.model_base.BaseModel):
                    return type(base.model_config).__name__
                if isinstance(holder, dict):
                    parents.append(holder)
        layer = parents
    return None


def sampling_description(sampling):
    """What the `dyweight` scheduler needs to know of a model sampling (see lookup.scheduler_sigmas)."""
    info = {"sigma_min": float(sampling.sigma_min), "sigma_max": float(sampling.sigma_max),
            "shift": float(getattr(sampling, "shift", 1.0)), "model_type": prediction_type(sampling),
            "family": owner_family(sampling)}
    if isinstance(sampling, comfy.model_sampling.ModelSamplingFlux):
        return dict(info, kind="flux")
    if isinstance(sampling, comfy.model_sampling.ModelSamplingDiscreteFlow):
        return dict(info, kind="flow")
    if isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete) and \
            not isinstance(sampling, comfy.model_sampling.ModelSamplingDiscreteEDM):
        return dict(info, kind="discrete", grid=sampling.sigmas.detach().double().cpu())
    return dict(info, kind="continuous")
