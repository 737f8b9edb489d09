"""The built-in trained demo network, "DyWeight Photos-32": what it is, independent of ComfyUI.

A class-conditional ComfyUI UNetModel (attention at 8x8 and 4x4; v-prediction on SD's schedule) trained by scripts/train_photos_model.py
on 32x32 patches of the photographs that ship inside scikit-image. It works on a lossless 2x2
space-to-depth "latent" (12 channels at 16x16), the way SD works on its VAE's latent, so one model call
costs a quarter of a pixel-space UNet's. The class is the prompt: CONDITIONING is a one-hot token
(all zeros = unconditional, which training used 10% of the time, so CFG works).
"""
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
WEIGHTS = os.path.join(ROOT, "models", "dyweight_photos32.safetensors")
FILE_NAME = os.path.basename(WEIGHTS)
# Its low-noise expert, for split runs with a pair of models (as Wan 2.2's): Photos-32 trained on further at
# sigmas up to 1 only (scripts/train_photos_model.py says how).
LOW_NOISE_WEIGHTS = os.path.join(ROOT, "models", "dyweight_photos32_low_noise.safetensors")

# (class name, scikit-image data function): every one a colour photograph bundled with the package.
CLASSES = [("astronaut", "astronaut"), ("cat", "chelsea"), ("coffee", "coffee"), ("galaxies", "hubble_deep_field"),
           ("cells", "immunohistochemistry"), ("motorcycle", "stereo_motorcycle"), ("retina", "retina"), ("rocket", "rocket")]
CLASS_NAMES = [name for name, _ in CLASSES]
IMAGE_SIZE = 32
PATCH = 2  # space-to-depth factor
LATENT_CHANNELS = 3 * PATCH * PATCH

# The ComfyUI UNetModel arguments; model detection reads all but the heads back from the weights.
UNET_CONFIG = dict(
    image_size=IMAGE_SIZE // PATCH, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, model_channels=32,
    num_res_blocks=[1, 1, 1], channel_mult=[1, 2, 2], transformer_depth=[0, 1, 1], transformer_depth_output=[0, 0, 1, 1, 1, 1],
    transformer_depth_middle=1, context_dim=len(CLASSES), num_heads=-1, num_head_channels=32, use_spatial_transformer=True,
    use_linear_in_transformer=True, legacy=False, adm_in_channels=None, use_temporal_attention=False,
    use_temporal_resblock=False, use_checkpoint=False)


def image_to_latent(images):
    """(B, 3, 32, 32) pictures in [-1, 1] -> (B, 12, 16, 16)."""
    return torch.nn.functional.pixel_unshuffle(images, PATCH)


def latent_to_image(latent):
    """(B, 12, 16, 16) -> (B, 3, 32, 32), the exact inverse of image_to_latent."""
    return torch.nn.functional.pixel_shuffle(latent, PATCH)


def class_context(classes, dtype=torch.float32):
    """The conditioning token of a prompt that names `classes` (indices): their one-hot sum; [] = unconditional."""
    context = torch.zeros(1, 1, len(CLASSES), dtype=dtype)
    for k in classes:
        context[0, 0, k] = 1.0
    return context
