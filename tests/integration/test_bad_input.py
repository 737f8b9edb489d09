"""Every way users run samplers, bad names, bad tables and the numerical guard, in real ComfyUI."""
import os

import pytest
import torch


@pytest.fixture(scope="module")
def env(pack):
    import comfy.sample
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.mixture import GaussianMixture
    from comfyui_dyweight.nodes import mixture
    mix = GaussianMixture.pictures(count=8, size=16)
    return {"sample": comfy.sample, "samplers": comfy.samplers, "mixture": mixture, "mix": mix}


def sample(env, model, sampler, steps=6, cfg=1.0, batch=2, **kw):
    latent = kw.pop("latent", torch.zeros((batch,) + env["mix"].shape))
    noise = env["sample"].prepare_noise(latent, 5)
    pos = env["mixture"].prompt_conditioning(env["mix"], [1])
    neg = env["mixture"].prompt_conditioning(env["mix"], [])
    scheduler = kw.pop("scheduler", "karras")
    return env["sample"].sample(model, noise, steps, cfg, sampler, scheduler, pos, neg, latent, disable_pbar=True, **kw)


def same(a, b, tol=1e-5):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-6)).item() < tol


@pytest.mark.parametrize("steps", [1, 2])
def test_one_and_two_steps(env, steps):
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    ours = sample(env, model, "dyweight", steps=steps)
    assert torch.isfinite(ours).all() and same(ours, sample(env, model, "ipndm", steps=steps))


@pytest.mark.parametrize("force_full_denoise", [False, True])
def test_ksampler_advanced_start_end_and_leftover_noise(env, force_full_denoise):
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    kw = dict(steps=8, start_step=2, last_step=6, force_full_denoise=force_full_denoise, disable_noise=False)
    ours = sample(env, model, "dyweight", **kw)
    assert torch.isfinite(ours).all() and same(ours, sample(env, model, "ipndm", **kw))


def test_inpainting_with_a_denoise_mask(env):
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    picture = env["mix"].means[:2].float()
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 4:12] = 1.0
    out = sample(env, model, "dyweight", latent=picture, noise_mask=mask)
    assert torch.isfinite(out).all()
    keep = (mask == 0).expand_as(out)
    assert torch.allclose(out[keep], picture[keep], atol=1e-4)  # unmasked region untouched
    assert (out[~keep] - picture[~keep]).abs().max() > 1e-2      # masked region re-generated
    assert same(out, sample(env, model, "ipndm", latent=picture, noise_mask=mask))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", ["eps", "v", "flow"])
def test_low_precision_models(env, dtype, kind):
    model = env["mixture"].mixture_model(kind, mixture=env["mix"], dtype=dtype)
    sched = "simple" if kind == "flow" else "karras"
    ours = sample(env, model, "dyweight", cfg=2.0, batch=3, scheduler=sched)
    assert ours.dtype == torch.float32 and torch.isfinite(ours).all()
    low = sample(env, model, "ipndm", cfg=2.0, batch=3, scheduler=sched)
    # same maths as ipndm; tiny float32 differences can flip the half-precision rounding of the model input
    assert same(ours, low, 1e-2)
    full = sample(env, env["mixture"].mixture_model(kind, mixture=env["mix"]), "ipndm", cfg=2.0, batch=3, scheduler=sched)
    assert (ours - full).abs().max() < (0.2 if dtype == torch.bfloat16 else 0.05)  # only the model's own rounding


