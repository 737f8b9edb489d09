"""The exact Gaussian-mixture demo model as a real ComfyUI MODEL: the demo's default, the tests' ground truth."""
import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.supported_models_base
from .api import io

from ..dyweight_core import photos
from ..dyweight_core.mixture import GaussianMixture

MODEL_TYPES = {"eps": comfy.model_base.ModelType.EPS, "v": comfy.model_base.ModelType.V_PREDICTION,
               "flow": comfy.model_base.ModelType.FLOW}


class MixtureLatent(comfy.latent_formats.LatentFormat):
    latent_channels = 3  # the "latent" is the RGB picture itself


class DyWeightMixture(comfy.supported_models_base.BASE):
    """Model config: its class name is the family tables record."""
    unet_config = {"disable_unet_model_creation": True}
    latent_format = MixtureLatent


class MixtureNet(torch.nn.Module):
    """A diffusion_model whose output makes ComfyUI's calculate_denoised return the exact E[x0 | x]."""
    exact_at_any_sigma = True  # calibration's teacher solves right down to sigma 0 (nodes/calibrate.teacher_floor)

    def __init__(self, mixture, kind, dtype=torch.float32):
        super().__init__()
        self.kind, self.dtype, self.std = kind, dtype, mixture.std
        self.register_buffer("means", mixture.means.to(torch.float64))  # a buffer: moved, fingerprinted

    @property
    def mixture(self):
        return GaussianMixture(self.means, self.std)

    def forward(self, xc, timesteps, context=None, transformer_options={}, **kwargs):
        sigma = transformer_options["sigmas"]  # the true, differentiable sigma (timesteps may be quantised)
        sigma = sigma.repeat(xc.shape[0] // sigma.shape[0]).to(torch.float64).reshape(-1, *[1] * (xc.ndim - 1))
        xc = xc.to(torch.float64)
        logits, mixture = None, self.mixture
        if context is not None and context.shape[-1] == len(self.means):
            logits = context[:, 0, :].to(torch.float64)
        if self.kind == "flow":
            x = xc
            out = (x - mixture.posterior_mean(x, 1 - sigma, sigma, logits)) / sigma
        else:
            x = xc * torch.sqrt(sigma ** 2 + 1)
            denoised = mixture.posterior_mean(x, 1.0, sigma, logits)
            if self.kind == "eps":
                out = (x - denoised) / sigma
            else:  # v-prediction, sigma_data 1
                out = (x / (sigma ** 2 + 1) - denoised) * torch.sqrt(sigma ** 2 + 1) / sigma
        return out.to(self.dtype)


def mixture_model(kind="eps", shift=3.0, mixture=None, dtype=torch.float32):
    """A ModelPatcher over the exact mixture model: EPS/V with SD's discrete schedule, or flow with `shift`."""
    mixture = mixture or GaussianMixture.pictures()
    config = DyWeightMixture({"disable_unet_model_creation": True})
    if kind == "flow":
        config.sampling_settings["shift"] = float(shift)
    base = comfy.model_base.BaseModel(config, model_type=MODEL_TYPES[kind])
    base.diffusion_model = MixtureNet(mixture, kind, dtype)
    device = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(base, load_device=device, offload_device=torch.device("cpu"))


def prompt_conditioning(mixture, favoured):
    """CONDITIONING whose context is a log-prior over the mixture's pictures (empty list = uniform)."""
    logits = torch.zeros(1, 1, len(mixture.means))
    for k in favoured:
        logits[0, 0, k] = 4.0
    return [[logits, {}]]


class DyWeightDemoModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightDemoModel", display_name="DyWeight Demo Mixture (exact, no download)",
            category="sampling/dyweight/demo",
            description="An exact Gaussian-mixture diffusion model over procedurally drawn 32x32 pictures. "
                        "Needs no checkpoint; its true ODE solution is known, so samplers can be compared by the number.",
            inputs=[
                io.Combo.Input("kind", options=list(MODEL_TYPES), default="eps",
                               tooltip="eps / v: SD1.5-style discrete schedule (EPS or V-prediction). flow: rectified flow like SD3/FLUX."),
                io.Float.Input("shift", default=3.0, min=0.1, max=20.0, step=0.1, tooltip="Flow time shift (flow only)."),
                io.Int.Input("batch_size", default=4, min=1, max=64, tooltip="Latents in the batch."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=False,
                             tooltip="Which set of pictures the mixture is drawn over."),
            ],
            outputs=[io.Model.Output(), io.Conditioning.Output(display_name="positive"),
                     io.Conditioning.Output(display_name="negative"), io.Latent.Output()],
        )

    @classmethod
    def execute(cls, kind, shift, batch_size, seed) -> io.NodeOutput:
        mixture = GaussianMixture.pictures(seed=seed)
        latent = {"samples": torch.zeros((batch_size,) + mixture.shape)}
        return io.NodeOutput(mixture_model(kind, shift, mixture), prompt_conditioning(mixture, range(0, 12, 3)),
                             prompt_conditioning(mixture, []), latent)


class DyWeightDemoDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightDemoDecode", display_name="DyWeight Demo Decode", category="sampling/dyweight/demo",
            description="Shows demo-model latents as images: the exact demo model's RGB pictures and the Photos-32 "
                        "model's space-to-depth latents, in [-1, 1].",
            inputs=[io.Latent.Input("samples", tooltip="Latents from the demo model."),
                    io.Int.Input("scale", default=4, min=1, max=16, tooltip="Nearest-neighbour upscale for viewing.")],
            outputs=[io.Image.Output()],
        )

    @classmethod
    def execute(cls, samples, scale) -> io.NodeOutput:
        return io.NodeOutput(latent_to_image(samples["samples"], scale))


def latent_to_image(latent, scale=4):
    latent = latent.float()
    if latent.shape[1] == photos.LATENT_CHANNELS:  # the trained Photos-32 model's space-to-depth latent
        latent = photos.latent_to_image(latent)
    pictures = torch.nn.functional.interpolate(latent[:, :3], scale_factor=scale, mode="nearest")
    return ((pictures + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).contiguous()
