"""Making a ComfyUI model differentiable for calibration: weights made under inference mode, sigma-differentiable
timesteps, activations updated in place, conditioning copied out of inference mode."""
import torch

from .model_info import continuous_sampling


def made_in_inference_mode(t):
    """True for inference tensors, and for parameters whose data a later .to() replaced: those
    report is_inference() False but still have no version counter, which autograd needs."""
    try:
        t._version  # raises for both kinds
    except RuntimeError:
        return True
    return t.is_inference()


def make_weights_differentiable(module):
    """ComfyUI creates weights under inference mode; autograd cannot save those for backward.
    Swap each for an ordinary copy (same values, one tensor at a time, so memory stays flat)."""
    for mod in module.modules():
        for name, p in list(mod._parameters.items()):
            if p is not None and made_in_inference_mode(p):
                mod._parameters[name] = torch.nn.Parameter(p.detach().clone(), requires_grad=False)
        for name, b in list(mod._buffers.items()):
            if b is not None and made_in_inference_mode(b):
                mod._buffers[name] = b.detach().clone()


def calibration_patcher(model):
    """A clone of the MODEL whose sampling is differentiable in sigma; the user's MODEL is untouched."""
    patcher = model.clone()
    sampling = model.get_model_object("model_sampling")
    continuous = continuous_sampling(sampling)
    patcher.add_object_patch("model_sampling", with_ordinary_tensors(continuous or sampling))
    return patcher, "native" if continuous is None else "continuous"


def with_ordinary_tensors(sampling):
    """A copy of a model sampling whose inference-mode tensors are ordinary copies: buffers, and the plain tensor
    attributes some samplings keep (Stable Cascade's cosine offset), which its timestep formula uses."""
    ordinary = lambda v: v.detach().clone() if torch.is_tensor(v) and made_in_inference_mode(v) else v
    copy = type(sampling).__new__(type(sampling))
    copy.__dict__.update({k: ordinary(v) for k, v in sampling.__dict__.items()})
    copy._buffers = {k: ordinary(v) for k, v in sampling._buffers.items()}
    return copy


def updates_activations_in_place(denoise, x, sigma, checkpoint=False):
    """Some ComfyUI model code (the Flux blocks' `x += ...`) updates tensors autograd saved; probe once,
    on one latent, recomputed in backward like the calibration itself when it checkpoints."""
    call = denoise if not checkpoint else (lambda xx, ss: torch.utils.checkpoint.checkpoint(denoise, xx, ss, use_reentrant=False))
    try:
        with torch.enable_grad():
            call(x[:1].clone().requires_grad_(True), sigma).sum().backward()
        return False
    except RuntimeError as e:
        if "modified by an inplace operation" in str(e):
            return True
        raise


def with_saved_copies(denoise, weights, copied=None):
    """Autograd keeps copies of the activations it saves, so later in-place updates cannot corrupt backward.
    The model's own weights and buffers (data pointers in `weights`) are never updated in place: they
    are saved as they are, not copied once per model call. `copied` (a list) collects the bytes copied."""
    def pack(t):
        if t.data_ptr() in weights:
            return t
        if copied is not None:
            copied.append(t.numel() * t.element_size())
        return t.clone()

    def call(x, sigma):
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            return denoise(x, sigma)
    return call


def weight_pointers(module):
    return {t.data_ptr() for t in list(module.parameters()) + list(module.buffers())}


def clone_conditioning(cond):
    """Ordinary (non-inference) copies of conditioning tensors."""
    clone = lambda v: v.clone() if torch.is_tensor(v) else v
    return [[clone(c[0]), {k: clone(v) for k, v in c[1].items()}] for c in cond]


def vae_decoder(vae, model):
    """Latents (the model's space) -> images in [0, 1], (B, C, H, W), differentiably, through ComfyUI's VAE."""
    make_weights_differentiable(vae.first_stage_model)
    latent_format = model.get_model_object("latent_format")
    return lambda z: vae.decode(latent_format.process_out(z)).movedim(-1, 1)
