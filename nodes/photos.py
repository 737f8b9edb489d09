"""DyWeight Photos-32, the built-in trained demo network, as a ComfyUI model family and a loader node.

Its weights load through ComfyUI's own path (comfy.sd.load_diffusion_model: model detection, the
family's config, inference-mode weights, SD's discrete v-prediction model_sampling), the same as the stock
Load Diffusion Model node, which lists the file too."""
import os

import torch

import comfy.latent_formats
import comfy.model_base
import comfy.sd
import comfy.supported_models
import comfy.supported_models_base
import folder_paths
from .api import io

from ..dyweight_core import photos


class PhotosLatent(comfy.latent_formats.LatentFormat):
    latent_channels = photos.LATENT_CHANNELS
    # live previews: latent channel c * 4 + k is sub-pixel k of colour c, so average the four
    latent_rgb_factors = [[0.25 * (c == channel // 4) for c in range(3)] for channel in range(photos.LATENT_CHANNELS)]


class DyWeightPhotos32(comfy.supported_models_base.BASE):
    """Model config: detected from the weights like any checkpoint; its class name is the family tables record."""
    unet_config = {"in_channels": photos.LATENT_CHANNELS, "model_channels": photos.UNET_CONFIG["model_channels"],
                   "context_dim": photos.UNET_CONFIG["context_dim"], "use_linear_in_transformer": True, "adm_in_channels": None}
    unet_extra_config = {"num_heads": -1, "num_head_channels": photos.UNET_CONFIG["num_head_channels"]}
    latent_format = PhotosLatent
    memory_usage_factor = 0.5

    def model_type(self, state_dict, prefix=""):
        return comfy.model_base.ModelType.V_PREDICTION

    def inpaint_model(self):
        return False  # ComfyUI takes any UNet of more than 4 input channels for an inpainting model


def register_model_family():
    """Let ComfyUI's model detection recognise the network, and its loaders find the shipped file."""
    if DyWeightPhotos32 not in comfy.supported_models.models:
        comfy.supported_models.models.append(DyWeightPhotos32)  # last: it only matches its own 12-channel shape
    folder_paths.add_model_folder_path("diffusion_models", os.path.dirname(photos.WEIGHTS))


def load_photos_model(low_noise=False):
    return comfy.sd.load_diffusion_model(photos.LOW_NOISE_WEIGHTS if low_noise else photos.WEIGHTS)


ALL_SUBJECTS = "all (one per picture)"


def class_conditioning(classes):
    return [[photos.class_context(classes), {}]]


class DyWeightPhotosModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightPhotosModel", display_name="DyWeight Photos-32 (trained, no download)",
            category="sampling/dyweight/demo",
            description="A small trained class-conditional UNet (attention, v-prediction on SD's discrete schedule) that draws 32x32 pictures "
                        "in the style of eight photographs. Ships with the pack (3 MB), loads like a checkpoint, and "
                        "runs in seconds on a CPU: the place to try samplers and calibration without a download.",
            inputs=[
                io.Combo.Input("subject", options=[ALL_SUBJECTS] + photos.CLASS_NAMES, default="cat",
                               tooltip="The class the positive conditioning asks for (the model's 'prompt'). "
                                       f"'{ALL_SUBJECTS}': a batch of eight prompts, picture i asks for class i mod 8."),
                io.Int.Input("batch_size", default=8, min=1, max=256, tooltip="Pictures in the empty latent."),
            ],
            outputs=[io.Model.Output(), io.Conditioning.Output(display_name="positive"),
                     io.Conditioning.Output(display_name="negative"), io.Latent.Output(),
                     io.Model.Output(display_name="low_noise_model",
                                     tooltip="Its low-noise expert (trained on further at sigmas up to 1): the second model "
                                             "of a split run, as Wan 2.2 pairs its two experts.")],
        )

    @classmethod
    def execute(cls, subject, batch_size) -> io.NodeOutput:
        size = photos.IMAGE_SIZE // photos.PATCH
        latent = {"samples": torch.zeros(batch_size, photos.LATENT_CHANNELS, size, size)}
        if subject == ALL_SUBJECTS:  # ComfyUI pairs latent i with row i mod 8 of a batched conditioning
            positive = [[torch.cat([photos.class_context([k]) for k in range(len(photos.CLASSES))]), {}]]
        else:
            positive = class_conditioning([photos.CLASS_NAMES.index(subject)])
        return io.NodeOutput(load_photos_model(), positive, class_conditioning([]), latent, load_photos_model(low_noise=True))
