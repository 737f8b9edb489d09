"""Calibration inside real ComfyUI: gradients through real model classes loaded under inference mode,
the DyWeight Calibrate node end to end on the demo mixture, cancel, determinism, automatic pick-up."""
import logging
import os

import pytest
import torch


@pytest.fixture(scope="module")
def mods(pack):
    import comfy.model_management
    import comfy.samplers
    from comfyui_dyweight.dyweight_core import solver, table
    from comfyui_dyweight.nodes import calibrate, differentiable, teacher_cache, mixture
    from tooling import comfy_models
    return {"mm": comfy.model_management, "samplers": comfy.samplers, "solver": solver, "table": table,
            "calibrate": calibrate, "differentiable": differentiable, "teacher_cache": teacher_cache, "mixture": mixture,
            "models": comfy_models}


def test_gradient_through_real_sd15_unet_with_cfg(mods):
    model, dim = mods["models"].unet_model()
    grads = mods["models"].gradients_through(model, mods["models"].unet_conditioning(dim), (2, 4, 8, 8), "karras", cfg=3.0)
    assert grads["mode"] == "continuous"  # discrete SD schedule: interpolated timesteps during calibration
    assert torch.isfinite(grads["W"]).all() and grads["W"].abs().sum() > 0
    assert torch.isfinite(grads["s"]).all() and (grads["s"].abs() > 0).all()  # reaches every time scale


