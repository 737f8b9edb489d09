"""Every model family in tooling/families.py, through ComfyUI's own sampling code: the `dyweight` sampler with the
`dyweight` scheduler and with the family's usual one, at CFG 1 and above; the identity the pack records; a short
DyWeight Calibrate run whose table lookup finds for that family and for no other."""
import logging

import pytest
import torch

STEPS = 4  # no shipped table has 4 steps for any of these families: the fallback runs, which must equal ipndm


@pytest.fixture(scope="module")
def families(pack):
    from tooling.families import FAMILIES
    return {f.id: f for f in FAMILIES}


@pytest.fixture(scope="module")
def built(families):
    """Each family's model and conditioning, built once; weights seeded apart, as no two checkpoints are alike."""
    return {name: (f.model(seed=i), f.conditioning(), f.conditioning(seed=2)) for i, (name, f) in enumerate(families.items())}


def family_names():
    import tooling.pack
    tooling.pack.import_comfyui()
    from tooling.families import FAMILIES
    return [f.id for f in FAMILIES]


def test_the_matrix_and_its_list_of_exceptions_name_every_family_of_the_tested_comfyui(pack):
    """A ComfyUI update that adds a model class fails here until the class is in the matrix or said to be out of it."""
    import comfy.supported_models
    from tooling.families import FAMILIES, NOT_IN_MATRIX
    comfy_classes = {c.__name__ for c in comfy.supported_models.models if c.__module__ == "comfy.supported_models"}
    in_matrix = {f.config for f in FAMILIES}
    assert not in_matrix & set(NOT_IN_MATRIX)
    assert in_matrix | set(NOT_IN_MATRIX) == comfy_classes, (comfy_classes - in_matrix - set(NOT_IN_MATRIX))


def sample(model, family, positive, negative, sampler, scheduler, cfg, steps=STEPS):
    import comfy.sample
    latent = comfy.sample.fix_empty_latent_channels(model, torch.zeros(family.latent))
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():  # as ComfyUI runs every node
        return comfy.sample.sample(model, noise, steps, cfg, sampler, scheduler, positive, negative, latent, seed=0,
                                   disable_pbar=True)


@pytest.mark.parametrize("name", family_names())
def test_dyweight_samples_every_family_and_without_a_table_is_ipndm(name, families, built, caplog):
    family, (model, positive, negative) = families[name], built[name]
    for cfg in (1.0, 3.0):
        with caplog.at_level(logging.INFO):
            caplog.clear()
            out = sample(model, family, positive, negative, "dyweight", family.scheduler, cfg)
        assert torch.isfinite(out).all() and out.abs().sum() > 0, (name, cfg)
        assert "no table for" in caplog.text and f"{family.config}/" in caplog.text  # the fallback, said once, for this family
        ipndm = sample(model, family, positive, negative, "ipndm", family.scheduler, cfg)
        torch.testing.assert_close(out, ipndm, rtol=1e-4, atol=1e-5)
        own = sample(model, family, positive, negative, "dyweight", "dyweight", cfg)
        assert torch.isfinite(own).all() and own.shape == out.shape, (name, cfg)


@pytest.mark.parametrize("name", family_names())
def test_the_identity_recorded_is_the_familys(name, families, built):
    import comfy.supported_models
    from comfyui_dyweight.nodes.model_info import model_identity
    model = built[name][0]
    identity = model_identity(model)
    config_class = getattr(comfy.supported_models, families[name].config)
    assert identity["family"] == families[name].config
    assert identity["model_type"] == model.model.model_type.name
    expected_shift = config_class.sampling_settings.get("shift")
    if identity["model_type"] in ("FLOW", "FLUX") and expected_shift is not None:
        assert identity["shift"] == pytest.approx(expected_shift)
    assert identity["fingerprint"] and identity["weights"]


