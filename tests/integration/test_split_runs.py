"""A run split across two KSamplerAdvanced nodes (start/end steps: SDXL base + refiner, Wan 2.2's two experts), through
ComfyUI's own KSamplerAdvanced code: each half runs its rows of the table, and the second continues the first's
multistep history, so with one model the split run is the unsplit run; with two models it beats the fallback."""
import logging

import pytest
import torch

STEPS, SWITCH = 4, 2  # the shipped demo table: 4 steps on karras sigmas


@pytest.fixture(scope="module")
def split_runs(pack):
    from comfyui_dyweight.nodes.sampler import SPLIT_RUNS
    from tooling import split_runs
    SPLIT_RUNS.clear()
    return split_runs


def test_a_split_run_with_one_model_is_the_unsplit_run(split_runs, caplog):
    model = split_runs.demo()
    with caplog.at_level(logging.INFO):
        unsplit = split_runs.whole(model, "dyweight", STEPS)
        assert "using table 'demo_eps_karras_4steps'" in caplog.text
        caplog.clear()
        parts = split_runs.split(model, model, "dyweight", STEPS, SWITCH)
    assert "using steps 1-2 of table 'demo_eps_karras_4steps' (4 steps)" in caplog.text
    assert "using steps 3-4 of table 'demo_eps_karras_4steps' (4 steps)" in caplog.text
    torch.testing.assert_close(parts, unsplit, rtol=1e-4, atol=1e-4)
    # without the history carried over, the second half would restart the multistep solve: not the unsplit run
    assert not torch.allclose(parts, split_runs.split(model, model, "ipndm", STEPS, SWITCH), atol=1e-3)


def test_a_second_half_that_does_not_continue_a_dyweight_run_takes_the_fallback(split_runs, caplog):
    from tooling.pack import comfyui_nodes
    model, positive, negative, latent = split_runs.demo()
    k = comfyui_nodes().KSamplerAdvanced()
    with torch.inference_mode(), caplog.at_level(logging.INFO):
        (half,) = k.sample(model, "enable", 5, STEPS, 1.0, "euler", "karras", positive, negative, latent, 0, SWITCH, "enable")
        (ours,) = k.sample(model, "disable", 5, STEPS, 1.0, "dyweight", "karras", positive, negative, half, SWITCH, 10000, "disable")
        (ipndm,) = k.sample(model, "disable", 5, STEPS, 1.0, "ipndm", "karras", positive, negative, half, SWITCH, 10000, "disable")
    assert "does not continue a dyweight run" in caplog.text
    torch.testing.assert_close(ours["samples"], ipndm["samples"], rtol=1e-4, atol=1e-4)


def test_two_models_split_runs_and_beats_the_fallback(split_runs):
    """A Wan 2.2-style pair: another model takes over for the low-noise steps. The table was fitted on one model, and
    the history carried across the switch mixes both models' derivatives; against the finely solved switched ODE it
    must still do better than the fallback split the same way."""
    first, second = split_runs.demo(seed=0), split_runs.demo(seed=1)
    target = split_runs.reference(first, second, STEPS, SWITCH)
    ours, fallback = (split_runs.split(first, second, s, STEPS, SWITCH) for s in ("dyweight", "ipndm"))
    assert torch.isfinite(ours).all()
    assert split_runs.median_error(ours, target) < split_runs.median_error(fallback, target)


def test_a_connected_table_runs_split_sigmas_and_carries_its_history(split_runs):
    """DyWeight Sampler with a table, the table's sigmas split in two (SplitSigmas): two SamplerCustom runs make the
    one-run result."""
    import comfy.sample
    from comfyui_dyweight.dyweight_core.lookup import scan_tables
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    from comfyui_dyweight.nodes.table_folders import SHIPPED_DIR
    table = dict((p.rsplit("/", 1)[-1], t) for p, t in scan_tables([SHIPPED_DIR]))["demo_eps_karras_4steps.yaml"]
    model, positive, negative, latent = split_runs.demo()
    sampler = DyWeightSampler.execute(table=table).result[0]
    sigmas = torch.tensor(table.sigmas)
    noise = comfy.sample.prepare_noise(latent["samples"], 5)
    run = lambda n, s, x: comfy.sample.sample_custom(model, n, 1.0, sampler, s, positive, negative, x, seed=5, disable_pbar=True)
    with torch.inference_mode():
        whole = run(noise, sigmas, latent["samples"])
        half = run(noise, sigmas[:SWITCH + 1], latent["samples"])
        parts = run(torch.zeros_like(noise), sigmas[SWITCH:], half)
    torch.testing.assert_close(parts, whole, rtol=1e-4, atol=1e-4)