def test_weights_moved_after_inference_mode_loading_become_differentiable(mods):
    """On a GPU ComfyUI moves inference-mode weights with .to(): is_inference() then says False,
    yet autograd still refuses them (seen on an H100); they must be swapped too."""
    with torch.inference_mode():
        layer = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    layer.to(torch.float64)
    assert not layer[0].weight.is_inference()
    mods["differentiable"].make_weights_differentiable(layer)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    layer(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradient_through_real_flux_transformer(mods):
    model = mods["models"].flux_model()
    grads = mods["models"].gradients_through(model, mods["models"].flux_conditioning(), (2, 16, 8, 8), "simple", cfg=1.0)
    assert grads["mode"] == "native"
    assert grads["W"].abs().sum() > 0 and (grads["s"].abs() > 0).all()


def test_continuous_timestep_agrees_with_comfy_on_the_grid(mods):
    model, _ = mods["models"].unet_model()
    sampling = model.get_model_object("model_sampling")
    patched = mods["differentiable"].calibration_patcher(model)[0].get_model_object("model_sampling")
    grid = sampling.sigmas[::37]
    assert torch.allclose(patched.timestep(grid), sampling.timestep(grid).float(), atol=1e-3)
    mid = torch.sqrt(sampling.sigmas[10] * sampling.sigmas[11])
    assert 10 < float(patched.timestep(mid)) < 11


def calibrate_demo(mods, kind="eps", steps=4, iterations=40, seed=0, scheduler=None, **kw):
    node = mods["calibrate"].DyWeightCalibrate
    kw.setdefault("learn_sigmas", False)  # these tests are about fixed schedules; learned ones: test_photos_model.py
    with torch.inference_mode():
        model, pos, neg, latent = mods["mixture"].DyWeightDemoModel.execute(kind, 3.0, 1, 0).result
        out = node.execute(model, neg, neg, latent, steps, scheduler or ("karras" if kind != "flow" else "simple"), 1.0,
                           teacher_steps=64, iterations=iterations, seed=seed, samples=32, holdout=16, batch_size=8,
                           learning_rate=3e-3, **kw)
    table, report, picture = out.result
    assert picture.shape[0] == 1 and picture.shape[-1] == 3 and 0 <= picture.min() and picture.max() <= 1  # an IMAGE
    return model, (table, report)


def test_calibrate_node_beats_fallback_and_records_provenance(mods):
    model, (table, report) = calibrate_demo(mods)
    prov = table.provenance
    assert prov["test_median_after"] < 0.5 * prov["test_median_fallback"]
    assert prov["holdout_error_after"] <= prov["holdout_error_init"]
    assert table.model["family"] == "DyWeightMixture" and table.model["fingerprint"]
    assert prov["scheduler"] == "karras" and prov["cfg"] == 1.0 and prov["teacher"] == "ipndm 64 steps"
    assert prov["samples"] == 32 and "date" in prov and prov["timestep"] == "continuous"
    assert "calibrated" in report and "fallback" in report and "euler" in report
    assert f"started from {prov['init']} (held-out error of the starts: adams_bashforth " in report and "lms " in report
    sigmas = mods["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4)
    assert table.sigmas == pytest.approx(sigmas.tolist())
    table.validate()


def test_calibration_is_deterministic(mods):
    _, (a, _) = calibrate_demo(mods, iterations=10)
    _, (b, _) = calibrate_demo(mods, iterations=10)
    assert a.weights == b.weights and a.t_scale == b.t_scale


def live_tensor_bytes():
    import gc
    gc.collect()
    return sum(o.numel() * o.element_size() for o in gc.get_objects() if torch.is_tensor(o) and not o.is_meta)


def test_cancel_stops_calibration_returns_nothing_and_frees_its_memory(mods, caplog):
    mm, cal = mods["mm"], mods["teacher_cache"]
    calibrate_demo(mods, iterations=1, seed=21)  # first use: ComfyUI's own one-time allocations
    before = live_tensor_bytes()

    class PressCancel(logging.Handler):  # the user presses Cancel once the optimisation is under way
        def emit(self, record):
            if "fitting 25/" in record.getMessage():
                mm.interrupt_current_processing(True)
    handler = PressCancel()
    logging.getLogger().addHandler(handler)
    cancelled = False
    try:
        with caplog.at_level(logging.INFO):  # the progress lines are INFO
            calibrate_demo(mods, iterations=2000, seed=22)
    except mm.InterruptProcessingException:
        cancelled = True  # (not pytest.raises: its traceback would keep the run's frames alive)
    finally:
        logging.getLogger().removeHandler(handler)
        mm.interrupt_current_processing(False)
    assert cancelled
    kept_on_purpose = sum(t.numel() * t.element_size() for cache in cal.TEACHER_CACHES.values()
                          for ends in cache.values() for t in ends)  # teacher endpoints, for a recalibration
    assert live_tensor_bytes() - before - kept_on_purpose < 64 << 10
    _, (table, _) = calibrate_demo(mods, iterations=2)  # the next run works
    assert table.steps == 4


def test_saved_table_is_used_by_plain_ksampler(mods, tmp_path, caplog):
    import comfy.sample
    import folder_paths
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    model, (table, _) = calibrate_demo(mods, steps=4, iterations=40)
    folder = str(tmp_path / "dyweight")
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder_paths.folder_names_and_paths["dyweight"] = ([folder], saved[1])
    try:
        path = DyWeightSaveTable.execute(table, "demo_eps_4", False).result[0]
        assert os.path.dirname(path) == folder
        latent = torch.zeros((4,) + tuple(model.model.diffusion_model.means.shape[1:]))
        noise = comfy.sample.prepare_noise(latent, 3)
        cond = mods["mixture"].prompt_conditioning(model.model.diffusion_model.mixture, [])
        with caplog.at_level(logging.INFO):
            ours = comfy.sample.sample(model, noise, 4, 1.0, "dyweight", "karras", cond, cond, latent, disable_pbar=True)
        assert any("using table 'demo_eps_4' (weight fingerprint match)" in r.message for r in caplog.records)
        ipndm = comfy.sample.sample(model, noise, 4, 1.0, "ipndm", "karras", cond, cond, latent, disable_pbar=True)
        assert (ours - ipndm).abs().max() > 1e-3
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved


def test_calibrating_on_the_dyweight_scheduler_then_sampling_with_it(mods, tmp_path, caplog):
    """scheduler=dyweight is a scheduler like any other for Calibrate; the table records it, and
    dyweight + dyweight in a plain KSampler then finds the table and its schedule."""
    import comfy.sample
    import comfy.samplers
    import folder_paths
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    model, (table, _) = calibrate_demo(mods, steps=4, iterations=10, scheduler="dyweight")
    sampling = model.get_model_object("model_sampling")
    assert table.provenance["scheduler"] == "dyweight"
    assert table.sigmas == pytest.approx(comfy.samplers.calculate_sigmas(sampling, "dyweight", 4).tolist())
    assert table.sigmas[-1] > 0  # the LDM discrete schedule of the authors' SD tables ends at sigma_min
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder_paths.folder_names_and_paths["dyweight"] = ([str(tmp_path)], saved[1])
    try:
        inner = [s * 0.999 for s in table.sigmas[1:-1]]  # as if learned: the scheduler must serve these, the user's
        DyWeightSaveTable.execute(table.replace(sigmas=table.sigmas[:1] + inner + table.sigmas[-1:]), "dw4", False)
        assert comfy.samplers.calculate_sigmas(sampling, "dyweight", 4).tolist()[1] == pytest.approx(table.sigmas[1] * 0.999)
        latent = torch.zeros((2,) + tuple(model.model.diffusion_model.means.shape[1:]))
        cond = mods["mixture"].prompt_conditioning(model.model.diffusion_model.mixture, [])
        with caplog.at_level(logging.INFO), torch.inference_mode():
            comfy.sample.sample(model, comfy.sample.prepare_noise(latent, 3), 4, 1.0, "dyweight", "dyweight", cond, cond,
                                latent, disable_pbar=True)
        used = [r.message for r in caplog.records if "using table" in r.message]
        assert len(used) == 1 and "'dw4' (weight fingerprint match)" in used[0] and "differ" not in used[0]
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved


def test_perceptual_loss_through_a_real_comfy_vae(mods):
    import comfy.sd
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationError
    with torch.inference_mode():  # as VAELoader builds it
        vae = comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})  # the demo mixture's latents are RGB pictures
    _, (table, report) = calibrate_demo(mods, iterations=15, loss="perceptual", vae=vae)
    assert table.provenance["loss"] == "perceptual"
    assert table.provenance["test_median_after"] < table.provenance["test_median_fallback"]
    with pytest.raises(CalibrationError, match="needs a VAE"):
        calibrate_demo(mods, iterations=1, loss="perceptual")