@pytest.mark.parametrize("name", family_names())
def test_gradients_reach_every_weight_and_time_scale_through_each_family(name, families, built):
    """Where calibration breaks if it breaks: in-place updates, fused attention, rotary embeddings, 5-D latents,
    per-family conditioning. A loss of the unrolled solve, at CFG 2, through ComfyUI's own model code."""
    import comfy.sample
    from tooling.comfy_models import gradients_through
    family, (model, positive, _) = families[name], built[name]
    shape = tuple(comfy.sample.fix_empty_latent_channels(model, torch.zeros(family.latent)).shape)
    grads = gradients_through(model, positive, shape, family.scheduler, cfg=2.0)
    assert torch.isfinite(grads["W"]).all() and grads["W"].abs().sum() > 0, name
    assert torch.isfinite(grads["s"]).all() and (grads["s"].abs() > 0).all(), name


@pytest.mark.parametrize("name", family_names())
def test_calibration_gives_the_model_the_timesteps_comfyui_sampling_gives_it(name, families, built):
    """On the family's schedule the differentiable sampling must agree with the stock one (Stable Cascade and EDM
    models have their own timestep formula, discrete models an argmin that calibration interpolates)."""
    import comfy.samplers
    from comfyui_dyweight.nodes.differentiable import calibration_patcher
    model = built[name][0]
    stock = model.get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(stock, families[name].scheduler, 6)[:-1]
    with torch.inference_mode(False):
        patched = calibration_patcher(model)[0].get_model_object("model_sampling")
        ours, theirs = patched.timestep(sigmas.clone()).double(), stock.timestep(sigmas.clone()).double()
    if torch.equal(theirs, theirs.round()):  # the argmin: the interpolated timestep lies within half a step of it
        assert (ours - theirs).abs().max() <= 0.5 + 1e-3, (ours, theirs)
    else:
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def calibrated(families, built):
    """A short DyWeight Calibrate run per family, on the family's usual scheduler at CFG 2, checkpointing on (what a
    GPU gets by default: each model call recomputed in backward), under inference mode as ComfyUI runs nodes."""
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    out = {}
    for name, family in families.items():
        model, positive, negative = built[name]
        with torch.inference_mode():
            table, report, picture = DyWeightCalibrate.execute(
                model, positive, negative, {"samples": torch.zeros(family.latent)}, 3, family.scheduler, 2.0,
                teacher_steps=8, iterations=3, samples=2, holdout=2, batch_size=2, learn_sigmas=False, checkpointing="on").result
        out[name] = (table, report, picture)
    return out


def test_calibrate_runs_on_every_family_and_its_table_is_found_for_that_family_only(families, built, calibrated):
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.lookup import choose_table
    from comfyui_dyweight.nodes.model_info import model_identity
    tables = [t for t, _, _ in calibrated.values()]
    for name, (table, report, picture) in calibrated.items():
        config = families[name].config
        assert torch.isfinite(torch.as_tensor(table.weights)).all() and f"{config} (" in report and "fallback" in report, name
        assert picture.ndim == 4 and torch.isfinite(picture).all(), name
        assert table.model["family"] == config
    for name, family in families.items():
        model = built[name][0]
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), family.scheduler, 3).tolist()
        chosen, message = choose_table(tables, model_identity(model), sigmas)
        assert chosen is calibrated[name][0], (name, message)


@pytest.mark.parametrize("name", family_names())
def test_a_calibrated_table_drives_sampling_on_its_schedule(name, families, built, calibrated):
    """DyWeight Sampler with the family's table and DyWeight Scheduler's sigmas for it, through SamplerCustom's code."""
    import comfy.sample
    import comfy.samplers
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    from comfyui_dyweight.nodes.tables import DyWeightScheduler
    family, (model, positive, negative) = families[name], built[name]
    table = calibrated[name][0]
    sampler = DyWeightSampler.execute(table=table).result[0]
    sigmas = DyWeightScheduler.execute(table).result[0]
    assert sigmas.tolist() == pytest.approx(table.sigmas)
    latent = comfy.sample.fix_empty_latent_channels(model, torch.zeros(family.latent))
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = comfy.sample.sample_custom(model, noise, 2.0, sampler, sigmas, positive, negative, latent, seed=0,
                                         disable_pbar=True)
    assert torch.isfinite(out).all() and out.abs().sum() > 0
