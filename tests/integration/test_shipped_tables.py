"""The shipped SD1.5 and FLUX.1-dev tables in a plain KSampler (sampler dyweight, scheduler dyweight), on
models whose family real ComfyUI detects from a state dict. The output must equal an independent
implementation of the update, run with the authors' numbers (read from ../shared/official, not from our
tables) on the authors' schedule (computed here, not by the pack), with the model at the authors'
continuous timesteps (computed here too)."""
import json
import logging
import os

import pytest
import torch

from authors_reference import (SD_STEPS, authors_sd_grid, authors_sd_schedule, authors_timestep_sampling, flux_sigmas,
                               reference_sampler, with_flux_shift)

@pytest.fixture(scope="module")
def comfy(pack):
    import comfy.model_sampling
    import comfy.sample
    import comfy.samplers
    return comfy


@pytest.fixture(autouse=True)
def as_comfyui_runs_nodes():
    with torch.inference_mode():
        yield


@pytest.fixture(scope="module")
def models(pack):
    from tooling import comfy_models  # imports comfy: only once the pack has loaded it
    return comfy_models


@pytest.fixture(scope="module")
def sd15(models):
    return models.detected_sd15()


@pytest.fixture(scope="module")
def flux(models):
    return models.detected_flux()


def sd_conditioning(seed=1):
    with torch.inference_mode():
        g = torch.Generator().manual_seed(seed)
        return [[torch.randn(1, 8, 768, generator=g), {}]], [[torch.randn(1, 8, 768, generator=g), {}]]


def flux_conditioning(seed=1):
    with torch.inference_mode():
        g = torch.Generator().manual_seed(seed)
        return [[torch.randn(1, 4, 32, generator=g), {"pooled_output": torch.randn(1, 16, generator=g), "guidance": 3.5}]], []


def ksampler(comfy, model, steps, scheduler, positive, negative, latent, cfg):
    noise = comfy.sample.prepare_noise(latent, 42)
    return comfy.sample.sample(model, noise, steps, cfg, "dyweight", scheduler, positive, negative, latent, disable_pbar=True)