def test_recalibrating_another_step_count_reuses_the_teacher(mods):
    _, (_, first) = calibrate_demo(mods, steps=4, iterations=5, seed=11)
    _, (_, again) = calibrate_demo(mods, steps=6, iterations=5, seed=11)  # karras: same first and last sigma
    _, (_, other) = calibrate_demo(mods, steps=6, iterations=5, seed=12)  # other noises: solve again
    assert "teacher reused" in again and "teacher reused" not in first and "teacher reused" not in other


def test_tables_sample_with_the_timesteps_they_were_calibrated_with(mods):
    import comfy.patcher_extension
    import comfy.sample
    from comfyui_dyweight.dyweight_core.table import adams_bashforth_table
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    unet, dim = mods["models"].unet_model()
    seen = []

    def spy(executor, x, timesteps, *args, **kwargs):  # ComfyUI's own wrapper API around the UNet
        seen.append(timesteps.detach().clone())
        return executor(x, timesteps, *args, **kwargs)
    model = unet.clone()
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "spy", spy)
    sigmas = mods["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 3)
    base = adams_bashforth_table(sigmas.tolist()).replace(t_scale=[0.97, 1.01, 0.99])
    cond = mods["models"].unet_conditioning(dim)
    latent = torch.zeros(1, 4, 8, 8)
    for mode in ("continuous", "native"):
        seen.clear()
        sampler = DyWeightSampler.execute(table=base.replace(provenance={"timestep": mode})).result[0]
        comfy.sample.sample_custom(model, torch.randn_like(latent), 1.0, sampler, sigmas.clone(), cond, cond, latent, disable_pbar=True)
        fractional = any((t - t.round()).abs().max() > 1e-3 for t in seen)
        assert len(seen) == 3 and fractional == (mode == "continuous"), mode
    sampling = model.model.model_sampling  # restored after the run
    assert float(sampling.timestep(sampling.sigmas[5:6] * 1.01)) == 5.0


def test_img2img_calibration_makes_a_table_for_the_denoise_schedule(mods):
    import comfy.samplers
    node = mods["calibrate"].DyWeightCalibrate
    with torch.inference_mode():
        model, pos, neg, latent = mods["mixture"].DyWeightDemoModel.execute("eps", 3.0, 1, 0).result
        picture = {"samples": model.model.diffusion_model.means[:1].float()}
        table, report, _ = node.execute(model, neg, neg, picture, 4, "karras", 1.0, teacher_steps=32, iterations=20,
                                     samples=16, holdout=8, batch_size=8, learning_rate=3e-3, denoise=0.5,
                                     learn_sigmas=False).result
    expected = comfy.samplers.KSampler(model, 4, "cpu", scheduler="karras", denoise=0.5).sigmas
    assert table.sigmas == pytest.approx(expected.tolist()) and table.provenance["denoise"] == 0.5
    assert table.provenance["holdout_error_after"] <= table.provenance["holdout_error_init"]


def test_flux_in_place_updates_copy_activations_only_and_checkpointing_needs_no_copies(mods):
    """The Flux blocks update saved activations in place. Without checkpointing, calibration keeps copies of
    the activations, not of the weights (a copy of the transformer per call before); with checkpointing
    the probe finds nothing to copy, and the gradient is the same."""
    import comfy.samplers
    cal = mods["differentiable"]
    model = mods["models"].detected_flux()
    cond = mods["models"].flux_conditioning()
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 3)
    seen = {}

    def probe(model_wrap, sigmas, extra_args, noise):
        denoise = lambda x, s: model_wrap(x, s * x.new_ones([x.shape[0]]), **extra_args)
        x0 = torch.randn(noise.shape, generator=torch.Generator().manual_seed(0))
        seen["probe"] = [cal.updates_activations_in_place(denoise, x0, sigmas[0], checkpoint) for checkpoint in (False, True)]
        weights = cal.weight_pointers(model_wrap.inner_model)
        checkpointed = lambda x, s: torch.utils.checkpoint.checkpoint(denoise, x, s, use_reentrant=False)
        for name, keep in (("activations", weights), ("everything", set()), ("checkpointed", None)):
            copied, x = [], x0.clone().requires_grad_(True)
            fn = checkpointed if keep is None else cal.with_saved_copies(denoise, keep, copied)
            fn(x, sigmas[0] * 0.9).square().sum().backward()
            seen[name] = (sum(copied), x.grad)
        seen["weight_bytes"] = sum(p.numel() * p.element_size() for p in model_wrap.inner_model.diffusion_model.parameters())

    mods["models"].inside_calibration(model, cond, sigmas, (2, 16, 8, 8), probe)
    assert seen["probe"] == [True, False]
    assert seen["everything"][0] - seen["activations"][0] > 0.3 * seen["weight_bytes"]  # the weights it used are not copied
    assert torch.equal(seen["activations"][1], seen["everything"][1])
    gap = (seen["checkpointed"][1] - seen["activations"][1]).abs().max() / seen["activations"][1].abs().max()
    assert gap < 1e-4


