"""The dyweight sampler inside the real ComfyUI (imported in-process), on the exact demo mixture MODEL."""
import logging

import pytest
import torch


@pytest.fixture(scope="module")
def env(pack):
    import comfy.sample
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.mixture import GaussianMixture
    from comfyui_dyweight.nodes import mixture
    mix = GaussianMixture.pictures(count=8, size=16)
    return {"sample": comfy.sample, "samplers": comfy.samplers, "mixture": mixture, "mix": mix,
            "models": {k: mixture.mixture_model(k, 3.0, mix) for k in ("eps", "v", "flow")}}


def run(env, kind, sampler, steps=6, scheduler=None, cfg=1.0, batch=2, denoise=1.0, latent=None, model=None, **kw):
    mix = env["mix"]
    model = model or env["models"][kind]
    latent = torch.zeros((batch,) + mix.shape) if latent is None else latent
    noise = env["sample"].prepare_noise(latent, 42)
    pos = env["mixture"].prompt_conditioning(mix, [0, 3])
    neg = env["mixture"].prompt_conditioning(mix, [])
    scheduler = scheduler or ("simple" if kind == "flow" else "karras")
    if isinstance(sampler, str):
        return env["sample"].sample(model, noise, steps, cfg, sampler, scheduler, pos, neg, latent,
                                    denoise=denoise, disable_pbar=True, **kw)
    sigmas = env["samplers"].calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)
    return env["sample"].sample_custom(model, noise, cfg, sampler, sigmas, pos, neg, latent, disable_pbar=True)


def rel_gap(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def test_registered_in_every_dropdown_once(pack):
    import comfy.k_diffusion.sampling
    import comfy.samplers
    assert comfy.samplers.KSampler.SAMPLERS is comfy.samplers.SAMPLER_NAMES
    pack.nodes.sampler.register_sampler()  # a second load must not duplicate it
    assert comfy.samplers.SAMPLER_NAMES.count("dyweight") == 1
    assert comfy.k_diffusion.sampling.sample_dyweight is pack.nodes.sampler.sample_dyweight
    assert "ipndm" in comfy.samplers.SAMPLER_NAMES  # the stock list kept its entries


@pytest.mark.parametrize("kind", ["eps", "v", "flow"])
@pytest.mark.parametrize("cfg", [1.0, 3.0])
def test_without_table_equals_ipndm(env, kind, cfg, caplog):
    with caplog.at_level(logging.INFO):
        ours = run(env, kind, "dyweight", cfg=cfg)
    ipndm = run(env, kind, "ipndm", cfg=cfg)
    euler = run(env, kind, "euler", cfg=cfg)
    assert rel_gap(ours, ipndm) < 1e-5
    assert rel_gap(euler, ipndm) > 1e-3  # so equality proves our function ran (unknown names fall back to euler)
    assert sum("Adams-Bashforth fallback" in r.message for r in caplog.records) == 1  # once, not per step


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_euler_shaped_table_equals_euler(env, kind):
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.table import euler_table
    model = env["models"][kind]
    sched = "simple" if kind == "flow" else "karras"
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), sched, 5)
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    sampler = DyWeightSampler.execute(table=euler_table(sigmas.tolist())).result[0]
    ours = run(env, kind, sampler, steps=5)
    assert rel_gap(ours, run(env, kind, "euler", steps=5)) < 1e-5


@pytest.mark.parametrize("kind", ["eps", "v"])
@pytest.mark.parametrize("name", ["lms", "gradient_estimation"])
def test_start_tables_equal_their_samplers(env, kind, name):
    """Calibration may start from these: each table must be ComfyUI's sampler exactly (lms: order 4, scipy quad)."""
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.calibrate import STARTS
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    sigmas = comfy.samplers.calculate_sigmas(env["models"][kind].get_model_object("model_sampling"), "karras", 7)
    sampler = DyWeightSampler.execute(table=STARTS[name](sigmas.tolist(), 4)).result[0]
    ours, stock = run(env, kind, sampler, steps=7, cfg=3.0), run(env, kind, name, steps=7, cfg=3.0)
    assert rel_gap(ours, stock) < 1e-5
    assert rel_gap(run(env, kind, "ipndm", steps=7, cfg=3.0), stock) > 1e-3  # different methods: equality is not a given


@pytest.mark.parametrize("kind", ["eps", "v", "flow"])
def test_batches_denoise_and_cfg(env, kind):
    big = run(env, kind, "dyweight", batch=16, cfg=4.0)
    assert big.shape[0] == 16 and torch.isfinite(big).all()
    # img2img: denoise 0.5 starts from a picture; dyweight (fallback) still equals ipndm on that tail schedule
    start = {"latent": env["mix"].means[:2].float()}
    half = run(env, kind, "dyweight", denoise=0.5, latent=start["latent"])
    assert rel_gap(half, run(env, kind, "ipndm", denoise=0.5, latent=start["latent"])) < 1e-5


def test_video_latents(env):
    from comfyui_dyweight.dyweight_core.mixture import GaussianMixture
    video = GaussianMixture(torch.rand(4, 3, 2, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1)
    model = env["mixture"].mixture_model("flow", 5.0, video)
    latent = torch.zeros(2, 3, 2, 8, 8)
    out = run(env, "flow", "dyweight", latent=latent, model=model)
    assert out.shape == latent.shape and rel_gap(out, run(env, "flow", "ipndm", latent=latent, model=model)) < 1e-5


def test_many_steps_reach_the_exact_solution(env):
    """The demo mixture MODEL in ComfyUI and the core reference solve describe the same ODE."""
    from comfyui_dyweight.dyweight_core.mixture import reference_solve
    import comfy.samplers
    model = env["models"]["eps"]
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 16)
    latent = torch.zeros((2,) + env["mix"].shape)
    noise = env["sample"].prepare_noise(latent, 42)
    x0 = noise * torch.sqrt(1 + sigmas[0] ** 2)
    logits = env["mixture"].prompt_conditioning(env["mix"], [0, 3])[0][0][:, 0, :]
    truth = reference_solve(env["mix"].denoiser("eps", logits), "eps", x0.double(), float(sigmas[0]))
    # (the last jump sigma_min -> 0 leaves every sampler a floor of ~0.5% on this sharp mixture)
    ours = rel_gap(run(env, "eps", "dyweight", steps=16).double(), truth)
    assert ours < 0.01 and ours < 0.2 * rel_gap(run(env, "eps", "euler", steps=16).double(), truth)


def test_model_identity_of_real_models(env):
    from tooling import comfy_models
    from comfyui_dyweight.dyweight_core.mixture import GaussianMixture
    from comfyui_dyweight.nodes.model_info import model_identity, weight_fingerprint
    flow = model_identity(env["models"]["flow"])
    assert flow["family"] == "DyWeightMixture" and flow["model_type"] == "FLOW" and flow["shift"] == 3.0
    eps = model_identity(env["models"]["eps"])
    assert eps["model_type"] == "EPS" and eps["shift"] is None and eps["fingerprint"]
    other = env["mixture"].mixture_model("eps", mixture=GaussianMixture.pictures(count=8, size=16, seed=9))
    assert model_identity(other)["fingerprint"] != eps["fingerprint"]  # buffers only, still told apart
    unet, _ = comfy_models.unet_model()
    assert model_identity(unet)["family"] == "SD15" and len(model_identity(unet)["fingerprint"]) == 16
    assert weight_fingerprint(torch.nn.Identity()) is None  # nothing to hash: lookup falls back to the family
