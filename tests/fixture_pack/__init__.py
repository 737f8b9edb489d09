"""A second custom node pack, for the tests: it registers a sampler and a scheduler the way packs should
(extending ComfyUI's shared lists in place), so tests can prove that ours and others' coexist in either
load order; it makes random conditioning, so server tests can drive SD/FLUX models without a text encoder;
and it gives a tiny Flux whose family ComfyUI detected (a real FLUX file is 3072 wide even with one block)."""
import importlib.util
import os
import sys

import torch

import comfy.k_diffusion.sampling
import comfy.samplers


@torch.no_grad()
def sample_fixture_euler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Euler, under another name."""
    extra_args = {} if extra_args is None else extra_args
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * x.new_ones([x.shape[0]]), **extra_args)
        x = x + (sigmas[i + 1] - sigmas[i]) * (x - denoised) / sigmas[i]
    return x


def fixture_linear_scheduler(model_sampling, steps):
    return torch.cat([torch.linspace(float(model_sampling.sigma_max), float(model_sampling.sigma_min), steps), torch.zeros(1)])


comfy.k_diffusion.sampling.sample_fixture_euler = sample_fixture_euler
if "fixture_euler" not in comfy.samplers.SAMPLER_NAMES:
    comfy.samplers.SAMPLER_NAMES.append("fixture_euler")  # the same list object as KSampler.SAMPLERS
comfy.samplers.SCHEDULER_HANDLERS["fixture_linear"] = comfy.samplers.SchedulerHandler(fixture_linear_scheduler)
if "fixture_linear" not in comfy.samplers.SCHEDULER_NAMES:
    comfy.samplers.SCHEDULER_NAMES.append("fixture_linear")  # the same list object as KSampler.SCHEDULERS


class FixtureConditioning:
    """Seeded random text conditioning of a given width (768: SD1.5; 4096 + pooled 768 + guidance: FLUX)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": ("INT", {"default": 768, "min": 1, "max": 8192, "tooltip": "context width"}),
                             "tokens": ("INT", {"default": 8, "min": 1, "max": 512, "tooltip": "context length"}),
                             "pooled": ("INT", {"default": 0, "min": 0, "max": 8192, "tooltip": "pooled width, 0: none"}),
                             "guidance": ("FLOAT", {"default": -1.0, "min": -1.0, "max": 100.0, "tooltip": "FLUX guidance, -1: none"}),
                             "seed": ("INT", {"default": 1, "min": 0, "max": 2 ** 31 - 1, "tooltip": "noise seed",
                                              "control_after_generate": False})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, width, tokens, pooled, guidance, seed):
        g = torch.Generator().manual_seed(seed)
        extra = {}
        if pooled:
            extra["pooled_output"] = torch.randn(1, pooled, generator=g)
        if guidance >= 0:
            extra["guidance"] = guidance
        return ([[torch.randn(1, tokens, width, generator=g), extra]],)


class FixtureFluxModel:
    """tooling/comfy_models.detected_flux: ComfyUI's detection on a real-size state dict, tiny weights."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"schnell": ("BOOLEAN", {"default": False, "tooltip": "FLUX.1-schnell instead of dev"})}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, schnell):
        return (comfy_models().detected_flux(schnell=schnell),)


def comfy_models():
    """tooling/comfy_models.py, loaded by file: this pack runs inside a ComfyUI server, where the repository is not a path."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "tooling", "comfy_models.py")
    spec = importlib.util.spec_from_file_location("dyweight_test_comfy_models", path)
    module = sys.modules.get(spec.name)
    if module is None:
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


NODE_CLASS_MAPPINGS = {"FixtureConditioning": FixtureConditioning, "FixtureFluxModel": FixtureFluxModel}