def test_progress_tells_the_phase_teacher_then_choosing_then_fitting(mods, caplog):
    """The teacher solve can be most of the runtime: the node's bar runs over its batches first, then over the starts
    tried, then over the iterations; the console names each phase with the time it has left."""
    import comfy.utils
    updates = []
    previous = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: updates.append((value, total)))
    try:
        with caplog.at_level(logging.INFO):
            calibrate_demo(mods, steps=4, iterations=12, seed=21)  # 32 + 16 + 16 noises in batches of 4 x 8: 2 teacher batches
    finally:
        comfy.utils.set_progress_bar_global_hook(previous)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[DyWeight] calibrate: ")]
    phases = [next(p for p in ("teacher solve", "choosing the start", "fitting") if p in line) for line in lines]
    assert phases == sorted(phases, key=["teacher solve", "choosing the start", "fitting"].index) and len(set(phases)) == 3
    assert all(line.endswith(" s left") for line in lines)
    teacher = [u for u in updates[:2]]
    assert teacher == [(1, 2), (2, 2)] and updates[-1] == (12, 12)
    chosen = updates[2:updates.index((1, 12))]
    assert chosen and [v for v, _ in chosen] == list(range(1, len(chosen) + 1))  # one tick per start tried


def test_free_memory_releases_the_teacher_caches(mods):
    """ComfyUI's "free memory" button and /free end in unload_all_models; the teacher endpoints go with the models."""
    import comfy.model_management
    calibrate_demo(mods, steps=3, iterations=2, seed=31)
    assert mods["teacher_cache"].TEACHER_CACHES
    comfy.model_management.unload_all_models()
    assert not mods["teacher_cache"].TEACHER_CACHES
    mods["teacher_cache"].release_teacher_caches_with_models()  # registering twice chains once
    assert comfy.model_management.unload_all_models.releases_dyweight_caches