def test_non_finite_table_is_an_error_naming_it(env):
    from comfyui_dyweight.dyweight_core.solver import NonFiniteError
    from comfyui_dyweight.dyweight_core.table import euler_table
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    sigmas = env["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 3)
    big = 1e38  # rows sum to 1, so tau follows the schedule, but the history terms overflow
    table = euler_table(sigmas.tolist()).replace(name="exploding", window=2, weights=[[1, 0, 0], [big, 1 - big, 0], [0, big, 1 - big]])
    latent = torch.zeros((2,) + env["mix"].shape)
    cond = env["mixture"].prompt_conditioning(env["mix"], [])
    with pytest.raises(NonFiniteError, match="exploding"):
        env["sample"].sample_custom(model, torch.randn_like(latent), 1.0, DyWeightSampler.execute(table=table).result[0],
                                    sigmas, cond, cond, latent, disable_pbar=True)


def test_connected_table_with_wrong_step_count_is_a_clear_error(env):
    from comfyui_dyweight.dyweight_core.table import TableError, euler_table
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    sigmas = env["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4)
    table = euler_table([3.0, 1.0, 0.0]).replace(name="two_step")
    latent = torch.zeros((1,) + env["mix"].shape)
    cond = env["mixture"].prompt_conditioning(env["mix"], [])
    with pytest.raises(TableError, match="'two_step' is for 2 steps, but this run samples 4"):
        env["sample"].sample_custom(model, torch.randn_like(latent), 1.0, DyWeightSampler.execute(table=table).result[0],
                                    sigmas, cond, cond, latent, disable_pbar=True)


@pytest.fixture
def table_dir(tmp_path, pack):
    import folder_paths
    saved = folder_paths.folder_names_and_paths["dyweight"]
    folder = tmp_path / "models" / "dyweight"
    folder.mkdir(parents=True)
    folder_paths.folder_names_and_paths["dyweight"] = ([str(folder)], saved[1])
    yield folder
    folder_paths.folder_names_and_paths["dyweight"] = saved


@pytest.mark.parametrize("name,expected", [
    ("../../evil", "evil.yaml"), ("/etc/passwd", "passwd.yaml"), ("a/b\\c", "c.yaml"), ("my table!", "my_table.yaml"),
    ("ok.yaml", "ok.yaml"), ("..", None), ("", None)])
def test_save_names_never_leave_the_folder(table_dir, name, expected):
    from comfyui_dyweight.dyweight_core.table import TableError, euler_table
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    table = euler_table([2.0, 1.0, 0.0])
    if expected is None:
        with pytest.raises(TableError, match="no usable characters"):
            DyWeightSaveTable.execute(table, name, False)
    else:
        path = DyWeightSaveTable.execute(table, name, False).result[0]
        assert path == os.path.join(os.path.realpath(table_dir), expected)
    assert all(p.parent == table_dir for p in table_dir.rglob("*"))


def test_save_refuses_symlinks_and_overwrites(table_dir, tmp_path):
    from comfyui_dyweight.dyweight_core.table import TableError, euler_table
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    outside = tmp_path / "outside.yaml"
    outside.write_text("precious")
    os.symlink(outside, table_dir / "link.yaml")
    with pytest.raises(TableError, match="outside the table folder"):
        DyWeightSaveTable.execute(euler_table([2.0, 1.0, 0.0]), "link", True)
    assert outside.read_text() == "precious"
    DyWeightSaveTable.execute(euler_table([2.0, 1.0, 0.0]), "t", False)
    with pytest.raises(TableError, match="already exists"):
        DyWeightSaveTable.execute(euler_table([3.0, 1.0, 0.0]), "t", False)


def test_load_list_survives_broken_files_and_load_names_the_problem(table_dir):
    from comfyui_dyweight.dyweight_core.table import TableError
    from comfyui_dyweight.nodes.tables import DyWeightLoadTable, table_names
    (table_dir / "junk.yaml").write_bytes(b"\x00\xff\xfe garbage [")
    (table_dir / "empty.yaml").write_text("")
    assert {"junk.yaml", "empty.yaml"} <= set(table_names())
    for name, message in (("junk.yaml", "cannot be read as YAML"), ("empty.yaml", "expected a YAML mapping"),
                          ("../junk.yaml", "plain file name"), ("missing.yaml", "not found")):
        with pytest.raises(TableError, match=message):
            DyWeightLoadTable.execute(name)


def test_a_bad_shift_in_one_user_table_leaves_every_other_table_and_the_fallback_working(env, table_dir, caplog):
    """`shift: abc` used to pass validation and then break every lookup."""
    import logging
    from comfyui_dyweight.dyweight_core.table import TableError, adams_bashforth_table, save_table
    from comfyui_dyweight.nodes.tables import DyWeightLoadTable
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    karras4 = env["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4).tolist()
    good = adams_bashforth_table(karras4).replace(weights=[[1.1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], window=1,
                                                  model={"family": "DyWeightMixture", "model_type": "EPS"})
    save_table(good, str(table_dir / "good.yaml"))
    (table_dir / "bad_shift.yaml").write_text((table_dir / "good.yaml").read_text().replace("model_type: EPS", "model_type: EPS, shift: abc"))
    with pytest.raises(TableError, match="model.shift must be a number or null, got 'abc'"):
        DyWeightLoadTable.execute("bad_shift.yaml")
    with caplog.at_level(logging.INFO):
        assert torch.isfinite(sample(env, model, "dyweight", steps=4)).all()  # the good table
        sample(env, model, "dyweight", steps=5)  # no table: the fallback
    messages = [r.message for r in caplog.records if "[DyWeight]" in r.message]
    assert any("using table 'good'" in m for m in messages) and any("Adams-Bashforth fallback" in m for m in messages)
    assert not any("lookup failed" in m for m in messages)


def test_a_guider_without_model_patcher_samples_with_the_fallback(env, caplog):
    """Custom guiders need not expose a ModelPatcher: lookup warns, sampling goes on."""
    import logging
    from comfyui_dyweight.dyweight_core import solver
    from comfyui_dyweight.dyweight_core.table import adams_bashforth_table
    from comfyui_dyweight.nodes.sampler import sample_dyweight

    class BareGuider:  # what a sampler function receives from some custom guiders: a callable, no model_patcher
        def __call__(self, x, sigma, **kw):
            return x / (1 + sigma[:, None, None, None] ** 2)

    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 14.6
    sigmas = torch.tensor([14.6, 3.2, 0.45, 0.03, 0.0])
    with caplog.at_level(logging.INFO):
        ours = sample_dyweight(BareGuider(), x, sigmas, disable=True)
    assert any("table lookup failed" in r.message for r in caplog.records)
    expected = solver.sample_with_table(BareGuider(), x, sigmas, disable=True, table=adams_bashforth_table(sigmas.tolist()))
    assert torch.equal(ours, expected)


def test_connected_table_that_overshoots_to_a_negative_sigma_is_refused(env):
    """The authors' SD 4-step table on a karras schedule: tau = 3.79, 0.69, -0.034; never call the model there."""
    from comfyui_dyweight.dyweight_core.table import TableError
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    from comfyui_dyweight.nodes.tables import DyWeightLoadTable
    model = env["mixture"].mixture_model("eps", mixture=env["mix"])
    table = DyWeightLoadTable.execute("sd15_dyweight_4steps.yaml").result[0]
    calls = []
    model.set_model_unet_function_wrapper(lambda apply, args: calls.append(1) or apply(args["input"], args["timestep"], **args["c"]))
    latent = torch.zeros((1,) + env["mix"].shape)
    sigmas = env["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4)
    cond = env["mixture"].prompt_conditioning(env["mix"], [])
    with pytest.raises(TableError, match=r"reaches tau -0.03\d* <= 0 at step 3"):
        env["sample"].sample_custom(model, torch.randn_like(latent), 1.0, DyWeightSampler.execute(table=table).result[0],
                                    sigmas, cond, cond, latent, disable_pbar=True)
    assert calls == []  # refused before any model call


def test_saved_tables_are_shareable_files(table_dir):
    from comfyui_dyweight.dyweight_core.table import euler_table
    from comfyui_dyweight.nodes.tables import DyWeightSaveTable
    path = DyWeightSaveTable.execute(euler_table([2.0, 1.0, 0.0]), "shared", False).result[0]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_default_table_folder_is_kept_when_extra_model_paths_names_dyweight(pack, tmp_path):
    import folder_paths
    from comfyui_dyweight.nodes.table_folders import register_folder, table_folders
    saved = folder_paths.folder_names_and_paths.pop("dyweight")
    try:
        folder_paths.add_model_folder_path("dyweight", str(tmp_path / "extra"))  # what extra_model_paths.yaml does
        register_folder()
        paths, extensions = folder_paths.folder_names_and_paths["dyweight"]
        assert paths == [str(tmp_path / "extra"), os.path.join(folder_paths.models_dir, "dyweight")]
        assert {".yaml", ".yml"} <= extensions and table_folders()[:2] == paths
    finally:
        folder_paths.folder_names_and_paths["dyweight"] = saved


def test_load_table_notices_a_file_overwritten_under_the_same_name(table_dir):
    from comfyui_dyweight.dyweight_core.table import euler_table, save_table
    from comfyui_dyweight.nodes.tables import DyWeightLoadTable
    save_table(euler_table([2.0, 1.0, 0.0]), str(table_dir / "t.yaml"))
    before = DyWeightLoadTable.fingerprint_inputs(name="t.yaml")
    save_table(euler_table([3.0, 1.0, 0.0]), str(table_dir / "t.yaml"), overwrite=True)
    assert DyWeightLoadTable.fingerprint_inputs(name="t.yaml") != before
    assert DyWeightLoadTable.execute("t.yaml").result[0].sigmas[0] == 3.0


def test_flux_calibration_from_a_4_channel_empty_latent(pack):
    """EmptyLatentImage gives 4 channels; KSampler widens them for FLUX, and so must Calibrate."""
    from tooling import comfy_models
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    flux = comfy_models.detected_flux()
    with torch.inference_mode():
        cond = comfy_models.flux_conditioning()
        table, report, _ = DyWeightCalibrate.execute(flux, cond, cond, {"samples": torch.zeros(1, 4, 8, 8)}, 3, "simple", 1.0,
                                                  teacher_steps=8, iterations=2, samples=2, holdout=2, batch_size=2).result
    assert table.steps == 3 and table.convention == "velocity" and table.model["family"] == "Flux"


def test_dyweight_scheduler_node_keeps_a_tables_own_flux_sigmas_and_takes_denoise_0(pack):
    from comfyui_dyweight.dyweight_core.table import euler_table
    from comfyui_dyweight.nodes.tables import DyWeightLoadTable, DyWeightScheduler
    own = euler_table([1.0, 0.8, 0.45, 0.0]).replace(convention="velocity", model={"family": "Flux", "model_type": "FLUX"})
    assert DyWeightScheduler.execute(own, 512, 1.0).result[0].tolist() == pytest.approx(own.sigmas)  # e.g. calibrated on beta
    authors = DyWeightLoadTable.execute("flux1dev_dyweight_3steps.yaml").result[0]
    assert DyWeightScheduler.execute(authors, 512, 1.0).result[0][1] < DyWeightScheduler.execute(authors, 1024, 1.0).result[0][1]
    assert DyWeightScheduler.execute(authors, 1024, 0.0).result[0].numel() == 0  # was ZeroDivisionError


OUT_OF_MEMORY = {}


def short_of_memory_once(apply_model, args):
    """A unet wrapper that runs out of memory in the first fit, after the teacher's (gradient-free) calls."""
    OUT_OF_MEMORY["teacher"] |= not torch.is_grad_enabled()
    if torch.is_grad_enabled() and OUT_OF_MEMORY["teacher"] and not OUT_OF_MEMORY["failed"]:
        OUT_OF_MEMORY["failed"] = True
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return apply_model(args["input"], args["timestep"], **args["c"])


def test_running_out_of_memory_in_calibration_names_the_settings_that_cut_it_and_keeps_the_teacher(pack):
    """A model that runs out of memory once gradients flow (as the unrolled student does first): a message naming
    checkpointing, batch_size and the latent size, not a raw OOM; the rerun with checkpointing on skips the teacher."""
    from tooling import comfy_models
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationError
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    model, context = comfy_models.unet_model()
    OUT_OF_MEMORY.update(teacher=False, failed=False)  # a global: a patch's closure is part of the model's identity
    model.set_model_unet_function_wrapper(short_of_memory_once)
    cond = comfy_models.unet_conditioning(context)
    run = lambda **kw: DyWeightCalibrate.execute(model, cond, cond, {"samples": torch.zeros(1, 4, 8, 8)}, 3, "karras", 2.0, teacher_steps=8,
                                                 iterations=2, samples=4, holdout=2, batch_size=4, learn_sigmas=False, **kw).result
    with torch.inference_mode():
        with pytest.raises(CalibrationError, match="ran out of memory") as e:
            run(checkpointing="off")
        message = str(e.value)
        assert "checkpointing on" in message and "batch_size (now 4" in message and "latent_image (now 8x8" in message
        assert "Nothing was saved" in message
        _, report, _ = run(checkpointing="on")
    assert "teacher reused from an earlier calibration" in report
