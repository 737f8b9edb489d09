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
    demo = split_runs.demo()
    model, positive, negative, latent = demo
    sampler = DyWeightSampler.execute(table=table).result[0]
    noise = comfy.sample.prepare_noise(latent["samples"], 5)
    with torch.inference_mode():
        whole = comfy.sample.sample_custom(model, noise, 1.0, sampler, torch.tensor(table.sigmas), positive, negative, latent["samples"],
                                           seed=5, disable_pbar=True)
    parts = split_runs.split_with_table(demo, demo, table, SWITCH)
    torch.testing.assert_close(parts, whole, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def pair_table(split_runs):
    """DyWeight Calibrate with model_low_noise: the demo mixture before the switch, a second mixture after it."""
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    first, second = split_runs.demo(seed=0, batch_size=8), split_runs.demo(seed=1, batch_size=8)
    model, positive, negative, latent = first
    with torch.inference_mode():
        table, report, _ = DyWeightCalibrate.execute(model, positive, negative, latent, STEPS, "karras", 1.0, iterations=60,
                                                     samples=16, holdout=8, batch_size=8, teacher_steps=48,
                                                     model_low_noise=second[0], switch_step=SWITCH).result
    return table, report, first, second


def test_calibrate_fits_a_pair_that_its_split_run_finds_and_that_beats_a_one_model_table(split_runs, pair_table, tmp_path, caplog):
    """The pair's table is found for each half by its own model, carries the history across the switch, and lands
    nearer the finely solved two-model ODE than the fallback and than a table fitted on the first model alone."""
    import folder_paths
    from comfyui_dyweight.dyweight_core.table import save_table
    from comfyui_dyweight.nodes.model_info import model_identity
    table, report, first, second = pair_table
    assert table.model["low_noise_model"]["fingerprint"] == model_identity(second[0])["fingerprint"]
    assert table.provenance["switch_step"] == SWITCH and not table.provenance["learned_sigmas"]
    assert f"the low-noise model (DyWeightMixture) for steps {SWITCH + 1}-{STEPS}" in report
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder_paths.folder_names_and_paths["dyweight"] = ([str(tmp_path)], saved[1])
    try:
        save_table(table.replace(name="pair"), str(tmp_path / "pair.yaml"))
        with caplog.at_level(logging.INFO):
            ours = split_runs.split(first, second, "dyweight", STEPS, SWITCH)
        assert f"using steps 1-{SWITCH} of table 'pair'" in caplog.text and f"using steps {SWITCH + 1}-{STEPS} of table 'pair'" in caplog.text
        assert "does not continue" not in caplog.text
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved
    target = split_runs.reference(first, second, STEPS, SWITCH)
    one_model = split_runs.split(first, second, "dyweight", STEPS, SWITCH)  # the shipped table, fitted on the first model
    fallback = split_runs.split(first, second, "ipndm", STEPS, SWITCH)
    error = split_runs.median_error(ours, target)
    assert error < split_runs.median_error(one_model, target) and error < split_runs.median_error(fallback, target)


def test_a_pairs_table_runs_only_as_its_split_run(split_runs, pair_table):
    """Not on either model over the whole schedule, not split at another step: there the rows were fitted for
    another model's derivatives, so lookup passes it by. (Each half goes to its model by weight fingerprint, and to
    a model of the same family as any table does.)"""
    from comfyui_dyweight.dyweight_core.lookup import choose_part, choose_table
    from comfyui_dyweight.nodes.model_info import model_identity
    table, _, first, second = pair_table
    high, low = model_identity(first[0]), model_identity(second[0])
    sigmas = table.sigmas
    assert choose_table([table], high, sigmas)[0] is None and choose_table([table], low, sigmas)[0] is None
    assert choose_part([table], high, sigmas[:SWITCH + 1])[0] is table
    assert choose_part([table], low, sigmas[SWITCH:])[0] is table
    assert choose_part([table], high, sigmas[:SWITCH]) is None and choose_part([table], low, sigmas[SWITCH + 1:]) is None


@pytest.mark.parametrize("inputs,message", [({"step_counts": "3,4"}, "one step count at a time"),
                                            ({"switch_step": 0}, "switch_step must be from 1 to 3"),
                                            ({"switch_step": 4}, "switch_step must be from 1 to 3")])
def test_calibrating_a_pair_says_what_is_wrong_with_its_inputs(split_runs, inputs, message):
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationError
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    model, positive, negative, latent = split_runs.demo()
    with pytest.raises(CalibrationError, match=message):
        DyWeightCalibrate.execute(model, positive, negative, latent, STEPS, "karras", 1.0, model_low_noise=split_runs.demo(seed=1)[0],
                                  **{"switch_step": SWITCH, **inputs})