def test_several_step_counts_in_one_run_share_the_teacher_and_match_separate_runs(mods, tmp_path):
    """step_counts "3,4": one teacher solve and shared model calls give the tables two separate runs give; Save Table
    writes one file per count, all or none; DyWeight Sampler with the set runs the table for the run's count."""
    import folder_paths
    from comfyui_dyweight.dyweight_core.table import TableError, TableSet
    from comfyui_dyweight.nodes.sampler import resolve_table
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    mods["teacher_cache"].TEACHER_CACHES.clear()
    model, (tables, report) = calibrate_demo(mods, iterations=20, step_counts="3,4")
    assert isinstance(tables, TableSet) and tables.counts == [3, 4]
    assert "2 step counts together (3, 4): one teacher solve" in report and "teacher shared with the other step counts" in report
    assert report.count("DyWeight calibration: ") == 2
    for steps in (3, 4):
        mods["teacher_cache"].TEACHER_CACHES.clear()
        _, (alone, _) = calibrate_demo(mods, steps=steps, iterations=20)
        together = tables.for_steps(steps)
        assert together.provenance["init"] == alone.provenance["init"]
        assert torch.allclose(torch.tensor(together.weights), torch.tensor(alone.weights), atol=1e-5)
        assert together.t_scale == pytest.approx(alone.t_scale, abs=1e-5)
    sigmas = mods["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4).tolist()
    chosen, part = resolve_table(model, sigmas, tables)
    assert chosen is tables.for_steps(4) and part is None
    with pytest.raises(TableError, match="for 3, 4 steps, but this run samples 5"):
        resolve_table(model, sigmas[:1] + sigmas, tables)
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder_paths.folder_names_and_paths["dyweight"] = ([str(tmp_path)], saved[1])
    try:
        (tmp_path / "mine_4steps.yaml").write_text("keep")
        with pytest.raises(TableError, match="mine_4steps.yaml' already exists"):
            DyWeightSaveTable.execute(tables, "mine", False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mine_4steps.yaml"]  # nothing written
        DyWeightSaveTable.execute(tables, "mine_6steps", True)  # a count in the name is replaced by each table's
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mine_3steps.yaml", "mine_4steps.yaml"]
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved


def test_a_budget_in_minutes_bounds_the_whole_calibration(mods):
    """minutes 0.1 (6 s), teacher included: the run ends within it, its iterations fitted to what the time allows
    (more than the 2 given when there is room), and the report says what the budget bought."""
    import time
    mods["teacher_cache"].TEACHER_CACHES.clear()
    started = time.time()
    model, (table, report) = calibrate_demo(mods, iterations=2, minutes=0.1)
    took = time.time() - started
    assert took < 6 * 1.15 + 1.0, took  # the budget, with the node's own set-up
    assert "budget 0.1 min bought" in report and "training noises" in report
    bought = int(report.split("budget 0.1 min bought ")[1].split(" ")[0])
    assert bought > 2 and table.provenance["iterations"] == bought


def test_the_report_picture_shows_fallback_calibrated_and_teacher_with_their_errors(mods):
    """report_image: for 4 test noises the fallback, the calibrated table and the teacher, decoded by the VAE when one is
    connected and by the family's latent preview otherwise; and a bar per step count."""
    import comfy.sd
    from comfyui_dyweight.dyweight_core import report_picture
    from comfyui_dyweight.nodes.calibrate import previews
    with torch.inference_mode():
        model, pos, neg, latent = mods["mixture"].DyWeightDemoModel.execute("eps", 3.0, 1, 0).result
        vae = comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})  # the mixture's latents are its RGB pictures
        out = mods["calibrate"].DyWeightCalibrate.execute(model, neg, neg, latent, 3, "karras", 1.0, teacher_steps=16, iterations=6,
                                                          samples=16, holdout=8, batch_size=8, step_counts="3,4", vae=vae).result
    tables, report, picture = out
    bars = report_picture.ratio_bars([(3, 1.0, 1.0, "lms")]).height
    panel = report_picture.count_panel(3, [("x", [torch.zeros(8, 8, 3).numpy()] * 4, [0.1] * 4)] * 3).height
    assert picture.shape[1] == bars + 2 * panel + 3 * report_picture.PAD  # the bars, then one panel per count
    z = torch.rand(2, 3, 8, 8) * 2 - 1
    decoded = previews(model, vae, z)  # the pixel-space VAE gives the pictures back in [0, 1]
    assert len(decoded) == 2 and decoded[0].shape == (8, 8, 3)
    assert torch.allclose(torch.from_numpy(decoded[0]), ((z[0] + 1) / 2).clamp(0, 1).movedim(0, -1), atol=1e-5)
    stretched = previews(model, None, z)  # no VAE, no preview factors: the first three channels, stretched
    assert stretched[0].min() == 0 and stretched[0].max() == pytest.approx(1)
