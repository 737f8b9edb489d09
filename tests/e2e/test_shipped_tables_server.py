"""Through the real server: a plain KSampler with sampler dyweight and scheduler dyweight picks the shipped
table for SD1.5 (a diffusion-model file that UNETLoader loads and ComfyUI detects as SD15) and for
FLUX.1-dev (a model whose family ComfyUI detected), and its output equals the independent implementation
with the authors' numbers on the authors' schedule, computed in this process."""
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from authors_reference import (SD_STEPS, authors_sd_grid, authors_sd_schedule, authors_timestep_sampling, flux_sigmas,
                               reference_sampler, with_flux_shift)

SD_FILE = "dyweight_test_sd15.safetensors"


@pytest.fixture(scope="module")
def inproc(pack, server):
    import comfy.model_sampling
    import comfy.sample
    import comfy.samplers
    import comfy.sd
    from tooling import comfy_models
    sd = {k: v.half() for k, v in comfy_models.sd15_state_dict(seed=5).items()}  # 52 MB
    folder = os.path.join(server.base, "models", "diffusion_models")
    os.makedirs(folder, exist_ok=True)
    save_file(sd, os.path.join(folder, SD_FILE))
    with torch.inference_mode():
        sd15 = comfy.sd.load_diffusion_model_state_dict(load_file(os.path.join(folder, SD_FILE)))
    fixture = server_module("fixture_pack")
    return {"comfy": comfy, "sd15": sd15, "flux": comfy_models.detected_flux(), "conditioning": fixture.FixtureConditioning()}


def server_module(name):
    """The fixture pack's code, imported here too, so both sides build the same conditioning."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), name, "__init__.py")
    spec = importlib.util.spec_from_file_location(f"dyweight_tests_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prompt(model_node, cond, steps, cfg, size, prefix, extra=None):
    nodes = {
        "1": model_node,
        "2": {"class_type": "FixtureConditioning", "inputs": dict(cond, seed=1)},
        "3": {"class_type": "FixtureConditioning", "inputs": dict(cond, seed=2)},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 42, "steps": steps, "cfg": cfg,
              "sampler_name": "dyweight", "scheduler": "dyweight", "positive": ["2", 0], "negative": ["3", 0],
              "latent_image": ["4", 0], "denoise": 1.0}},
        "6": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": prefix}},
    }
    nodes.update(extra or {})
    return nodes


def saved_latent(server, prefix):
    folder = os.path.join(server.base, "output")
    (name,) = [f for f in os.listdir(folder) if f.startswith(prefix)]
    return load_file(os.path.join(folder, name))["latent_tensor"]


def rel_gap(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def conditioning(inproc, seed, **kw):
    return inproc["conditioning"].make(seed=seed, **kw)[0]


@pytest.mark.parametrize("steps", sorted(SD_STEPS))
def test_sd15_through_the_server(server, inproc, official, steps):
    comfy = inproc["comfy"]
    cond = {"width": 768, "tokens": 8, "pooled": 0, "guidance": -1.0}
    loader = {"class_type": "UNETLoader", "inputs": {"unet_name": SD_FILE, "weight_dtype": "default"}}
    entry = server.run(prompt(loader, cond, steps, 7.5, 64, f"sd{steps}"))
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert f"using table 'sd15_dyweight_{steps}steps' (family match) for SD15/EPS, {steps} steps (from DyWeight authors' table " \
           f"{SD_STEPS[steps]}" in server.read_log()
    table = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"][SD_STEPS[steps]]
    grid = authors_sd_grid()
    latent = torch.zeros(1, 4, 8, 8)
    with torch.inference_mode():
        reference = comfy.sample.sample_custom(
            authors_timestep_sampling(inproc["sd15"], grid), comfy.sample.prepare_noise(latent, 42), 7.5,
            reference_sampler(comfy, table["weights"], table["t_scale"], table["window"], "denoiser"),
            torch.tensor(authors_sd_schedule(table, grid), dtype=torch.float32),
            conditioning(inproc, 1, **cond), conditioning(inproc, 2, **cond), latent, disable_pbar=True)
    assert rel_gap(saved_latent(server, f"sd{steps}"), reference) < 1e-4


@pytest.mark.parametrize("steps", [3, 5, 7])
def test_flux_dev_through_the_server(server, inproc, official, steps):
    comfy = inproc["comfy"]
    cond = {"width": 32, "tokens": 4, "pooled": 16, "guidance": 3.5}
    shift = {"10": {"class_type": "FixtureFluxModel", "inputs": {"schnell": False}},
             "1": {"class_type": "ModelSamplingFlux", "inputs": {"model": ["10", 0], "max_shift": 1.15, "base_shift": 0.5,
                                                                  "width": 1024, "height": 1024}}}
    entry = server.run(prompt(shift.pop("1"), cond, steps, 1.0, 128, f"flux{steps}", extra=shift))
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert f"using table 'flux1dev_dyweight_{steps}steps' (family match) for Flux/FLUX, shift 1.15, {steps} steps" in server.read_log()
    raw = torch.load(os.path.join(official, "flux", f"dyweight_nfe{steps}.pt"), map_location="cpu", weights_only=True)
    latent = torch.zeros(1, 16, 16, 16)
    with torch.inference_mode():
        reference = comfy.sample.sample_custom(
            with_flux_shift(comfy, inproc["flux"], 1.15), comfy.sample.prepare_noise(latent, 42), 1.0,
            reference_sampler(comfy, raw["dyweight_weights_raw"].tolist(), raw["dyweight_t_scales"].tolist(),
                              int(raw["window_size"]), "velocity"),
            torch.tensor(flux_sigmas(steps, 1.15), dtype=torch.float32),
            conditioning(inproc, 1, **cond), [], latent, disable_pbar=True)
    assert rel_gap(saved_latent(server, f"flux{steps}"), reference) < 1e-4