def rel_gap(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


# --- the tests ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", sorted(SD_STEPS))
def test_sd15_plain_ksampler_runs_the_authors_table(comfy, sd15, official, steps, caplog):
    entry = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"][SD_STEPS[steps]]
    grid = authors_sd_grid()
    positive, negative = sd_conditioning()
    latent = torch.zeros(1, 4, 8, 8)
    with caplog.at_level(logging.INFO):
        ours = ksampler(comfy, sd15, steps, "dyweight", positive, negative, latent, 7.5)
    used = [r.message for r in caplog.records if "using table" in r.message]
    assert len(used) == 1 and f"'sd15_dyweight_{steps}steps'" in used[0] and SD_STEPS[steps] in used[0], used
    assert "differ" not in used[0]
    sigmas = torch.tensor(authors_sd_schedule(entry, grid), dtype=torch.float32)
    sampler = reference_sampler(comfy, entry["weights"], entry["t_scale"], entry["window"], "denoiser")
    noise = comfy.sample.prepare_noise(latent, 42)
    reference = comfy.sample.sample_custom(authors_timestep_sampling(sd15, grid), noise, 7.5, sampler, sigmas,
                                           positive, negative, latent, disable_pbar=True)
    # and the table matters: the Adams-Bashforth fallback on the same schedule lands much further away
    fallback = comfy.sample.sample_custom(sd15, noise, 7.5, comfy.samplers.ksampler("ipndm"), sigmas, positive, negative,
                                          latent, disable_pbar=True)
    print(f"SD1.5 {steps} steps: ours vs reference {rel_gap(ours, reference):.1e}, ipndm vs reference {rel_gap(fallback, reference):.1e}")
    assert rel_gap(ours, reference) < min(1e-4, rel_gap(fallback, reference) / 20)


@pytest.mark.parametrize("steps", [3, 5, 7])
@pytest.mark.parametrize("size", [512, 1024])
def test_flux_plain_ksampler_runs_the_authors_table(comfy, flux, official, steps, size, caplog):
    raw = torch.load(os.path.join(official, "flux", f"dyweight_nfe{steps}.pt"), map_location="cpu", weights_only=True)
    mu = 0.5 + (1.15 - 0.5) * ((size // 16) ** 2 - 256) / (4096 - 256)  # ModelSamplingFlux at this image size
    model = with_flux_shift(comfy, flux, mu)
    positive, negative = flux_conditioning()
    latent = torch.zeros(1, 16, 8, 8)
    for scheduler in ("dyweight", "simple"):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            ours = ksampler(comfy, model, steps, scheduler, positive, negative, latent, 1.0)
        used = [r.message for r in caplog.records if "using table" in r.message]
        assert len(used) == 1 and f"'flux1dev_dyweight_{steps}steps'" in used[0] and "differ" not in used[0], used
    sigmas = torch.tensor(flux_sigmas(steps, mu), dtype=torch.float32)
    sampler = reference_sampler(comfy, raw["dyweight_weights_raw"].tolist(), raw["dyweight_t_scales"].tolist(),
                                int(raw["window_size"]), "velocity")
    noise = comfy.sample.prepare_noise(latent, 42)
    reference = comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas, positive, negative, latent, disable_pbar=True)
    ours = ksampler(comfy, model, steps, "dyweight", positive, negative, latent, 1.0)
    euler = comfy.sample.sample_custom(model, noise, 1.0, comfy.samplers.ksampler("euler"), sigmas, positive, negative,
                                       latent, disable_pbar=True)
    print(f"FLUX {steps} steps at {size}px: ours vs reference {rel_gap(ours, reference):.1e}, euler vs reference {rel_gap(euler, reference):.1e}")
    assert rel_gap(ours, reference) < min(1e-4, rel_gap(euler, reference) / 20)


def test_flux_schnell_gets_no_flux_dev_table(comfy, models, caplog):
    schnell = models.detected_flux(schnell=True)
    positive, negative = flux_conditioning()
    with caplog.at_level(logging.INFO):
        ksampler(comfy, schnell, 3, "simple", positive, negative, torch.zeros(1, 16, 8, 8), 1.0)
    assert any("no table for FluxSchnell/FLOW" in r.message for r in caplog.records)
    assert not any("using table" in r.message for r in caplog.records)


def test_other_scheduler_falls_back_and_names_the_dyweight_scheduler(comfy, sd15, caplog):
    positive, negative = sd_conditioning()
    with caplog.at_level(logging.INFO):
        ksampler(comfy, sd15, 4, "karras", positive, negative, torch.zeros(1, 4, 8, 8), 7.5)
    notes = [r.message for r in caplog.records if "Adams-Bashforth fallback" in r.message]
    assert len(notes) == 1 and "scheduler=dyweight would use table 'sd15_dyweight_4steps'" in notes[0], notes


def test_dyweight_scheduler_serves_tables_and_formulas(comfy, sd15, flux):
    from comfyui_dyweight.dyweight_core import schedules
    calc = lambda m, n: comfy.samplers.calculate_sigmas(m.get_model_object("model_sampling"), "dyweight", n).tolist()
    sd10 = calc(sd15, 10)  # the polynomial schedule of mscoco-nfe20, over the network's exact range
    assert len(sd10) == 11 and sd10[-1] == pytest.approx(0.0291672, rel=1e-5) and sd10[0] == pytest.approx(14.614642, rel=1e-6)
    assert sd10[5] == pytest.approx(1.2741, rel=1e-4)
    sd5 = calc(sd15, 5)  # no table: the LDM discrete formula
    assert sd5 == pytest.approx(schedules.discrete_sigmas(6, schedules.ldm_sigmas()), rel=1e-6)
    assert calc(flux, 4) == pytest.approx(schedules.flux_sigmas(4, 1.15), rel=1e-6)
    assert calc(with_flux_shift(comfy, flux, 0.7), 4) == pytest.approx(schedules.flux_sigmas(4, 0.7), rel=1e-6)
